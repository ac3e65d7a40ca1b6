"""CLI sub-commands. Each module defines add_arguments(parser) and run(args) -> exit code.

Keep heavy imports (dagster, mlflow, pandas) inside run() so `--help` stays fast.
"""
