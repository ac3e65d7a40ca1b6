"""Grouping accuracy (GA) of Zhu et al., "Tools and Benchmarks for Automated Log Parsing" (ICSE-SEIP 2019).

A message is correctly parsed iff the set of messages in its predicted group equals the set of
messages in its ground-truth group; GA = correctly parsed messages / all messages. Template TEXT is
irrelevant, only the partition matters, which is what downstream counting features depend on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def grouping_accuracy(truth: Sequence[object], predicted: Sequence[object]) -> float:
    """GA in [0, 1]; None/NaN labels form a group of their own (e.g. "no template matched")."""
    if len(truth) != len(predicted):
        raise ValueError(f"truth has {len(truth)} labels but predicted has {len(predicted)}")
    if len(truth) == 0:
        raise ValueError("grouping accuracy of zero messages is undefined")
    t = pd.factorize(pd.Series(list(truth), dtype=object), use_na_sentinel=False)[0]
    p = pd.factorize(pd.Series(list(predicted), dtype=object), use_na_sentinel=False)[0]
    frame = pd.DataFrame({"t": t, "p": p})
    n_t = frame.groupby("t")["p"].transform("size").to_numpy()
    n_p = frame.groupby("p")["t"].transform("size").to_numpy()
    n_tp = frame.groupby(["t", "p"])["t"].transform("size").to_numpy()
    # n_tp == n_p: the predicted group holds one truth label; n_tp == n_t: it holds that label's whole group.
    correct = (n_tp == n_t) & (n_tp == n_p)
    return float(np.count_nonzero(correct)) / len(truth)
