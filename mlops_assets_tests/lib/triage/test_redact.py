"""Redaction of secrets/PII before anything leaves the host."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.lib.triage.redact import redact, redact_with_counts

PEM = """-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA1b2x3y4z5QwErTyUiOpAsDfGhJkLzXcVbNm
q9w8e7r6t5y4u3i2o1p0==
-----END RSA PRIVATE KEY-----"""


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f"key follows\n{PEM}\nafter", "MIIEowIBAAKCAQEA1b2x3y4z5", "private_key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA truncated",
            "b3BlbnNzaC1rZXktdjEAAAAA",
            "private_key",
        ),
        ("Authorization: Bearer abcDEF1234567890xyz", "abcDEF1234567890xyz", "bearer"),
        (
            "clone with ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "github_token",
        ),
        ("slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF", "slack_token"),
        ("aws AKIAABCDEFGHIJKLMNOP used", "AKIAABCDEFGHIJKLMNOP", "aws_access_key"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
            "json_web_token",
        ),
        ("env API_KEY=sk-live-0123456789 next", "sk-live-0123456789", "secret_pair"),
        ("login password=hunter2 ok", "hunter2", "secret_pair"),
        ('{"token": "tok_abcdef123", "x": 1}', "tok_abcdef123", "secret_pair"),
        ("DB_SECRET: s3cr3t-value", "s3cr3t-value", "secret_pair"),
        ("dsn postgres://admin:Pa55word@db.internal:5432/x", "Pa55word", "url_password"),
        ("mail alice.smith@example.org now", "alice.smith@example.org", "email"),
    ],
)
def test_each_secret_kind_is_removed_and_counted(text: str, secret: str, kind: str) -> None:
    r = redact_with_counts(text)
    assert secret not in r.text
    assert r.counts[kind] >= 1
    assert "[REDACTED:" in r.text


def test_context_is_kept_around_redactions() -> None:
    out = redact("user bob password=hunter2 from postgres://bob:pw123@db:5432/app")
    assert (
        out == "user bob password=[REDACTED:secret] from postgres://bob:[REDACTED:url_password]@db:5432/app"
    )


def test_ips_and_hostnames_only_when_asked() -> None:
    line = "sshd: Failed password for root from 203.0.113.7 port 22 on gpu01.dc1.example.com fe80::1:2:3"
    assert "203.0.113.7" in redact(line)
    assert "gpu01.dc1.example.com" in redact(line)
    out = redact(line, ips=True, hostnames=True)
    assert "203.0.113.7" not in out and "gpu01.dc1.example.com" not in out and "fe80::1:2:3" not in out
    assert "Failed password for root" in out


def test_ordinary_gpu_log_lines_are_untouched() -> None:
    lines = [
        "NVRM: Xid (PCI:0000:3b:00): 79, pid=2231, GPU has fallen off the bus.",
        "2026-01-01T00:00:00Z kernel: Out of memory: Killed process 4242 (python)",
        "loaded libcuda.so.1 version 550.54.15",
    ]
    for line in lines:
        assert redact(line, ips=True, hostnames=True) == line


text_with_secrets = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
        st.sampled_from(
            [
                PEM,
                "password=hunter2",
                "AKIAABCDEFGHIJKLMNOP",
                "Bearer abcdefghijkl",
                "https://u:p@h.example.com/x",
                "a@b.io",
                "10.1.2.3",
                "token: 'x y'",
                "eyJa.eyJb.c",
                "secret=",
                "[REDACTED:secret]",
                "pwd=[REDACTED:x]",
                "host.example.org",
                ":",
                "@",
                "=",
            ]
        ),
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text_with_secrets, st.booleans(), st.booleans())
def test_redaction_is_idempotent(text: str, ips: bool, hostnames: bool) -> None:
    once = redact(text, ips=ips, hostnames=hostnames)
    assert redact(once, ips=ips, hostnames=hostnames) == once
