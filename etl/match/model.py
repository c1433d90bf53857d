"""Fellegi–Sunter weights estimated on the data itself, with term-frequency adjustment.

u (how often a level occurs between two different people) comes from random record pairs,
which are almost all non-matches. m (how often it occurs between two records of one person)
comes from the pairs that share a structurally valid identifier (personal ID number or
social-insurance code): the data labels itself, no training set needed. Exact agreement on a
name is weighted by how rare that name is: "Lò" or "Páo" agreeing is weak evidence, a rare given
name strong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.match.compare import COMPARISONS, EXACT, columns, compare, take

# Used when the data has too few identifier-linked pairs to estimate m for a comparison.
PRIOR_M = {
    "given": [0, 0.02, 0.005, 0.05, 0.08, 0.845], "family": [0, 0.01, 0.005, 0.03, 0.06, 0.895],
    "middle": [0, 0.05, 0.35, 0.60], "birth": [0, 0.01, 0.02, 0.03, 0.02, 0.35, 0.02, 0.55],
    "sex": [0, 0.01, 0.99], "commune": [0, 0.08, 0.92], "household": [0, 0.2, 0.8],
    "mother": [0, 0.1, 0.9], "phone": [0, 0.1, 0.9],
}
# Typical u of a district, blended in when there are too few records to estimate u well.
PRIOR_U = {
    "given": [0.01, 0.92, 0.002, 0.02, 0.01, 0.038], "family": [0.01, 0.84, 0.001, 0.02, 0.01,
                                                                0.119],
    "middle": [0.2, 0.25, 0.25, 0.3],
    "birth": [0.05, 0.86, 0.04, 0.015, 0.0003, 0.02, 0.001, 0.0005],
    "sex": [0.02, 0.49, 0.49], "commune": [0.2, 0.68, 0.12], "household": [0.6, 0.39, 0.01],
    "mother": [0.8, 0.19, 0.01], "phone": [0.7, 0.299, 0.001],
}
FULL_SAMPLE = 2000  # records from which u is taken from the data alone
MAX_TF_WEIGHT = 14.0
MIN_LABELLED_PAIRS = 200


@dataclass
class Model:
    """Per comparison, a weight (log2 m/u) for each level; plus name frequencies for TF."""

    weights: dict[str, list[float]]
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    name_freq: dict[str, dict[str, float]] = field(default_factory=dict)
    labelled_pairs: int = 0

    def score(self, levels: pd.DataFrame, left: dict[str, np.ndarray]) -> np.ndarray:
        total = np.zeros(len(levels))
        for name, table in self.weights.items():
            total += np.asarray(table)[levels[name].to_numpy()]
        for part in ("given", "family"):
            total += self._tf_adjustment(part, levels[part].to_numpy(), left[f"{part}_key"])
        return total

    def _tf_adjustment(self, part: str, level: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Replace the average exact-agreement weight by the weight of this very value."""
        freq = self.name_freq.get(part, {})
        m_exact, base = self.m[part][EXACT], self.weights[part][EXACT]
        out = np.zeros(len(level))
        exact = np.flatnonzero(level == EXACT)
        if len(exact):
            f = pd.Series(values[exact]).map(freq).to_numpy(float)
            ok = ~np.isnan(f) & (f > 0)
            out[exact[ok]] = np.minimum(MAX_TF_WEIGHT, np.log2(m_exact / f[ok])) - base
        return out

    def explain(self, levels: dict[str, int], values: dict[str, str | None]) -> list[tuple]:
        """(comparison, level name, weight) rows for one pair, TF included."""
        rows = []
        for name, table in self.weights.items():
            level = levels[name]
            weight = table[level]
            if name in ("given", "family") and level == EXACT:
                f = self.name_freq.get(name, {}).get(values.get(f"{name}_key") or "")
                if f:
                    weight = min(MAX_TF_WEIGHT, math.log2(self.m[name][EXACT] / f))
            rows.append((name, COMPARISONS[name][level], round(weight, 2)))
        return rows


def _frequencies(counts: np.ndarray, size: int) -> list[float]:
    total = counts.sum()
    return [(counts[i] + 0.5) / (total + 0.5 * size) for i in range(size)]


def estimate(frame: pd.DataFrame, labelled: pd.DataFrame | None, *, seed: int = 831,
             sample: int = 100_000) -> Model:
    """Estimate the model from ``frame`` (all records in play) and ``labelled`` pairs of row
    positions known to be one person (shared valid identifiers)."""
    n = len(frame)
    rng = np.random.default_rng(seed)
    if n < 2:
        return Model({k: [0.0] + [math.log2(m / u) for m, u in zip(PRIOR_M[k][1:],
                                                                  PRIOR_U[k][1:], strict=True)]
                      for k in COMPARISONS}, PRIOR_M, PRIOR_U)
    size = min(sample, n * (n - 1) // 2)
    a = rng.integers(0, n, size)
    b = rng.integers(0, n, size)
    keep = a != b
    cols = columns(frame)
    random_levels = compare(take(cols, a[keep]), take(cols, b[keep]))
    share = min(1.0, n / FULL_SAMPLE)
    u = {name: [share * o + (1 - share) * p for o, p in zip(
        _frequencies(np.bincount(random_levels[name], minlength=len(lv)), len(lv)),
        PRIOR_U[name], strict=True)] for name, lv in COMPARISONS.items()}
    m = {k: list(v) for k, v in PRIOR_M.items()}
    pairs = 0
    if labelled is not None and len(labelled) >= MIN_LABELLED_PAIRS:
        labelled = labelled.sample(min(len(labelled), sample), random_state=seed)
        pairs = len(labelled)
        match_levels = compare(take(cols, labelled["i"].to_numpy()),
                               take(cols, labelled["j"].to_numpy()))
        for name, lv in COMPARISONS.items():
            counts = np.bincount(match_levels[name], minlength=len(lv))
            observed = _frequencies(counts, len(lv))
            # Blend with the prior so a level never seen among ID-linked pairs keeps a sane m.
            m[name] = [0.8 * o + 0.2 * p for o, p in zip(observed, PRIOR_M[name], strict=True)]
    weights = {}
    for name, lv in COMPARISONS.items():
        row = []
        for level in range(len(lv)):
            if level == 0:
                row.append(0.0)  # missing: no evidence either way
            else:
                row.append(math.log2(max(m[name][level], 1e-6) / max(u[name][level], 1e-6)))
        weights[name] = row
    freq = {}
    for part in ("given", "family"):
        counts = frame[f"{part}_key"].value_counts(normalize=True)
        freq[part] = counts.to_dict()
    return Model(weights, m, u, freq, pairs)
