"""Fellegi–Sunter weights estimated on the data itself, with term-frequency adjustment and
prior match probabilities, so every pair gets a probability and not just bits.

u (how often a level occurs between two different people) comes from random record pairs,
which are almost all non-matches. m (how often it occurs between two records of one person)
comes from pairs known to be one person: those sharing a structurally valid identifier
(personal ID number or social-insurance code) and those an analyst declared the same — the data
labels itself. Exact agreement on a name is weighted by how rare that name is: "Lò" or "Páo"
agreeing is weak evidence, a rare given name strong.

The prior — the share of true matches among the candidate pairs — is estimated per class of
pair (two rows of one list of people, or rows of two sources) by a fixed point: the mean
posterior probability of the class's candidates, recomputed until it settles. A duplicate-
ridden list gets a high within-list prior, a clean registry a low one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.match.compare import Columns, columns, compare, take
from etl.match.declare import COMPARISONS, PRIOR_CLASSES

FULL_SAMPLE = 2000  # records from which u is taken from the data alone
MAX_TF_WEIGHT = 14.0
MIN_LABELLED_PAIRS = 200
RIDGE = 0.1
DEFAULT_CALIBRATION = (0.82, -11.0)
MIN_PRIOR, MAX_PRIOR = 1e-5, 0.95
# Fellegi–Sunter evidence is overconfident (its comparisons are not independent): the prior's
# fixed point counts each pair's bits at this fraction, or a list's namesakes would pass for
# its duplicates.
TEMPER = 0.4
# Pairs with a comparison known on both sides at which the observed level shares and the
# declared priors weigh the same.
PRESENT_STRENGTH = 50


def _prior(attr: str) -> dict[str, list[float]]:
    return {name: [getattr(lv, attr) for lv in c.levels] for name, c in COMPARISONS.items()}


@dataclass
class Model:
    """Per comparison, a weight (log2 m/u) for each level; name frequencies for TF; the prior
    log2-odds of a match per class of pair."""

    weights: dict[str, list[float]]
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    name_freq: dict[str, dict[str, float]] = field(default_factory=dict)
    labelled_pairs: int = 0
    records: int = FULL_SAMPLE  # how many records the model was estimated on
    prior_log2_odds: dict[str, float] = field(default_factory=lambda: {
        "across-sources": 0.0, "within-one-list": -8.0})
    # (slope, intercept) mapping posterior log2-odds to calibrated log2-odds, fitted on pairs
    # whose truth the data tells (see :func:`calibrate`); where the data tells none, the
    # calibration measured on a generated district (BENCHMARKS.md)
    calibration: tuple[float, float] | None = None
    # Per class of pair: pairs the blocking counts but does not score (see
    # etl.match.engine.unscored_pairs) — non-matches in the prior's denominator, so scoping a
    # blocking key to spare millions of hopeless comparisons leaves the prior where it was.
    unscored_pairs: tuple[int, ...] = (0, 0)

    def calibrated(self, posterior: np.ndarray | float) -> np.ndarray:
        """The probability a pair is one person, corrected for Fellegi–Sunter's overconfidence
        where the data allowed a calibration."""
        x = np.asarray(posterior, dtype=float)
        slope, intercept = self.calibration or DEFAULT_CALIBRATION
        return probability(slope * x + intercept)

    def frequencies(self, levels: pd.DataFrame, left: Columns) -> dict[str, np.ndarray]:
        """Per term-frequency comparison, how common the agreeing value is where the level is
        exact (NaN elsewhere, or where the value is unknown). Kept per pair rather than the TF
        weight itself, so the weight follows m when m is refitted."""
        out = {}
        for part, c in COMPARISONS.items():
            if not c.term_frequency:
                continue
            freq = self.name_freq.get(part, {})
            f = np.full(len(levels), np.nan)
            exact = np.flatnonzero(levels[part].to_numpy() == c.code("exact"))
            if len(exact):
                # Looked up once per distinct value present, not over the whole vocabulary.
                codes, inverse = np.unique(left[f"{part}_key"][exact], return_inverse=True)
                found = np.fromiter((freq.get(v, np.nan) for v in left.vocab[codes]),
                                    dtype=float, count=len(codes))
                f[exact] = found[inverse]
            out[part] = f
        return out

    def tf_adjustment(self, part: str, freq: np.ndarray) -> np.ndarray:
        """Replace the average exact-agreement weight by the weight of this very value."""
        exact_code = COMPARISONS[part].code("exact")
        m_exact, base = self.m[part][exact_code], self.weights[part][exact_code]
        out = np.zeros(len(freq))
        ok = ~np.isnan(freq) & (freq > 0)
        out[ok] = np.minimum(MAX_TF_WEIGHT, np.log2(m_exact / freq[ok])) - base
        # Name frequencies of a handful of records say little: blended in like u.
        return out * min(1.0, self.records / FULL_SAMPLE)

    def level_weights(self, levels: pd.DataFrame, freqs: dict[str, np.ndarray]
                      ) -> pd.DataFrame:
        """The weight each comparison adds to each pair (TF included)."""
        return pd.DataFrame({name: self._weight(name, levels, freqs) for name in self.weights})

    def score(self, levels: pd.DataFrame, freqs: dict[str, np.ndarray]) -> np.ndarray:
        """Bits of evidence (log2 Bayes factor) of each pair, one comparison at a time (no
        pairs × comparisons table of floats: millions of pairs stay small)."""
        total = np.zeros(len(levels))
        for name in self.weights:
            total += self._weight(name, levels, freqs)
        return total

    def _weight(self, name: str, levels: pd.DataFrame, freqs: dict[str, np.ndarray]
                ) -> np.ndarray:
        w = np.asarray(self.weights[name])[levels[name].to_numpy()]
        return w + self.tf_adjustment(name, freqs[name]) if name in freqs else w

    def estimate_priors(self, scores: np.ndarray, pair_class: np.ndarray,
                        rounds: int = 30, excluded: np.ndarray | None = None) -> None:
        """Fixed point of λ = mean posterior, per class of candidate pair. ``excluded`` pairs
        (hard rules) count at -60 bits. Each class's scores are gathered a slice at a time
        (:class:`_ClassScores`), never copied whole: a province's largest class held a copy of
        330 MB at the match's peak."""
        for k, name in enumerate(PRIOR_CLASSES):
            s = _ClassScores(scores, pair_class, k, excluded)
            # the class's pairs as if all were scored: the unscored ones are counted, so
            # leaving pairs out of scoring does not drop a class below the estimate's minimum
            pool = len(s) + self.unscored_pairs[k]
            if not len(s) or pool < 50:
                continue
            lam = 0.1
            # Each round's 1 / (1 + 2^-clip(s + prior odds)) worked out step by step in one
            # buffer, a slice of pairs at a time: the same values as the expression, without
            # its five temporaries or an array of them all (a province's 41 million pairs: 330
            # MB each), and the same sum (:func:`_pairwise_sum`).
            p = np.empty(min(len(s), max(SUM_LEAF, _NUMPY_BLOCK)))
            for _ in range(rounds):
                part = functools.partial(_posterior_sum, s, p, math.log2(lam / (1 - lam)))
                new = float(_pairwise_sum(len(s), part)) / pool
                new = min(MAX_PRIOR, max(MIN_PRIOR, new))
                if abs(new - lam) < 1e-6:
                    break
                lam = new
            self.prior_log2_odds[name] = round(math.log2(lam / (1 - lam)), 3)

    def fit_m(self, levels: pd.DataFrame, offset: np.ndarray, excluded: np.ndarray,
              pair_class: np.ndarray, rounds: int = 10) -> None:
        """m by expectation-maximisation over the candidate pairs, for data that labels too
        few pairs itself (no shared identifiers): each round weighs every pair's levels by its
        posterior probability. u stays as measured on random pairs. ``offset`` is each pair's
        weight that m does not change (term frequencies); ``excluded`` pairs (hard rules)
        count as non-matches."""
        prior_m = _prior("m")
        for _ in range(rounds):
            score = offset + sum(np.asarray(self.weights[name])[levels[name].to_numpy()]
                                 for name in COMPARISONS)
            self.estimate_priors(score, pair_class, excluded=excluded)
            p = np.where(excluded, 0.0, probability(self.posterior(score, pair_class)))
            if p.sum() < 1:
                return
            for name, c in COMPARISONS.items():
                counts = np.bincount(levels[name].to_numpy(), weights=p,
                                     minlength=len(c.levels))
                self.m[name] = _blended(counts, prior_m[name], most=0.8)
            self.weights = _weights(self.m, self.u)

    def posterior(self, scores: np.ndarray, pair_class: np.ndarray,
                  out: np.ndarray | None = None) -> np.ndarray:
        """Posterior log2-odds of a match: evidence plus the prior of the pair's class.
        ``out``: where to write them (the scores themselves, when they are not needed after),
        a million pairs at a time, so the priors aligned to every pair never exist at once."""
        priors = np.array([self.prior_log2_odds[c] for c in PRIOR_CLASSES])
        if out is None:
            return scores + priors[pair_class]
        for start in range(0, len(scores), 1_000_000):
            at = slice(start, start + 1_000_000)
            np.add(scores[at], priors[pair_class[at]], out=out[at])
        return out


SUM_LEAF = 1 << 20  # values summed in one piece by :func:`_pairwise_sum`
CLASS_BLOCK = 1 << 20  # pairs of the whole set read at a time by :class:`_ClassScores`
_NUMPY_BLOCK = 128  # NumPy sums up to this many values in one unrolled loop, never split


def _pairwise_sum(n: int, part: Callable[[int, int], float], lo: int = 0) -> float:
    """The sum of ``n`` values given in pieces (``part(lo, hi)``: the sum of values lo..hi),
    added in the order NumPy's pairwise summation adds one array of them (halves split at a
    multiple of eight, down to :data:`SUM_LEAF`, never below NumPy's own block), so it is
    ``np.sum`` of them all to the last bit without the array (checked in
    tests/match/test_density.py)."""
    if n <= max(SUM_LEAF, _NUMPY_BLOCK):
        return part(lo, lo + n)
    half = n // 2
    half -= half % 8
    return _pairwise_sum(half, part, lo) + _pairwise_sum(n - half, part, lo + half)


class _ClassScores:
    """The scores of one class of pairs, in their order, tempered (:data:`TEMPER`) and with the
    ``excluded`` pairs at -60 bits: what ``(np.where(excluded, -60, scores) * TEMPER)[pair_class
    == k]`` holds, handed out a slice at a time and gathered from the whole set a block at a
    time, never made whole."""

    def __init__(self, scores: np.ndarray, pair_class: np.ndarray, k: int,
                 excluded: np.ndarray | None) -> None:
        self.scores, self.pair_class, self.k, self.excluded = scores, pair_class, k, excluded
        self.block = block = CLASS_BLOCK
        counts = [np.count_nonzero(pair_class[at:at + block] == k)
                  for at in range(0, len(scores), block)]
        self.starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])  # per block

    def __len__(self) -> int:
        return int(self.starts[-1])

    def fill(self, lo: int, hi: int, out: np.ndarray) -> np.ndarray:
        """Values ``lo`` to ``hi`` of the class, written to the start of ``out``."""
        q = out[:hi - lo]
        b = int(np.searchsorted(self.starts, lo, side="right")) - 1  # the block holding lo
        done = 0
        while done < hi - lo:
            at = slice(b * self.block, (b + 1) * self.block)
            mine = self.pair_class[at] == self.k
            values = self.scores[at][mine]
            if self.excluded is not None:
                values[self.excluded[at][mine]] = -60.0
            first = lo + done - int(self.starts[b])
            take = min(len(values) - first, hi - lo - done)
            q[done:done + take] = values[first:first + take]
            done, b = done + take, b + 1
        q *= TEMPER
        return q


def _posterior_sum(s: _ClassScores, buffer: np.ndarray, odds: float, lo: int, hi: int
                   ) -> float:
    """The sum of 1 / (1 + 2^-clip(v + odds)) over values ``lo`` to ``hi`` of ``s``, worked out
    in ``buffer``."""
    q = s.fill(lo, hi, buffer)
    np.add(q, odds, out=q)
    np.clip(q, -60, 60, out=q)
    np.negative(q, out=q)
    np.exp2(q, out=q)
    np.add(1, q, out=q)
    np.divide(1, q, out=q)
    return np.sum(q)


def probability(log2_odds: np.ndarray | float) -> np.ndarray:
    return 1 / (1 + np.exp2(-np.clip(np.asarray(log2_odds, dtype=float), -60, 60)))


def calibrate(posterior: np.ndarray, same: np.ndarray, rounds: int = 50
              ) -> tuple[float, float] | None:
    """Logistic regression of the truth on the posterior log2-odds (Newton's method on the
    standardised posterior, a light ridge keeping it finite where the pairs separate): the
    pairs are candidates whose truth the data tells — both records carry a valid personal ID
    number (the same one: one person; two different: two), or an analyst decided them. Needs
    both kinds of pair, 30 at least of each. Returns (slope, intercept) in log2-odds."""
    x = np.clip(np.asarray(posterior, dtype=float), -30, 60)
    y = np.asarray(same, dtype=float)
    if len(x) < 60 or y.sum() < 30 or (1 - y).sum() < 30:
        return None
    centre, spread = float(x.mean()), float(x.std()) or 1.0
    design = np.stack([(x - centre) / spread, np.ones_like(x)], axis=1)
    w = np.zeros(2)
    for _ in range(rounds):
        p = 1 / (1 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = design.T @ (y - p) - RIDGE * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + RIDGE * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w = w + step
        if np.abs(step).max() < 1e-9:
            break
    # natural log-odds a*z + b with z = (x - centre)/spread, expressed in log2-odds of x
    slope = w[0] / spread / math.log(2)
    intercept = (w[1] - w[0] * centre / spread) / math.log(2)
    return round(float(slope), 4), round(float(intercept), 4)


def _blended(counts: np.ndarray, prior: list[float], most: float = 1.0) -> list[float]:
    """Level shares among the pairs where the comparison could be made (level 0, "missing",
    left out: both m and u are conditional on both sides being known, as the declared priors
    are), blended with ``prior`` by how many such pairs there were — at most ``most`` of the
    observed share. Counted over all pairs instead, a comparison the random pairs rarely
    reach (mothers, in a registry without them) got u near zero, and "different mothers" 12
    bits *for* a match."""
    present = np.asarray(counts[1:], dtype=float)
    n = float(present.sum())
    share = most * n / (n + PRESENT_STRENGTH)
    observed = (present + 0.5) / (n + 0.5 * len(present))
    return [0.0] + [float(share * o + (1 - share) * q)
                    for o, q in zip(observed, prior[1:], strict=True)]


def _weights(m: dict[str, list[float]], u: dict[str, list[float]]) -> dict[str, list[float]]:
    # Level 0 is "missing": no evidence either way.
    return {name: [0.0] + [math.log2(max(m[name][k], 1e-6) / max(u[name][k], 1e-6))
                           for k in range(1, len(c.levels))]
            for name, c in COMPARISONS.items()}


def estimate(frame: pd.DataFrame, labelled: pd.DataFrame | None, *, seed: int = 831,
             sample: int = 100_000, cols: Columns | None = None) -> Model:
    """Estimate the model from ``frame`` (all records in play) and ``labelled`` pairs of row
    positions known to be one person (shared valid identifiers, analysts' "same").

    Random pairs are drawn over the records in ``record_key`` order, so the same records give
    the same model whatever order they arrive in (a run and ``hssk explain`` agree). ``cols``:
    the frame's comparison columns, when the caller has them already."""
    n = len(frame)
    prior_m, prior_u = _prior("m"), _prior("u")
    if n < 2:
        return Model(_weights(prior_m, prior_u), prior_m, prior_u)
    rng = np.random.default_rng(seed)
    keys = frame["record_key"].to_numpy(object)
    # A run's frame comes in record-key order already (a million keys turned into NumPy text
    # and sorted again: 0.7 s). Python compares texts by code point, as NumPy does.
    order = (np.arange(n) if pd.Index(keys).is_monotonic_increasing
             else np.argsort(keys.astype(str), kind="stable"))
    size = min(sample, n * (n - 1) // 2)
    a, b = order[rng.integers(0, n, size)], order[rng.integers(0, n, size)]
    keep = a != b
    cols = cols if cols is not None else columns(frame)
    random_levels = compare(take(cols, a[keep]), take(cols, b[keep]))
    share = min(1.0, n / FULL_SAMPLE)
    u = {name: _blended(np.bincount(random_levels[name], minlength=len(c.levels)),
                        prior_u[name], most=share)
         for name, c in COMPARISONS.items()}
    m = {k: list(v) for k, v in prior_m.items()}
    pairs = 0
    if labelled is not None and len(labelled) >= MIN_LABELLED_PAIRS:
        labelled = labelled.assign(_a=keys[labelled["i"].to_numpy()].astype(str),
                                   _b=keys[labelled["j"].to_numpy()].astype(str))
        labelled = labelled.sort_values(["_a", "_b"], kind="stable").reset_index(drop=True)
        labelled = labelled.sample(min(len(labelled), sample), random_state=seed)
        pairs = len(labelled)
        match_levels = compare(take(cols, labelled["i"].to_numpy()),
                               take(cols, labelled["j"].to_numpy()))
        for name, c in COMPARISONS.items():
            # Blended with the prior so a level never seen among labelled pairs keeps a sane m.
            m[name] = _blended(np.bincount(match_levels[name], minlength=len(c.levels)),
                               prior_m[name], most=0.8)
    freq = {}
    for name, c in COMPARISONS.items():
        if c.term_frequency:
            freq[name] = frame[f"{name}_key"].value_counts(normalize=True).to_dict()
    return Model(_weights(m, u), m, u, freq, pairs, n)
