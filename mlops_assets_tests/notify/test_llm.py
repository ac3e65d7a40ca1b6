"""The real google-genai client against a loopback stand-in of the Gemini REST endpoint."""

import json
import time

import pytest

from mlops_assets.notify.llm import LlmSettings, summarize
from mlops_assets.notify.loopback import LoopbackReceiver, Reply

pytestmark = pytest.mark.llm

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
SECRETS = [
    "AKIAABCDEFGHIJKLMNOP",
    "hunter2",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "ghp_0123456789abcdefABCDEF0123456789ab",
]

EVIDENCE = {
    "top_features": [{"feature": "xid_count", "value": 4, "contribution": 0.61}],
    "templates": [{"template_id": "k1", "template": "NVRM: Xid (PCI:<*>): 79, pid=<*>", "count": 4}],
    "sample_lines": [
        "NVRM: Xid (PCI:0000:3b:00): 79, pid=2231, GPU has fallen off the bus.",
        "deploy.sh: export AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP password=hunter2",
        PEM,
        "git clone https://ghp_0123456789abcdefABCDEF0123456789ab@github.com/org/repo",
    ],
    "sources": ["kernel"],
}
TRIAGE = {
    "hypotheses": [
        {
            "cause": "PSU fault",
            "likelihood": 0.3,
            "impact": "node down",
            "immediate_actions": ["check PSU"],
            "prevention": ["redundant PSU"],
        },
        {
            "cause": "GPU fell off the bus",
            "likelihood": 0.9,
            "impact": "GPU lost",
            "immediate_actions": ["drain node"],
            "prevention": ["RMA"],
        },
    ],
    "summary": "Xid 79 on gpu01.",
}


def gemini_reply(payload: dict) -> dict:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": json.dumps(payload)}]}, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 10, "totalTokenCount": 20},
    }


def _settings(url: str, **kw: object) -> LlmSettings:
    base = {"api_key": "test-key", "base_url": url, "timeout_s": 5.0, "max_attempts": 3, "backoff_s": 0.05}
    base.update(kw)
    return LlmSettings(**base)  # type: ignore[arg-type]


def test_structured_reply_is_parsed_ranked_and_secrets_never_sent() -> None:
    with LoopbackReceiver(Reply(200, gemini_reply(TRIAGE))) as rx:
        result = summarize({"incident_id": "inc-7", "host": "gpu01"}, EVIDENCE, _settings(rx.url))
    assert result.summary_kind == "llm" and result.fallback_reason is None
    assert [h.cause for h in result.triage.hypotheses] == ["GPU fell off the bus", "PSU fault"]
    (req,) = rx.requests
    assert req.path == "/v1beta/models/gemini-2.5-flash-lite:generateContent"
    assert req.headers.get("x-goog-api-key") == "test-key"
    body = req.body.decode("utf-8")
    for secret in SECRETS:
        assert secret not in body
    sent = req.json()
    prompt = sent["contents"][0]["parts"][0]["text"]
    assert "Xid (PCI:0000:3b:00): 79" in prompt and "[REDACTED:aws_key]" in prompt
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    assert "hypotheses" in sent["generationConfig"]["responseSchema"]["properties"]
    assert result.redactions >= 4


def test_429_then_success_is_retried() -> None:
    with LoopbackReceiver(Reply(200, gemini_reply(TRIAGE))) as rx:
        rx.script.append(
            Reply(429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})
        )
        rx.script.append(Reply(503, {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}))
        result = summarize({"incident_id": "inc-8"}, EVIDENCE, _settings(rx.url))
    assert result.summary_kind == "llm"
    assert len(rx.requests) == 3


def test_timeout_falls_back_to_rules_with_the_reason() -> None:
    with LoopbackReceiver(Reply(200, gemini_reply(TRIAGE), delay_s=3.0)) as rx:
        t0 = time.monotonic()
        result = summarize(
            {"incident_id": "inc-9"}, EVIDENCE, _settings(rx.url, timeout_s=1.0, max_attempts=2)
        )
        elapsed = time.monotonic() - t0
    assert result.summary_kind == "rules"
    assert result.fallback_reason and "2 attempts" in result.fallback_reason
    assert "GPU hardware" in result.triage.hypotheses[0].cause  # rules keyed on Xid 79
    assert len(rx.requests) == 2
    assert elapsed < 10  # bounded by attempts x timeout, not the server's delay


def test_non_retryable_error_and_bad_json_fall_back_immediately() -> None:
    with LoopbackReceiver(
        Reply(400, {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}})
    ) as rx:
        r = summarize({"incident_id": "x"}, EVIDENCE, _settings(rx.url))
    assert (
        r.summary_kind == "rules" and "non-retryable" in (r.fallback_reason or "") and len(rx.requests) == 1
    )
    with LoopbackReceiver(Reply(200, gemini_reply({"unexpected": True}))) as rx:
        r = summarize({"incident_id": "x"}, EVIDENCE, _settings(rx.url))
    assert r.summary_kind == "rules" and r.fallback_reason


def test_no_key_means_rules_without_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with LoopbackReceiver() as rx:
        r = summarize({"incident_id": "x"}, EVIDENCE, _settings(rx.url, api_key=None))
    assert r.summary_kind == "rules" and r.fallback_reason is None and rx.requests == []
