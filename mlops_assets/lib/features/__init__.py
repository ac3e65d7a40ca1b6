"""Window features: one documented registry (units, direction, reason) and per-host window builders."""
