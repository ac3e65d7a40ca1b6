"""Notification channels, delivery with retries, and LLM triage (no Dagster-specific logic here)."""
