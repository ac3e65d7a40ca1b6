"""Secrets/PII redaction applied to anything that leaves the host (LLM prompts, webhooks, Slack).

Log lines carry whatever programs print: bearer headers, cloud keys, DSNs with passwords, command
lines with ``--password X``, e-mail addresses. The rules are data (lib/triage/redact_rules.py:
gitleaks' maintained rule set plus this project's rules for logs); each finding's secret part is
replaced with ``[REDACTED:<tag>]`` so a reader keeps the context (``password=[REDACTED:secret]``).

Every rule runs on the WHOLE text, then overlapping findings merge into one marker: a secret is
never cut in two first. Whatever shortens text on its way out calls :func:`redact_then_cut`, which
redacts before cutting (a token cut at the edge would otherwise leak its prefix). Redaction is
idempotent (a redacted text redacts to itself), which the tests check with hypothesis.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from mlops_assets.lib.triage.redact_rules import RuleSet, default_rules, shannon_entropy

RULES: RuleSet = default_rules()
# keyword -> indices of the rules it enables (a rule runs only when one of its keywords occurs)
_BY_KEYWORD: dict[str, set[int]] = {}
for _i, _rule in enumerate(RULES.rules):
    for _k in _rule.keywords:
        _BY_KEYWORD.setdefault(_k, set()).add(_i)
_ALWAYS = {i for i, r in enumerate(RULES.rules) if not r.keywords}
_STAGES = sorted({r.stage for r in RULES.rules})
ELLIPSIS = "\u2026"


def _tag(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# The marker a redaction leaves; no rule may match inside one (idempotence).
_TAG_CHARS = r"\[REDACTED:[a-z0-9_]+\]"
_TAG_RE = re.compile(_TAG_CHARS)
_PARTIAL_TAG_RE = re.compile(r"\[(?:R(?:E(?:D(?:A(?:C(?:T(?:E(?:D(?::[a-z0-9_]*)?)?)?)?)?)?)?)?)?$")


def _secret_span(m: re.Match[str], group: int) -> tuple[int, int]:
    """gitleaks' choice: ``secretGroup`` when set, else the first non-empty group, else the match."""
    if group:
        return m.span(group)
    for g in range(1, (m.re.groups or 0) + 1):
        if m.group(g):
            return m.span(g)
    return m.span(0)


def _line_of(text: str, start: int, end: int) -> str:
    stop = text.find("\n", end)
    return text[text.rfind("\n", 0, start) + 1 : stop if stop >= 0 else len(text)]


def _findings(text: str, stage: int) -> list[tuple[int, int, int]]:
    """(start, end, rule index) of every secret, before merging; existing markers are skipped."""
    lower = text.lower()
    tags = [m.span() for m in _TAG_RE.finditer(text)] if "[redacted:" in lower else []
    found = []
    wanted = set(_ALWAYS)
    for keyword, indices in _BY_KEYWORD.items():
        if keyword in lower:
            wanted |= indices
    for index in sorted(wanted):
        rule = RULES.rules[index]
        if rule.stage != stage:
            continue
        for m in rule.regex.finditer(text):
            s, e = _secret_span(m, rule.secret_group)
            if e <= s or any(s < te and ts < e for ts, te in tags):
                continue
            secret = text[s:e]
            if rule.entropy and shannon_entropy(secret) <= rule.entropy:
                continue
            line = _line_of(text, *m.span())
            allowlists = rule.allowlists
            if rule.origin == "gitleaks":
                allowlists = (RULES.global_allowlist, *allowlists)
            if any(a.allows(secret, m.group(0), line) for a in allowlists):
                continue
            found.append((s, e, index))
    return found


def _apply(text: str, found: list[tuple[int, int, int]], counts: Counter[str]) -> str:
    """Merge overlapping findings into one marker each (the first rule's tag) and substitute."""
    if not found:
        return text
    found.sort()
    merged: list[list[int]] = []
    for s, e, index in found:
        if merged and s < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] = min(merged[-1][2], index)
        else:
            merged.append([s, e, index])
    out, pos = [], 0
    for s, e, index in merged:
        rule = RULES.rules[index]
        out += [text[pos:s], _tag(rule.tag)]
        counts[rule.id] += 1
        pos = e
    out.append(text[pos:])
    return "".join(out)


_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
# Full 8-group or "::"-compressed forms only: plain "12:34:56" times and PCI ids must not match.
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = re.compile(
    rf"(?<![0-9A-Fa-f:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:(?:{_H}(?::{_H}){{0,6}})?|::(?:{_H}:){{0,6}}{_H})"
    r"(?![0-9A-Fa-f:])"
)
# FQDN-like names (at least one dot, alphabetic TLD). Bare short host names are left alone: they are
# indistinguishable from ordinary words.
_HOSTNAME = re.compile(
    r"(?<![\w@.\-:])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63})(?![\w\-])"
)
# File names such as libcuda.so / foo.py look like hosts; skip common extensions.
_NOT_HOST_SUFFIXES = (
    ".so",
    ".py",
    ".log",
    ".json",
    ".yaml",
    ".yml",
    ".txt",
    ".conf",
    ".service",
    ".sh",
    ".csv",
)


@dataclass
class Redaction:
    """The redacted text and how many of each kind were replaced (for the audit trail)."""

    text: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def redact_with_counts(text: str, *, ips: bool = False, hostnames: bool = False) -> Redaction:
    """Redact secrets (always) and IPs / host names (when asked); count what was replaced."""
    counts: Counter[str] = Counter()
    out = text
    for stage in _STAGES:
        out = _apply(out, _findings(out, stage), counts)
    if ips:
        out, n4 = _IPV4.subn(_tag("ip"), out)
        out, n6 = _IPV6.subn(_tag("ip"), out)
        if n4 + n6:
            counts["ip"] += n4 + n6
    if hostnames:
        n_host = 0

        def _host(m: re.Match[str]) -> str:
            nonlocal n_host
            name = m.group(0)
            if name.lower().endswith(_NOT_HOST_SUFFIXES) or re.fullmatch(_TAG_CHARS, name):
                return name
            n_host += 1
            return _tag("host")

        out = _HOSTNAME.sub(_host, out)
        if n_host:
            counts["hostname"] += n_host
    return Redaction(out, counts)


def redact(text: str, *, ips: bool = False, hostnames: bool = False) -> str:
    """``text`` with secrets replaced by ``[REDACTED:<tag>]`` markers."""
    return redact_with_counts(text, ips=ips, hostnames=hostnames).text


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` characters without leaving half a marker.

    Only for text that is already redacted (or deliberately raw): see :func:`redact_then_cut`.
    """
    if len(text) <= limit:
        return text
    head = _PARTIAL_TAG_RE.sub("", text[: max(limit - 1, 0)])
    return head + ELLIPSIS


def redact_then_cut(text: str, limit: int, *, ips: bool = False, hostnames: bool = False) -> str:
    """Redact the whole text, THEN shorten it: the only safe order for anything leaving the host."""
    return cut(redact(text, ips=ips, hostnames=hostnames), limit)


def cut_raw(text: str, limit: int) -> str:
    """Shorten text that stays on the host but is redacted later (stored evidence lines).

    The partial word at the cut is dropped: a secret cut in half may no longer match any rule, and
    its surviving prefix would then leave unredacted. Whole words before the cut are redacted later.
    """
    if len(text) <= limit:
        return text
    head = text[: max(limit - 1, 0)]
    if not text[len(head)].isspace():
        head = re.sub(r"\S+$", "", head)
    return head.rstrip() + ELLIPSIS
