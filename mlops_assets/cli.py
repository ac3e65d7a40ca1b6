"""`mlops-assets` console script: one sub-command per module in mlops_assets.commands.

Sub-commands are imported lazily so `mlops-assets parse` does not pay for importing dagster/mlflow.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under mlops_assets.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "simulate hosts and run the whole pipeline locally; last line is a JSON summary"),
    "simulate": ("simulate", "write realistic raw logs of simulated multi-GPU hosts with injected faults"),
    "parse": ("parse", "parse one raw log file and print a JSON summary"),
    "templates": ("templates", "mine log templates from a file of messages"),
    "check-host": ("check_host", "check that a host in hosts.yaml can be collected from"),
    "rollback": ("rollback", "move the champion alias back to the previous model version"),
    "redact": ("redact", "print exactly what would leave the host for a text (redaction audit)"),
    "incidents": ("incidents", "list the newest incidents (or `incidents show ID`) with their report paths"),
    "label": ("label", "record an operator verdict on an incident: confirmed | false-alarm"),
    "backtest": ("backtest", "train on one range of a landing folder, score another; CSVs + a JSON summary"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """All sub-commands are listed; only ``command``'s module is imported to add its arguments."""
    parser = argparse.ArgumentParser(prog="mlops-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name == command:
            importlib.import_module(f"mlops_assets.commands.{module}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    module = importlib.import_module(f"mlops_assets.commands.{args._module}")
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
