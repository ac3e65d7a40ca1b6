"""The one place that decides which host names, partition keys and path parts may name storage.

Host names and partition keys arrive from outside: hosts.yaml, a landing folder's directory names, a
dynamic partition added through the UI or GraphQL. Each becomes a directory or file name under the
storage root, so a name like ``../x``, ``/etc`` or one holding a NUL would write outside the root or
break the store. Every path built from such a name goes through these checks, which fail loudly and
say what is allowed.
"""

from __future__ import annotations

import re

HOST_NAME_MAX = 63
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
HOST_NAME_RULE = (
    f"1-{HOST_NAME_MAX} characters of letters, digits, '.', '_' or '-', starting with a letter or digit "
    f"(regex {HOST_NAME_RE.pattern})"
)
PARTITION_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
PARTITION_KEY_RULE = (
    "1-128 characters of letters, digits, '.', '_', ':', '+' or '-', starting with a letter or digit "
    "(hourly keys look like 2026-11-01-02:00)"
)
TABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PATH_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._:+-]{0,254}$")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_host(host: object) -> str:
    """``host`` unchanged when it may name a directory under the storage root; ValueError otherwise."""
    if not isinstance(host, str) or not HOST_NAME_RE.fullmatch(host) or ".." in host:
        raise ValueError(
            f"host name {_shown(host)} cannot name storage or partitions: it must be {HOST_NAME_RULE}, "
            "without '..'"
        )
    return host


def is_valid_host(host: object) -> bool:
    try:
        validate_host(host)
    except ValueError:
        return False
    return True


def validate_partition_key(key: object) -> str:
    """``key`` unchanged when it may name a partition file; ValueError otherwise."""
    if not isinstance(key, str) or not PARTITION_KEY_RE.fullmatch(key) or ".." in key:
        raise ValueError(
            f"partition key {_shown(key)} cannot name a storage file: it must be {PARTITION_KEY_RULE}"
        )
    return key


def validate_table(table: object) -> str:
    """Table names are ours (``raw_gpu``, ``features``), never user input: lower-case identifiers."""
    if not isinstance(table, str) or not TABLE_RE.fullmatch(table):
        raise ValueError(f"table name {_shown(table)} must match {TABLE_RE.pattern}")
    return table


def validate_path_parts(*parts: str) -> tuple[str, ...]:
    """Each '/'-separated segment of ``parts`` is a plain name: no '..', '.', empty segment, NUL,
    backslash or leading '/' (so a joined path can never leave the root it is joined to)."""
    for part in parts:
        if not isinstance(part, str):
            raise ValueError(f"storage path part {_shown(part)} must be a string")
        segments = part.split("/")
        if part.startswith("/") or any(not PATH_PART_RE.fullmatch(s) or ".." in s for s in segments):
            raise ValueError(
                f"storage path part {_shown(part)} must be relative '/'-separated names of letters, digits, "
                "'.', '_', ':', '+' or '-' (no '..', no empty or absolute segment, no NUL or backslash)"
            )
    return parts
