"""Named jobs for the pipeline stages: what the UI's Launchpad, the demo and the sensors run.

Steady state: new_data_sensor launches one run per fleet-hour (raw -> parse -> features -> scores for
every host, a partition range) and the conditions in automation.py catch up whatever a run missed;
these jobs are for explicit runs and backfills (a partition range runs as one run: single_run policy).
"""

import dagster as dg

collect_and_parse_job = dg.define_asset_job(
    "collect_and_parse",
    selection=dg.AssetSelection.groups("ingest", "parse") - dg.AssetSelection.assets("log_templates"),
    description="Collect one host-hour from every source and parse it (with parse-quality checks).",
)
mine_templates_job = dg.define_asset_job(
    "mine_templates",
    selection=dg.AssetSelection.assets("log_templates"),
    description="Grow the log template miner from newly parsed partitions.",
)
features_job = dg.define_asset_job(
    "build_features",
    selection=dg.AssetSelection.groups("features", "health"),
    description="Window features and health events of one host-hour.",
)
train_and_deploy_job = dg.define_asset_job(
    "train_and_deploy",
    selection=dg.AssetSelection.assets("anomaly_model", "deployed_model"),
    description="Train a challenger, evaluate it on a held-out labelled period, and promote it only if "
    "every blocking check passes.",
    tags={"mlops_assets/stage": "train"},
)
score_job = dg.define_asset_job(
    "score",
    selection=dg.AssetSelection.assets("anomaly_scores"),
    description="Score one host-hour with the champion model.",
)
monitor_job = dg.define_asset_job(
    "monitor",
    selection=dg.AssetSelection.groups("monitor") - dg.AssetSelection.assets("anomaly_scores"),
    description="Merge anomalous windows into incidents, summarise them, and report drift.",
)

jobs = [collect_and_parse_job, mine_templates_job, features_job, train_and_deploy_job, score_job, monitor_job]
