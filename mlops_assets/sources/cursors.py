"""Durable per-host collection cursors: one small JSON file per host, replaced atomically.

A cursor records, per journal-like source, the ``__CURSOR`` of the last entry that was durably
written and the end of the window it belonged to. It moves only in ``LogSource.commit`` (after the
partition is on disk) and never backwards, so a killed transfer or a re-run of an old partition
leaves it untouched and the next run reads exactly what an undisturbed run would have read.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from mlops_assets.lib.storage.keys import validate_host
from mlops_assets.lib.storage.partition_store import atomic_write_text


@dataclass(frozen=True)
class SourceCursor:
    cursor: str | None  # journal __CURSOR of the last entry written (None: no entry seen yet)
    window_end: str  # ISO UTC end of the last committed window


class CursorStore:
    """``<directory>/<host>.json`` = {source: {"cursor": ..., "window_end": ...}}."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, host: str) -> Path:
        return self.directory / f"{validate_host(host)}.json"

    def load(self, host: str) -> dict[str, SourceCursor]:
        path = self._path(host)
        if not path.exists():
            return {}
        try:
            raw = json.loads(path.read_text())
            return {
                k: SourceCursor(cursor=v.get("cursor"), window_end=v["window_end"]) for k, v in raw.items()
            }
        except (ValueError, KeyError, AttributeError) as exc:
            raise RuntimeError(
                f"cursor file {path} is corrupt ({exc}); delete it to re-collect by time windows"
            ) from exc

    def get(self, host: str, source: str) -> SourceCursor | None:
        return self.load(host).get(source)

    def advance(self, host: str, source: str, cursor: str | None, window_end: datetime) -> bool:
        """Move ``source``'s cursor to the end of a committed window; False when that would go back."""
        state = self.load(host)
        current = state.get(source)
        end_iso = window_end.isoformat()
        if current is not None and datetime.fromisoformat(current.window_end) >= window_end:
            return False
        keep = cursor if cursor is not None else (current.cursor if current else None)
        state[source] = SourceCursor(cursor=keep, window_end=end_iso)
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self._path(host), json.dumps({k: asdict(v) for k, v in state.items()}, indent=1) + "\n"
        )
        return True
