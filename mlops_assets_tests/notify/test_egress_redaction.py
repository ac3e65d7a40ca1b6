"""What actually leaves the host carries none of 300 generated secrets: the request body the real
google-genai client sent to a loopback Gemini stand-in, and the webhook and Slack bodies a real
loopback receiver got. Secrets are placed so that every budget cut (500-char sample lines, 200-char
check metadata) falls inside them: redaction must run before the cut."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.defs.notify.alerts import check_alert
from mlops_assets.defs.notify.check_history import CheckOutcome, _metadata_text
from mlops_assets.lib.triage.hypotheses import PromptSettings
from mlops_assets.notify.channels import Alert, SlackChannel, WebhookChannel
from mlops_assets.notify.llm import LlmSettings, summarize
from mlops_assets.notify.loopback import LoopbackReceiver, Reply
from mlops_assets.notify.notifier import Notifier
from mlops_assets.notify.resources import NotifierResource
from mlops_assets_tests.lib.triage.secret_corpus import generate, survivors

CORPUS = generate(300, seed=16)
TRIAGE = {
    "hypotheses": [
        {
            "cause": "GPU fell off the bus",
            "likelihood": 0.9,
            "impact": "GPU lost",
            "immediate_actions": ["drain node"],
            "prevention": ["RMA"],
        }
    ],
    "summary": "Xid 79.",
}


def at_edge(line: str, material: str, edge: int) -> str:
    """``line`` padded so that ``material`` straddles character ``edge``."""
    return "p " * max((edge - line.find(material) - len(material) // 2) // 2, 0) + line


def bodies(rx: LoopbackReceiver) -> str:
    return "\n".join(r.body.decode("utf-8") for r in rx.requests)


@pytest.mark.llm
def test_llm_request_body_carries_no_secret() -> None:
    reply = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": json.dumps(TRIAGE)}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
    }
    prompt_settings = PromptSettings(max_chars=1_000_000, max_sample_lines=len(CORPUS))
    sent = []
    with LoopbackReceiver(Reply(200, reply)) as rx:
        settings = LlmSettings(api_key="test-key", base_url=rx.url, timeout_s=10.0, max_attempts=1)
        for chunk in range(0, len(CORPUS), 100):
            part = CORPUS[chunk : chunk + 100]
            evidence = {
                "sample_lines": [at_edge(p.line, p.material[0], 500) for p in part],
                "templates": [{"template": p.line, "count": i + 1} for i, p in enumerate(part[:30])],
                "top_features": [{"feature": "xid_count", "value": 4, "contribution": 0.6}],
                "deploy_log": " ".join(p.line for p in part[30:60]),  # "other evidence", cut at 1000
                "sources": ["journal", "docker"],
            }
            result = summarize(
                {"incident_id": f"inc-{chunk}", "host": "gpu01"}, evidence, settings, prompt_settings
            )
            assert result.summary_kind == "llm", result.fallback_reason
            sent.append(result)
        assert len(rx.requests) == 3
        body = bodies(rx)
        prompts = [r.json()["contents"][0]["parts"][0]["text"] for r in rx.requests]
    assert all("## Sample log lines" in p for p in prompts)
    assert sum(r.redactions for r in sent) >= 300
    assert survivors(body, CORPUS) == [] and survivors(prompts, CORPUS) == []


def _outcome(i: int, metadata: dict[str, str]) -> CheckOutcome:
    return CheckOutcome(
        record_id=i,
        check_key=dg.AssetCheckKey(dg.AssetKey("parsed_journal"), "no_invalid_rows"),
        run_id=f"run{i}",
        passed=False,
        severity="ERROR",
        blocking=True,
        description="invalid rows found",
        metadata=metadata,
        partition="gpu01|2026-11-01-02:00",
        created=time.time(),
    )


@pytest.mark.notify
def test_webhook_and_slack_bodies_carry_no_secret(tmp_path: Path) -> None:
    notifier_cfg = NotifierResource()
    alerts = []
    for i, p in enumerate(CORPUS):
        if i % 3 == 0:  # a failed check whose metadata holds the line: cut at 500, then at 200
            meta = {"sample": _metadata_text(dg.MetadataValue.text(at_edge(p.line, p.material[0], 200)))}
            alerts.append(check_alert(_outcome(i, meta), notifier_cfg))
        elif i % 3 == 1:
            alerts.append(
                Alert(
                    key=f"a{i}",
                    kind="incident",
                    title=f"Incident on gpu01: {p.line}",
                    text="see fields",
                    fields={"line": p.line},
                )
            )
        else:
            alerts.append(
                Alert(
                    key=f"a{i}",
                    kind="run_failed",
                    title="Run failed",
                    text=at_edge(p.line, p.material[0], 2900),
                )
            )
    with LoopbackReceiver() as hook, LoopbackReceiver(Reply(200, b"ok")) as slack:
        notifier = Notifier(
            [WebhookChannel(hook.url), SlackChannel(slack.url, max_blocks=2 * 40 + 2)],
            str(tmp_path / "d.jsonl"),
        )
        for start in range(0, len(alerts), 40):
            results = notifier.deliver(alerts[start : start + 40])
            assert [d.status for d in results] == ["delivered", "delivered"]
        assert len(hook.requests) == len(slack.requests) == 8
        hook_body, slack_body = bodies(hook), bodies(slack)
    assert sum(len(r["alerts"]) for r in (json.loads(b) for b in hook_body.splitlines())) == 300
    assert survivors(hook_body, CORPUS) == [] and survivors(slack_body, CORPUS) == []
