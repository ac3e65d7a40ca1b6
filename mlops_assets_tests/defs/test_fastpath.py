"""Fast path on a real instance and a live landing folder: an Xid 79 written now is notified on the
next tick (not at the end of the hour), once, and the hourly incidents path skips its id later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.defs.fastpath.events import critical_events
from mlops_assets.defs.fastpath.ledger import notified_ids
from mlops_assets.defs.fastpath.sensor import fast_path_sensor
from mlops_assets.defs.model.resources import ModelRegistryResource
from mlops_assets.lib.monitor.incident_ids import incident_id, window_start
from mlops_assets.notify.resources import NotifierResource
from mlops_assets.resources import LogSourceResource, StorageResource

HOST = "gpu-node-01"


def xid_line(ts: datetime, host: str = HOST) -> bytes:
    us = int(ts.timestamp() * 1_000_000)
    entry = {
        "__CURSOR": f"s=fast;i={us:x}",
        "__REALTIME_TIMESTAMP": str(us),
        "_BOOT_ID": "c94851a6a6b2de4af00013f9f14c2350",
        "PRIORITY": "3",
        "SYSLOG_IDENTIFIER": "kernel",
        "_TRANSPORT": "kernel",
        "_HOSTNAME": host,
        "MESSAGE": "NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
    }
    return (json.dumps(entry) + "\n").encode()


@pytest.fixture
def live_host(tmp_path: Path) -> tuple[Path, datetime]:
    """A host whose logs run up to now (simulated from 20 minutes ago)."""
    from mlops_assets.simulate import simulate

    now = datetime.now(UTC)
    start = (now - timedelta(minutes=20)).replace(second=0, microsecond=0)
    simulate(tmp_path / "landing", hosts=1, gpus=2, hours=21 / 60, seed=5, start=start, faults=[])
    return tmp_path / "landing", now


def _defs(landing: Path, tmp_path: Path) -> dg.Definitions:
    return dg.Definitions(
        sensors=[fast_path_sensor],
        resources={
            "log_source": LogSourceResource(kind="directory", directory=str(landing)),
            "storage": StorageResource(root=str(tmp_path / "store")),
            "notifier": NotifierResource(
                channels="file",
                notifications_path=str(tmp_path / "notifications.jsonl"),
                delivery_log_path=str(tmp_path / "delivery.jsonl"),
            ),
            "model_registry": ModelRegistryResource(
                tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=str(tmp_path / "art")
            ),
        },
    )


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    ctx = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    )
    result = fast_path_sensor.evaluate_tick(ctx)
    return result, ctx.cursor


def test_xid_written_now_is_notified_on_the_next_tick_once(
    live_host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, now = live_host
    defs = _defs(landing, tmp_path)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("hosts", [HOST])
        first, cursor = _tick(defs, instance, None)  # first pull: the last minute, nothing critical
        assert "hosts failed" not in first.skip_message, first.skip_message
        assert not (tmp_path / "notifications.jsonl").exists()
        t0 = pd.Timestamp(json.loads(cursor)["pulls"][HOST]).to_pydatetime() + timedelta(seconds=5)
        kernel = landing / HOST / "kernel.json"
        kernel.write_bytes(kernel.read_bytes() + xid_line(t0))
        # the next minute has closed: the sensor pulls [last pull, now floor)
        later = t0 + timedelta(minutes=1)
        monkeypatch.setattr(
            "mlops_assets.defs.fastpath.sensor.datetime",
            type("FrozenDatetime", (datetime,), {"now": staticmethod(lambda tz=None: later)}),
        )
        result, cursor = _tick(defs, instance, cursor)
        assert "1 new alert" in result.skip_message, result.skip_message
        lines = (tmp_path / "notifications.jsonl").read_text().splitlines()
        sent = [a for line in lines for a in json.loads(line)["alerts"]]
        (alert,) = [a for a in sent if a.get("kind") == "incident"]
        expected = incident_id(HOST, window_start(t0), "XID_79", "0000:3b:00")
        assert alert["fields"]["incident_id"] == expected and alert["fields"]["code"] == "XID_79"
        assert notified_ids(defs.resources["storage"]) == [expected]
        result, _ = _tick(defs, instance, cursor)  # same minute again: nothing new
        assert "0 new alert" in result.skip_message


def test_critical_events_are_the_health_rules_fatal_and_critical_ones() -> None:
    """An Xid 79 (fatal) and a kernel OOM kill (critical) alert at once; an Xid 13 (warning) waits for the hour."""
    kernel = pd.DataFrame(
        {
            "ts": pd.to_datetime(
                ["2026-11-01 02:00:05", "2026-11-01 02:00:07", "2026-11-01 02:00:09"], utc=True
            ),
            "host": HOST,
            "kind": ["xid", "xid", "oom"],
            "xid": pd.array([79, 13, pd.NA], dtype="Int16"),
            "pci_bus": ["0000:3b:00", "0000:3b:00", None],
            "pid": pd.array([pd.NA, 5, 12], dtype="Int64"),
            "message": [
                "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.",
                "NVRM: Xid (PCI:0000:3b:00): 13, pid=5, Graphics Exception",
                "Out of memory: Killed process 12 (python) total-vm:1kB",
            ],
        }
    )
    events = critical_events({"kernel_events": kernel}, HOST)
    assert events[["code", "severity", "action"]].values.tolist() == [
        ["XID_79", "fatal", "reboot"],
        ["OOM_KILL", "critical", "restart_app"],
    ]


def test_hourly_incident_already_sent_by_the_fast_path_is_not_notified_again(tmp_path: Path) -> None:
    from mlops_assets.defs.fastpath.ledger import record
    from mlops_assets.defs.notify.sensors import notify_new_incidents
    from mlops_assets.lib.contracts.tables import INCIDENTS, conform
    from mlops_assets.lib.storage.partition_store import write_parquet

    start = pd.Timestamp("2026-11-01 02:13", tz="UTC")
    fast_id = incident_id(HOST, start, "XID_79", "0")
    table = conform(
        pd.DataFrame(
            [
                {
                    "incident_id": fast_id,
                    "host": HOST,
                    "start": start,
                    "end": start,
                    "severity": "critical",
                    "max_score": 0.0,
                    "windows": 1,
                },
                {
                    "incident_id": "later-one",
                    "host": HOST,
                    "start": start,
                    "end": start,
                    "severity": "critical",
                },
            ]
        ),
        INCIDENTS,
    )
    path = str(tmp_path / "triaged.parquet")
    write_parquet(path, table)
    storage = StorageResource(root=str(tmp_path / "store"))
    record(storage, [fast_id])
    notifier = NotifierResource(
        channels="file",
        notifications_path=str(tmp_path / "n.jsonl"),
        delivery_log_path=str(tmp_path / "d.jsonl"),
    )
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="incident_triage", metadata={"triage_table_path": dg.MetadataValue.path(path)}
            )
        )
        ctx = dg.build_sensor_context(instance=instance, resources={"notifier": notifier, "storage": storage})
        notify_new_incidents.evaluate_tick(ctx)
    sent = [a for line in (tmp_path / "n.jsonl").read_text().splitlines() for a in json.loads(line)["alerts"]]
    assert [a["fields"]["incident_id"] for a in sent] == ["later-one"]


def _scores(start: str, flags: list[bool]) -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(flags), freq="1min", tz="UTC")
    return pd.DataFrame({"window_start": ts, "is_anomaly": flags, "score": [0.7] * len(flags)})


def test_an_anomaly_that_goes_on_into_the_next_pull_is_notified_once() -> None:
    from mlops_assets.defs.fastpath.sensor import anomaly_alerts

    first, open_until = anomaly_alerts(_scores("2026-12-05 10:00", [False, True, True]), HOST, "3")
    assert [iid for iid, _ in first] == [incident_id(HOST, pd.Timestamp("2026-12-05 10:01", tz="UTC"))]
    assert open_until == pd.Timestamp("2026-12-05 10:03", tz="UTC")
    # the next pull starts at 10:03, still anomalous: the same incident, already sent
    again, open_until = anomaly_alerts(_scores("2026-12-05 10:03", [True, False]), HOST, "3", open_until)
    assert again == [] and open_until == pd.Timestamp("2026-12-05 10:04", tz="UTC")
    # a gap the hourly incidents merge (<= 3 min) keeps it open; a longer quiet stretch closes it
    short, still = anomaly_alerts(_scores("2026-12-05 10:05", [False]), HOST, "3", open_until)
    assert short == [] and still == open_until
    quiet, open_until = anomaly_alerts(_scores("2026-12-05 10:05", [False] * 4), HOST, "3", open_until)
    assert quiet == [] and open_until is None
    later, _ = anomaly_alerts(_scores("2026-12-05 10:09", [True]), HOST, "3", open_until)
    assert [iid for iid, _ in later] == [incident_id(HOST, pd.Timestamp("2026-12-05 10:09", tz="UTC"))]
