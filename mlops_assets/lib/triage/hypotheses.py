"""Root-cause triage of an incident or a failed check: schema, prompt building, rule-based summary.

The LLM (notify/llm.py) and the deterministic rules produce the same :class:`Triage` schema so that
consumers never care which one ran; ``summary_kind`` says which. Everything that goes into a prompt
passes through :mod:`mlops_assets.lib.triage.redact` first, on the whole value, and only then is it
cut to its budget (a cut secret could leak its prefix). The prompt has a character budget: sample
lines are dropped first, then the least frequent templates, then the weakest features.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from mlops_assets.lib.triage.redact import cut, redact_then_cut, redact_with_counts
from mlops_assets.lib.triage.rules import rule_hypotheses

SAMPLE_LINE_CHARS = 500  # per sample log line in a prompt, counted AFTER redaction
OTHER_EVIDENCE_CHARS = 1000
UNPARSED_EVIDENCE_CHARS = 2000

SummaryKind = Literal["llm", "rules"]
SampleMode = Literal["none", "redacted", "raw"]


class Hypothesis(BaseModel):
    """One candidate root cause, with what to do now and how to prevent a repeat."""

    cause: str
    likelihood: float = Field(ge=0.0, le=1.0)
    impact: str
    immediate_actions: list[str]
    prevention: list[str]


class Triage(BaseModel):
    """Ranked hypotheses (most likely first) and a one-paragraph summary."""

    hypotheses: list[Hypothesis]
    summary: str


@dataclass
class TriageResult:
    """A triage plus how it was produced (``fallback_reason`` set when the LLM was tried and failed)."""

    triage: Triage
    summary_kind: SummaryKind
    model: str | None = None
    fallback_reason: str | None = None
    redactions: int = 0

    def to_json(self) -> str:
        """The INCIDENTS ``summary`` column: the triage schema plus provenance."""
        payload: dict[str, Any] = self.triage.model_dump()
        payload["kind"] = self.summary_kind
        if self.model:
            payload["model"] = self.model
        if self.fallback_reason:
            payload["fallback_reason"] = self.fallback_reason
        return json.dumps(payload, sort_keys=True)


@dataclass(frozen=True)
class PromptSettings:
    """What may leave the host. Raw (unredacted) sample lines are opt-in: ``sample_lines="raw"``."""

    max_chars: int = 6000
    sample_lines: SampleMode = "redacted"
    max_sample_lines: int = 20
    redact_ips: bool = False
    redact_hostnames: bool = False


def parse_evidence(evidence: str | dict[str, Any] | None) -> dict[str, Any]:
    """The incident ``evidence`` JSON as a dict; malformed evidence is kept visible, not dropped."""
    if evidence is None:
        return {}
    if isinstance(evidence, dict):
        return evidence
    try:
        value = json.loads(evidence)
    except (TypeError, ValueError):
        return {"unparsed_evidence": redact_then_cut(str(evidence), UNPARSED_EVIDENCE_CHARS)}
    if isinstance(value, dict):
        return value
    return {"unparsed_evidence": redact_then_cut(str(value), UNPARSED_EVIDENCE_CHARS)}


def evidence_hash(evidence: str | dict[str, Any] | None) -> str:
    """Stable hash of the evidence (key order independent) for the triage cache."""
    canonical = json.dumps(parse_evidence(evidence), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def evidence_text(evidence: dict[str, Any]) -> str:
    """All evidence flattened to text, the haystack the rules search."""
    parts: list[str] = []
    for f in evidence.get("top_features") or []:
        if isinstance(f, dict):
            parts.append(f"{f.get('feature')}={f.get('value')}")
    for t in evidence.get("templates") or []:
        if isinstance(t, dict):
            parts.append(str(t.get("template", "")))
    parts += [str(x) for x in evidence.get("sample_lines") or []]
    parts += [str(x) for x in evidence.get("sources") or []]
    for key, value in evidence.items():
        if key not in ("top_features", "templates", "sample_lines", "sources"):
            parts.append(f"{key}: {value}")
    return "\n".join(parts)


def rules_triage(evidence: dict[str, Any], *, subject: str = "incident") -> Triage:
    """Deterministic triage from evidence keywords (Xid codes, OOM, disk full, ...)."""
    hypotheses = [Hypothesis(**h) for h in rule_hypotheses(evidence_text(evidence), evidence)]
    top = hypotheses[0]
    extra = f"; {len(hypotheses) - 1} other hypotheses" if len(hypotheses) > 1 else ""
    summary = (
        f"Rule-based triage of {subject}: most likely {top.cause.rstrip('.')} "
        f"(likelihood {top.likelihood:.2f}){extra}. First action: {top.immediate_actions[0]}"
    )
    return Triage(hypotheses=hypotheses, summary=summary)


_INSTRUCTIONS = (
    "You are an SRE triaging an anomaly on a multi-GPU Linux server (NVIDIA GPUs, systemd journal, "
    "kernel NVRM Xid messages, Docker containers). From the evidence below, list the most likely "
    "root-cause hypotheses ranked by likelihood (0-1, they need not sum to 1). For each give its "
    "impact, concrete immediate actions (commands where useful, follow NVIDIA's Xid guidance for GPU "
    "faults) and prevention. Finish with a short summary. Do not invent evidence. Secrets were "
    "replaced by [REDACTED:...] markers."
)


def build_prompt(
    subject: dict[str, Any], evidence: dict[str, Any], settings: PromptSettings
) -> tuple[str, int]:
    """Prompt text within ``settings.max_chars`` and the number of redactions applied."""
    red = 0

    def clean(text: str, *, raw: bool = False) -> str:
        nonlocal red
        if raw:
            return text
        r = redact_with_counts(text, ips=settings.redact_ips, hostnames=settings.redact_hostnames)
        red += r.total
        return r.text

    header = [_INSTRUCTIONS, "", "## Subject"]
    header += [f"- {k}: {clean(str(v))}" for k, v in subject.items() if v not in (None, "")]
    features = [
        f"- {clean(str(f.get('feature')))} = {f.get('value')} (contribution {f.get('contribution')})"
        for f in evidence.get("top_features") or []
        if isinstance(f, dict)
    ]
    templates = sorted(
        (t for t in evidence.get("templates") or [] if isinstance(t, dict)),
        key=lambda t: -int(t.get("count") or 0),
    )
    template_lines = [f"- [{t.get('count')}x] {clean(str(t.get('template', '')))}" for t in templates]
    samples: list[str] = []
    if settings.sample_lines != "none":
        raw = settings.sample_lines == "raw"
        for line in list(evidence.get("sample_lines") or [])[: settings.max_sample_lines]:
            samples.append("- " + cut(clean(str(line), raw=raw), SAMPLE_LINE_CHARS))
    others = [
        f"- {k}: {cut(clean(json.dumps(v, default=str) if not isinstance(v, str) else v), OTHER_EVIDENCE_CHARS)}"
        for k, v in evidence.items()
        if k not in ("top_features", "templates", "sample_lines")
    ]

    def render() -> str:
        body = list(header)
        if features:
            body += ["", "## Top anomalous features", *features]
        if template_lines:
            body += ["", "## Log templates (count, most frequent first)", *template_lines]
        if samples:
            body += ["", "## Sample log lines", *samples]
        if others:
            body += ["", "## Other evidence", *others]
        return "\n".join(body)

    text = render()
    for bucket in (samples, template_lines, others, features):
        while len(text) > settings.max_chars and bucket:
            bucket.pop()
            text = render()
    return cut(text, settings.max_chars), red
