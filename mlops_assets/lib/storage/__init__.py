"""Partitioned table storage: atomic Parquet under one root (local path or fsspec URL)."""
