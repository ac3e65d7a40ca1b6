"""The operator-label job: the same verdict as `mlops-assets label`, launched from the UI with config."""

import dagster as dg

from mlops_assets.lib.evaluate.labels import VERDICTS, label_incident
from mlops_assets.resources import StorageResource


class LabelConfig(dg.Config):
    incident_id: str
    verdict: str  # confirmed | false-alarm
    note: str = ""
    by: str = ""


@dg.op(description="Append an operator label (confirmed | false-alarm) for one incident.")
def label_incident_op(context: dg.OpExecutionContext, config: LabelConfig, storage: StorageResource) -> None:
    if config.verdict not in VERDICTS:
        raise dg.Failure(f"verdict must be one of {VERDICTS}, got {config.verdict!r}")
    record = label_incident(storage.root, config.incident_id, config.verdict, config.note, config.by)
    context.log.info(f"labelled {record['incident_id']} {record['verdict']} -> {record['path']}")


@dg.job(
    name="label_incident",
    description="Record an operator verdict on an incident (append-only; used by every evaluation). "
    "Launchpad config: ops.label_incident_op.config.{incident_id, verdict, note}.",
    tags={"mlops_assets/stage": "label"},
)
def label_job() -> None:
    label_incident_op()
