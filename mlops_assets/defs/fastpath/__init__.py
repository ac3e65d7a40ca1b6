"""Fast path: minute-level alerts for the still-open hour (the hourly partitions stay the record).

The sensor lives in sensor.py (imported by definitions.py); ledger.py is imported by the notify
domain too, so this package's import stays free of it.
"""
