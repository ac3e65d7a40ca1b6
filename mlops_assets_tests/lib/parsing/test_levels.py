"""Vectorised level inference agrees with the one-string rule on every path (prefix shortcut, RE2)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.lib.parsing.levels import infer_level, infer_levels

TOKENS = [
    "INFO",
    "ERROR",
    "ERR",
    "WARN",
    "WARNING",
    "CRITICAL",
    "DEBUG",
    "TRACE",
    "Traceback (most recent call last)",
    "level=error",
    "level=info",
    '"level": "warn"',
    "x",
    " ",
    ":",
    "_",
    "9",
    "[",
    "INFOX",
    "é",
]
line = st.lists(st.sampled_from(TOKENS), max_size=8).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(line, st.none()), max_size=40), st.integers(1, 30))
def test_vectorised_levels_match_the_single_string_rule(lines: list[str | None], repeat: int) -> None:
    lines = lines * repeat  # repeated prefixes take the shortcut, unique ones the RE2 path
    expected = [infer_level(v) for v in lines]
    assert infer_levels(pa.array(lines, type=pa.string())).tolist() == expected
