"""Secrets/PII redaction applied to anything that leaves the host (LLM prompts, webhooks).

Log lines carry whatever programs print: bearer headers, cloud keys, DSNs with passwords, e-mail
addresses. Each pattern replaces the sensitive part with ``[REDACTED:<kind>]`` while keeping enough
context (``password=[REDACTED:secret]``) for a reader to understand the line. Redaction is
idempotent (a redacted text redacts to itself), which the tests check with hypothesis.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


def _tag(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# The token that marks a redaction; patterns below must never match inside it (idempotence).
_TAG_CHARS = r"\[REDACTED:[a-z_]+\]"

# (kind, compiled pattern, replacement). Order matters: whole PEM blocks and URLs with credentials
# go first so that later, narrower patterns do not cut them into pieces.
_PATTERNS: list[tuple[str, re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        _tag("private_key"),
    ),
    (
        "url_password",
        # scheme://user:pass@host -> scheme://user:[REDACTED]@host
        re.compile(r"(?P<pre>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\[\]]+:)(?!\[REDACTED:)[^\s@/]+(?=@)"),
        lambda m: m.group("pre") + _tag("url_password"),
    ),
    (
        "bearer",
        re.compile(r"(?P<pre>\b(?:[Bb]earer|[Tt]oken|[Bb]asic)\s+)(?!\[REDACTED:)[A-Za-z0-9\-._~+/]{8,}=*"),
        lambda m: m.group("pre") + _tag("token"),
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), _tag("jwt")),
    (
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
        _tag("token"),
    ),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), _tag("token")),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), _tag("aws_key")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), _tag("token")),
    (
        "secret_pair",
        # api_key=..., "token": "...", PASSWORD: ..., aws_secret_access_key = ...
        re.compile(
            r"(?P<pre>(?i:\b[a-z0-9_\-.]*(?:api[_\-]?key|apikey|token|passw(?:or)?d|pwd|secret|"
            r"access[_\-]?key|private[_\-]?key|client[_\-]?secret)[a-z0-9_\-.]*)"
            r"[\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED:)(?P<val>[^\s\"',;&]+)"
        ),
        lambda m: m.group("pre") + _tag("secret"),
    ),
    ("email", re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"), _tag("email")),
]

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
    for kind, pattern, repl in _PATTERNS:
        out, n = pattern.subn(repl, out)
        if n:
            counts[kind] += n
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
    """``text`` with secrets replaced by ``[REDACTED:<kind>]`` markers."""
    return redact_with_counts(text, ips=ips, hostnames=hostnames).text
