"""Log level of a free-text container line, inferred from the message itself.

Container output has no level field, but most frameworks print one: ``ERROR``/``WARN`` tokens,
logfmt ``level=error``, JSON ``"level":"error"``, Python's ``Traceback``. The most severe match
wins (a line ``INFO retry after ERROR`` is an error); no match -> ``unknown``. One RE2 pattern per
level runs vectorised over a pyarrow column, the same patterns serve single strings.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _pattern(tokens: str, words: str) -> str:
    return rf'\b({tokens})\b|level=({words})\b|"level"\s*:\s*"({words})"'


LEVEL_PATTERNS: tuple[tuple[str, str], ...] = (
    ("critical", _pattern("CRITICAL|FATAL|PANIC", "critical|fatal|panic|CRITICAL|FATAL")),
    ("error", _pattern("ERROR|ERR", "error|err|ERROR") + r"|^Traceback \(most recent call last\)"),
    ("warning", _pattern("WARN|WARNING", "warn|warning|WARN|WARNING")),
    ("info", _pattern("INFO", "info|INFO")),
    ("debug", _pattern("DEBUG|TRACE", "debug|trace|DEBUG|TRACE")),
)
_COMPILED = tuple((level, re.compile(p)) for level, p in LEVEL_PATTERNS)


def infer_level(message: str | None) -> str:
    """Level of one message (``unknown`` when nothing matches)."""
    if message:
        for level, regex in _COMPILED:
            if regex.search(message):
                return level
    return "unknown"


def infer_levels(messages: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorised ``infer_level`` over an arrow string column -> object array of level names."""
    out = np.full(len(messages), "unknown", dtype=object)
    undecided = np.ones(len(messages), dtype=bool)
    for level, pattern in LEVEL_PATTERNS:
        hit = pc.fill_null(pc.match_substring_regex(messages, pattern), False).to_numpy(zero_copy_only=False)
        take = hit & undecided
        out[take] = level
        undecided &= ~hit
        if not undecided.any():
            break
    return out
