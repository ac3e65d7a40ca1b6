"""Thin Dagster layer, one package per domain; each exposes ``defs: dg.Definitions``."""
