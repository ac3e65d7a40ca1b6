"""Triage schema, prompt budget/redaction and the deterministic rules."""

import json

import pytest

from mlops_assets.lib.triage.hypotheses import (
    PromptSettings,
    Triage,
    TriageResult,
    build_prompt,
    evidence_hash,
    parse_evidence,
    rules_triage,
)
from mlops_assets.lib.triage.rules import xid_codes
from mlops_assets_tests.realdata import REALDATA


def _evidence(
    lines: list[str], templates: list[str] | None = None, features: list[str] | None = None
) -> dict:
    return {
        "top_features": [{"feature": f, "value": 1.0, "contribution": 0.5} for f in features or []],
        "templates": [
            {"template_id": f"t{i}", "template": t, "count": 10 - i} for i, t in enumerate(templates or [])
        ],
        "sample_lines": lines,
        "sources": ["kernel", "journal"],
    }


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["NVRM: Xid (PCI:0000:3b:00): 79, pid=2231, GPU has fallen off the bus."], "GPU hardware"),
        (["NVRM: Xid (PCI:0000:3b:00): 48, pid=1, DBE (double bit error)"], "ECC"),
        (["NVRM: Xid (PCI:0000:3b:00): 13, pid=1, Graphics Exception"], "Application-induced"),
        (["NVRM: Xid (PCI:0000:3b:00): 119, pid=1, Timeout waiting for RPC from GSP"], "firmware"),
        (["NVRM: Xid (PCI:0000:3b:00): 74, NVLink: fatal error"], "NVLink"),
        (["Out of memory: Killed process 4242 (python)"], "Out of memory"),
        (["write failed: No space left on device"], "Disk full"),
        (["Failed password for invalid user admin from 198.51.100.3"] * 5, "brute-force"),
        (["trainer.service: Start request repeated too quickly."], "Crash loop"),
        (["Clocks event reason: SW Power Cap active, power.draw at power_limit"], "Power limit"),
        (["GPU 0 temperature 93C, thermal slowdown, fan at 100%"], "Cooling"),
    ],
)
def test_rules_rank_the_matching_cause_first(lines: list[str], expected: str) -> None:
    t = rules_triage(_evidence(lines))
    assert expected.lower() in t.hypotheses[0].cause.lower()
    assert t.hypotheses[0].immediate_actions and t.hypotheses[0].prevention
    likelihoods = [h.likelihood for h in t.hypotheses]
    assert likelihoods == sorted(likelihoods, reverse=True)


def test_rules_fall_back_to_an_unrecognised_hypothesis_and_are_deterministic() -> None:
    ev = _evidence(["all quiet"], features=["util_gpu_pct_mean"])
    a, b = rules_triage(ev), rules_triage(ev)
    assert a == b
    assert a.hypotheses[0].cause.startswith("Unrecognised")


def test_xid_codes_from_lines_features_and_explicit_list() -> None:
    text = "NVRM: Xid (PCI:0000:3b:00): 79, pid=1\nfeature xid_48 count\nXid 13"
    assert xid_codes(text, {"xid_codes": [94, "95"]}) == [13, 48, 79, 94, 95]


def test_prompt_redacts_and_respects_budget_dropping_samples_first() -> None:
    secret_lines = ["token=abc123secret AKIAABCDEFGHIJKLMNOP", "x" * 400] * 10
    ev = _evidence(
        secret_lines,
        templates=["NVRM: Xid (PCI:<*>): <*>", "Out of memory: Killed process <*>"],
        features=["xid_count", "oom_kills"],
    )
    prompt, redactions = build_prompt(
        {"incident_id": "inc-1", "host": "gpu01"}, ev, PromptSettings(max_chars=2000)
    )
    assert len(prompt) <= 2000
    assert "AKIAABCDEFGHIJKLMNOP" not in prompt and "abc123secret" not in prompt
    assert "Out of memory" in prompt and "xid_count" in prompt  # templates/features survive
    big, red2 = build_prompt({"incident_id": "inc-1"}, ev, PromptSettings(max_chars=50_000))
    assert "## Sample log lines" in big and red2 >= 20
    assert redactions >= 0


def test_raw_sample_lines_are_opt_in_and_none_sends_no_lines() -> None:
    ev = _evidence(["password=hunter2"])
    assert "hunter2" not in build_prompt({}, ev, PromptSettings())[0]
    assert "hunter2" in build_prompt({}, ev, PromptSettings(sample_lines="raw"))[0]
    assert "## Sample log lines" not in build_prompt({}, ev, PromptSettings(sample_lines="none"))[0]


def test_evidence_hash_ignores_key_order_and_bad_evidence_is_kept() -> None:
    a = json.dumps({"a": 1, "b": [1, 2]})
    b = json.dumps({"b": [1, 2], "a": 1})
    assert evidence_hash(a) == evidence_hash(b) != evidence_hash(json.dumps({"a": 2}))
    assert parse_evidence("{not json") == {"unparsed_evidence": "{not json"}


def test_result_json_round_trips_to_the_schema() -> None:
    t = rules_triage(_evidence(["No space left on device"]))
    payload = json.loads(TriageResult(t, "rules", fallback_reason="timeout").to_json())
    assert payload["kind"] == "rules" and payload["fallback_reason"] == "timeout"
    assert Triage.model_validate({k: payload[k] for k in ("hypotheses", "summary")}) == t


@pytest.mark.parametrize(
    ("relpath", "pattern", "expected"),
    [
        ("kernel_dmesg/leptonai_gpud__dmesg-with-xid-119.log", "Xid", "firmware"),
        ("kernel_dmesg/leptonai_gpud__dmesg.decode.iso.log.0__xid13_xid43.log", "Xid", "Application-induced"),
        ("loghub/OpenSSH/OpenSSH_2k.log", "Failed password", "brute-force"),
    ],
)
def test_rules_on_real_public_logs(relpath: str, pattern: str, expected: str) -> None:
    path = REALDATA / relpath
    if not path.exists():
        pytest.skip(f"real data sample {path} not available")
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if pattern in ln][:20]
    assert lines, f"{relpath} has no {pattern!r} lines"
    t = rules_triage(_evidence(lines))
    assert expected.lower() in t.hypotheses[0].cause.lower()
    prompt, _ = build_prompt({"incident_id": "real"}, _evidence(lines), PromptSettings(redact_ips=True))
    assert pattern in prompt  # redaction keeps the signal
