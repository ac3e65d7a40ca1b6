"""Redaction rules as data: gitleaks' maintained rule set plus this project's own rules, one format.

Both files are gitleaks-format TOML (``[[rules]]`` with ``id``, ``regex``, ``keywords``, optional
``entropy``, ``secretGroup`` and ``[[rules.allowlists]]``), loaded once at import:

- ``gitleaks.toml``: gitleaks' default config, vendored verbatim (MIT; notice at its top). Updating
  it is replacing the file.
- ``redact_rules.toml``: what gitleaks does not cover for logs: command-line flags (``--password X``,
  ``-pX``), environment assignments, URLs with ``user:pass@``, bearer headers, PEM blocks cut short,
  token formats gitleaks matches too narrowly (``hf_``, ``sk-proj-``), e-mail addresses.

gitleaks regexes are Go RE2; :func:`go_regex` rewrites the two constructs Python's ``re`` lacks
(flags such as ``(?i)`` in mid-pattern, ``\\z``). A rule that still does not compile fails the import:
a rule set that silently lost rules would let secrets through.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent
GITLEAKS_FILE = DATA / "gitleaks.toml"
OWN_FILE = DATA / "redact_rules.toml"


def go_regex(pattern: str) -> str:
    """A Go RE2 pattern as an equivalent Python ``re`` pattern.

    Go lets ``(?i)`` appear anywhere, meaning "from here to the end of the enclosing group, in every
    alternative after it"; Python accepts global flags only at the start, so ``x(?i)y|z`` becomes
    ``x(?i:y)|(?i:z)``. ``\\z`` (end of text) is Python's ``\\Z``. Inside character classes a literal
    ``[`` and doubled set operators are escaped so Python neither warns nor reads nested sets.
    """
    out: list[str] = []
    opened: list[list[str]] = [[]]  # per open group: the flag scopes opened in it, to close with it
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            out.append("\\Z" if nxt == "z" and not in_class else c + nxt)
            i += 2
            continue
        if in_class:
            if c == "]" and out[-1] not in ("[", "[^"):
                in_class = False
            elif c == "[" or (c in "&~|-" and pattern[i + 1 : i + 2] == c):
                out.append("\\")
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if pattern[i : i + 1] == "]":  # a leading ']' is a literal
                out.append("\\]")
                i += 1
            continue
        flags = re.match(r"\(\?([imsU-]+)\)", pattern[i:])
        if flags:
            if i == 0:
                out.append(flags.group(0))
            else:
                out.append(f"(?{flags.group(1)}:")
                opened[-1].append(flags.group(1))
            i += len(flags.group(0))
            continue
        if c == "(":
            opened.append([])
        elif c == ")":
            out.append(")" * len(opened.pop()))
        elif c == "|" and opened[-1]:  # Go: `a(?i)b|c` is `a(?i:b)|(?i:c)`
            out.append(")" * len(opened[-1]) + "|" + "".join(f"(?{f}:" for f in opened[-1]))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(opened.pop()))
    return "".join(out)


def shannon_entropy(text: str) -> float:
    """Bits per character, as gitleaks computes it for its ``entropy`` thresholds."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


@dataclass(frozen=True)
class Allowlist:
    """A gitleaks allowlist without paths/commits (there is no file path in a log line)."""

    regexes: tuple[re.Pattern[str], ...] = ()
    stopwords: tuple[str, ...] = ()
    target: str = "secret"  # secret | match | line
    condition_and: bool = False
    usable: bool = True  # False when it also needs a path or commit: it can never apply here

    def allows(self, secret: str, match: str, line: str) -> bool:
        if not self.usable:
            return False
        subject = {"secret": secret, "match": match, "line": line}[self.target]
        checks = []
        if self.regexes:
            checks.append(any(r.search(subject) for r in self.regexes))
        if self.stopwords:
            low = secret.lower()
            checks.append(any(w in low for w in self.stopwords))
        if not checks:
            return False
        return all(checks) if self.condition_and else any(checks)


@dataclass(frozen=True)
class Rule:
    id: str
    tag: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    entropy: float = 0.0
    secret_group: int = 0
    allowlists: tuple[Allowlist, ...] = field(default=())
    origin: str = ""
    stage: int = 1  # stage-2 rules run on the output of stage 1 (see redact_rules.toml)


def _allowlist(spec: dict) -> Allowlist:
    needs_path = bool(spec.get("paths") or spec.get("commits"))
    cond_and = str(spec.get("condition", "OR")).upper() == "AND"
    return Allowlist(
        regexes=tuple(re.compile(go_regex(r)) for r in spec.get("regexes", [])),
        stopwords=tuple(w.lower() for w in spec.get("stopwords", [])),
        target=spec.get("regexTarget", "secret"),
        condition_and=cond_and,
        usable=not (needs_path and cond_and) and bool(spec.get("regexes") or spec.get("stopwords")),
    )


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    global_allowlist: Allowlist
    skipped: tuple[tuple[str, str], ...]  # (rule id, why it cannot apply to log text)


def load_rules(path: Path, origin: str) -> tuple[list[Rule], Allowlist, list[tuple[str, str]]]:
    """Rules of one gitleaks-format file; a rule that does not compile raises with its id."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    rules, skipped = [], []
    for spec in data.get("rules", []):
        rid = spec["id"]
        if "regex" not in spec or "path" in spec:
            skipped.append((rid, "matches file paths, and log text has none"))
            continue
        try:
            regex = re.compile(go_regex(spec["regex"]))
        except re.error as exc:
            raise ValueError(f"{path.name}: rule {rid} does not compile in Python ({exc})") from exc
        rules.append(
            Rule(
                id=rid,
                tag=spec.get("tag", rid).replace("-", "_").lower(),
                regex=regex,
                keywords=tuple(k.lower() for k in spec.get("keywords", [])),
                entropy=float(spec.get("entropy", 0.0)),
                secret_group=int(spec.get("secretGroup", 0)),
                allowlists=tuple(_allowlist(a) for a in spec.get("allowlists", [])),
                origin=origin,
                stage=int(spec.get("stage", 1)),
            )
        )
    glob = data.get("allowlist") or {}
    return rules, _allowlist({k: v for k, v in glob.items() if k != "paths"}), skipped


def default_rules() -> RuleSet:
    """This project's rules first (their tags win where both match), then gitleaks'."""
    own, own_allow, own_skipped = load_rules(OWN_FILE, "mlops_assets")
    leaks, leaks_allow, leaks_skipped = load_rules(GITLEAKS_FILE, "gitleaks")
    if own_allow.regexes or own_allow.stopwords:
        raise ValueError(f"{OWN_FILE.name}: put allowlists on the rules, not globally")
    clash = sorted({r.id for r in own} & {r.id for r in leaks})
    if clash:
        raise ValueError(f"{OWN_FILE.name}: rule ids {clash} are also gitleaks ids; rename them")
    return RuleSet(tuple(own + leaks), leaks_allow, tuple(own_skipped + leaks_skipped))
