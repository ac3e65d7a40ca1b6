"""Alertmanager and apprise channels against real local receivers: a real Alertmanager (v2 API) that
forwards to a webhook, and apprise's json:// and ntfy:// services posting to a loopback receiver."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlops_assets.notify.channels import Alert
from mlops_assets.notify.loopback import LoopbackReceiver, Recorded, Reply
from mlops_assets.notify.notifier import Notifier
from mlops_assets.notify.resources import NotifierResource
from mlops_assets.notify.routes import AlertmanagerChannel, AppriseChannel, alertmanager_payload
from mlops_assets_tests.notify.alertmanager import alertmanager

pytestmark = pytest.mark.notify


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _incident(ends_at: datetime, kind: str = "incident", report: str = "") -> Alert:
    return Alert(
        key="incident:abc",
        kind=kind,
        title="[critical] XID_79 on gpu-node-01 GPU 3",
        text="Action: reset_gpu\nGPU 3 fell off the bus",
        severity="critical",
        fields={"incident_id": "abc", "gpu": "3", "action": "reset_gpu", "report": report},
        labels={
            "host": "gpu-node-01",
            "gpu": "3",
            "incident_id": "abc",
            "kind": "XID_79",
            "action": "reset_gpu",
        },
        starts_at=_iso(datetime.now(UTC) - timedelta(minutes=5)),
        ends_at=_iso(ends_at),
    )


def _wait(rx: LoopbackReceiver, pred: Any, timeout: float = 20.0) -> Recorded:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in list(rx.requests):
            if pred(r.json()):
                return r
        time.sleep(0.2)
    raise AssertionError(f"no matching request in {timeout} s; got {[r.json() for r in rx.requests]}")


def test_alertmanager_fires_then_resolves_when_the_incident_closes(tmp_path: Path) -> None:
    with LoopbackReceiver() as pager, alertmanager(tmp_path / "am", pager.url + "/pager") as am:
        notifier = Notifier([AlertmanagerChannel(am.url)], str(tmp_path / "log.jsonl"))
        (d,) = notifier.deliver([_incident(datetime.now(UTC) + timedelta(hours=1))])
        assert d.ok, d.error
        (live,) = am.alerts()
        assert live["status"]["state"] == "active"
        labels = live["labels"]
        assert (labels["alertname"], labels["host"], labels["gpu"], labels["severity"]) == (
            "MlopsIncident",
            "gpu-node-01",
            "3",
            "critical",
        )
        assert (
            "reset_gpu" in live["annotations"]["description"] and live["annotations"]["action"] == "reset_gpu"
        )
        firing = _wait(pager, lambda p: p["status"] == "firing").json()
        assert firing["alerts"][0]["labels"]["gpu"] == "3"

        # the incident closed: the same labels with a past endsAt resolve it (a future endsAt can only
        # extend an alert: Alertmanager keeps the later of two unresolved endsAt)
        (d,) = notifier.deliver([_incident(datetime.now(UTC) - timedelta(seconds=1), kind="incident_update")])
        assert d.ok, d.error
        resolved = _wait(pager, lambda p: p["status"] == "resolved").json()
        assert resolved["alerts"][0]["labels"]["incident_id"] == "abc"
        assert am.alerts(active="true") == []


def test_alertmanager_refuses_an_invalid_alert_without_retrying(tmp_path: Path) -> None:
    with LoopbackReceiver() as pager, alertmanager(tmp_path / "am", pager.url) as am:
        bad = _incident(datetime.now(UTC) - timedelta(hours=2))  # endsAt before startsAt
        notifier = Notifier([AlertmanagerChannel(am.url)], str(tmp_path / "log.jsonl"), sleep=lambda s: None)
        (d,) = notifier.deliver([bad])
        assert not d.ok and d.attempts == 1 and "HTTP 400" in (d.error or "")


def test_alertmanager_payload_leaves_out_empty_labels_and_file_links() -> None:
    a = Alert(
        key="k",
        kind="check_failed",
        title="t",
        text="x",
        url="/tmp/r.html",
        fields={"asset": "a", "partition": "-"},
    )
    (item,) = alertmanager_payload([a])
    assert item["labels"] == {
        "alertname": "MlopsAssetCheckFailed",
        "service": "mlops_assets",
        "severity": "error",
        "asset": "a",
    }
    assert "generatorURL" not in item and "endsAt" not in item


def test_apprise_json_carries_the_message_and_the_report(tmp_path: Path) -> None:
    report = tmp_path / "abc.html"
    report.write_text("<html>GPU 3 report</html>")
    with LoopbackReceiver() as rx:
        channel = AppriseChannel([f"json://{rx.url.split('://')[1]}/hook"], timeout_s=5)
        (d,) = Notifier([channel], str(tmp_path / "log.jsonl")).deliver(
            [_incident(datetime.now(UTC), report=str(report))]
        )
        assert d.ok, d.error
        (req,) = rx.requests
    body = req.json()
    assert req.path == "/hook" and body["type"] == "failure"
    assert body["title"] == "[critical] XID_79 on gpu-node-01 GPU 3"
    assert "Action: reset_gpu" in body["message"] and "gpu: 3" in body["message"]
    (att,) = body["attachments"]
    assert att["filename"] == "abc.html" and base64.b64decode(att["base64"]) == report.read_bytes()


def test_apprise_ntfy_and_retries(tmp_path: Path) -> None:
    with LoopbackReceiver() as rx:
        rx.script.append(Reply(status=503))
        res = NotifierResource(
            channels="apprise",
            apprise_urls=f"ntfy://{rx.url.split('://')[1]}/gpu-alerts",
            delivery_log_path=str(tmp_path / "log.jsonl"),
            backoff_s=0.01,
        )
        (d,) = res.build().deliver([_incident(datetime.now(UTC))])
        assert d.ok and d.attempts == 2, d
        sent = rx.requests[-1].json()  # ntfy's JSON publish: POST / with the topic in the body
        assert sent["topic"] == "gpu-alerts" and "reset_gpu" in sent["message"], sent
        rx.default = Reply(status=404)
        (d,) = res.build().deliver([_incident(datetime.now(UTC))])
        assert not d.ok and d.attempts == 1 and "404" in (d.error or "")


def test_apprise_update_messages_are_not_sent_to_chat_and_bad_urls_fail_at_build(tmp_path: Path) -> None:
    with LoopbackReceiver() as rx:
        channel = AppriseChannel([f"json://{rx.url.split('://')[1]}/"])
        assert (
            Notifier([channel], str(tmp_path / "l.jsonl")).deliver(
                [_incident(datetime.now(UTC), "incident_update")]
            )
            == []
        )
        assert rx.requests == []
    with pytest.raises(ValueError, match="apprise cannot use a nosuchservice:// URL"):
        NotifierResource(channels="apprise", apprise_urls="nosuchservice://secret@x").build()
    with pytest.raises(ValueError, match="needs alertmanager_url"):
        NotifierResource(channels="alertmanager").build()
