"""Template mining: masking, clustering, stable ids, read-only match, serialisation, cap, accuracy."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mlops_assets.lib.templates import (
    FORMAT_VERSION,
    OVERFLOW_ID,
    TemplateMiner,
    grouping_accuracy,
    mask_array,
    mask_message,
)
from mlops_assets_tests.realdata import REALDATA

SSH = [
    "Accepted publickey for alice from 10.0.0.7 port 50122 ssh2",
    "Accepted publickey for bob from 10.0.3.9 port 40001 ssh2",
    "Accepted publickey for carol from 192.168.1.2 port 22 ssh2",
    "Connection closed by 10.0.0.7 port 50122 [preauth]",
    "Connection closed by 10.9.9.9 port 1 [preauth]",
]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("Xid (PCI:0000:3b:00): 79, pid=1234, name=python3", "Xid (PCI:<*>:<*>:<*>): <*>, pid=<*>, name=<*>"),
        ("from 10.0.0.7 port 50122", "from <*> port <*>"),
        ("addr 0xdeadbeef id 5f0c2a7e-1b2c-4d3e-8f9a-0b1c2d3e4f50", "addr <*> id <*>"),
        ("at 2024-05-01T12:01:02.123Z took 12.5ms", "at <*>:<*>:<*> took <*>"),
        ("open /var/lib/app1/data.db failed", "open <*> failed"),
        ("open /var/lib/app/data.db failed", "open <*> failed"),
        ("RRD_update (/var/lib/rrds/C Nodes/x.rrd): stale", "RRD_update (<*> Nodes/x.rrd): stale"),
        ("GET http://example.org/api/jobs done", "GET http:<*> done"),
        ("I/O error at samples/s", "I/O error at samples/s"),
        ('container "trainer-7f3a" exited', 'container "<*>" exited'),
        ("uid=0 euid=0 tty=NODEVssh ruser= rhost=1.2.3.4", "uid=<*> euid=<*> tty=NODEVssh ruser= rhost=<*>"),
        ("Started Session of user root.", "Started Session of user root."),
        ("", ""),
    ],
)
def test_mask_message(raw: str, masked: str) -> None:
    assert mask_message(raw) == masked


def test_mask_message_none_and_bytes() -> None:
    assert mask_message(None) == ""
    assert mask_message(b"pid 12 \xff") == "pid <*> \ufffd"


def test_vectorised_masking_agrees_with_single_message() -> None:
    tricky = SSH + [
        "digits \u0663\u0664 arabic",
        "nbsp\xa0x1 here",
        "tab\tv2\tend",
        "a=1;b=c2,d=(3)",
        "  lead 7  ",
        "path /a/b/c and a/b and //x and /usr/lib64/x",
    ]
    assert mask_array(tricky).to_pylist() == [mask_message(m) for m in tricky]


def test_clustering_merges_variable_words_and_separates_shapes() -> None:
    miner = TemplateMiner().fit(SSH)
    frame = miner.templates_frame()
    assert sorted(frame["template"]) == [
        "Accepted publickey for <*> from <*> port <*> <*>",
        "Connection closed by <*> port <*> [preauth]",
    ]
    assert frame.set_index("template")["count"].to_dict() == {
        "Accepted publickey for <*> from <*> port <*> <*>": 3,
        "Connection closed by <*> port <*> [preauth]": 2,
    }


def test_structure_tokens_are_not_generalised_into_values() -> None:
    """Punctuation-only tokens and key=value skeletons are structure; words still generalise."""
    fans = ["Fan speeds ( 3552 3534 3375 **** 3515 3479 )", "Fan speeds ( 3552 3534 3375 3411 3515 3479 )"]
    ids = TemplateMiner().fit_match(fans)
    assert ids[0] != ids[1]
    ttys = [
        "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=10.0.0.1",
        "authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=",
    ]
    ids = TemplateMiner().fit_match(ttys)
    assert ids[0] != ids[1]
    same = [
        "session opened for user alice by (uid=0)",
        "session opened for user bob by (uid=1000)",
        "connect from host-a.example.org (10.0.0.1) at port 22 state=ok",
        "connect from host-b.example.org () at port 22 state=ok",
        "auth failure; logname= uid=0 rhost= user=x retry=2",
        "auth failure; logname= uid=0 rhost=10.0.0.3 user=x retry=3",
    ]
    ids = TemplateMiner().fit_match(same)
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5]


def test_bad_inputs_are_messages_not_crashes() -> None:
    ids = TemplateMiner().fit_match(["ok 1", None, float("nan"), "ok 2"])
    assert ids[0] == ids[3] and ids[1] == ids[2] and ids[0] != ids[1]
    assert TemplateMiner().fit_match([]).shape == (0,)


def test_ids_follow_the_documented_rule_and_are_deterministic() -> None:
    ids = TemplateMiner().fit_match(SSH)
    assert ids[0] == "T" + hashlib.sha1(mask_message(SSH[0]).encode()).hexdigest()[:10]
    assert list(TemplateMiner().fit_match(SSH)) == list(ids)
    code = (
        "import json,sys; from mlops_assets.lib.templates import TemplateMiner; "
        "print(json.dumps(list(TemplateMiner().fit_match(json.loads(sys.argv[1])))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(SSH)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == list(ids)


def test_fitting_unrelated_messages_keeps_existing_ids() -> None:
    miner = TemplateMiner().fit(SSH)
    before = miner.templates_frame()["template_id"].tolist()
    miner.fit(
        [
            "GPU 3 fell off the bus",
            "disk sda1 is full",
            "Accepted publickey for dave from 1.1.1.1 port 2 ssh2",
        ]
    )
    after = miner.templates_frame()["template_id"].tolist()
    assert after[: len(before)] == before and len(after) == len(before) + 2
    assert list(miner.match(SSH)) == list(TemplateMiner().fit_match(SSH))


def test_match_is_read_only_and_flags_unknown_messages() -> None:
    miner = TemplateMiner().fit(SSH)
    known = miner.fit_match(SSH[:1])[0]
    state, version = miner.to_json(), miner.state_version
    out = miner.match(
        ["Accepted publickey for zed from 8.8.8.8 port 9 ssh2", "kernel panic - not syncing", None]
    )
    assert out[0] == known
    assert out[1] is None and out[2] is None
    assert miner.to_json() == state and miner.state_version == version


def test_serialisation_round_trip_and_version_check() -> None:
    miner = TemplateMiner(max_templates=50).fit(SSH)
    loaded = TemplateMiner.from_json(miner.to_json())
    assert loaded.to_json() == miner.to_json() and loaded.state_version == miner.state_version
    assert json.loads(miner.to_json())["format_version"] == FORMAT_VERSION
    more = ["Connection closed by 1.2.3.4 port 5 [preauth]", "new thing happened"]
    assert list(loaded.fit_match(more)) == list(miner.fit_match(more))
    assert loaded.to_json() == miner.to_json()
    bad = json.loads(miner.to_json()) | {"format_version": FORMAT_VERSION + 1}
    with pytest.raises(ValueError, match="format_version"):
        TemplateMiner.from_json(json.dumps(bad))


def test_template_cap_maps_new_shapes_to_overflow() -> None:
    miner = TemplateMiner(max_templates=2)
    ids = miner.fit_match(["a b c", "a b c", "x y", "one two three four", "one two three four", "solo"])
    assert miner.n_templates == 2 and miner.overflowed and miner.overflow_count == 3
    assert list(ids[3:]) == [OVERFLOW_ID] * 3
    frame = miner.templates_frame()
    assert frame.iloc[-1]["template_id"] == OVERFLOW_ID and frame.iloc[-1]["count"] == 3
    assert int(frame["count"].sum()) == 6
    state = miner.to_json()
    assert list(miner.match(["solo", "a b c", "never seen before"])) == [OVERFLOW_ID, ids[0], None]
    assert miner.to_json() == state


def test_grouping_accuracy_follows_zhu_et_al() -> None:
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy(truth, [1, 1, 2, 2, 3]) == 1.0
    assert grouping_accuracy(truth, ["x", "x", "x", "x", "y"]) == pytest.approx(1 / 5)  # A,B merged: only C
    assert grouping_accuracy(truth, [1, 2, 3, 3, 4]) == pytest.approx(3 / 5)  # A split: B and C right
    assert grouping_accuracy(truth, [None, None, 2, 2, None]) == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="labels"):
        grouping_accuracy(truth, [1, 2])


# Measured with the defaults (sim_threshold=0.7) on 2026-12-04 (issue 16 item 7). Dev split: the rules
# were chosen on the first 1000 lines of each file, the second 1000 are the report half (see
# bench/bench_templates.py). Drain3 0.9.11 default config reaches 0.741 / 0.684 / 0.7195 / 0.955 on the
# corrected files. The minimum over both label variants is the floor.
FLOORS = {"HPC": 0.9505, "Linux": 0.8105, "OpenSSH": 0.9985, "Thunderbird": 0.961}
VARIANTS = ("loghub", "loghub2_corrected")


def _loghub_accuracy(dataset: str, variant: str) -> float:
    folder = REALDATA / variant / dataset
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    (path,) = sorted(folder.glob(f"{dataset}_2k.log_structured*.csv"))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    ids = TemplateMiner().fit_match(frame["Content"].tolist())
    assert isinstance(ids, np.ndarray) and len(ids) == len(frame)
    return grouping_accuracy(frame["EventId"], ids)


@pytest.mark.parametrize("dataset", sorted(FLOORS))
@pytest.mark.parametrize("variant", VARIANTS)
def test_grouping_accuracy_on_loghub(dataset: str, variant: str) -> None:
    assert _loghub_accuracy(dataset, variant) >= FLOORS[dataset] - 0.002


def test_mean_grouping_accuracy_on_loghub_meets_the_issue_target() -> None:
    """Issue 16 item 7: mean GA >= .93 over the 4 Loghub sets x 2 label variants (8 files)."""
    scores = [_loghub_accuracy(dataset, variant) for dataset in sorted(FLOORS) for variant in VARIANTS]
    assert sum(scores) / len(scores) >= 0.93
