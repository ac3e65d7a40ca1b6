"""`mlops-assets demo --end`: reproduces a window; bad or future hours fail before anything runs."""

from datetime import UTC, datetime, timedelta

import pytest

from mlops_assets.cli import main


@pytest.mark.parametrize("value", ["2026-11-24 09:00", "2026-11-24-09:30", "yesterday"])
def test_malformed_end_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--end", value])
    assert exc.value.code == 2
    assert "--end" in capsys.readouterr().err


def test_an_end_in_the_future_is_refused_with_the_latest_valid_hour(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    future = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%d-%H:00")
    with pytest.raises(SystemExit, match="is in the future: hourly partitions exist only up to"):
        main(["demo", "--end", future])
    assert not (tmp_path / "raw").exists()  # refused before simulating anything


def test_fewer_than_three_days_is_refused_before_simulating(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    with pytest.raises(SystemExit, match="--days >= 3"):
        main(["demo", "--days", "2"])
    with pytest.raises(SystemExit, match="--train-days"):
        main(["demo", "--days", "3", "--train-days", "3"])
    assert not (tmp_path / "raw").exists()
