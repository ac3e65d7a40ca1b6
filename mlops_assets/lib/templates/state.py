"""Where the template miner's state lives in storage, and which partitions it has learned from.

The miner only grows (existing templates keep their ids), from partitions it has not seen yet, so
re-materializing never double-counts and scoring always matches against a fixed, versioned set.
Every version is kept under templates/versions/ so a model can name the exact set it was trained on.
"""

from __future__ import annotations

import json

from mlops_assets.lib.storage.partition_store import atomic_write_text, exists, join, read_bytes
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.templates.miner import TemplateStateVersionError

CURRENT = "templates/current.json"
SEEN = "templates/seen.json"


def template_state_path(storage_root: str) -> str:
    return join(storage_root, CURRENT)


def load_template_miner(storage_root: str) -> TemplateMiner:
    """The current miner; raises with the fix when none was mined yet."""
    path = template_state_path(storage_root)
    if not exists(path):
        raise FileNotFoundError(
            f"no template miner state at {path}: materialize the `log_templates` asset first"
        )
    return _read(storage_root, path)


def load_or_new_miner(storage_root: str, **params: object) -> TemplateMiner:
    path = template_state_path(storage_root)
    return _read(storage_root, path) if exists(path) else TemplateMiner(**params)


def _read(storage_root: str, path: str) -> TemplateMiner:
    """Load a saved miner; a state of another format version fails with the paths to remove."""
    try:
        return TemplateMiner.from_json(read_bytes(path).decode("utf-8"))
    except TemplateStateVersionError as exc:
        raise TemplateStateVersionError(
            f"{path}: {exc}. To re-mine: remove {path} and {join(storage_root, SEEN)}, re-materialize "
            "`log_templates`, then the features and the detector that use template ids"
        ) from exc


def load_seen(storage_root: str) -> set[str]:
    path = join(storage_root, SEEN)
    return set(json.loads(read_bytes(path))) if exists(path) else set()


def save_template_miner(storage_root: str, miner: TemplateMiner, seen: set[str]) -> str:
    """Write the versioned copy first, then the pointer files: a crash leaves the old state intact."""
    state = miner.to_json()
    version_path = join(storage_root, "templates", "versions", f"{miner.state_version}.json")
    atomic_write_text(version_path, state)
    atomic_write_text(join(storage_root, SEEN), json.dumps(sorted(seen)))
    atomic_write_text(template_state_path(storage_root), state)
    return version_path
