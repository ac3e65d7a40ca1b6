"""Channels and the notifier against real loopback HTTP receivers."""

import json
import socket
import time
from pathlib import Path

import pytest

from mlops_assets.notify.channels import Alert, FileChannel, SlackChannel, WebhookChannel, slack_payload
from mlops_assets.notify.loopback import LoopbackReceiver, Reply
from mlops_assets.notify.notifier import Notifier, read_delivery_log
from mlops_assets.notify.resources import NotifierResource

pytestmark = pytest.mark.notify


def _alerts(n: int) -> list[Alert]:
    return [
        Alert(
            key=f"check:a:{i}",
            kind="check_failed",
            title=f"Check failed {i}",
            text=f"row_count 0; DSN postgres://u:pw{i}x@db/x",
            url="http://127.0.0.1:3000/runs/r1",
            fields={"host": "gpu01"},
        )
        for i in range(n)
    ]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there


def test_burst_is_one_message_per_channel_and_redacted(tmp_path: Path) -> None:
    with LoopbackReceiver() as hook, LoopbackReceiver(Reply(200, b"ok")) as slack:
        notifier = Notifier(
            [FileChannel(str(tmp_path / "n.jsonl")), WebhookChannel(hook.url), SlackChannel(slack.url)],
            str(tmp_path / "deliveries.jsonl"),
        )
        results = notifier.deliver(_alerts(5))
    assert [d.status for d in results] == ["delivered"] * 3
    assert len(hook.requests) == 1 and len(slack.requests) == 1
    body = hook.requests[0].json()
    assert body["count"] == 5 and [a["key"] for a in body["alerts"]] == [f"check:a:{i}" for i in range(5)]
    assert "pw0x" not in hook.requests[0].body.decode() and "pw0x" not in slack.requests[0].body.decode()
    blocks = slack.requests[0].json()["blocks"]
    assert blocks[0]["type"] == "header" and "5 alerts" in blocks[0]["text"]["text"]
    lines = (tmp_path / "n.jsonl").read_text().splitlines()
    assert len(lines) == 1 and len(json.loads(lines[0])["alerts"]) == 5
    log = read_delivery_log(tmp_path / "deliveries.jsonl")
    assert {e["channel"] for e in log} == {"file", "webhook", "slack"}
    assert all(e["status"] == "delivered" and e["attempts"] == 1 for e in log)


def test_receiver_down_is_bounded_retries_then_recorded_failure(tmp_path: Path) -> None:
    sleeps: list[float] = []
    notifier = Notifier(
        [WebhookChannel(f"http://127.0.0.1:{_dead_port()}/hook", timeout_s=1.0)],
        str(tmp_path / "d.jsonl"),
        max_attempts=3,
        backoff_s=0.2,
        sleep=sleeps.append,
    )
    (d,) = notifier.deliver(_alerts(2))
    assert d.status == "failed" and d.attempts == 3 and "Connection refused" in (d.error or "")
    assert sleeps == [0.2, 0.4]  # exponential backoff
    (entry,) = read_delivery_log(tmp_path / "d.jsonl")
    assert entry["status"] == "failed" and entry["attempts"] == 3 and entry["error"]
    assert entry["alerts"] == ["check:a:0", "check:a:1"]


def test_slow_receiver_times_out_and_5xx_recovers_but_4xx_does_not_retry(tmp_path: Path) -> None:
    with LoopbackReceiver(Reply(200, delay_s=2.0)) as slow:
        n = Notifier(
            [WebhookChannel(slow.url, timeout_s=0.3)],
            str(tmp_path / "d.jsonl"),
            max_attempts=2,
            backoff_s=0.01,
        )
        t0 = time.monotonic()
        (d,) = n.deliver(_alerts(1))
        assert d.status == "failed" and time.monotonic() - t0 < 2.0
    with LoopbackReceiver() as flaky:
        flaky.script.extend([Reply(500), Reply(429)])
        (d,) = Notifier([WebhookChannel(flaky.url)], str(tmp_path / "d.jsonl"), backoff_s=0.01).deliver(
            _alerts(1)
        )
        assert d.status == "delivered" and d.attempts == 3
    with LoopbackReceiver(Reply(404, {"error": "no such hook"})) as gone:
        (d,) = Notifier([WebhookChannel(gone.url)], str(tmp_path / "d.jsonl"), backoff_s=0.01).deliver(
            _alerts(1)
        )
        assert d.status == "failed" and d.attempts == 1 and len(gone.requests) == 1


def test_slack_payload_caps_blocks() -> None:
    payload = slack_payload(_alerts(60), max_blocks=40)
    assert len(payload["blocks"]) <= 40
    assert "more" in payload["blocks"][-1]["elements"][0]["text"]


def test_resource_builds_channels_and_validates(tmp_path: Path) -> None:
    r = NotifierResource(
        channels="file,webhook",
        webhook_url="http://127.0.0.1:9/x",
        notifications_path=str(tmp_path / "n.jsonl"),
        delivery_log_path=str(tmp_path / "d.jsonl"),
    )
    assert r.build().channel_names == ["file", "webhook"]
    with pytest.raises(ValueError, match="slack_webhook_url"):
        NotifierResource(channels="slack").build()
    with pytest.raises(ValueError, match="unknown notification channel"):
        NotifierResource(channels="pager").build()
    assert NotifierResource(min_incident_severity="high").severity_at_least("critical")
    assert not NotifierResource(min_incident_severity="high").severity_at_least("medium")
    assert r.run_url("abc") == "http://127.0.0.1:3000/runs/abc"
