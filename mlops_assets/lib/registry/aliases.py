"""MLflow registry operations: experiment with an explicit artifact location, champion/previous
aliases, promotion, rollback and loading the champion. Pure mlflow, no dagster.

Aliases: ``champion`` is what scoring uses; ``previous`` is the champion it replaced, so a rollback
is one alias move. Every version promoted gets a ``previous_champion`` tag so repeated rollbacks walk
back through history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

MODEL_NAME = "log-anomaly-detector"
CHAMPION = "champion"
PREVIOUS = "previous"


def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(tracking_uri: str, name: str, artifact_root: str) -> str:
    """Experiment id; created with ``artifact_root/name`` as its artifact location (never ./mlruns)."""
    c = client(tracking_uri)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = artifact_root.rstrip("/") + "/" + name
    if not urlparse(location).scheme:  # a local folder; `mlflow-artifacts:/x` or `s3://b/x` are remote
        from pathlib import Path

        Path(location).mkdir(parents=True, exist_ok=True)
        location = Path(location).resolve().as_uri()
    return c.create_experiment(name, artifact_location=location)


def alias_version(tracking_uri: str, alias: str, name: str = MODEL_NAME) -> str | None:
    """Version number behind ``name@alias``, None when the alias (or the model) does not exist."""
    try:
        return str(client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


@dataclass(frozen=True)
class AliasMove:
    model: str
    champion: str | None
    previous: str | None
    action: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "champion": self.champion,
            "previous": self.previous,
            "action": self.action,
        }


def promote(tracking_uri: str, version: str, name: str = MODEL_NAME, reason: str = "") -> AliasMove:
    """Make ``version`` the champion; the old champion becomes ``previous`` (no-op if already champion)."""
    c = client(tracking_uri)
    old = alias_version(tracking_uri, CHAMPION, name)
    if old == str(version):
        return AliasMove(name, old, alias_version(tracking_uri, PREVIOUS, name), "already champion")
    if old is not None:
        c.set_registered_model_alias(name, PREVIOUS, old)
        c.set_model_version_tag(name, str(version), "previous_champion", old)
    c.set_registered_model_alias(name, CHAMPION, str(version))
    c.set_model_version_tag(name, str(version), "promoted", reason or "passed all blocking checks")
    return AliasMove(name, str(version), old, "promoted")


def rollback(tracking_uri: str, name: str = MODEL_NAME) -> AliasMove:
    """Move ``champion`` back to ``previous``; ``previous`` steps one further back (or is removed)."""
    c = client(tracking_uri)
    current = alias_version(tracking_uri, CHAMPION, name)
    prev = alias_version(tracking_uri, PREVIOUS, name)
    if current is None:
        raise RuntimeError(
            f"model {name!r} has no {CHAMPION!r} alias: nothing to roll back (train and deploy first)"
        )
    if prev is None:
        raise RuntimeError(
            f"model {name!r} has no {PREVIOUS!r} alias: champion v{current} is the first deployed version"
        )
    c.set_registered_model_alias(name, CHAMPION, prev)
    c.set_model_version_tag(name, current, "rolled_back", "true")
    older = c.get_model_version(name, prev).tags.get("previous_champion")
    if older and older != current:
        c.set_registered_model_alias(name, PREVIOUS, older)
    else:
        c.delete_registered_model_alias(name, PREVIOUS)
        older = None
    return AliasMove(name, prev, older, f"rolled back from v{current}")


def load_version(tracking_uri: str, version_or_alias: str, name: str = MODEL_NAME) -> Any:
    """The pyfunc of ``name`` at a version number or ``@alias``."""
    import mlflow.pyfunc

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    ref = (
        f"models:/{name}@{version_or_alias[1:]}"
        if version_or_alias.startswith("@")
        else f"models:/{name}/{version_or_alias}"
    )
    return mlflow.pyfunc.load_model(ref)


def run_link(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """A link to the run: the UI URL for an HTTP tracking server, else a `mlflow ui` hint with the ids."""
    if tracking_uri.startswith("http"):
        return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"mlflow ui --backend-store-uri {tracking_uri} -> experiment {experiment_id}, run {run_id}"
