"""Template mining rules of issue 16 item 7: each rule on general inputs and on lines of two Loghub sets,
the cached / sliced paths against the plain ones, and the loud failure on an old saved state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.templates import TemplateMiner, TemplateStateVersionError, mask_message
from mlops_assets.lib.templates.masking import distinct_masked
from mlops_assets.lib.templates.state import load_or_new_miner, load_template_miner, save_template_miner
from mlops_assets_tests.realdata import REALDATA

DATASETS = ("HPC", "Linux", "OpenSSH", "Thunderbird")


def _same(lines: list[str]) -> bool:
    ids = TemplateMiner().fit_match(lines)
    return len(set(ids)) == 1


def _content(dataset: str) -> list[str]:
    path = REALDATA / "loghub" / dataset / f"{dataset}_2k.log_structured.csv"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    return pd.read_csv(path, dtype=str, keep_default_na=False)["Content"].tolist()


def test_paths_are_masked_as_one_value_and_single_slashes_are_words() -> None:
    # Thunderbird (rrd file) and Linux-style (/dev, /usr) paths, and URLs
    assert mask_message("RRD_update (/var/lib/ganglia/rrds/C Nodes): x") == "RRD_update (<*> Nodes): x"
    assert mask_message("cannot open /dev/sda for reading") == "cannot open <*> for reading"
    assert mask_message("exec /usr/sbin/sshd -D") == "exec <*> -D"
    assert mask_message("I/O error, read/write at samples/s") == "I/O error, read/write at samples/s"
    assert _same(["open /etc/app/a.conf failed", "open /var/lib/x/b.db failed"])


def test_second_plain_word_is_part_of_the_event() -> None:
    """Drain's depth-4 tree: a plain word in second place splits (OpenSSH ``Failed password/none``)."""
    assert not _same(
        [
            "Failed password for invalid user x from 10.0.0.1 port 22 ssh2",
            "Failed none for invalid user x from 10.0.0.1 port 22 ssh2",
        ]
    )
    assert not _same(["Connection closed by 10.0.0.1 port 22", "Connection reset by 10.0.0.1 port 22"])
    # names (dots, dashes) and masked values in second place are still values
    assert _same(["Started nginx.service for job 1 now", "Started sshd.service for job 2 now"])
    assert _same(["worker 12 finished batch in 3s", "worker 7 finished batch in 9s"])
    # a hex id without digits is a value, not a word
    assert _same(["container 3fa2b7c9d0e1 (redis) exited", "container cddecbafcffa (redis) exited"])


def test_text_around_a_masked_value_is_template_text() -> None:
    # Linux (login vs sshd session) and HPC-like key names
    assert not _same(
        ["session opened for user root by (uid=0)", "session opened for user root by LOGIN(uid=0)"]
    )
    assert not _same(["worker exited with pid=12 now", "worker exited with port=22 now"])
    # a substituted word next to a value is a value (user bob(uid=1000)); hex letters are not words
    assert _same(
        [
            "session opened for user bob(uid=1000) by (uid=0)",
            "session opened for user dave(uid=1001) by (uid=0)",
            "session opened for user svc-train(uid=1002) by (uid=0)",
        ]
    )
    assert _same(["Xid (PCI:0000:dc:00): 79, pid=1", "Xid (PCI:0000:3b:00): 79, pid=2"])


def test_clause_and_label_words_are_template_text() -> None:
    # OpenSSH singular/plural, and general severity labels
    assert not _same(
        [
            "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.1",
            "PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.1",
        ]
    )
    assert not _same(["mount error: disk full on sda", "mount warning: disk full on sda"])
    # unit names ending in ':' are names, not labels
    assert _same(
        ["nginx.service: Main process exited, code=1", "kubelet.service: Main process exited, code=2"]
    )


def test_sliced_masking_gives_the_single_pass_result() -> None:
    lines = [f"job {i} on /data/run-{i % 7}/x took {i % 13}s user=u{i % 3}" for i in range(5000)]
    lines += ["", "plain words only", "a\tb 1", None]
    single = distinct_masked(lines, min_rows=10**9)
    sliced = distinct_masked(lines, min_rows=2)
    assert single[0] == sliced[0] and np.array_equal(single[1], sliced[1])


@pytest.mark.parametrize("dataset", DATASETS)
def test_cached_path_assigns_like_the_uncached_one(dataset: str) -> None:
    """The masked-string -> id cache, slicing and batch boundaries never change an assignment."""
    lines = _content(dataset)
    plain = TemplateMiner(max_cache=0).fit_match(lines)
    cached = TemplateMiner().fit_match(lines)
    miner = TemplateMiner()
    streamed = np.concatenate([miner.fit_match(lines[i : i + 100]) for i in range(0, len(lines), 100)])
    assert list(cached) == list(plain) == list(streamed)
    assert list(miner.match(lines)) == list(cached)
    single, sliced = distinct_masked(lines * 3, min_rows=10**9), distinct_masked(lines * 3, min_rows=2)
    assert single[0] == sliced[0] and np.array_equal(single[1], sliced[1])


def test_reloaded_state_keeps_buckets_of_generalised_leading_tokens() -> None:
    """Buckets come from the representative, so a cluster whose first tokens became <*> is found again."""
    miner = TemplateMiner().fit(["nginx.service: Main process exited", "sshd.service: Main process exited"])
    loaded = TemplateMiner.from_json(miner.to_json())
    probe = ["cron.service: Main process exited"]
    assert list(loaded.match(probe)) == list(miner.match(probe)) and loaded.match(probe)[0] is not None


def test_old_state_version_fails_loudly_with_the_re_mine_steps(tmp_path) -> None:
    root = str(tmp_path)
    save_template_miner(root, TemplateMiner().fit(["a b 1"]), {"journal_entries/h/2026-01-01-00:00"})
    current = tmp_path / "templates" / "current.json"
    state = json.loads(current.read_text()) | {"format_version": 1}
    current.write_text(json.dumps(state))
    for load in (load_template_miner, load_or_new_miner):
        with pytest.raises(TemplateStateVersionError, match="re-mine") as info:
            load(root)
        assert str(current) in str(info.value) and "seen.json" in str(info.value)
