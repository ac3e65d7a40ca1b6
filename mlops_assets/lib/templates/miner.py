"""Drain-style clustering of DISTINCT masked messages into templates with stable ids.

Pipeline per batch: mask every message (one RE2 pass), dictionary-encode the masked strings, cluster
only the distinct ones (usually hundreds per million lines), then broadcast ids back with numpy.

Clustering rule (Drain, He et al. 2017, on masked tokens): a masked string may join a cluster in its
bucket (token count and the first two tokens, Drain's default tree depth 4; ``rules.bucket_key``) when
the share of positions where the cluster template equals its token is >= ``sim_threshold``; joining
turns every differing position into ``<*>``. Some differing tokens are structure and forbid the join
(``rules.distinct_values``): bare punctuation, text around a masked value, clause/label words, ``key=``
values with different punctuation skeletons. Templates only ever generalise, so every string assigned
earlier still fits its cluster.

Template id rule: ``"T" + sha1(first masked representative).hexdigest()[:10]`` - the masked string that
created the cluster. It depends on nothing else, so it is identical across processes, and fitting
later, unrelated messages never renames an existing template (a 40-bit collision falls back to the full
40-hex digest). Once ``max_templates`` clusters exist, strings that would open a new cluster map to
``OVERFLOW_ID`` and are counted in ``overflow_count`` (a warning asset check reads it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.lib.templates.masking import WILDCARD, distinct_masked
from mlops_assets.lib.templates.rules import bucket_key, distinct_values

FORMAT_VERSION = 2
OVERFLOW_ID = "T_overflow"
OVERFLOW_TEMPLATE = "<overflow: template cap reached>"


class TemplateStateVersionError(ValueError):
    """A saved miner state from another format version: it must be re-mined, not reused."""


@dataclass
class _Cluster:
    template_id: str
    tokens: list[str]
    count: int
    representative: str


def _template_id(representative: str, taken: dict[str, int]) -> str:
    digest = hashlib.sha1(representative.encode("utf-8")).hexdigest()
    short = "T" + digest[:10]
    return short if short not in taken else "T" + digest


class TemplateMiner:
    """Incremental template miner; ``fit`` learns, ``match`` is read-only inference.

    ``sim_threshold=0.7`` (Drain3 uses 0.4) was measured best on the Loghub 2k samples: masking already
    turns the digit-bearing parameters into equal ``<*>`` tokens, so the remaining differing words are
    more often real template words ("Failed password" vs "Failed none") than parameters.
    """

    def __init__(
        self, sim_threshold: float = 0.7, max_templates: int = 2000, max_cache: int = 200_000
    ) -> None:
        if not 0.0 < sim_threshold <= 1.0:
            raise ValueError(f"sim_threshold must be in (0, 1], got {sim_threshold}")
        if max_templates < 1:
            raise ValueError(f"max_templates must be >= 1, got {max_templates}")
        self.sim_threshold = float(sim_threshold)
        self.max_templates = int(max_templates)
        self.max_cache = int(max_cache)
        self.overflow_count = 0
        self._clusters: list[_Cluster] = []
        self._by_id: dict[str, int] = {}
        self._buckets: dict[tuple[int, str, str], list[int]] = {}
        # masked string -> template id it was assigned when learned (bounded by max_cache)
        self._assigned: dict[str, str] = {}

    # ---- public API -------------------------------------------------------------------------------------
    @property
    def n_templates(self) -> int:
        """Number of learned templates (the overflow bucket is not a template)."""
        return len(self._clusters)

    @property
    def overflowed(self) -> bool:
        return self.overflow_count > 0

    def fit(self, messages: Sequence[object]) -> TemplateMiner:
        """Learn templates from ``messages`` (None/NaN count as empty messages)."""
        self._fit_ids(messages)
        return self

    def fit_match(self, messages: Sequence[object]) -> np.ndarray:
        """Learn from ``messages`` and return each one's template id (object array of str)."""
        return self._fit_ids(messages)

    def match(self, messages: Sequence[object]) -> np.ndarray:
        """Template id per message, or None where no known template fits. Never changes the miner.

        A message fits when it was seen in ``fit`` or when ``fit`` would put it into an existing cluster
        (same bucket, similarity >= threshold); anything that would open a new cluster is None - a
        "new template" signal downstream. Strings that ``fit`` sent to the overflow bucket
        keep ``OVERFLOW_ID``.
        """
        distinct, indices = distinct_masked(messages)
        ids = np.empty(len(distinct), dtype=object)
        for k, masked in enumerate(distinct):
            tid = self._assigned.get(masked)
            if tid is None:
                best = self._best_cluster(masked.split())
                tid = self._clusters[best].template_id if best is not None else None
            ids[k] = tid
        return ids[indices] if len(indices) else np.empty(0, dtype=object)

    def templates_frame(self) -> pd.DataFrame:
        """template_id, template, count in creation order (+ an overflow row once the cap was hit)."""
        rows = [(c.template_id, " ".join(c.tokens), c.count) for c in self._clusters]
        if self.overflow_count:
            rows.append((OVERFLOW_ID, OVERFLOW_TEMPLATE, self.overflow_count))
        return pd.DataFrame(rows, columns=["template_id", "template", "count"]).astype({"count": "int64"})

    def template_of(self, template_id: str) -> str | None:
        """Template text for an id (None for unknown ids)."""
        if template_id == OVERFLOW_ID:
            return OVERFLOW_TEMPLATE
        pos = self._by_id.get(template_id)
        return None if pos is None else " ".join(self._clusters[pos].tokens)

    # ---- serialisation ----------------------------------------------------------------------------------
    def to_json(self) -> str:
        """Deterministic JSON of the whole state (sorted keys), versioned by ``format_version``."""
        state = {
            "format_version": FORMAT_VERSION,
            "sim_threshold": self.sim_threshold,
            "max_templates": self.max_templates,
            "max_cache": self.max_cache,
            "overflow_count": self.overflow_count,
            "clusters": [[c.template_id, c.tokens, c.count, c.representative] for c in self._clusters],
            "assigned": self._assigned,
        }
        return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TemplateMiner:
        state = json.loads(text)
        version = state.get("format_version") if isinstance(state, dict) else None
        if version != FORMAT_VERSION:
            raise TemplateStateVersionError(
                f"template miner state has format_version {version!r}, this code reads {FORMAT_VERSION} "
                "(version 2 changed the clustering rules, so old template ids cannot be kept): re-mine the "
                "templates from scratch (delete the saved state, re-materialize `log_templates`) and retrain"
            )
        miner = cls(state["sim_threshold"], state["max_templates"], state["max_cache"])
        miner.overflow_count = int(state["overflow_count"])
        for template_id, tokens, count, representative in state["clusters"]:
            miner._add_cluster(_Cluster(template_id, list(tokens), int(count), representative))
        miner._assigned = dict(state["assigned"])
        return miner

    @property
    def state_version(self) -> str:
        """sha256 of :meth:`to_json`; logged with a model so scoring uses the exact same templates."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    # ---- internals --------------------------------------------------------------------------------------
    def _fit_ids(self, messages: Sequence[object]) -> np.ndarray:
        distinct, indices = distinct_masked(messages)
        if not distinct:
            return np.empty(0, dtype=object)
        counts = np.bincount(indices, minlength=len(distinct))
        ids = np.empty(len(distinct), dtype=object)
        for k, masked in enumerate(distinct):
            tid = self._assigned.get(masked)
            if tid is None:
                tid = self._learn(masked)
            ids[k] = tid
            n = int(counts[k])
            if tid == OVERFLOW_ID:
                self.overflow_count += n
            else:
                self._clusters[self._by_id[tid]].count += n
        return ids[indices]

    def _learn(self, masked: str) -> str:
        tokens = masked.split()
        best = self._best_cluster(tokens)
        if best is not None:
            cluster = self._clusters[best]
            cluster.tokens = [t if t == m else WILDCARD for t, m in zip(cluster.tokens, tokens, strict=True)]
            tid = cluster.template_id
        elif len(self._clusters) >= self.max_templates:
            tid = OVERFLOW_ID
        else:
            tid = _template_id(masked, self._by_id)
            self._add_cluster(_Cluster(tid, tokens, 0, masked))
        if len(self._assigned) < self.max_cache:
            self._assigned[masked] = tid
        return tid

    def _add_cluster(self, cluster: _Cluster) -> None:
        self._by_id[cluster.template_id] = len(self._clusters)
        self._buckets.setdefault(bucket_key(cluster.representative.split()), []).append(len(self._clusters))
        self._clusters.append(cluster)

    def _best_cluster(self, tokens: list[str]) -> int | None:
        """Most similar cluster in the (length, first two tokens) bucket above the threshold, if any.

        Ties go to the cluster with fewer wildcards, then to the older one, so the choice is
        deterministic.
        """
        candidates = self._buckets.get(bucket_key(tokens))
        if not candidates:
            return None
        n = len(tokens)
        if n == 0:
            return candidates[0]
        best, best_key = None, None
        for pos in candidates:
            template = self._clusters[pos].tokens
            same = 0
            wild = 0
            for t, m in zip(template, tokens, strict=True):
                if t == m:
                    same += 1
                elif t == WILDCARD:
                    wild += 1
                elif distinct_values(t, m):
                    break  # this cluster can never hold the message
            else:
                key = (same, -wild)
                if best_key is None or key > best_key:
                    best, best_key = pos, key
        if best_key is not None and best_key[0] / n >= self.sim_threshold:
            return best
        return None
