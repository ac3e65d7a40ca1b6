"""`mlops-assets rollback [--model NAME]`: move the champion alias back to the previous version."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="log-anomaly-detector", help="registered model name")
    parser.add_argument(
        "--tracking-uri", default=None, help="MLflow tracking URI (default: MLFLOW_TRACKING_URI / MLOPS_HOME)"
    )


def run(args: argparse.Namespace) -> int:
    from mlops_assets.environment import settings
    from mlops_assets.lib.registry.aliases import rollback

    uri = args.tracking_uri or settings().mlflow_tracking_uri
    try:
        move = rollback(uri, args.model)
    except RuntimeError as exc:
        print(f"rollback refused: {exc}")
        return 1
    print(
        f"{move.model}: champion is now v{move.champion} ({move.action}); previous -> {move.previous or 'none'}"
    )
    print(json.dumps(move.as_dict()))
    return 0
