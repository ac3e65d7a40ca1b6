"""The log lines of an incident worth a person's attention: unusual lines, routine ones left out.

An anomalous window of a busy host holds thousands of routine lines (an HTTP access "OK" line 3000
times); listing the most frequent templates shows exactly those. A line is *unusual* when

- its level is warning or worse (journal priority <= 4, a container line's level, a kernel fault), and
- its template is new (the miner has no template for it) or rare in what the miner learned from:
  at most ``max_share`` of all learned lines, and for a warning also at most ``max_count`` lines (an
  error template under the share limit stays unusual however often a crash loop repeated it).

Unusual lines are grouped by template (new lines by their own text), counted, and ordered new
first, then worst level, then rarest. How many lines were left out as routine is counted, so the
reader knows what was filtered. Pure pandas; the caller passes the miner's per-template counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops_assets.lib.parsing.levels import infer_level

LEVEL_RANK = {"critical": 4, "error": 3, "warning": 2, "info": 1, "debug": 0, "unknown": -1}
LINE_COLUMNS = ["ts", "source", "origin", "level", "template_id", "message"]
_KERNEL_LEVEL = {"xid": "critical", "oom": "error", "hung_task": "error", "nvrm": "warning"}
MAX_MESSAGE = 300


@dataclass(frozen=True)
class Rarity:
    """When a learned template still counts as rare."""

    max_share: float = 0.001  # of all lines the miner learned from
    max_count: int = 50  # absolute learned lines (warnings only)


def journal_level(priority: Any) -> str:
    """syslog priority 0-7 -> level; null -> unknown."""
    if priority is None or pd.isna(priority):
        return "unknown"
    p = int(priority)
    return (
        "critical"
        if p <= 2
        else "error"
        if p == 3
        else "warning"
        if p == 4
        else "info"
        if p <= 6
        else "debug"
    )


def log_lines(
    tables: Mapping[str, pd.DataFrame], match: Callable[[list[str]], Sequence[Any]]
) -> pd.DataFrame:
    """One frame of kernel, journal and container lines with a common level and template id.

    ``match`` maps messages to template ids (the miner's ``match``); it is used for the kernel lines,
    which the miner is not fitted on, and for lines parsed before the miner knew their template. A container line of unknown level on stderr counts as a warning:
    tracebacks and crash output often carry no level marker.
    """
    frames = []
    k = tables.get("kernel_events")
    if k is not None and len(k):
        msgs = k["message"].astype("string").fillna("").tolist()
        kinds = k["kind"].astype("string").fillna("other")
        levels = [_KERNEL_LEVEL.get(kind) or infer_level(m) for kind, m in zip(kinds, msgs, strict=True)]
        frames.append(
            pd.DataFrame(
                {
                    "ts": k["ts"],
                    "source": "kernel",
                    "origin": "kernel",
                    "level": levels,
                    "template_id": None,  # matched below with the other unlabelled lines
                    "message": msgs,
                }
            )
        )
    j = tables.get("journal_entries")
    if j is not None and len(j):
        frames.append(
            pd.DataFrame(
                {
                    "ts": j["ts"],
                    "source": "journal",
                    "origin": j["unit"].astype("string").fillna(j["identifier"].astype("string")).fillna(""),
                    "level": [journal_level(p) for p in j["priority"]],
                    "template_id": j["template_id"].astype(object),
                    "message": j["message"].astype("string").fillna(""),
                }
            )
        )
    d = tables.get("docker_lines")
    if d is not None and len(d):
        level = d["level"].astype("string").fillna("unknown")
        level = level.where(~((level == "unknown") & (d["stream"] == "stderr")), "warning")
        frames.append(
            pd.DataFrame(
                {
                    "ts": d["ts"],
                    "source": "docker",
                    "origin": d["container"].astype("string").fillna(""),
                    "level": level,
                    "template_id": d["template_id"].astype(object),
                    "message": d["message"].astype("string").fillna(""),
                }
            )
        )
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LINE_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["ts"] = pd.to_datetime(out["ts"], utc=True)
    out["template_id"] = out["template_id"].map(lambda t: None if t is None or pd.isna(t) else str(t))
    # A line parsed before the miner learned its template has no id; ids never change once given
    # (the miner only grows), so matching the unlabelled ones against the current miner is consistent.
    missing = out["template_id"].isna().to_numpy()
    if missing.any():
        out.loc[missing, "template_id"] = pd.Series(
            list(match(out.loc[missing, "message"].tolist())), index=out.index[missing], dtype=object
        )
    return out[LINE_COLUMNS]


def unusual_lines(
    lines: pd.DataFrame,
    learned: Mapping[str, int],
    templates: Mapping[str, str] | None = None,
    rarity: Rarity = Rarity(),
    max_groups: int = 20,
) -> dict[str, Any]:
    """Group the unusual lines of ``lines`` (a :func:`log_lines` frame, already cut to the incident).

    ``learned``: template id -> lines the miner learned it from. Returns ``{"unusual_lines": [...],
    "routine_lines_omitted", "routine_templates_omitted", "lines_considered", "learned_lines"}``.
    """
    total = int(sum(learned.values()))
    if lines.empty:
        return {
            "unusual_lines": [],
            "unusual_groups_omitted": 0,
            "routine_lines_omitted": 0,
            "routine_templates_omitted": 0,
            "lines_considered": 0,
            "learned_lines": total,
        }
    tid = lines["template_id"]
    seen = tid.map(lambda t: int(learned.get(t, 0)) if t is not None else 0)
    is_new = tid.isna() | (seen == 0)
    rank = lines["level"].map(lambda lv: LEVEL_RANK.get(str(lv), -1))
    small_share = seen <= rarity.max_share * max(total, 1)
    # errors: the share alone (a crash loop learned 200 times is still 1 line in 1000); warnings: both
    rare = is_new | (small_share & ((seen <= rarity.max_count) | (rank >= LEVEL_RANK["error"])))
    loud = rank >= LEVEL_RANK["warning"]
    keep = rare & loud
    routine = lines[~keep]
    picked = lines[keep].assign(_new=is_new[keep], _seen=seen[keep])
    # new lines have no template: group them by their own text so one crash loop is one entry
    picked["_group"] = [
        f"new:{m[:MAX_MESSAGE]}" if n else str(t)
        for m, n, t in zip(picked["message"], picked["_new"], picked["template_id"], strict=True)
    ]
    groups = []
    for _, g in picked.groupby("_group", sort=False):
        first = g.sort_values("ts").iloc[0]
        worst = max(g["level"], key=lambda lv: LEVEL_RANK.get(str(lv), -1))
        new = bool(first["_new"])
        template_id = None if first["template_id"] is None or new else str(first["template_id"])
        groups.append(
            {
                "first_ts": pd.Timestamp(first["ts"]).isoformat(),
                "last_ts": pd.Timestamp(g["ts"].max()).isoformat(),
                "source": str(first["source"]),
                "origin": str(first["origin"]),
                "level": str(worst),
                "count": len(g),
                "template_id": template_id,
                "template": (templates or {}).get(template_id) if template_id else None,
                "learned_count": int(first["_seen"]),
                "why": "new template"
                if new
                else f"rare template: {int(first['_seen'])} of {total} learned lines",
                "message": str(first["message"])[:MAX_MESSAGE],
            }
        )
    groups.sort(
        key=lambda x: (
            x["template_id"] is not None,
            -LEVEL_RANK[x["level"]],
            x["learned_count"],
            x["first_ts"],
        )
    )
    return {
        "unusual_lines": groups[:max_groups],
        "unusual_groups_omitted": max(0, len(groups) - max_groups),
        "routine_lines_omitted": len(routine),
        "routine_templates_omitted": int(routine["template_id"].nunique(dropna=True)),
        "lines_considered": len(lines),
        "learned_lines": total,
    }


def between(lines: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Lines with ``start <= ts < end``."""
    if lines.empty:
        return lines
    return lines[(lines["ts"] >= start) & (lines["ts"] < end)]


def with_unusual(evidence: dict[str, Any], unusual: dict[str, Any]) -> dict[str, Any]:
    """The incident evidence with its log part replaced by the unusual lines.

    ``templates`` and ``sample_lines`` (what triage rules and the LLM prompt read) then hold the
    unusual templates and lines only; the counts of what was left out stay next to them.
    """
    groups = unusual["unusual_lines"]
    out = {k: v for k, v in evidence.items() if k not in ("templates", "sample_lines")}
    out["templates"] = [
        {"template_id": g["template_id"], "template": g["template"] or g["message"], "count": g["count"]}
        for g in groups
    ]
    out["sample_lines"] = [g["message"] for g in groups]
    out.update(unusual)
    return out
