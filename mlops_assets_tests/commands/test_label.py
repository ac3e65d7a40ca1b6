"""`mlops-assets label` and the label_incident job write the same append-only labels."""

import json

import pandas as pd

from mlops_assets.cli import main
from mlops_assets.definitions import defs
from mlops_assets.defs.model.labels import label_job
from mlops_assets.lib.evaluate.labels import read_labels, split_verdicts
from mlops_assets.lib.storage.partition_store import join, write_parquet
from mlops_assets.resources import StorageResource


def _incidents(root: str) -> None:
    write_parquet(
        join(root, "incidents", "incidents.parquet"),
        pd.DataFrame(
            {
                "incident_id": ["inc-a", "inc-b"],
                "host": ["h1", "h2"],
                "start": pd.to_datetime(["2026-11-01 10:00", "2026-11-01 12:00"], utc=True),
                "end": pd.to_datetime(["2026-11-01 10:12", "2026-11-01 12:03"], utc=True),
            }
        ),
    )


def test_cli_labels_and_refuses_unknown(tmp_path, capsys) -> None:
    root = str(tmp_path)
    _incidents(root)
    assert main(["label", "inc-a", "confirmed", "--note", "fan replaced", "--storage-root", root]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["verdict"] == "confirmed" and out["host"] == "h1" and out["note"] == "fan replaced"
    assert main(["label", "nope", "confirmed", "--storage-root", root]) == 1
    assert "not in" in capsys.readouterr().err
    confirmed, _ = split_verdicts(read_labels(root))
    assert confirmed["incident_id"].tolist() == ["inc-a"]


def test_job_with_run_config(tmp_path) -> None:
    root = str(tmp_path)
    _incidents(root)
    assert defs.resolve_job_def("label_incident") is not None  # in the code location, for the Launchpad
    result = label_job.execute_in_process(
        run_config={
            "ops": {"label_incident_op": {"config": {"incident_id": "inc-b", "verdict": "false-alarm"}}}
        },
        resources={"storage": StorageResource(root=root)},
    )
    assert result.success
    _, dismissed = split_verdicts(read_labels(root))
    assert dismissed["incident_id"].tolist() == ["inc-b"]
    bad = label_job.execute_in_process(
        run_config={"ops": {"label_incident_op": {"config": {"incident_id": "inc-b", "verdict": "maybe"}}}},
        resources={"storage": StorageResource(root=root)},
        raise_on_error=False,
    )
    assert not bad.success and len(read_labels(root)) == 1
