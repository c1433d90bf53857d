"""Comparisons built for Vietnamese person records, each turning aligned record pairs into the
level codes declared in :mod:`etl.match.declare`.

Names are compared part by part (family, middle, given) exactly, folded, phonetically (the
clerks' slips: s/x, ch/tr, d/gi/r, l/n, final n/ng), by Jaro-Winkler and by keystrokes
(Damerau-Levenshtein); a family and given name written the wrong way round are realigned first.
Birth dates by precision (year-only agrees with any date of that year, day/month swaps, one
mistyped digit, ±1 year); sex also as implied by a personal ID number; commune, or the address
text where no commune is known; household head or mother; phone. Every comparison works on
whole columns (numpy, rapidfuzz ``cpdist``), never a Python loop per pair.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from etl import reference
from etl.match.declare import (
    ADDRESS,
    BIRTH,
    COMMUNE,
    FAMILY,
    GIVEN,
    HOUSEHOLD,
    LOCALITY,
    MIDDLE,
    MOTHER,
    PHONE,
    SEX,
)
from etl.text.keys import address_key

_ONSETS = [("ngh", "ng"), ("gh", "g"), ("gi", "z"), ("d", "z"), ("r", "z"), ("tr", "ch"),
           ("x", "s"), ("ph", "f"), ("k", "c"), ("q", "c"), ("n", "l")]
_ONSET_RE = re.compile(r"^(ngh|gh|gi|tr|ph|ch|nh|ng|th|kh|[bcdghklmnpqrstvx])")


def phonetic_syllable(syllable: str) -> str:
    """A folded syllable reduced to what clerks confuse: "giang" and "dang", "xua" and "sua",
    "lan" and "nang" share a key."""
    s = syllable
    m = _ONSET_RE.match(s)
    onset, rest = (m.group(1), s[m.end():]) if m else ("", s)
    for old, new in _ONSETS:
        if onset == old:
            onset = new
            break
    rest = re.sub(r"ng$", "n", rest)
    rest = re.sub(r"nh$", "n", rest)
    rest = rest.replace("y", "i")
    return onset + rest


def phonetic(name_key: str | None) -> str | None:
    if not name_key:
        return None
    return " ".join(phonetic_syllable(p) for p in name_key.split())


class Columns:
    """The comparison inputs of a prepared frame: every text column as integer codes into one
    shared vocabulary (-1 where missing), so aligning millions of pairs moves integers and
    equality is integer equality — family and given names share the vocabulary, so crossed
    names compare too — and each fuzzy scorer runs once per distinct pair of strings."""

    def __init__(self, codes: dict[str, np.ndarray], numbers: dict[str, np.ndarray],
                 vocab: np.ndarray, lengths: np.ndarray) -> None:
        self.codes, self.numbers, self.vocab, self.lengths = codes, numbers, vocab, lengths
        # Per derived value (:func:`_mapped`): its id per vocabulary entry (-1: not yet worked
        # out) and the ids given so far; shared by every ``take`` of these columns.
        self.memo: dict[str, tuple[np.ndarray, dict]] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.codes[name] if name in self.codes else self.numbers[name]

    def take(self, index: np.ndarray) -> Columns:
        return self._like({k: v[index] for k, v in self.codes.items()},
                          {k: v[index] for k, v in self.numbers.items()})

    def copy(self) -> Columns:
        return self._like(dict(self.codes), dict(self.numbers))

    def _like(self, codes: dict[str, np.ndarray], numbers: dict[str, np.ndarray]) -> Columns:
        out = Columns(codes, numbers, self.vocab, self.lengths)
        out.memo = self.memo
        return out

    def scores(self, scorer, av: np.ndarray, bv: np.ndarray,  # type: ignore[no-untyped-def]
               where: np.ndarray) -> np.ndarray:
        """``scorer`` of the aligned texts at ``where``, computed once per distinct pair."""
        out = np.zeros(len(av))
        idx = np.flatnonzero(where)
        if not len(idx):
            return out
        pairs = av[idx].astype(np.int64) * len(self.vocab) + bv[idx]
        inverse, distinct = pd.factorize(pairs)
        values = process.cpdist(list(self.vocab[distinct // len(self.vocab)]),
                                list(self.vocab[distinct % len(self.vocab)]), scorer=scorer,
                                workers=1)
        out[idx] = np.asarray(values, dtype=float)[inverse]
        return out


def _present(*arrays: np.ndarray) -> np.ndarray:
    out = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        out &= a >= 0
    return out


def name_level(cols: Columns, av: np.ndarray, bv: np.ndarray, pav: np.ndarray, pbv: np.ndarray,
               mav: np.ndarray | None = None, mbv: np.ndarray | None = None) -> np.ndarray:
    """Level codes of :data:`etl.match.declare.GIVEN` (the family name has the same levels).

    ``mav``/``mbv`` are the names with their marks where the source wrote them: "Sáy" and "Sày"
    fold alike but are different names when both sources kept the tones.
    """
    c = GIVEN
    out = np.zeros(len(av), dtype=np.int8)
    present = _present(av, bv)
    exact = present & (av == bv)
    out[exact] = c.code("exact")
    if mav is not None and mbv is not None:
        out[exact & _present(mav, mbv) & (mav != mbv)] = c.code("tone-differs")
    rest = present & ~exact
    phon = rest & (pav == pbv)
    out[phon] = c.code("phonetic")
    rest &= ~phon
    jw = cols.scores(JaroWinkler.normalized_similarity, av, bv, rest)
    edits = cols.scores(DamerauLevenshtein.distance, av, bv, rest)
    out[rest] = c.code("different")
    # One keystroke ("Giagn", "ải" for "Hải"); two only in names long enough to survive them.
    idx = np.flatnonzero(rest & (edits <= 2))
    shortest = np.minimum(cols.lengths[av[idx]], cols.lengths[bv[idx]])
    ok = (shortest >= 1) & ((edits[idx] <= 1) | (shortest >= 6))
    out[idx[ok]] = c.code("typo")
    out[rest & (jw >= 0.88)] = c.code("similar")
    return out


def middle_level(cols: Columns, av: np.ndarray, bv: np.ndarray) -> np.ndarray:
    """Middle elements (Văn, Thị, A…) come and go between sources: one side empty is its own
    level, not a disagreement; "Vn" for "Văn" is a keystroke."""
    c = MIDDLE
    a_has, b_has = av >= 0, bv >= 0
    out = np.full(len(av), c.code("one-side"), dtype=np.int8)
    both = a_has & b_has
    out[both & (av == bv)] = c.code("exact")
    differ = both & (av != bv)
    out[differ] = c.code("different")
    edits = cols.scores(DamerauLevenshtein.distance, av, bv, differ)
    out[differ & (edits <= 1)] = c.code("typo")
    out[~a_has & ~b_has] = c.code("missing")
    return out


def _date_number(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    return (y * 10000 + m * 100 + d).astype(np.int64)


# What one keystroke can do to the value of a number: a digit replaced changes it by m·10^p,
# two neighbouring digits swapped by 9·m·10^p (m = 1…9) — necessary, not sufficient (20 and 19
# are 1 apart and differ in two digits), so it only picks the pairs whose digits are compared.
_KEYSTROKE_GAPS = np.unique([f * m * 10 ** p for f in (1, 9) for m in range(1, 10)
                             for p in range(8)])


def one_digit_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Eight-digit dates (yyyymmdd as integers) one keystroke apart: one digit replaced, or two
    neighbouring digits swapped ("1956" for "1965")."""
    out = np.zeros(len(a), dtype=bool)
    # Millions of namesakes' dates at a province's size; the digits of a few are compared.
    idx = np.flatnonzero(np.isin(np.abs(a - b), _KEYSTROKE_GAPS))
    if not len(idx):
        return out
    a, b = a[idx], b[idx]
    da = np.stack([(a // 10 ** k) % 10 for k in range(8)], axis=1)
    db = np.stack([(b // 10 ** k) % 10 for k in range(8)], axis=1)
    differ = da != db
    count = differ.sum(axis=1)
    neighbours = differ[:, :-1] & differ[:, 1:] & (da[:, :-1] == db[:, 1:]) & (
        da[:, 1:] == db[:, :-1])
    out[idx] = (count == 1) | ((count == 2) & neighbours.any(axis=1))
    return out


def birth_level(a: Columns, b: Columns) -> np.ndarray:
    """Dates compared at the coarser precision of the two."""
    c = BIRTH
    ya, yb = a["birth_year"], b["birth_year"]
    ma, mb = a["birth_month"], b["birth_month"]
    da, db = a["birth_day"], b["birth_day"]
    out = np.zeros(len(ya), dtype=np.int8)
    have = ~np.isnan(ya) & ~np.isnan(yb)
    same_year = have & (ya == yb)
    out[have & (np.abs(ya - yb) > 1)] = c.code("far")
    out[have & (np.abs(ya - yb) == 1)] = c.code("one-year")
    day_a, day_b = ~np.isnan(da), ~np.isnan(db)
    month_a, month_b = ~np.isnan(ma), ~np.isnan(mb)
    both_full = have & day_a & day_b & month_a & month_b
    # One mistyped digit of a full date that lands in another year ("1956" for "1965").
    other_year = np.flatnonzero(both_full & ~same_year)
    if len(other_year):
        typo = one_digit_apart(_date_number(ya[other_year], ma[other_year], da[other_year]),
                               _date_number(yb[other_year], mb[other_year], db[other_year]))
        out[other_year[typo]] = c.code("typo")
    full = same_year & day_a & day_b
    out[full] = c.code("same-year-other-day")
    out[full & (ma == db) & (da == mb) & (ma != mb)] = c.code("swapped")
    coarse = same_year & ~(day_a & day_b)
    out[coarse] = c.code("year-only")
    out[coarse & month_a & month_b & (ma == mb)] = c.code("same-month")
    out[full & (ma == mb) & (da == db)] = c.code("exact")
    return out


def equal_level(av: np.ndarray, bv: np.ndarray) -> np.ndarray:
    """missing / different / exact (the codes every two-level comparison shares)."""
    present = _present(av, bv)
    out = np.zeros(len(av), dtype=np.int8)
    out[present] = SEX.code("different")
    out[present & (av == bv)] = SEX.code("exact")
    return out


def _mapped(cols: Columns, codes: np.ndarray, name: str, fn) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``fn`` of each code's text as an integer (equal integers: equal values), computed once
    per vocabulary entry for the whole run, not once per block of pairs (``name``: which
    ``fn``, the key of the run's memo on ``cols``)."""
    ids, seen = cols.memo.setdefault(name, (np.full(len(cols.vocab), -1, dtype=np.int64), {}))
    todo = np.unique(codes[ids[codes] < 0])
    for code, text in zip(todo.tolist(), cols.vocab[todo].tolist(), strict=True):
        ids[code] = seen.setdefault(fn(text), len(seen))
    return ids[codes]


def fuzzy_equal_level(cols: Columns, av: np.ndarray, bv: np.ndarray,
                      where: np.ndarray | None = None) -> np.ndarray:
    """For household heads and mothers: equal where the two folded names are one name — alike
    when read aloud (:func:`phonetic`), or one keystroke apart with the given names (the last
    syllable) sounding alike. Not Jaro-Winkler: among a clan's heads "giang a su" and "giang
    van mua" share a long prefix and score 0.92, so every head of one clan would pass for one
    (a commune of 25,000 linked its namesakes through it). Only ``where`` given (else
    "missing")."""
    present = _present(av, bv) if where is None else _present(av, bv) & where
    out = np.zeros(len(av), dtype=np.int8)
    out[present] = HOUSEHOLD.code("different")
    idx = np.flatnonzero(present & (av != bv))
    same = present & (av == bv)
    if len(idx):
        both = np.concatenate([av[idx], bv[idx]])
        sound = _mapped(cols, both, "phonetic", phonetic)
        last = _mapped(cols, both, "last syllable",
                       lambda v: (len(v.split()), phonetic_syllable(v.split()[-1])))
        k = len(idx)
        alike = sound[:k] == sound[k:]
        near = ~alike & (last[:k] == last[k:])
        if near.any():
            mask = np.zeros(len(av), dtype=bool)
            mask[idx[near]] = True
            edits = cols.scores(DamerauLevenshtein.distance, av, bv, mask)
            alike[near] = edits[idx[near]] <= 1
        same[idx[alike]] = True
    out[same] = HOUSEHOLD.code("exact")
    return out


def address_level(cols: Columns, av: np.ndarray, bv: np.ndarray, commune: np.ndarray
                  ) -> np.ndarray:
    """Word-set similarity of the folded address text, only where no commune is known on both
    sides (``commune`` holds the commune levels)."""
    c = ADDRESS
    out = np.zeros(len(av), dtype=np.int8)
    use = _present(av, bv) & (commune == COMMUNE.code("missing"))
    ratio = cols.scores(fuzz.token_set_ratio, av, bv, use)
    out[use] = c.code("different")
    out[use & (ratio >= 60)] = c.code("similar")
    out[use & (ratio >= 80)] = c.code("close")
    out[use & (av == bv)] = c.code("exact")
    return out


# Folded administrative unit words and their abbreviations (xã, huyện, tỉnh, thị trấn, …).
_UNIT_WORDS = frozenset("xa x h huyen tinh t tp tx tt thi tran phuong p quan q thanh pho "
                        "viet nam vn".split())


@functools.cache
def _admin_words() -> dict[str, frozenset[str]]:
    """Per commune code, the folded words of its commune's, district's and province's names
    (before and after the 2025 reorganisation)."""
    words: dict[str, set[str]] = {}
    for row in reference.admin_units_2024():
        if row["commune_code"]:
            names = (row["commune"], row["district"], row["province"])
            words.setdefault(row["commune_code"], set()).update(
                w for n in names for w in (address_key(n) or "").split())
    for row in reference.admin_units_2025():
        words.setdefault(row["commune_code"], set()).update(
            w for n in (row["commune"], row["province"]) for w in (address_key(n) or "").split())
    return {code: frozenset(w) for code, w in words.items()}


def locality_key(address: object, commune_code: object) -> str | None:
    """The village, hamlet or street of a folded address: its words less the commune's,
    district's and province's names and the unit words ("ban suoi tut - x tam chung - h
    muong lat" in Tam Chung → "ban suoi tut"). None without a commune or a word left."""
    if not isinstance(address, str) or not isinstance(commune_code, str):
        return None
    admin = _admin_words().get(commune_code, frozenset())
    kept = [w for w in address.replace("-", " ").split() if w not in admin
            and w not in _UNIT_WORDS]
    return " ".join(kept) or None


def locality_level(cols: Columns, av: np.ndarray, bv: np.ndarray, commune: np.ndarray
                   ) -> np.ndarray:
    """Village or street, only where both records are in the same commune."""
    c = LOCALITY
    out = np.zeros(len(av), dtype=np.int8)
    use = _present(av, bv) & (commune == COMMUNE.code("exact"))
    ratio = cols.scores(fuzz.token_set_ratio, av, bv, use & (av != bv))
    out[use] = c.code("different")
    out[use & (ratio >= 85)] = c.code("similar")
    out[use & (av == bv)] = c.code("exact")
    return out


def swap_names(left: Columns, right: Columns, fuzzy_ok: np.ndarray) -> np.ndarray:
    """Pairs whose right record has family and given name the wrong way round ("Kranz Alex" /
    "Alex Kranz"), or only one of them: realigned in ``right`` in place; returns the mask.
    Crossed names that only resemble each other ("Mccarthy Timothy" / "Timothy Mccarrhy")
    count where ``fuzzy_ok`` (birth date and street address agree): among a commune's few
    family names, "Đỗ Thị Hạnh" and "Hạng Thị Dở" would otherwise pass for one person."""
    fam_l, giv_l = left["family_key"], left["given_key"]
    fam_r, giv_r = right["family_key"], right["given_key"]
    straight = (fam_l == fam_r) | (giv_l == giv_r)
    # Both names crossed, or one side gives a single name that is the other's family name.
    crossed = _present(fam_l, giv_r, giv_l, fam_r) & (fam_l == giv_r) & (giv_l == fam_r)
    crossed |= _present(fam_l, giv_r) & (fam_r < 0) & (fam_l == giv_r)
    crossed |= _present(giv_l, fam_r) & (fam_l < 0) & (giv_l == fam_r)
    swap = crossed & ~straight
    jw = JaroWinkler.normalized_similarity
    near = fuzzy_ok & _present(fam_l, giv_r, giv_l, fam_r) & ~straight & ~swap
    if near.any():
        cross = np.minimum(left.scores(jw, fam_l, giv_r, near), left.scores(jw, giv_l, fam_r, near))
        swap[near & (cross >= 0.88)] = True
    # One side gives a single name: it stands for whichever part of the other it resembles.
    single = _present(giv_r, fam_l, giv_l) & (fam_r < 0) & ~straight & ~swap
    if single.any():
        as_family = left.scores(jw, giv_r, fam_l, single)
        as_given = left.scores(jw, giv_r, giv_l, single)
        swap[single & (as_family > np.maximum(as_given, 0.8))] = True
    for fam_col, giv_col in (("family_key", "given_key"), ("family_ph", "given_ph"),
                             ("family_marked", "given_marked")):
        fam, giv = right.codes[fam_col].copy(), right.codes[giv_col].copy()
        fam[swap], giv[swap] = right.codes[giv_col][swap], right.codes[fam_col][swap]
        right.codes[fam_col], right.codes[giv_col] = fam, giv
    return swap


TEXT_COLUMNS = ["given_key", "given_ph", "given_marked", "family_key", "family_ph",
                "family_marked", "middle_key", "sex_any", "commune_code", "address_key",
                "locality", "head_other", "mother_key", "phone"]
NUMBER_COLUMNS = ["birth_year", "birth_month", "birth_day"]


def columns(frame: pd.DataFrame) -> Columns:
    """The comparison inputs of a prepared frame (see :class:`Columns`)."""
    n = len(frame)
    # Each column factorized on its own, then its distinct values into the shared vocabulary:
    # the same codes, in the same order of first appearance, as factorizing all the columns
    # stacked — without the stack and its hash table sized for fourteen million cells (a
    # fifth of a province's peak memory).
    local_codes: list[np.ndarray | None] = []
    local_values: list[np.ndarray] = []
    for c in TEXT_COLUMNS:
        codes, distinct = pd.factorize(frame[c].to_numpy(object) if c in frame
                                       else np.full(n, None, dtype=object), use_na_sentinel=True)
        local_codes.append(codes.astype(np.int32))  # (fourteen columns of a province's rows)
        local_values.append(np.asarray(distinct, dtype=object))
    to_vocab, vocab = pd.factorize(np.concatenate(local_values), use_na_sentinel=True)
    vocab = np.asarray(vocab, dtype=object)
    # Only non-empty texts are values: anything else (an empty text, a stray number) is missing.
    # Dropped from the vocabulary after factorizing — per distinct value, not per cell — which
    # leaves the codes of the rest in their order of first appearance, as if never there.
    text = np.fromiter((isinstance(v, str) and v != "" for v in vocab), dtype=bool,
                       count=len(vocab))
    renumber = np.where(text, np.cumsum(text) - 1, -1)
    vocab = vocab[text]
    lengths = np.fromiter((len(str(v)) for v in vocab), dtype=np.int64, count=len(vocab))
    coded, start = {}, 0
    for k, (c, distinct) in enumerate(zip(TEXT_COLUMNS, local_values, strict=True)):
        codes, local_codes[k] = local_codes[k], None  # each column's let go once renumbered
        local = renumber[to_vocab[start:start + len(distinct)]].astype(np.int32)
        start += len(distinct)
        coded[c] = (np.where(codes >= 0, local[np.maximum(codes, 0)], -1) if len(distinct)
                    else np.full(n, -1)).astype(np.int32, copy=False)
        del codes
    return Columns(coded, {c: frame[c].to_numpy(float) for c in NUMBER_COLUMNS}, vocab, lengths)


def take(cols: Columns, index: np.ndarray) -> Columns:
    return cols.take(index)


def compare(left: Columns, right: Columns) -> pd.DataFrame:
    """Level codes of aligned record pairs (element i of ``left`` with i of ``right``, both
    taken from one :class:`Columns`), one column per comparison of
    :data:`etl.match.declare.COMPARISONS`, and ``names_swapped``."""
    right = right.copy()
    lc, rc = left.codes, right.codes
    commune = equal_level(lc["commune_code"], rc["commune_code"])
    address = address_level(left, lc["address_key"], rc["address_key"], commune)
    birth = birth_level(left, right)
    swapped = swap_names(left, right, (birth == BIRTH.code("exact")) & np.isin(
        address, ADDRESS.codes("close", "exact")))
    return pd.DataFrame({
        GIVEN.name: name_level(left, lc["given_key"], rc["given_key"], lc["given_ph"],
                               rc["given_ph"], lc["given_marked"], rc["given_marked"]),
        FAMILY.name: name_level(left, lc["family_key"], rc["family_key"], lc["family_ph"],
                                rc["family_ph"], lc["family_marked"], rc["family_marked"]),
        MIDDLE.name: middle_level(left, lc["middle_key"], rc["middle_key"]),
        BIRTH.name: birth,
        SEX.name: equal_level(lc["sex_any"], rc["sex_any"]),
        COMMUNE.name: commune,
        ADDRESS.name: address,
        LOCALITY.name: locality_level(left, lc["locality"], rc["locality"], commune),
        # A household head's name says "one household" only within one commune: across a
        # province, "lo van bun" heads a household in many communes.
        HOUSEHOLD.name: fuzzy_equal_level(left, lc["head_other"], rc["head_other"],
                                          where=commune != COMMUNE.code("different")),
        MOTHER.name: fuzzy_equal_level(left, lc["mother_key"], rc["mother_key"]),
        PHONE.name: equal_level(lc["phone"], rc["phone"]),
        "names_swapped": swapped,
    })
