"""Incident ids already notified by the fast path, in storage (shared by every pod), atomically
rewritten; notify_new_incidents skips them when the hour is processed later."""

from __future__ import annotations

import json

from mlops_assets.lib.storage.partition_store import atomic_write_text, exists, read_bytes
from mlops_assets.resources import StorageResource

MAX_IDS = 20000


def ledger_path(storage: StorageResource) -> str:
    return storage.path("notify", "fastpath_notified.json")


def notified_ids(storage: StorageResource) -> list[str]:
    path = ledger_path(storage)
    if not exists(path):
        return []
    data = json.loads(read_bytes(path).decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("ids"), list):
        raise ValueError(f"{path} is not a fast-path ledger ({{'ids': [...]}}); move it away to reset it")
    return [str(i) for i in data["ids"]]


def record(storage: StorageResource, ids: list[str]) -> None:
    if not ids:
        return
    merged = list(dict.fromkeys(notified_ids(storage) + ids))[-MAX_IDS:]
    atomic_write_text(ledger_path(storage), json.dumps({"ids": merged}))
