"""A simulated storage root laid out like production (raw members, parsed tables, miner state,
features, template counts) of 2 hosts x 18 h, plus a tmp MLflow (sqlite + artifact dir).

The model asset splits it in time: 12 h of training history, the newest 6 h held out.
"""

from datetime import timedelta
from pathlib import Path

import pytest

from mlops_assets.defs.partitions import HOURLY_FMT
from mlops_assets.lib.contracts.raw import SOURCES
from mlops_assets.lib.features.template_counts import assign_templates, build_template_counts
from mlops_assets.lib.features.windows import build_window_features
from mlops_assets.lib.parsing.bundle import parse_bundle
from mlops_assets.lib.storage.partition_store import PartitionStore, write_raw_members
from mlops_assets.lib.templates import TemplateMiner
from mlops_assets.lib.templates.state import save_template_miner
from mlops_assets.simulate import DEFAULT_START, read_labels, simulate
from mlops_assets.simulate.schedule import FaultSpec
from mlops_assets.sources.directory import DirectorySource

HOURS = 18
# Two faults in the 24 training host-hours: the threshold is calibrated to an alarm budget on
# UNLABELLED training data, which assumes faults are rare there.
TRAIN_FAULTS = [
    FaultSpec(
        "gpu-node-02",
        "xid79_fell_off_bus",
        DEFAULT_START + timedelta(hours=2),
        DEFAULT_START + timedelta(hours=2, minutes=15),
        1,
    ),
    FaultSpec(
        "gpu-node-01",
        "fan_failure",
        DEFAULT_START + timedelta(hours=5),
        DEFAULT_START + timedelta(hours=5, minutes=12),
        6,
    ),
]
RUN_CONFIG = {"train_days": 0.5, "holdout_days": 0.25, "min_train_days": 0.25, "n_estimators": 50}


def build_root(raw: Path, root: str, hosts: list[str], hours: int) -> None:
    store, source, miner = PartitionStore(root), DirectorySource(str(raw)), TemplateMiner()
    parsed = []
    for host in hosts:
        for h in range(hours):
            start = DEFAULT_START + timedelta(hours=h)
            key = start.strftime(HOURLY_FMT)
            bundle = source.fetch(host, start, start + timedelta(hours=1))
            for src in SOURCES:
                write_raw_members(store, src, host, key, bundle.get(src, {}))
            tables = parse_bundle(bundle, host).tables
            for name, df in tables.items():
                store.write(name, host, key, df)
            for name in ("journal_entries", "docker_lines"):
                miner.fit(tables[name]["message"].fillna("").tolist())
            parsed.append((host, key, start, tables))
    save_template_miner(root, miner, set())
    for host, key, start, tables in parsed:
        t = assign_templates(tables, miner)
        end = start + timedelta(hours=1)
        store.write("features", host, key, build_window_features(t, host, start, end, expected_gpus=8))
        store.write("template_counts", host, key, build_template_counts(t, host, start, end))


@pytest.fixture(scope="session")
def featurised(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("model")
    raw, root = base / "raw", str(base / "storage")
    summary = simulate(raw, hosts=2, hours=HOURS, seed=7, faults=TRAIN_FAULTS)
    build_root(raw, root, summary.hosts, HOURS)
    return {
        "root": root,
        "raw": raw,
        "hosts": summary.hosts,
        "labels": read_labels(raw / "labels.csv"),
        "base": base,
    }


@pytest.fixture()
def mlflow_dirs(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts")
