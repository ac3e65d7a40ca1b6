"""The servable pyfunc: predict's output, its signature, and `mlflow models serve` answering a batch."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.registry.serving import (
    OUTPUT_COLUMNS,
    AnomalyDetectorModel,
    schema_differences,
    serving_example,
    signature,
)
from mlops_assets_tests.model_fixtures import register_champion, synthetic


@pytest.fixture(scope="module")
def tiny():
    f, c = synthetic(n=300)
    return train(f, c, ModelParams(n_estimators=20, max_samples=128, min_host_windows=100)), f, c


def test_predict_returns_score_flag_and_top_features(tiny) -> None:
    model, f, c = tiny
    batch = serving_example(model, f, c, rows=4)
    batch.loc[1, "fan_min_pct"] = 0.0
    out = AnomalyDetectorModel(model).predict(None, batch)
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == 4
    assert str(out["score"].dtype) == "float64" and str(out["is_anomaly"].dtype) == "bool"
    assert (
        bool(out.loc[1, "is_anomaly"])
        and json.loads(out.loc[1, "top_features"])[0]["feature"] == "fan_min_pct"
    )
    assert all(isinstance(json.loads(t), list) for t in out["top_features"])  # explained for every row


def test_predict_without_templates_or_host_and_refuses_missing_features(tiny) -> None:
    model, f, c = tiny
    bare = serving_example(model, f, c, rows=3).drop(
        columns=["host", "window_start", *[x for x in model.columns if x.startswith("tpl")]]
    )
    assert len(AnomalyDetectorModel(model).predict(None, bare)) == 3
    with pytest.raises(ValueError, match="lacks feature columns"):
        AnomalyDetectorModel(model).predict(None, bare.drop(columns=["temp_max_c"]))


def test_signature_requires_features_only(tiny) -> None:
    model, f, c = tiny
    sig = signature(model, serving_example(model, f, c))
    required = {s.name for s in sig.inputs.inputs if s.required}
    assert required == {x for x in model.columns if not x.startswith("tpl")}
    assert schema_differences(model, sig.inputs.input_names()) == []
    assert schema_differences(model, ["host", *model.columns[1:], "extra"]) == [
        f"serving lacks {model.columns[0]}",
        "serving has extra extra",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status


@pytest.mark.e2e
def test_mlflow_models_serve_answers_a_batch(tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, f, c = tiny
    uri, artifacts = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts")
    register_champion(model, f, c, uri, artifacts, monkeypatch)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    cmd = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        f"models:/{registry.MODEL_NAME}@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    # the server execs `uvicorn`: it must find the venv's one on PATH
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    server = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"mlflow models serve exited {server.returncode}:\n{(tmp_path / 'serve.log').read_text()[-3000:]}"
                )
            try:
                if _get(f"http://127.0.0.1:{port}/ping") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no /ping answer in 90 s:\n{(tmp_path / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.5)
        batch = serving_example(model, f, c, rows=30)
        batch.loc[2, "fan_min_pct"] = 0.0
        batch.loc[12:29, "journal_disk_full"] = 2.0  # weak in each window, caught over 5 (needs window_start)
        body = json.dumps(
            {"dataframe_split": json.loads(batch.to_json(orient="split", index=False, date_format="iso"))}
        ).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            preds = pd.DataFrame(json.loads(r.read())["predictions"])
        assert list(preds.columns) == list(OUTPUT_COLUMNS) and len(preds) == 30
        assert preds["score"].between(0, 1).all()
        assert bool(preds.loc[2, "is_anomaly"])
        assert json.loads(preds.loc[2, "top_features"])[0]["feature"] == "fan_min_pct"
        sustained = json.loads(preds.loc[25, "top_features"])[0]
        assert bool(preds.loc[25, "is_anomaly"]) and sustained["feature"] == "journal_disk_full"
        assert sustained["over_windows"] == 5
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
        log.close()
