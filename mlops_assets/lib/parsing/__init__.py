"""Parsers: raw bytes of one log format -> typed table of DESIGN.md section 3 + quarantine."""
