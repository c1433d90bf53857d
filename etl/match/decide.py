"""One function turns record pairs into decisions: link, review or different people.

The engine, ``hssk explain``, the review workbook and the full relink all call
:func:`decide`, so what explains a decision is what made it. For each pair: the comparison
levels and their weights (:mod:`etl.match.model`), the prior of its class, the posterior
probability, the hard rules it breaks (:data:`etl.match.declare.HARD_RULES`), and the
ambiguity rule — a record that would link to two different people of one list of people goes to
review, because the list itself says there are two such people.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.kinds import kind_traits
from etl.match.compare import Columns, columns, compare
from etl.match.declare import COMPARISONS, HARD_RULES, Pairs
from etl.match.model import MIN_LABELLED_PAIRS, Model, calibrate, probability

# Posterior log2-odds: 16 bits is a probability of 0.99998, 14.5 bits 0.99996 — Fellegi–Sunter
# probabilities are overconfident (its comparisons are not independent), so the thresholds
# are set where the measured precision holds (BENCHMARKS.md), not at face value. Below 14.5
# bits about one queued pair in 100 was one person (40,000 residents, every source kind, with
# blocking within the commune — BENCHMARKS.md): not worth a person's time.
LINK_THRESHOLD = 16.0
REVIEW_THRESHOLD = 14.5
AMBIGUITY_MARGIN = 6.0  # bits by which one candidate must lead another of the same list
# The ambiguity rule trusts a list to name each person once; a list whose own rows are often
# duplicates of each other (within-list prior above 1 in 33) is not such a list.
AMBIGUOUS_LIST_PRIOR = -5.0
LINK, REVIEW, DIFFERENT = "link", "review", "different"
OUTCOMES = (DIFFERENT, REVIEW, LINK)  # an outcome's code is its place here
PAIR_BLOCK = 500_000  # candidate pairs aligned and compared at a time


@dataclass
class Thresholds:
    link: float = LINK_THRESHOLD
    review: float = REVIEW_THRESHOLD


@dataclass
class Decided:
    """Everything known about each pair (aligned with the ``pairs`` given to :func:`decide`).
    ``levels``, ``freqs`` and ``vetoes`` (what explains a pair) are ``None`` when the caller
    did not keep them: a province's run decides tens of millions of pairs and needs only their
    posteriors and outcomes."""

    levels: pd.DataFrame | None
    freqs: dict[str, np.ndarray] | None  # what the TF weights need (:meth:`Model.frequencies`)
    model: Model
    score: np.ndarray | None  # bits of evidence (kept only with the levels)
    same_list: np.ndarray
    posterior: np.ndarray  # log2-odds after the class prior and the ambiguity rule
    vetoes: pd.DataFrame | None  # one boolean column per hard rule
    vetoed: np.ndarray  # any hard rule applies
    ambiguous: np.ndarray
    outcome: pd.Categorical  # LINK / REVIEW / DIFFERENT: a byte a pair

    @property
    def probability(self) -> np.ndarray:
        return probability(self.posterior)

    def weights_at(self, k: int) -> dict[str, float]:
        """The weight each comparison gave pair ``k``, in bits."""
        assert self.levels is not None and self.freqs is not None, "decided with keep=False"
        row = self.model.level_weights(self.levels.iloc[[k]].reset_index(drop=True),
                                       {n: f[[k]] for n, f in self.freqs.items()})
        return {name: float(v) for name, v in row.iloc[0].items()}


def one_row_per_person() -> frozenset[str]:
    """Source kinds whose files list each person once (declared with the mappings)."""
    return frozenset(k for k, t in kind_traits().items() if t.one_row_per_person)


def _codes(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` as 32-bit integer codes (-1 where missing): pairs compare integers, and
    millions of pairs never gather Python objects."""
    return pd.factorize(frame[column], use_na_sentinel=True)[0].astype(np.int32)


def list_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's list of people as an integer: its file where the file's kind names each
    person once, -1 elsewhere."""
    once = frame["source_kind"].isin(list(one_row_per_person())).to_numpy()
    return np.where(once, _codes(frame, "file_key"), -1)


def distinct_codes(a: str, b: str) -> bool:
    """Two identifier numbers that are not one number with a mistyped digit."""
    if len(a) != len(b):
        return True
    return sum(x != y for x, y in zip(a, b, strict=True)) > 1


def codes_differ(frame: pd.DataFrame, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Both rows carry a social-insurance code and the codes are two numbers."""
    return _InsuranceCodes(frame["social_insurance_code"]).differ(i, j)


class _InsuranceCodes:
    """:func:`distinct_codes` on character matrices (hundreds of thousands of candidates carry
    two codes): equal lengths and at most one differing place. Shorter codes are padded with
    NUL, which two codes of one length share."""

    def __init__(self, values: pd.Series) -> None:
        self.codes, self.vocab = pd.factorize(values, use_na_sentinel=True)

    @functools.cached_property
    def _matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Each code's characters and length, built once two codes are compared (a province
        holds millions of codes; pairs that carry two are often none)."""
        text = [str(v) for v in self.vocab]
        width = max([1, *map(len, text)])
        chars = np.array(text, dtype=f"<U{width}").view(np.uint32).reshape(len(text), width)
        return chars, np.fromiter(map(len, text), dtype=np.int64, count=len(text))

    def differ(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        codes = self.codes
        both = np.flatnonzero((codes[i] >= 0) & (codes[j] >= 0) & (codes[i] != codes[j]))
        out = np.zeros(len(i), dtype=bool)
        if not len(both):
            return out
        chars, lengths = self._matrix
        for start in range(0, len(both), PAIR_BLOCK):
            at = both[start:start + PAIR_BLOCK]
            a, b = codes[i[at]], codes[j[at]]
            out[at] = (lengths[a] != lengths[b]) | ((chars[a] != chars[b]).sum(axis=1) > 1)
        return out


class PairFacts:
    """The facts of a pair that are not comparisons (:class:`etl.match.declare.Pairs`), from
    each row's codes worked out once: :func:`decide` asks them a block of pairs at a time."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.lists = list_codes(frame)
        self.house, self.mother = _codes(frame, "household_head_key"), _codes(frame,
                                                                               "mother_key")
        self.insurance = _InsuranceCodes(frame["social_insurance_code"])

    def same_list(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Both rows of one file that lists each person once."""
        lists = self.lists
        return (lists[i] >= 0) & (lists[i] == lists[j])

    def same_home(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Same household head or same mother."""
        house, mother = self.house, self.mother
        return ((house[i] == house[j]) & (house[i] >= 0)) | (
            (mother[i] == mother[j]) & (mother[i] >= 0))

    def codes_differ(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return self.insurance.differ(i, j)


def decide(frame: pd.DataFrame, pairs: pd.DataFrame, model: Model, thresholds: Thresholds,
           group: np.ndarray | None = None, *, cols: Columns | None = None,
           fit_priors: bool = False, keep: bool = True, facts: PairFacts | None = None
           ) -> Decided:
    """Decisions for ``pairs`` of ``frame`` rows. ``group`` is each row's person before fuzzy
    linking (identifiers and existing persons joined): the ambiguity rule asks whether two
    candidates are two people. ``fit_priors`` re-estimates the class priors from these pairs
    (a run does; an explanation uses the run's). ``keep``: keep each pair's levels, term
    frequencies and hard rules (what explains it); a run only links and queues. ``facts``:
    the pairs' facts (:class:`PairFacts` of ``frame``), when the caller has them.

    Pairs are aligned, compared, scored and checked against the hard rules :data:`PAIR_BLOCK`
    at a time: memory holds one block's aligned records and levels, and (unless kept, or
    refitted below) the whole set's levels never exist at once. Every step is per pair, so the
    blocks' scores are the whole set's."""
    cols = cols if cols is not None else columns(frame)
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    refit = fit_priors and model.labelled_pairs < MIN_LABELLED_PAIRS
    known = facts if facts is not None else PairFacts(frame)
    final_rules = [r.name for r in HARD_RULES if not r.reviewable]
    score = np.zeros(len(i))
    one_list = np.zeros(len(i), dtype=bool)
    vetoed, final = np.zeros(len(i), dtype=bool), np.zeros(len(i), dtype=bool)
    blocks: list[tuple[pd.DataFrame, dict[str, np.ndarray], pd.DataFrame]] = []
    for start in range(0, max(len(i), 1), PAIR_BLOCK):
        at = slice(start, start + PAIR_BLOCK)
        # (pairs are 32-bit row numbers: each index taken as NumPy's own once, not per column)
        bi, bj = i[at].astype(np.intp, copy=False), j[at].astype(np.intp, copy=False)
        left = cols.take(bi)
        levels = compare(left, cols.take(bj))
        freqs = model.frequencies(levels, left)
        score[at] = model.score(levels, freqs)
        one_list[at] = known.same_list(bi, bj)
        facts = Pairs(levels, known.same_home(bi, bj), one_list[at], known.codes_differ(bi, bj))
        vetoes = pd.DataFrame({r.name: r.applies(facts) for r in HARD_RULES})
        vetoed[at] = vetoes.to_numpy().any(axis=1)
        final[at] = vetoes[final_rules].to_numpy().any(axis=1)
        if keep or refit:
            blocks.append((levels, freqs, vetoes))
        del left, levels, freqs, facts, vetoes
    del known
    all_levels, all_freqs, all_vetoes = _joined_blocks(blocks)
    del blocks
    pair_class = one_list.view(np.int8)  # (0 or 1 a pair, without a copy)
    if refit:
        assert all_levels is not None and all_freqs is not None
        # Nothing labels the data (no shared identifiers): learn m from the candidates.
        tf = sum((model.tf_adjustment(n, f) for n, f in all_freqs.items()),
                 np.zeros(len(score)))
        model.fit_m(all_levels, tf, final, pair_class)
        score = model.score(all_levels, all_freqs)
        if not keep:
            all_levels = all_freqs = all_vetoes = None
    if fit_priors:
        model.estimate_priors(score, pair_class, excluded=vetoed)
    # Without the levels nothing explains a pair, and its scores become its posteriors in
    # place (a province's 41 million pairs: 330 MB for each array of them).
    posterior = model.posterior(score, pair_class, out=None if keep else score)
    if not keep:
        score = None
    # A hard rule forbids the link; the rules a person can settle leave the pair in review.
    # (Capped in place: each ``np.where`` held two more arrays of every pair.)
    np.minimum(posterior, thresholds.link - 0.01, out=posterior, where=vetoed & ~final)
    np.minimum(posterior, thresholds.review - 0.01, out=posterior, where=final)
    ambiguous = np.zeros(len(posterior), dtype=bool)
    if model.prior_log2_odds["within-one-list"] < AMBIGUOUS_LIST_PRIOR:
        ambiguous = _ambiguous(frame, i, j, posterior, thresholds,
                               group if group is not None else np.arange(len(frame)))
    np.minimum(posterior, thresholds.link - 0.01, out=posterior, where=ambiguous)
    # The three words as a categorical, a byte a pair: references to three strings took 8
    # (330 MB of a province's 41 million pairs), NumPy's own strings 36, and ``np.full`` with
    # a string made a string per pair (2.3 GB).
    codes = np.zeros(len(posterior), dtype=np.int8)
    codes[posterior >= thresholds.review] = OUTCOMES.index(REVIEW)
    codes[posterior >= thresholds.link] = OUTCOMES.index(LINK)
    outcome = pd.Categorical.from_codes(codes, categories=list(OUTCOMES))
    return Decided(all_levels, all_freqs, model, score, one_list, posterior, all_vetoes,
                   vetoed, ambiguous, outcome)


def _joined_blocks(blocks: list[tuple[pd.DataFrame, dict[str, np.ndarray], pd.DataFrame]]
                   ) -> tuple[pd.DataFrame | None, dict[str, np.ndarray] | None,
                              pd.DataFrame | None]:
    """The kept blocks' levels, frequencies and hard rules as one set (``None`` if none)."""
    if not blocks:
        return None, None, None
    if len(blocks) == 1:
        return blocks[0]
    levels = pd.concat([b[0] for b in blocks], ignore_index=True)
    freqs = {name: np.concatenate([b[1][name] for b in blocks]) for name in blocks[0][1]}
    vetoes = pd.concat([b[2] for b in blocks], ignore_index=True)
    return levels, freqs, vetoes


def valid_id_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's valid personal ID number as an integer code, -1 for none."""
    return pd.factorize(frame["personal_id"].where(frame["personal_id_status"] == "valid"),
                        use_na_sentinel=True)[0].astype(np.int32)


def fit_calibration(frame: pd.DataFrame, pairs: pd.DataFrame, decided: Decided, model: Model,
                    analyst: pd.DataFrame | None = None, ids: np.ndarray | None = None
                    ) -> None:
    """Calibrate ``model``'s probabilities on the candidate pairs whose truth the data tells:
    both records with a valid personal ID number, or an analyst's decision (``analyst``: i, j,
    same). Pairs a hard rule or the ambiguity rule held back are left out (their posterior is
    capped, not measured). ``ids``: :func:`valid_id_codes` of ``frame``, when the caller has
    them."""
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    pid = ids if ids is not None else valid_id_codes(frame)
    answers = None
    if analyst is not None and len(analyst):
        # Looked up as integer pair codes: a loop over millions of candidates took seconds.
        n = len(frame)
        answers = pd.Series(analyst["same"].astype(bool).to_numpy(),
                            index=analyst["i"].to_numpy(np.int64) * n
                            + analyst["j"].to_numpy(np.int64))
        answers = answers[~answers.index.duplicated(keep="last")].sort_index()
        asked, answer = answers.index.to_numpy(), answers.to_numpy()
    posterior, truth = [], []
    # A slice of pairs at a time: a province's aligned ids were 660 MB, and its pairs' masks
    # 41 MB each.
    for start in range(0, len(i), PAIR_BLOCK):
        at = slice(start, start + PAIR_BLOCK)
        a, b = pid[i[at]], pid[j[at]]
        known = (a >= 0) & (b >= 0)
        same = known & (a == b)
        if answers is not None:
            code = i[at].astype(np.int64) * n + j[at]
            where = np.minimum(np.searchsorted(asked, code), len(asked) - 1)
            hit = asked[where] == code
            known |= hit
            same[hit] = answer[where[hit]]
        use = known & ~decided.vetoed[at] & ~decided.ambiguous[at]
        posterior.append(decided.posterior[at][use])
        truth.append(same[use])
    model.calibration = calibrate(np.concatenate(posterior) if posterior else np.empty(0),
                                  np.concatenate(truth) if truth else np.empty(0, dtype=bool))


def _ambiguous(frame: pd.DataFrame, i_all: np.ndarray, j_all: np.ndarray, posterior: np.ndarray,
               thresholds: Thresholds, group: np.ndarray) -> np.ndarray:
    """A record that would link to two different people of one list of people is ambiguous
    ("Lò Khăm, 1952, Mường Lý" twice in the registry): those links go to review, unless one
    candidate leads by :data:`AMBIGUITY_MARGIN` bits."""
    out = np.zeros(len(posterior), dtype=bool)
    strong = np.flatnonzero(posterior >= thresholds.link)
    if not len(strong):
        return out
    kind = frame["source_kind"].to_numpy(object)
    file = frame["file_key"].to_numpy(object)
    once = one_row_per_person()
    by_side: dict[tuple[int, object], list[int]] = defaultdict(list)
    for k in strong:
        for x, y in ((i_all[k], j_all[k]), (j_all[k], i_all[k])):
            if kind[y] in once and file[y] is not None:
                by_side[(int(x), file[y])].append(int(k))
    # Two rows of one list that are themselves strongly linked are one person listed twice
    # (a duplicate registration), not two candidates.
    strong_pairs = {(int(i_all[k]), int(j_all[k])) for k in strong}
    for (x, _), ks in by_side.items():
        if len(ks) < 2:
            continue
        others = [int(j_all[k] if i_all[k] == x else i_all[k]) for k in ks]
        if len({group[o] for o in others}) < 2:
            continue
        if all((min(a, b), max(a, b)) in strong_pairs
               for n, a in enumerate(others) for b in others[n + 1:]):
            continue
        ranked = sorted(ks, key=lambda k: -posterior[k])
        best, second = posterior[ranked[0]], posterior[ranked[1]]
        losers = ranked if best - second < AMBIGUITY_MARGIN else ranked[1:]
        out[losers] = True
    return out


def reasons(decided: Decided, k: int) -> list[tuple[str, str]]:
    """(English, Vietnamese) plain-word reasons for pair ``k``: the levels that weigh most,
    then the rules that hold the pair back."""
    assert decided.levels is not None and decided.vetoes is not None, "decided with keep=False"
    rows = []
    weights = decided.weights_at(k)
    for name, c in COMPARISONS.items():
        code = int(decided.levels.at[k, name])
        if code:
            lv = c.levels[code]
            rows.append((abs(weights[name]), lv.en, lv.vi))
    rows.sort(key=lambda r: -r[0])
    out = [(en, vi) for _, en, vi in rows]
    if bool(decided.levels.at[k, "names_swapped"]):
        out.insert(0, ("family and given name written the other way round",
                       "họ và tên bị viết đảo"))
    for rule in HARD_RULES:
        if bool(decided.vetoes.at[k, rule.name]):
            out.append((f"not linked on fuzzy evidence: {rule.en}",
                        f"không tự ghép: {rule.vi}"))
    if decided.ambiguous[k]:
        out.append(("another person of the same list fits as well",
                    "một người khác trong cùng danh sách cũng khớp"))
    return out
