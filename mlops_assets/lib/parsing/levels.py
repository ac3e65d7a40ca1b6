"""Log level of a free-text container line, inferred from the message itself.

Container output has no level field, but most frameworks print one: ``ERROR``/``WARN`` tokens,
logfmt ``level=error``, JSON ``"level":"error"``, Python's ``Traceback``. The FIRST such marker in
the line decides (frameworks print the level before the text, so a later ``ERROR`` is usually
quoted content: ``INFO retrying after ERROR`` is an info line); no marker -> ``unknown``.
One RE2 extraction runs vectorised over a pyarrow column - the cheap words-only form for the rows
that cannot hold the key/value forms (no ``level`` substring, no leading ``Traceback``), which is
half the cost of the full alternation; ``infer_level`` applies the same rule to one string.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_WORDS = "critical|fatal|panic|error|err|warning|warn|info|debug|trace"
WORD_MARKER = r"\b(?:CRITICAL|FATAL|PANIC|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b"
MARKER = (
    WORD_MARKER + rf"|level=(?:{_WORDS})\b"
    rf'|"level"\s*:\s*"(?:{_WORDS})"'
    r"|^Traceback \(most recent call last\)"
)
_MARKER_RE = re.compile(MARKER, re.ASCII)  # the word boundary of RE2, as infer_levels
_PREFIX = 9  # longest marker word (CRITICAL) + the character that proves its word boundary
# re.ASCII: the same word boundary as RE2's \b, so both paths agree on every input
_LEADING_WORD_RE = re.compile(WORD_MARKER, re.ASCII)
_WORD_RE = re.compile(rf"(traceback|{_WORDS})", re.IGNORECASE)
LEVEL_OF_WORD: dict[str, str] = {
    "critical": "critical",
    "fatal": "critical",
    "panic": "critical",
    "error": "error",
    "err": "error",
    "traceback": "error",
    "warning": "warning",
    "warn": "warning",
    "info": "info",
    "debug": "debug",
    "trace": "debug",
}


def level_of_marker(marker: str | None) -> str:
    """``ERROR`` / ``level=warn`` / ``"level":"info"`` / ``Traceback …`` -> level name."""
    if not marker:
        return "unknown"
    m = _WORD_RE.search(marker)
    return LEVEL_OF_WORD.get(m.group(1).lower(), "unknown") if m else "unknown"


def infer_level(message: str | None) -> str:
    """Level of one message (``unknown`` when it has no level marker)."""
    m = _MARKER_RE.search(message) if message else None
    return level_of_marker(m.group(0)) if m else "unknown"


def infer_levels(messages: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Vectorised ``infer_level`` over an arrow string column -> object array of level names.

    Most lines START with their level word, and their first 9 characters repeat a lot: those
    prefixes are decided once each (a marker word at position 0 is the first marker by
    definition); only the rows they do not decide go through the RE2 extraction.
    """
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks()
    n = len(messages)
    if n == 0:
        return np.array([], dtype=object)
    encoded = pc.dictionary_encode(pc.utf8_slice_codeunits(messages, 0, _PREFIX))
    if len(encoded.dictionary) > max(256, n // 8):  # prefixes do not repeat: no shortcut
        return _extract_levels(messages)
    lead = [_leading_level(p) for p in encoded.dictionary.to_pylist()] + ["unknown"]  # last: null
    idx = encoded.indices.fill_null(len(lead) - 1).to_numpy(zero_copy_only=False)
    levels = np.array(lead, dtype=object)[idx]
    undecided = np.array([v is None for v in lead])[idx]  # per distinct prefix, then gathered
    if undecided.any():
        levels[undecided] = _extract_levels(messages.filter(pa.array(undecided)))
    return levels


def _leading_level(prefix: str) -> str | None:
    """Level when ``prefix`` starts with a marker word (then it is the first marker), else None."""
    m = _LEADING_WORD_RE.match(prefix)
    return level_of_marker(m.group(0)) if m else None


def _extract_levels(messages: pa.Array) -> np.ndarray:
    """RE2 path: words-only regex for rows that cannot hold the key/value or Traceback forms."""
    full = pc.fill_null(
        pc.or_(pc.match_substring(messages, "level"), pc.starts_with(messages, "Traceback")), False
    )
    n_full = pc.sum(pc.cast(full, pa.int64())).as_py() or 0
    if n_full == len(messages):
        return _levels(messages, MARKER)
    if n_full == 0:
        return _levels(messages, WORD_MARKER)
    out = _levels(messages, WORD_MARKER)
    out[full.to_numpy(zero_copy_only=False)] = _levels(messages.filter(full), MARKER)
    return out


def _levels(messages: pa.Array, marker: str) -> np.ndarray:
    """Level of the first ``marker`` match per row (``unknown`` without one)."""
    token = pc.struct_field(pc.extract_regex(messages, f"(?P<m>{marker})"), "m")
    encoded = pc.dictionary_encode(token)
    names = np.array([level_of_marker(t) for t in encoded.dictionary.to_pylist()] + ["unknown"], dtype=object)
    idx = encoded.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False)
    return names[idx]
