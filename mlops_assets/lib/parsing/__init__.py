"""Parsers: raw bytes of one log format -> typed table of DESIGN.md section 3 + quarantine.

Every parser is pure (no dagster), never raises on bad input and accounts for every record:
``records_in == len(table) + len(quarantine) + skipped`` (multi-section reports: summed over their
``parts``). Entry points: ``parse_any(data, kind, host, **kw)`` and ``detect_kind(data)`` in
detect.py; one function per format in its module. Shared pieces: gpu_header.py (query-gpu header
mapping), months.py + syslog_time.py (locale month names, year rule, journalctl markers),
line_times.py + landing.py (per-line times and accepted formats of landing-folder files).
"""
