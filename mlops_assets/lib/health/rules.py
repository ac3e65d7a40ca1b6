"""health_events(tables, host): every deterministic health rule over one host's parsed tables.

No training, no history needed: the rules work on a host's first hour. Kernel messages are read
from kernel_events and from kernel-transport journal entries (deduplicated: a host collecting both
``journalctl -k`` and the full journal sees each kernel line twice). Boot ids come from the journal.
"""

from __future__ import annotations

import pandas as pd

from mlops_assets.lib.contracts.tables import HEALTH_EVENTS, TABLES, conform, empty_frame
from mlops_assets.lib.health.events import assign_boots, build_gpu_map, to_frame
from mlops_assets.lib.health.rules_gpu import (
    clock_event_events,
    ecc_events,
    memory_flag_events,
    missing_gpu_events,
    power_limit_events,
    smi_failure_events,
    xid_events,
)
from mlops_assets.lib.health.rules_host import (
    container_events,
    disk_full_events,
    kernel_line_events,
    unit_events,
)


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    df = tables.get(name)
    return df if df is not None and len(df) else empty_frame(TABLES[name])


def kernel_lines(kernel: pd.DataFrame, journal: pd.DataFrame) -> pd.DataFrame:
    """ts, message, source of every kernel message (kernel log + the journal's kernel entries)."""
    parts = [kernel[["ts", "message"]].assign(source="kernel")] if len(kernel) else []
    if len(journal) and "identifier" in journal:
        is_kernel = journal["identifier"].astype("string").fillna("").eq("kernel")
        parts.append(journal.loc[is_kernel, ["ts", "message"]].assign(source="journal"))
    if not parts:
        return pd.DataFrame({"ts": pd.Series(dtype="datetime64[ns, UTC]"), "message": [], "source": []})
    lines = pd.concat(parts, ignore_index=True)
    lines = lines[lines["message"].notna()]
    lines = lines.drop_duplicates(subset=["ts", "message"], keep="first")
    return lines.sort_values("ts", kind="stable", ignore_index=True)


def health_events(
    tables: dict[str, pd.DataFrame], host: str, *, expected_gpus: int | None = None
) -> pd.DataFrame:
    """HEALTH_EVENTS rows of one host from its parsed tables (missing tables/columns: rule silent)."""
    samples = tables.get("gpu_samples")
    samples = samples if samples is not None and len(samples) else empty_frame(TABLES["gpu_samples"])
    journal = _table(tables, "journal_entries")
    lines = kernel_lines(_table(tables, "kernel_events"), journal)
    gmap = build_gpu_map(samples, lines["message"].astype("string"))
    not_kernel = journal[~journal["identifier"].astype("string").fillna("").eq("kernel")]
    rows = [
        *xid_events(lines, gmap),
        *smi_failure_events(_table(tables, "gpu_errors"), gmap),
        *ecc_events(samples, gmap),
        *memory_flag_events(samples, gmap),
        *clock_event_events(samples, gmap),
        *missing_gpu_events(samples, gmap, expected_gpus),
        *power_limit_events(samples, gmap),
        *kernel_line_events(lines),
        *disk_full_events(
            [("kernel", lines), ("journal", not_kernel), ("docker_logs", _table(tables, "docker_lines"))]
        ),
        *unit_events(not_kernel),
        *container_events(_table(tables, "docker_events")),
    ]
    events = to_frame(rows, host)
    if events.empty:
        return empty_frame(HEALTH_EVENTS)
    events["boot_id"] = assign_boots(events, journal).to_numpy()
    return conform(events, HEALTH_EVENTS)
