"""Monitoring of the deployed model: feature drift (Evidently)."""
