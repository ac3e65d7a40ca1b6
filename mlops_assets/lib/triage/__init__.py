"""Incident triage: hypotheses schema and prompt, deterministic rules, redaction of what leaves the host."""
