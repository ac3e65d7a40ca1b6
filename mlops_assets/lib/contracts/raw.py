"""Raw-format contracts: the landing layout, bundle member names and the nvidia-smi query fields.

Sources produce these shapes and the parsers read them, so they live in the pure core (sources/
import them from here, never the reverse).

Raw layout (what the simulator writes, what the directory source reads, what SSH commands return):

    ROOT/<host>/nvidia-smi.csv            nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,nounits -l N
    ROOT/<host>/journal.json              journalctl -o json --no-pager (one object per line, __CURSOR kept)
    ROOT/<host>/kernel.json               journalctl -k -o json --no-pager
    ROOT/<host>/docker/ps.json            docker ps -a --format '{{json .}}'
    ROOT/<host>/docker/events.json        docker events --since S --until U --format '{{json .}}'
    ROOT/<host>/docker/logs/<name>.stdout docker logs --timestamps <name>   (its stdout)
    ROOT/<host>/docker/logs/<name>.stderr docker logs --timestamps <name>   (its stderr)
    ROOT/labels.csv                       simulator only: host,start,end,fault,sources

A fetch returns a :data:`RawBundle`: source -> member name -> bytes, with the member names below.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = ("gpu", "journal", "kernel", "docker_logs", "docker_events")

# Member names inside a RawBundle (docker_logs members are "<container>.stdout" / "<container>.stderr").
MEMBER_GPU = "nvidia-smi.csv"
MEMBER_JOURNAL = "journal.json"
MEMBER_KERNEL = "kernel.json"
MEMBER_DOCKER_EVENTS = "events.json"
MEMBER_DOCKER_PS = "ps.json"
# "<member>.format" (ASCII, e.g. "journal-short;year=2025"): the parser kind of a member that is
# not in the layout's own format (landing folders, lib/parsing/landing.py); absent = the default
FORMAT_SUFFIX = ".format"

# Fields every driver of the last decade accepts (clocks_throttle_reasons.active is still accepted
# by current drivers, which print it under its new name clocks_event_reasons.active).
GPU_BASE_FIELDS: tuple[str, ...] = (
    "timestamp",
    "index",
    "uuid",
    "name",
    "pci.bus_id",
    "temperature.gpu",
    "utilization.gpu",
    "utilization.memory",
    "memory.used",
    "memory.total",
    "power.draw",
    "power.limit",
    "fan.speed",
    "clocks.sm",
    "pstate",
    "clocks_throttle_reasons.active",
    "ecc.errors.uncorrected.volatile.total",
)
# Fields the health rules need (issue 13). Names checked against --help-query-gpu and the CSV of
# drivers 590/595/610 (realdata captures); consumer boards print [N/A] for the ECC/remap ones and
# GDDR boards N/A for temperature.memory. Older drivers may reject a name outright (the whole
# query fails), so sources/commands.py builds the sampler from what the driver lists.
GPU_HEALTH_FIELDS: tuple[str, ...] = (
    "ecc.errors.uncorrected.aggregate.total",
    "remapped_rows.pending",
    "remapped_rows.failure",
    "retired_pages.pending",
    "temperature.memory",
    "pcie.link.gen.current",
    "pcie.link.width.current",
)
GPU_QUERY_FIELDS: tuple[str, ...] = GPU_BASE_FIELDS + GPU_HEALTH_FIELDS

RawBundle = dict[str, dict[str, bytes]]
