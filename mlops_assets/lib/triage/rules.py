"""Deterministic root-cause rules used when no LLM is configured or reachable.

Each rule is keyed on evidence (Xid codes, keywords in templates/sample lines, feature names) and
yields a hypothesis with actions taken from vendor guidance (NVIDIA's Xid catalogue / GPU debug
guidelines) or standard Linux operations practice. Likelihood grows with how much evidence matched,
so the ranking is reproducible for the same evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlops_assets.lib.health.explain import health_hypothesis

_BUG_REPORT = "Collect `nvidia-bug-report.sh` and `nvidia-smi -q` output before any reset"


@dataclass(frozen=True)
class XidInfo:
    cause: str
    impact: str
    actions: tuple[str, ...]
    prevention: tuple[str, ...]
    base: float


_XID_HW = XidInfo(
    "GPU hardware or PCIe/power fault (Xid {codes}): the GPU fell off the bus or stopped responding",
    "The GPU and every job on it are lost until the GPU is reset or the node rebooted",
    (
        "Drain the node from the scheduler so no new jobs land on it",
        _BUG_REPORT,
        "Reset the GPU (`nvidia-smi -r -i <gpu>`) or reboot the node; check PCIe link, seating and PSU",
    ),
    ("If the Xid recurs on the same GPU, RMA it", "Keep VBIOS, driver and BMC firmware current"),
    0.85,
)
_XID_MEM = XidInfo(
    "GPU memory (ECC / row remapping) error (Xid {codes})",
    "Uncorrectable memory errors corrupt or kill the running CUDA contexts",
    (
        "Drain the node; the affected application must be restarted",
        "Inspect `nvidia-smi -q -d ECC,ROW_REMAPPER` for pending remaps and uncorrectable counts",
        "Reset the GPU (`nvidia-smi -r`) so pending row remaps are applied",
    ),
    ("RMA the GPU if row remapping failed or errors recur", "Alert on rising volatile ECC counters"),
    0.8,
)
_XID_APP = XidInfo(
    "Application-induced GPU fault (Xid {codes}): illegal memory access / MMU fault / engine exception",
    "The offending CUDA process is killed; other processes on the GPU usually survive",
    (
        "Identify the process by the pid in the Xid line and check its logs for CUDA errors",
        "Re-run the job with `compute-sanitizer` or CUDA_LAUNCH_BLOCKING=1 to locate the fault",
    ),
    ("Pin CUDA/driver versions that the application is validated against",),
    0.6,
)
_XID_FW = XidInfo(
    "GPU driver / firmware (GSP or micro-controller) failure (Xid {codes})",
    "The GPU stops processing work until it is reset",
    (_BUG_REPORT, "Reset the GPU or reboot the node", "Check whether the driver release has a known fix"),
    ("Upgrade to the recommended datacenter driver branch",),
    0.75,
)
_XID_NVLINK = XidInfo(
    "NVLink error (Xid {codes})",
    "Multi-GPU collectives slow down or fail; jobs using peer-to-peer transfers crash",
    ("Check `nvidia-smi nvlink -s` and `nvidia-smi nvlink -e` error counters", _BUG_REPORT),
    ("Reseat/replace the NVLink bridge or baseboard if the errors persist",),
    0.75,
)
XID_CLASSES: dict[int, XidInfo] = {
    **dict.fromkeys((79, 8, 32, 38), _XID_HW),
    **dict.fromkeys((48, 63, 64, 92, 94, 95), _XID_MEM),
    **dict.fromkeys((13, 31, 43, 45, 69), _XID_APP),
    **dict.fromkeys((61, 62, 119, 120, 121, 93), _XID_FW),
    **dict.fromkeys((74,), _XID_NVLINK),
}


@dataclass(frozen=True)
class KeywordRule:
    name: str
    pattern: re.Pattern[str]
    cause: str
    impact: str
    actions: tuple[str, ...]
    prevention: tuple[str, ...]
    base: float


def _kw(
    name: str,
    pattern: str,
    cause: str,
    impact: str,
    actions: tuple[str, ...],
    prevention: tuple[str, ...],
    base: float,
) -> KeywordRule:
    return KeywordRule(name, re.compile(pattern, re.IGNORECASE), cause, impact, actions, prevention, base)


KEYWORD_RULES: tuple[KeywordRule, ...] = (
    _kw(
        "thermal",
        r"thermal|temperature|overheat|\bfan\b|fan_pct|hw[ _]slowdown|temp_c|temperature_c",
        "Cooling problem: high GPU temperature, failing fan or thermal throttling",
        "Clocks are throttled (slower jobs); sustained overheating can trigger a GPU shutdown",
        (
            "Check `nvidia-smi -q -d TEMPERATURE,PERFORMANCE` for thermal slowdown reasons",
            "Inspect fans, airflow and inlet temperature of the chassis/rack (BMC sensors)",
        ),
        ("Alert on temperature slope and fan speed, not only thresholds", "Schedule filter/fan maintenance"),
        0.6,
    ),
    _kw(
        "power",
        r"power[ _]?cap|power[ _]limit|power_limit|sw[ _]power|power_w|power brake",
        "Power limit reached: the GPU is capped (SW power cap / power brake)",
        "Reduced clocks and throughput while capped",
        (
            "Compare `power.draw` to `power.limit` (`nvidia-smi -q -d POWER`)",
            "Check PSU redundancy and whether a power brake/limit was set by the BMC or an operator",
        ),
        ("Size power limits per workload and alert on sustained cap residency",),
        0.5,
    ),
    _kw(
        "oom",
        r"out of memory|\boom\b|oom[-_ ]?kill|killed process|cuda error: out of memory|memory cgroup",
        "Out of memory: a process or container exceeded its host/GPU memory limit",
        "The process is killed (OOM killer or CUDA allocation failure); its job fails",
        (
            "Find the killed process/container in the kernel log and `docker inspect` (OOMKilled)",
            "Raise the container memory limit or reduce batch size / model size",
        ),
        ("Set explicit memory requests/limits and alert on memory usage close to them",),
        0.65,
    ),
    _kw(
        "disk",
        r"no space left|disk full|enospc|filesystem.*full|quota exceeded",
        "Disk full (No space left on device)",
        "Writes fail: logs, checkpoints and container layers stop being written",
        (
            "Find the largest consumers with `df -h` and `du -xh --max-depth=1 /`",
            "Prune docker images/logs (`docker system prune`)",
        ),
        ("Rotate logs, cap docker json-file size, alert at 80% usage",),
        0.7,
    ),
    _kw(
        "brute_force",
        r"failed password|authentication failure|invalid user|maximum authentication attempts",
        "SSH brute-force or credential-stuffing attempt (burst of failed logins)",
        "Risk of account compromise; sshd load",
        (
            "List source addresses of the failed logins (`journalctl -u ssh`) and block them",
            "Verify no login succeeded from them",
        ),
        ("Disable password authentication, use keys + fail2ban, restrict SSH by firewall",),
        0.6,
    ),
    _kw(
        "crash_loop",
        r"start request repeated too quickly|restart counter|crash ?loop|main process exited|exited with code|\brestart(?:ing|ed)?\b|\bdie\b",
        "Crash loop: a systemd unit or container keeps exiting and being restarted",
        "The service is unavailable or flapping; restarts can mask the real error",
        (
            "Read the first error before the restarts (`journalctl -u <unit> -b`, `docker logs`)",
            "Check recent config/image changes and roll back",
        ),
        ("Add health checks and restart back-off; validate config before deploy",),
        0.55,
    ),
    _kw(
        "hung_task",
        r"blocked for more than|hung_task|soft lockup|rcu.*stall",
        "Kernel hung task / lockup: I/O or driver stall",
        "Processes stuck in D state; the node may become unresponsive",
        ("Check storage/NFS health and `dmesg` around the stall", _BUG_REPORT),
        ("Keep kernel and storage drivers current; monitor I/O latency",),
        0.55,
    ),
    _kw(
        "data_quality",
        r"quarantine|schema|row_count|null|missing column|contract",
        "Data-quality failure: input logs are malformed, missing or changed format",
        "Downstream features and scores are computed on incomplete data",
        ("Inspect the quarantine table reasons and the raw files of the affected partition",),
        ("Pin collector versions and add format tests for new log sources",),
        0.45,
    ),
)

# "NVRM: Xid (PCI:0000:3b:00): 79, pid=..." or "Xid 79" or a feature/template id like "xid_79".
_XID_RE = re.compile(r"\bxid\s*(?:\([^)\n]*\))?\s*:?\s*(\d{1,3})\b|\bxid[_ ](\d{1,3})\b", re.IGNORECASE)


def xid_codes(text: str, evidence: dict[str, Any]) -> list[int]:
    """Xid codes mentioned in the evidence (lines like ``NVRM: Xid (PCI:...): 79`` or ``xid_79``)."""
    codes: set[int] = set()
    for m in _XID_RE.finditer(text):
        codes.add(int(m.group(1) or m.group(2)))
    for value in evidence.get("xid_codes") or []:
        if isinstance(value, int | str) and str(value).isdigit():
            codes.add(int(value))
    return sorted(codes)


def _strength(matches: int) -> float:
    """More matching lines/features -> more confidence, saturating."""
    return min(0.14, 0.035 * matches)


def rule_hypotheses(text: str, evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """Ranked hypothesis dicts (Hypothesis schema) for the evidence; never empty."""
    found: list[dict[str, Any]] = []
    if (health := health_hypothesis(evidence)) is not None:  # layer "health": the catalog's verdict first
        found.append(health)
    codes = xid_codes(text, evidence)
    by_class: dict[int, list[int]] = {}
    for code in codes:
        info = XID_CLASSES.get(code)
        if info is not None:
            by_class.setdefault(id(info), []).append(code)
    for info in {id(v): v for v in XID_CLASSES.values()}.values():
        hits = by_class.get(id(info))
        if hits:
            found.append(
                _hyp(
                    info.cause.format(codes=", ".join(map(str, hits))),
                    info.impact,
                    info.actions,
                    info.prevention,
                    info.base + _strength(len(hits)),
                )
            )
    unknown = [c for c in codes if c not in XID_CLASSES]
    if unknown:
        found.append(
            _hyp(
                f"GPU fault with Xid {', '.join(map(str, unknown))} (not in the local catalogue)",
                "Depends on the Xid; may require a GPU reset",
                (
                    _BUG_REPORT,
                    "Look the code up in NVIDIA's Xid catalogue (docs.nvidia.com/deploy/xid-errors)",
                ),
                ("Keep the driver on a supported datacenter branch",),
                0.5,
            )
        )
    if (
        re.search(r"fallen off the bus|unable to determine the device handle", text, re.IGNORECASE)
        and 79 not in codes
    ):
        found.append(
            _hyp(
                _XID_HW.cause.format(codes="79-like"),
                _XID_HW.impact,
                _XID_HW.actions,
                _XID_HW.prevention,
                0.85,
            )
        )
    for rule in KEYWORD_RULES:
        n = len(rule.pattern.findall(text))
        if n:
            found.append(
                _hyp(rule.cause, rule.impact, rule.actions, rule.prevention, rule.base + _strength(n))
            )
    if not found:
        found.append(
            _hyp(
                "Unrecognised anomaly: no known failure signature in the evidence",
                "Unknown; the anomaly score says the host behaves unlike its training baseline",
                (
                    "Review the top features and sample lines of the incident on the host",
                    "Compare with the same hour on healthy hosts",
                ),
                ("Add a rule or label for this pattern once understood",),
                0.2,
            )
        )
    found.sort(key=lambda h: (-h["likelihood"], h["cause"]))
    return found


def _hyp(
    cause: str, impact: str, actions: tuple[str, ...], prevention: tuple[str, ...], likelihood: float
) -> dict[str, Any]:
    return {
        "cause": cause,
        "likelihood": round(min(0.99, likelihood), 3),
        "impact": impact,
        "immediate_actions": list(actions),
        "prevention": list(prevention),
    }
