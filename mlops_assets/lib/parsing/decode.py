"""Bytes -> text lines, tolerant of what real log files contain.

Logs arrive as bytes copied from other machines: UTF-8 (sometimes with a BOM), UTF-16 exported on
Windows, CRLF line ends, NUL padding from a crashed writer, invalid bytes, single lines of many MB.
Decoding never raises: invalid bytes become U+FFFD and the damage is reported in ``notes`` so a
quarantine or a quality check can tell a clean file from a repaired one.
"""

from __future__ import annotations

import codecs
from typing import Any

from mlops_assets.lib.contracts.tables import QUARANTINE_RAW_MAX

REPLACEMENT = "\ufffd"


def decode_text(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode ``data`` to ``str`` (BOM-aware, replacement on invalid bytes, NULs removed).

    Returns the text and notes: ``encoding``, ``invalid_bytes`` (count of U+FFFD introduced),
    ``nul_bytes`` (count removed).
    """
    notes: dict[str, Any] = {}
    encoding = "utf-8"
    body = data
    if data.startswith(codecs.BOM_UTF8):
        body, encoding = data[len(codecs.BOM_UTF8) :], "utf-8-sig"
    elif data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        encoding = "utf-16"  # the codec reads and strips the BOM itself
    text = body.decode("utf-16" if encoding == "utf-16" else "utf-8", errors="replace")
    if encoding != "utf-8":
        notes["encoding"] = encoding
    if REPLACEMENT in text:
        introduced = text.count(REPLACEMENT) - _count_literal_replacements(body, encoding)
        if introduced > 0:
            notes["invalid_bytes"] = introduced
    if "\x00" in text:
        notes["nul_bytes"] = text.count("\x00")
        text = text.replace("\x00", "")
    return text, notes


def _count_literal_replacements(body: bytes, encoding: str) -> int:
    """U+FFFD characters that were already in the input (so not evidence of damage)."""
    if encoding == "utf-16":
        return 0
    return body.count(REPLACEMENT.encode("utf-8"))


def split_lines(text: str) -> list[str]:
    """Split on LF only (CR before LF stripped).

    ``str.splitlines`` would also split on form feeds, U+2028 and other separators that occur
    inside real messages, which would turn one record into several.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def decode_lines(data: bytes) -> tuple[list[str], dict[str, Any]]:
    """``decode_text`` then ``split_lines``."""
    text, notes = decode_text(data)
    return split_lines(text), notes


def truncate_raw(raw: str | bytes, limit: int = QUARANTINE_RAW_MAX) -> str:
    """At most ``limit`` UTF-8 bytes of ``raw`` for the quarantine table (never splits a character)."""
    if isinstance(raw, bytes):
        raw = raw[: limit + 4].decode("utf-8", errors="replace")
    encoded = raw.encode("utf-8", errors="replace")
    if len(encoded) <= limit:
        return raw
    return encoded[:limit].decode("utf-8", errors="ignore")
