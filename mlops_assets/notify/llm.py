"""Gemini triage through google-genai with bounded retries and a deterministic fallback.

"No key -> rules" is decided BEFORE constructing the client (``genai.Client()`` without a key
raises). The client's own retries are off (google-genai only retries with ``retry_options``); we retry
timeouts, 429 and 5xx ourselves with exponential backoff and then fall back to the rule-based triage,
recording why, so an outage of the LLM never fails an asset.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mlops_assets.lib.triage.hypotheses import (
    PromptSettings,
    Triage,
    TriageResult,
    build_prompt,
    rules_triage,
)
from mlops_assets.lib.triage.redact import redact_then_cut

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gemini-2.5-flash-lite"


class LlmUnavailable(RuntimeError):
    """The LLM could not produce a triage; the message is recorded as the fallback reason."""


@dataclass(frozen=True)
class LlmSettings:
    model: str = DEFAULT_MODEL
    api_key: str | None = None  # None -> GEMINI_API_KEY / GOOGLE_API_KEY
    base_url: str | None = None  # None -> Google's endpoint; tests point it at 127.0.0.1
    api_version: str = "v1beta"
    timeout_s: float = 20.0
    max_attempts: int = 3
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)


def resolve_api_key(explicit: str | None) -> str | None:
    for value in (explicit, os.getenv("GEMINI_API_KEY"), os.getenv("GOOGLE_API_KEY")):
        if value and value.strip():
            return value.strip()
    return None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """httpx errors of whichever HTTP stack google-genai uses (3.x prefers the httpx2 fork when present)."""
    classes: list[type[BaseException]] = [httpx.HTTPError, OSError, TimeoutError]
    try:
        import httpx2

        classes.append(httpx2.HTTPError)
    except ImportError:
        log.debug("httpx2 not installed; google-genai uses httpx")
    return tuple(classes)


_TRANSPORT_ERRORS = _transport_errors()


def _retryable(exc: BaseException) -> bool:
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return exc.code in (408, 429) or (isinstance(exc.code, int) and exc.code >= 500)
    return isinstance(exc, _TRANSPORT_ERRORS)


def generate_triage(prompt: str, s: LlmSettings, api_key: str) -> Triage:
    """One structured-output call (with retries); raises :class:`LlmUnavailable` with the reason."""
    from google import genai
    from google.genai import errors, types

    options: dict[str, Any] = {"api_version": s.api_version, "timeout": int(s.timeout_s * 1000)}
    if s.base_url:
        options["base_url"] = s.base_url
    client = genai.Client(api_key=api_key, http_options=types.HttpOptions(**options))
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=Triage,
        temperature=0.2,
    )
    last: BaseException | None = None
    for attempt in range(1, s.max_attempts + 1):
        try:
            resp = client.models.generate_content(model=s.model, contents=prompt, config=config)
        except (errors.APIError, *_TRANSPORT_ERRORS, ValueError) as e:
            last = e
            retry = _retryable(e)
            log.warning("gemini attempt %d/%d failed (%s): %s", attempt, s.max_attempts, type(e).__name__, e)
            if not retry:
                raise LlmUnavailable(
                    f"non-retryable {type(e).__name__}: {redact_then_cut(str(e), 300)}"
                ) from e
            if attempt < s.max_attempts:
                s.sleep(s.backoff_s * (2 ** (attempt - 1)))
            continue
        parsed = resp.parsed
        if isinstance(parsed, Triage):
            if not parsed.hypotheses:
                raise LlmUnavailable("model returned no hypotheses")
            parsed.hypotheses.sort(key=lambda h: -h.likelihood)
            return parsed
        raise LlmUnavailable(
            f"response did not match the Triage schema: {redact_then_cut(resp.text or '', 300)!r}"
        )
    raise LlmUnavailable(
        f"gave up after {s.max_attempts} attempts: {type(last).__name__}: {redact_then_cut(str(last), 300)}"
    )


def summarize(
    subject: dict[str, Any],
    evidence: dict[str, Any],
    llm: LlmSettings,
    prompt_settings: PromptSettings | None = None,
    *,
    use_llm: bool = True,
) -> TriageResult:
    """Triage an incident / failed check: LLM when a key is configured, else (or on failure) rules."""
    prompt_settings = prompt_settings or PromptSettings()
    label = str(subject.get("incident_id") or subject.get("check") or "incident")
    rules = rules_triage(evidence, subject=label)
    api_key = resolve_api_key(llm.api_key) if use_llm else None
    if api_key is None:
        return TriageResult(rules, "rules")
    prompt, redactions = build_prompt(subject, evidence, prompt_settings)
    try:
        triage = generate_triage(prompt, llm, api_key)
    except LlmUnavailable as e:
        log.warning("LLM triage of %s fell back to rules: %s", label, e)
        return TriageResult(rules, "rules", model=llm.model, fallback_reason=str(e), redactions=redactions)
    return TriageResult(triage, "llm", model=llm.model, redactions=redactions)
