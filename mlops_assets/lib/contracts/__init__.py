"""Data contracts of the parsed tables and raw-format contracts (landing layout, member names, GPU query)."""
