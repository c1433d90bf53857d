"""Comparisons built for Vietnamese person records, each turned into a small integer level.

Names are compared part by part (family, middle, given) exactly, folded, phonetically (the
clerks' slips: s/x, ch/tr, d/gi/r, l/n, final n/ng) and by edit distance; birth dates by
precision (year-only agrees with any date of that year, day/month swaps, ±1 year); sex also as
implied by a personal ID number; commune; household head or mother; phone.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler

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


# Levels: higher is stronger agreement; 0 is always "missing" (no evidence either way).
NAME_LEVELS = ["missing", "different", "tone-differs", "similar", "phonetic", "exact"]
EXACT, TONE_DIFFERS, DIFFERENT = 5, 2, 1
BIRTH_LEVELS = ["missing", "far", "one-year", "same-year-other-day", "swapped", "year-only",
                "same-month", "exact"]
SIMPLE_LEVELS = ["missing", "different", "equal"]
MIDDLE_LEVELS = ["missing", "different", "one-side", "equal"]


def name_level(a: pd.Series, b: pd.Series, pa: pd.Series, pb: pd.Series,
               ma: pd.Series | None = None, mb: pd.Series | None = None) -> np.ndarray:
    """exact / phonetic / similar (Jaro-Winkler ≥ 0.88) / tone-differs / different / missing.

    ``ma``/``mb`` are the names with their marks where the source wrote them: "Sáy" and "Sày"
    fold alike but are different names when both sources kept the tones.
    """
    out = np.zeros(len(a), dtype=np.int8)
    av, bv, pav, pbv = a.to_numpy(object), b.to_numpy(object), pa.to_numpy(object), \
        pb.to_numpy(object)
    mav = ma.to_numpy(object) if ma is not None else np.full(len(av), None, dtype=object)
    mbv = mb.to_numpy(object) if mb is not None else np.full(len(av), None, dtype=object)
    for i in range(len(av)):
        x, y = av[i], bv[i]
        if not isinstance(x, str) or not isinstance(y, str) or not x or not y:
            continue
        if x == y:
            marked_a, marked_b = mav[i], mbv[i]
            both_marked = isinstance(marked_a, str) and isinstance(marked_b, str)
            out[i] = TONE_DIFFERS if both_marked and marked_a != marked_b else EXACT
        elif pav[i] == pbv[i]:
            out[i] = 4
        elif JaroWinkler.normalized_similarity(x, y) >= 0.88:
            out[i] = 3
        else:
            out[i] = DIFFERENT
    return out


def middle_level(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Middle elements (Văn, Thị, A…) come and go between sources: one side empty is its own
    level, not a disagreement."""
    av, bv = a.fillna("").to_numpy(object), b.fillna("").to_numpy(object)
    out = np.full(len(av), 2, dtype=np.int8)  # one-side
    both = (av != "") & (bv != "")
    out[both & (av == bv)] = 3
    out[both & (av != bv)] = 1
    out[(av == "") & (bv == "")] = 0
    return out


def birth_level(a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
    """Dates compared at the coarser precision of the two."""
    ya, yb = a["birth_year"].to_numpy(float), b["birth_year"].to_numpy(float)
    ma, mb = a["birth_month"].to_numpy(float), b["birth_month"].to_numpy(float)
    da, db = a["birth_day"].to_numpy(float), b["birth_day"].to_numpy(float)
    out = np.zeros(len(ya), dtype=np.int8)
    have = ~np.isnan(ya) & ~np.isnan(yb)
    same_year = have & (ya == yb)
    out[have & (np.abs(ya - yb) > 1)] = 1
    out[have & (np.abs(ya - yb) == 1)] = 2
    day_a, day_b = ~np.isnan(da), ~np.isnan(db)
    month_a, month_b = ~np.isnan(ma), ~np.isnan(mb)
    full = same_year & day_a & day_b
    out[full] = 3
    out[full & (ma == db) & (da == mb) & (ma != mb)] = 4
    coarse = same_year & ~(day_a & day_b)
    out[coarse] = 5
    out[coarse & month_a & month_b & (ma == mb)] = 6
    out[full & (ma == mb) & (da == db)] = 7
    return out


def equal_level(a: pd.Series, b: pd.Series) -> np.ndarray:
    av, bv = a.to_numpy(object), b.to_numpy(object)
    out = np.zeros(len(av), dtype=np.int8)
    for i in range(len(av)):
        if av[i] is None or bv[i] is None or av[i] != av[i] or bv[i] != bv[i] or \
                av[i] == "" or bv[i] == "":
            continue
        out[i] = 2 if av[i] == bv[i] else 1
    return out


def fuzzy_equal_level(a: pd.Series, b: pd.Series) -> np.ndarray:
    """For household heads and mothers: equal when folded names agree or nearly (JW ≥ 0.9)."""
    av, bv = a.to_numpy(object), b.to_numpy(object)
    out = np.zeros(len(av), dtype=np.int8)
    for i in range(len(av)):
        x, y = av[i], bv[i]
        if not x or not y or x != x or y != y:
            continue
        out[i] = 2 if x == y or JaroWinkler.normalized_similarity(x, y) >= 0.9 else 1
    return out


COMPARISONS = {
    "given": NAME_LEVELS, "family": NAME_LEVELS, "middle": MIDDLE_LEVELS, "birth": BIRTH_LEVELS,
    "sex": SIMPLE_LEVELS, "commune": SIMPLE_LEVELS, "household": SIMPLE_LEVELS,
    "mother": SIMPLE_LEVELS, "phone": SIMPLE_LEVELS,
}


def compare(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Comparison levels of aligned record pairs (row i of ``left`` with row i of ``right``)."""
    return pd.DataFrame({
        "given": name_level(left["given_key"], right["given_key"], left["given_ph"],
                            right["given_ph"], left["given_marked"], right["given_marked"]),
        "family": name_level(left["family_key"], right["family_key"], left["family_ph"],
                             right["family_ph"]),
        "middle": middle_level(left["middle_key"], right["middle_key"]),
        "birth": birth_level(left, right),
        "sex": equal_level(left["sex_any"], right["sex_any"]),
        "commune": equal_level(left["commune_code"], right["commune_code"]),
        "household": fuzzy_equal_level(left["head_other"], right["head_other"]),
        "mother": fuzzy_equal_level(left["mother_key"], right["mother_key"]),
        "phone": equal_level(left["phone"], right["phone"]),
    })
