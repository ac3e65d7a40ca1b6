"""The local instance's event log (repo dagster.yaml) keeps its engines and stays readable by stock Dagster."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from mlops_assets.local_event_log import KeptEngineSqliteEventLogStorage

REPO = Path(__file__).resolve().parents[1]


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def test_the_repo_instance_uses_it_and_a_stock_reader_sees_the_same_events(home: Path) -> None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, KeptEngineSqliteEventLogStorage)
        for _ in range(2):
            result = dg.materialize([counted], instance=instance)
            assert result.success
        assert len(storage._engines) >= 2  # the index and at least one run file, kept
        run_db = Path(storage.path_for_shard(result.run_id))
        assert run_db.exists() and run_db.parent == home / "history" / "runs"
        kept = instance.get_latest_materialization_event(dg.AssetKey("counted"))
        assert kept is not None and kept.run_id == result.run_id

    stock = SqliteEventLogStorage(str(home / "history" / "runs"))
    try:
        latest = stock.get_latest_materialization_events([dg.AssetKey("counted")])[dg.AssetKey("counted")]
        assert latest is not None and latest.run_id == result.run_id
        assert latest.asset_materialization.metadata["rows"] == dg.IntMetadataValue(3)
        types = [
            e.dagster_event.event_type_value for e in stock.get_logs_for_run(result.run_id) if e.dagster_event
        ]
        assert "ASSET_MATERIALIZATION" in types and "PIPELINE_SUCCESS" in types  # RUN_SUCCESS
    finally:
        stock.dispose()


def test_a_run_file_is_closed_after_each_write_so_the_webserver_watchdog_fires(home: Path) -> None:
    """The live run view waits for <run_id>.db to change: every write must reach it (WAL checkpoint
    on the last close), not sit in an open connection's -wal file until the run ends."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize([counted], instance=instance)
        run_db = Path(instance.event_log_storage.path_for_shard(result.run_id))
        wal = run_db.with_name(run_db.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0


def test_wipe_closes_its_connections_before_the_run_files_go(home: Path) -> None:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        dg.materialize([counted], instance=instance)
        instance.event_log_storage.wipe()
        assert list(instance.event_log_storage._engines) == ["index"]  # reopened to wipe the index
        result = dg.materialize([counted], instance=instance)  # a fresh run file is created and written
        assert len(instance.all_logs(result.run_id)) > 0


def test_without_dagster_home_or_base_dir_it_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(ValueError, match="set DAGSTER_HOME"):
        KeptEngineSqliteEventLogStorage.from_config_value(None, {})


def test_index_connections_are_reused_from_other_threads(home: Path) -> None:
    """The webserver reads from many threads: a pooled index connection must work in any of them."""
    from concurrent.futures import ThreadPoolExecutor

    with dg.DagsterInstance.from_config(str(home)) as instance:
        dg.materialize([counted], instance=instance)
        with ThreadPoolExecutor(4) as pool:
            found = list(
                pool.map(
                    lambda _: instance.get_latest_materialization_event(dg.AssetKey("counted")), range(16)
                )
            )
        assert all(f is not None for f in found)


def test_run_engines_are_bounded(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived webserver reads many runs: only the most recent run files keep an engine."""
    import mlops_assets.local_event_log as local_event_log

    monkeypatch.setattr(local_event_log, "MAX_RUN_ENGINES", 2)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [dg.materialize([counted], instance=instance).run_id for _ in range(4)]
        kept = [s for s in instance.event_log_storage._engines if s != "index"]
        assert kept == runs[-2:]
        assert len(instance.all_logs(runs[0])) > 0  # an evicted run is still readable (a new engine)


HOURS = dg.StaticPartitionsDefinition([f"h{i}" for i in range(6)])


@dg.asset(partitions_def=HOURS, backfill_policy=dg.BackfillPolicy.single_run())
def ranged(context) -> dg.MaterializeResult:
    """One step over a partition range: Dagster sends its materializations as one batch."""
    return dg.MaterializeResult(metadata={"partitions": len(context.partition_keys)})


def _materialize_range(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ranged],
        instance=instance,
        tags={"dagster/asset_partition_range_start": "h0", "dagster/asset_partition_range_end": "h5"},
    )


def _index_commits(home: Path, batch_size: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Commits to index.db during one range run, and the run's id."""
    from sqlalchemy import event

    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    commits: list[int] = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        engine = instance.event_log_storage._engine("index")
        event.listen(engine, "commit", lambda conn: commits.append(1))
        result = _materialize_range(instance)
        assert result.success
    return len(commits), result.run_id


def test_a_batch_is_written_in_one_transaction_per_file_and_read_back_by_stock_dagster(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_by_one, _ = _index_commits(home, "0", monkeypatch)
    batched, run_id = _index_commits(home, "100", monkeypatch)  # as the Makefile exports
    # 6 planned + 6 materialization events: 12 index commits one by one, 2 as two batches
    assert one_by_one - batched == 10, (one_by_one, batched)
    stock = SqliteEventLogStorage(str(home / "history" / "runs"))
    try:
        records = stock.fetch_materializations(dg.AssetKey("ranged"), limit=100).records
        assert sorted(r.partition_key for r in records if r.run_id == run_id) == [f"h{i}" for i in range(6)]
        planned = [
            e
            for e in stock.get_logs_for_run(run_id)
            if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ]
        assert len(planned) == 6
    finally:
        stock.dispose()


def test_a_batch_that_fails_half_way_leaves_nothing_and_the_events_are_stored_once(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: a failure on the 4th event of a batch rolls back the first three, so the
    instance's fallback (store them one by one) does not write them twice."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "100")
    original = KeptEngineSqliteEventLogStorage.store_event
    calls = {"in_batch": 0, "failed": 0}

    def flaky(self, event):
        if getattr(self._batch, "open", None) is not None and event.dagster_event_type == (
            dg.DagsterEventType.ASSET_MATERIALIZATION
        ):
            calls["in_batch"] += 1
            if calls["in_batch"] == 4:
                calls["failed"] += 1
                raise OSError("disk full (injected)")
        return original(self, event)

    monkeypatch.setattr(KeptEngineSqliteEventLogStorage, "store_event", flaky)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = _materialize_range(instance)
        assert result.success and calls["failed"] == 1
        records = instance.fetch_materializations(dg.AssetKey("ranged"), limit=100).records
        assert sorted(r.partition_key for r in records) == [f"h{i}" for i in range(6)], "each exactly once"
        logged = [
            e
            for e in instance.all_logs(result.run_id)
            if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        ]
        assert len(logged) == 6
