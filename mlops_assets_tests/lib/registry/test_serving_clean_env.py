"""The registered model outside this repository: a fresh virtualenv built only from the model's own
requirements.txt loads `models:/log-anomaly-detector@champion` from the sqlite store, predicts a frame,
and `mlflow models serve --env-manager local` from that environment answers a request."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from mlops_assets.lib.detect.model import ModelParams, train
from mlops_assets.lib.registry import aliases as registry
from mlops_assets.lib.registry.serving import SERVING_DISTRIBUTIONS, AnomalyDetectorModel, serving_example
from mlops_assets_tests.model_fixtures import register_champion, synthetic

REPO = Path(__file__).resolve().parents[3]
MODEL_URI = f"models:/{registry.MODEL_NAME}@champion"

PREDICT = """
import importlib.util, json, sys
import pandas as pd
assert importlib.util.find_spec("mlops_assets") is None, "mlops_assets must not be installed here"
import mlflow
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.read_json(sys.argv[2], orient="split", convert_dates=["window_start"])
frame = frame.astype({c: "float64" for c in frame.columns if c not in ("host", "window_start")})
print(model.predict(frame).to_json(orient="split"))
"""


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("serving_env")
    f, c = synthetic(n=300)
    model = train(f, c, ModelParams(n_estimators=20, max_samples=128, min_host_windows=100))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    register_champion(model, f, c, uri, str(tmp / "artifacts"), mp)
    requirements = Path(mlflow.pyfunc.get_model_dependencies(MODEL_URI))
    local = Path(mlflow.artifacts.download_artifacts(MODEL_URI, dst_path=str(tmp / "downloaded")))
    mp.undo()
    return {
        "tmp": tmp,
        "uri": uri,
        "model": model,
        "f": f,
        "c": c,
        "requirements": requirements,
        "local": local,
    }


def test_the_model_carries_its_code_and_pinned_requirements(champion) -> None:
    lines = champion["requirements"].read_text().split()
    pinned = {r.split("==")[0]: r.split("==")[1] for r in lines if "==" in r}
    assert set(SERVING_DISTRIBUTIONS) <= set(pinned), lines
    assert pinned["mlflow"] == mlflow.__version__ and pinned["pandas"] == pd.__version__
    code = champion["local"] / "code" / "mlops_assets"
    assert (code / "lib" / "registry" / "serving.py").is_file() and (
        code / "lib" / "detect" / "model.py"
    ).is_file()
    assert not (code / "defs").exists() and not (code / "sources").exists()  # no dagster code ships


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fresh_env(where: Path, requirements: Path) -> Path:
    """A new virtualenv with only the model's requirements (uv and its cache when present)."""
    uv = REPO / ".tools" / "bin" / "uv"
    uv_exe = str(uv) if uv.exists() else shutil.which("uv")
    if uv_exe:
        subprocess.run([uv_exe, "venv", "--quiet", "--python", sys.executable, str(where)], check=True)
        py = where / "bin" / "python"
        subprocess.run(
            [uv_exe, "pip", "install", "--quiet", "--python", str(py), "-r", str(requirements)],
            check=True,
            timeout=600,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        py = where / "bin" / "python"
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True, timeout=900
        )
    return py


@pytest.mark.serving
def test_a_fresh_virtualenv_loads_predicts_and_serves(champion) -> None:
    tmp, model = champion["tmp"], champion["model"]
    py = _fresh_env(tmp / "env", champion["requirements"])
    # no repository on the path: run from tmp, no PYTHONPATH, the env's own bin first
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MLFLOW_", "VIRTUAL_ENV"))}
    env.update(MLFLOW_TRACKING_URI=champion["uri"], PATH=f"{py.parent}{os.pathsep}{env.get('PATH', '')}")
    batch = serving_example(model, champion["f"], champion["c"], rows=8)
    batch.loc[2, "fan_min_pct"] = 0.0
    frame_path = tmp / "batch.json"
    frame_path.write_text(batch.to_json(orient="split", index=False, date_format="iso"))
    out = subprocess.run(
        [str(py), "-c", PREDICT, MODEL_URI, str(frame_path)], cwd=tmp, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = pd.read_json(out.stdout.strip().splitlines()[-1], orient="split")
    want = AnomalyDetectorModel(model).predict(None, batch)
    assert list(got.columns) == ["score", "is_anomaly", "top_features"] and len(got) == 8
    assert got["score"].tolist() == pytest.approx(want["score"].tolist(), abs=1e-9)
    assert (
        bool(got.loc[2, "is_anomaly"])
        and json.loads(got.loc[2, "top_features"])[0]["feature"] == "fan_min_pct"
    )

    port = _free_port()
    log = (tmp / "serve.log").open("wb")
    cmd = [str(py.parent / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local"]
    server = subprocess.Popen(
        [*cmd, "-h", "127.0.0.1", "-p", str(port)],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"serve exited {server.returncode}:\n{(tmp / 'serve.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"no /ping in 120 s:\n{(tmp / 'serve.log').read_text()[-3000:]}")
                time.sleep(0.5)
        body = json.dumps({"dataframe_split": json.loads(frame_path.read_text())}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            preds = pd.DataFrame(json.loads(r.read())["predictions"])
        assert len(preds) == 8 and bool(preds.loc[2, "is_anomaly"])
        assert preds["score"].tolist() == pytest.approx(want["score"].tolist(), abs=1e-9)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)
