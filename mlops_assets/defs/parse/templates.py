"""log_templates: grows the template miner from newly parsed journal and docker messages."""

import os

import dagster as dg
import pandas as pd

from mlops_assets.defs.parse.assets import PARSED_KEYS
from mlops_assets.defs.tags import stage_tags
from mlops_assets.lib.templates.state import load_or_new_miner, load_seen, save_template_miner
from mlops_assets.resources import StorageResource

MESSAGE_TABLES = ("journal_entries", "docker_lines")
MAX_TEMPLATES = int(os.getenv("MLOPS_MAX_TEMPLATES", "2000"))
EXPLOSION_SHARE = 0.8  # warn before the cap is hit, not after


@dg.asset(
    key="log_templates",
    deps=[PARSED_KEYS["journal"], PARSED_KEYS["docker_logs"]],
    group_name="parse",
    kinds={"python", "json"},
    owners=["team:ml-platform"],
    description="Log templates mined (masking + Drain-style clustering) from parsed journal and docker "
    "messages. Grows incrementally with stable ids; scoring only matches against it.",
    check_specs=[
        dg.AssetCheckSpec(
            "template_explosion",
            asset="log_templates",
            description=f"Templates stay below {EXPLOSION_SHARE:.0%} of the cap ({MAX_TEMPLATES}) and nothing overflowed.",
        ),
    ],
    op_tags=stage_tags("features"),
)
def log_templates(context: dg.AssetExecutionContext, storage: StorageResource):
    store = storage.store()
    miner = load_or_new_miner(storage.root, max_templates=MAX_TEMPLATES)
    seen = load_seen(storage.root)
    before = miner.n_templates
    learned = 0
    for table in MESSAGE_TABLES:
        for host in store.hosts(table):
            for key in store.keys(table, host):
                ident = f"{table}/{host}/{key}"
                if ident in seen:
                    continue
                messages = store.read(table, host, key)["message"].fillna("").astype(str).tolist()
                miner.fit(messages)
                learned += len(messages)
                seen.add(ident)
    path = save_template_miner(storage.root, miner, seen)
    frame: pd.DataFrame = miner.templates_frame().sort_values("count", ascending=False)
    top = frame.head(15)
    yield dg.MaterializeResult(
        metadata={
            "templates": miner.n_templates,
            "new_templates": miner.n_templates - before,
            "messages_learned": learned,
            "partitions_seen": len(seen),
            "state_version": miner.state_version,
            "state_path": dg.MetadataValue.path(path),
            "top_templates": dg.MetadataValue.md(top.to_markdown(index=False) if len(top) else "(none)"),
            "dagster/row_count": miner.n_templates,
        },
        data_version=dg.DataVersion(miner.state_version),
    )
    yield dg.AssetCheckResult(
        check_name="template_explosion",
        passed=miner.n_templates <= EXPLOSION_SHARE * MAX_TEMPLATES and not miner.overflowed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"templates": miner.n_templates, "cap": MAX_TEMPLATES, "overflowed": bool(miner.overflowed)},
    )
