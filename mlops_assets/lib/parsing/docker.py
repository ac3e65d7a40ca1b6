"""Container output -> docker_lines: json-file driver archives (``docker logs`` text: docker_text.py).

json-file (``{"log","stream","time"}`` per line, 1-9 digit fractions) goes through the shared
block-wise pyarrow reader (jsonl.py); each block is converted column-wise at once (time by one
Arrow cast, level by one RE2 extraction) to numpy arrays, concatenated once at the end.
Lines longer than 16 KB are split by the driver into several entries whose ``log`` has no
trailing newline; they are joined back into one record (the first piece's time; the further
pieces are counted as ``skipped``, ``notes["partial_entries_joined"]``).
``template_id`` stays null: template mining is a later step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_assets.lib.contracts.tables import ParseResult
from mlops_assets.lib.parsing.arrow_util import constant_strings, objects, string_series
from mlops_assets.lib.parsing.docker_events import parse_docker_events
from mlops_assets.lib.parsing.docker_text import parse_docker_logs
from mlops_assets.lib.parsing.docker_time import DOCKER_TS_RE, INVALID_NS, docker_time_ns
from mlops_assets.lib.parsing.jsonl import in_line_order, iter_json_lines
from mlops_assets.lib.parsing.levels import infer_level, infer_levels
from mlops_assets.lib.parsing.records import Quarantine, build_result

__all__ = [
    "DOCKER_TS_RE",
    "docker_time_ns",
    "parse_docker_events",
    "parse_docker_json_file",
    "parse_docker_logs",
]

_SCHEMA = pa.schema([("log", pa.string()), ("stream", pa.string()), ("time", pa.string())])


def parse_docker_json_file(data: bytes, host: str, container: str) -> ParseResult:
    """Parse a json-file driver log (``/var/lib/docker/containers/<id>/<id>-json.log``)."""
    q = Quarantine(host, "docker_logs")
    blocks: list[dict[str, np.ndarray]] = []
    records_in = skipped = 0
    notes: dict[str, Any] = {}
    for jb in iter_json_lines(data, _SCHEMA):
        parts = [_columns(table, idx, jb.raw, q) for idx, table in jb.tables]
        slow: list[dict[str, Any]] = []
        raws: dict[int, bytes] = {}
        for i, raw in jb.odd:
            if not raw.strip():
                skipped += 1
                continue
            try:
                obj = json.loads(raw.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):
                q.add(i + 1, "invalid_json", raw)
                continue
            if not isinstance(obj, dict):
                q.add(i + 1, "not_an_object", raw)
                continue
            slow.append(
                {k: None if obj.get(k) is None else str(obj.get(k)) for k in ("log", "stream", "time")}
            )
            raws[i] = raw
        if slow:
            idx = np.array(sorted(raws), dtype=np.int64)
            parts.append(_columns(pa.Table.from_pylist(slow, schema=_SCHEMA), idx, raws.__getitem__, q))
        if parts:
            blocks.append(in_line_order(parts))
        records_in += jb.block.n_lines
    if not blocks:
        return build_result("docker", "docker_lines", pd.DataFrame(), q, records_in, skipped)
    cols = {k: np.concatenate([b.pop(k) for b in blocks]) for k in list(blocks[0])}
    joined = _join_partials(cols)
    if joined:
        notes["partial_entries_joined"] = joined
    return build_result(
        "docker", "docker_lines", _frame(cols, host, container), q, records_in, skipped + joined, notes=notes
    )


def _columns(
    table: pa.Table, idx: np.ndarray, raw_of: Callable[[int], bytes], q: Quarantine
) -> dict[str, np.ndarray]:
    """One pyarrow table -> numpy columns; rows without a usable time are quarantined."""
    ns = docker_time_ns(table.column("time"))
    bad = ns == INVALID_NS
    if bad.any():
        missing = pc.is_null(table.column("time")).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(bad):
            reason = "missing_timestamp" if missing[i] else "bad_timestamp"
            q.add(int(idx[i]) + 1, reason, raw_of(int(idx[i])))
        table, ns, idx = table.filter(pa.array(~bad)), ns[~bad], idx[~bad]
    raw_log = table.column("log").combine_chunks()
    log = pc.utf8_rtrim(raw_log, characters="\r\n")
    return {
        "ns": ns,
        "stream": objects(table.column("stream"), low_cardinality=True),
        "message": objects(log),
        "level": infer_levels(log),
        # a json-file entry without its newline was cut at 16 KB: the next one continues it
        "partial": ~pc.fill_null(pc.ends_with(raw_log, "\n"), True).to_numpy(zero_copy_only=False),
        "line_no": np.asarray(idx, dtype=np.int64) + 1,
    }


def _join_partials(cols: dict[str, np.ndarray]) -> int:
    """Join 16 KB pieces into their record in place (per stream); returns the pieces removed.

    Pieces are rare (only lines over 16 KB), so only they are visited in Python.
    """
    partial = cols["partial"]
    if not partial.any():
        return 0
    stream, message = cols["stream"], cols["message"]
    absorbed = np.zeros(len(partial), dtype=bool)
    for head in np.flatnonzero(partial):
        if absorbed[head]:
            continue
        if not isinstance(message[head], str):
            continue
        pieces, cur = [message[head]], head
        while partial[cur]:
            nxt = cur + 1
            while nxt < len(partial) and not _same(stream[nxt], stream[head]):  # the other stream interleaves
                nxt += 1
            if nxt == len(partial) or not isinstance(message[nxt], str):
                break  # the file ends inside the line (or a broken entry follows): keep what was written
            pieces.append(message[nxt])
            absorbed[nxt] = True
            cur = nxt
        message[head] = "".join(pieces)
        cols["level"][head] = infer_level(message[head])
    keep = ~absorbed
    for key in cols:
        cols[key] = cols[key][keep]
    return int(absorbed.sum())


def _same(a: object, b: object) -> bool:
    """Equality that is False (not NA) when a stream is missing."""
    return a is b or (isinstance(a, str) and isinstance(b, str) and a == b)


def _frame(cols: dict[str, np.ndarray], host: str, container: str) -> pd.DataFrame:
    """The contract frame, built once from the concatenated columns."""
    n = len(cols["ns"])
    return pd.DataFrame(
        {
            "ts": pd.Series(pd.to_datetime(cols["ns"], unit="ns", utc=True)),
            "host": constant_strings(host, n),
            "container": constant_strings(container, n),
            "stream": string_series(cols["stream"]),
            "message": string_series(cols["message"]),
            "level": string_series(cols["level"]),
            "template_id": constant_strings(None, n),  # mined later
        },
        copy=False,
    )
