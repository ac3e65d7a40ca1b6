"""`mlops-assets incidents` lists the newest incidents with report paths; `incidents show ID` prints one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.cli import main
from mlops_assets.lib.contracts.tables import INCIDENTS, conform
from mlops_assets.lib.storage.partition_store import atomic_write_text, write_parquet

T0 = pd.Timestamp("2026-11-24 08:00", tz="UTC")


def _row(iid: str, host: str, minutes: int, **kw) -> dict:
    evidence = {
        "unusual_lines": [
            {
                "level": "critical",
                "count": 2,
                "source": "kernel",
                "origin": "kernel",
                "message": "NVRM: Xid 79",
            }
        ]
    }
    return {
        "incident_id": iid,
        "host": host,
        "start": T0 + pd.Timedelta(minutes=minutes),
        "end": T0 + pd.Timedelta(minutes=minutes + 3),
        "severity": "critical",
        "windows": 3,
        "evidence": json.dumps(evidence),
        **kw,
    }


@pytest.fixture()
def root(tmp_path: Path) -> str:
    rows = [
        _row("aaa111", "gpu01", 0, gpu_index=3, kind="XID_79", action="reset_gpu", layer="health"),
        _row(
            "bbb222",
            "gpu02",
            90,
            summary=json.dumps({"summary": "Disk full on /var. Free it.", "hypotheses": []}),
        ),
        _row("ccc333", "gpu01", 200, kind="fan_min_pct", layer="forest", model_version="4", max_score=0.91),
    ]
    storage = tmp_path / "storage"
    write_parquet(storage / "incident_triage" / "incidents.parquet", conform(pd.DataFrame(rows), INCIDENTS))
    atomic_write_text(storage / "reports" / "incidents" / "aaa111.html", "<html>report</html>")
    return str(storage)


def test_list_newest_first_with_filters_and_report_paths(
    root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "--storage-root", root, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["incident_id"] for r in out["incidents"]] == ["ccc333", "bbb222", "aaa111"]
    first = out["incidents"][-1]
    assert (first["gpu"], first["action"], first["kind"]) == ("3", "reset_gpu", "XID_79")
    assert first["report"].endswith("reports/incidents/aaa111.html") and out["incidents"][0]["report"] == ""
    assert out["incidents"][1]["summary"] == "Disk full on /var"

    assert (
        main(
            ["incidents", "--storage-root", root, "--json", "--host", "gpu01", "--since", "2026-11-24T08:30"]
        )
        == 0
    )
    assert [r["incident_id"] for r in json.loads(capsys.readouterr().out)["incidents"]] == ["ccc333"]

    assert main(["incidents", "--storage-root", root]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:6] == ["time", "host", "gpu", "severity", "kind", "action"]
    assert "report: " in text and "aaa111.html" in text


def test_show_prints_one_incident_and_its_report(root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["incidents", "show", "aaa", "--storage-root", root]) == 0
    text = capsys.readouterr().out
    assert "reset_gpu" in text and "NVRM: Xid 79" in text and "aaa111.html" in text
    assert main(["incidents", "show", "aaa111", "--storage-root", root, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["evidence"]["unusual_lines"][0]["message"] == "NVRM: Xid 79" and record["gpu_index"] == 3
    assert main(["incidents", "show", "zzz", "--storage-root", root]) == 1
    assert "no incident matches 'zzz'" in capsys.readouterr().err


def test_missing_table_and_bad_since_say_what_to_do(tmp_path: Path, root: str) -> None:
    with pytest.raises(SystemExit, match="materialize the `incidents` asset"):
        main(["incidents", "--storage-root", str(tmp_path / "nothing")])
    with pytest.raises(SystemExit, match="not an ISO time"):
        main(["incidents", "--storage-root", root, "--since", "yesterday-ish"])


def test_console_script(root: str) -> None:
    exe = Path(sys.executable).parent / "mlops-assets"
    out = subprocess.run(
        [str(exe), "incidents", "--storage-root", root, "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["total"] == 3
