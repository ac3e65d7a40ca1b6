"""`mlops-assets label INCIDENT_ID confirmed|false-alarm [--note TEXT]`: an operator's verdict.

Stored append-only under the storage root (lib/evaluate/labels.py); every later evaluation uses it:
a challenger must still flag confirmed incidents and must not raise dismissed ones again.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mlops_assets.lib.evaluate.labels import VERDICTS

    parser.add_argument("incident_id", help="incident_id as in the incidents table / alert")
    parser.add_argument("verdict", choices=VERDICTS)
    parser.add_argument("--note", default="", help="free text kept with the label")
    parser.add_argument("--by", default="", help="who labels (default: the OS user)")
    parser.add_argument("--storage-root", default=None, help="default: MLOPS_STORAGE_ROOT / settings")


def run(args: argparse.Namespace) -> int:
    from mlops_assets.environment import settings
    from mlops_assets.lib.evaluate.labels import label_incident

    root = args.storage_root or settings().storage_root
    try:
        record = label_incident(root, args.incident_id, args.verdict, args.note, args.by or getpass.getuser())
    except (FileNotFoundError, KeyError) as exc:
        print(f"[label] {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    print(json.dumps(record))
    return 0
