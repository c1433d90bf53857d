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


def _text(values: np.ndarray) -> np.ndarray:
    """Object array with every non-string (None, NaN) as None."""
    return np.array([v if isinstance(v, str) and v else None for v in values], dtype=object)


def name_level(av: np.ndarray, bv: np.ndarray, pav: np.ndarray, pbv: np.ndarray,
               mav: np.ndarray | None = None, mbv: np.ndarray | None = None) -> np.ndarray:
    """exact / phonetic / similar (Jaro-Winkler ≥ 0.88) / tone-differs / different / missing.

    ``mav``/``mbv`` are the names with their marks where the source wrote them: "Sáy" and "Sày"
    fold alike but are different names when both sources kept the tones. Arrays hold strings or
    None (see :func:`columns`).
    """
    n = len(av)
    out = np.zeros(n, dtype=np.int8)
    present = (av != None) & (bv != None)  # noqa: E711 - elementwise on object arrays
    exact = present & (av == bv)
    out[exact] = EXACT
    if mav is not None and mbv is not None:
        tone = exact & (mav != None) & (mbv != None) & (mav != mbv)  # noqa: E711
        out[tone] = TONE_DIFFERS
    rest = present & ~exact
    phon = rest & (pav == pbv)
    out[phon] = 4
    for i in np.flatnonzero(rest & ~phon):
        out[i] = 3 if JaroWinkler.normalized_similarity(av[i], bv[i]) >= 0.88 else DIFFERENT
    return out


def middle_level(av: np.ndarray, bv: np.ndarray) -> np.ndarray:
    """Middle elements (Văn, Thị, A…) come and go between sources: one side empty is its own
    level, not a disagreement."""
    a_has, b_has = av != None, bv != None  # noqa: E711
    out = np.full(len(av), 2, dtype=np.int8)  # one-side
    both = a_has & b_has
    out[both & (av == bv)] = 3
    out[both & (av != bv)] = 1
    out[~a_has & ~b_has] = 0
    return out


def birth_level(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> np.ndarray:
    """Dates compared at the coarser precision of the two."""
    ya, yb = a["birth_year"], b["birth_year"]
    ma, mb = a["birth_month"], b["birth_month"]
    da, db = a["birth_day"], b["birth_day"]
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


def equal_level(av: np.ndarray, bv: np.ndarray) -> np.ndarray:
    present = (av != None) & (bv != None)  # noqa: E711
    out = np.zeros(len(av), dtype=np.int8)
    out[present] = 1
    out[present & (av == bv)] = 2
    return out


def fuzzy_equal_level(av: np.ndarray, bv: np.ndarray) -> np.ndarray:
    """For household heads and mothers: equal when folded names agree or nearly (JW ≥ 0.9)."""
    present = (av != None) & (bv != None)  # noqa: E711
    out = np.zeros(len(av), dtype=np.int8)
    same = present & (av == bv)
    out[same] = 2
    for i in np.flatnonzero(present & ~same):
        out[i] = 2 if JaroWinkler.normalized_similarity(av[i], bv[i]) >= 0.9 else 1
    return out


COMPARISONS = {
    "given": NAME_LEVELS, "family": NAME_LEVELS, "middle": MIDDLE_LEVELS, "birth": BIRTH_LEVELS,
    "sex": SIMPLE_LEVELS, "commune": SIMPLE_LEVELS, "household": SIMPLE_LEVELS,
    "mother": SIMPLE_LEVELS, "phone": SIMPLE_LEVELS,
}
TEXT_COLUMNS = ["given_key", "given_ph", "given_marked", "family_key", "family_ph",
                "family_marked", "middle_key",
                "sex_any", "commune_code", "head_other", "mother_key", "phone"]
NUMBER_COLUMNS = ["birth_year", "birth_month", "birth_day"]


def columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The comparison inputs of a prepared frame as plain arrays (strings or None; floats)."""
    out = {c: _text(frame[c].to_numpy(object)) for c in TEXT_COLUMNS}
    out.update({c: frame[c].to_numpy(float) for c in NUMBER_COLUMNS})
    return out


def take(cols: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[index] for name, values in cols.items()}


def compare(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> pd.DataFrame:
    """Comparison levels of aligned record pairs (element i of ``left`` with i of ``right``)."""
    return pd.DataFrame({
        "given": name_level(left["given_key"], right["given_key"], left["given_ph"],
                            right["given_ph"], left["given_marked"], right["given_marked"]),
        "family": name_level(left["family_key"], right["family_key"], left["family_ph"],
                             right["family_ph"], left["family_marked"], right["family_marked"]),
        "middle": middle_level(left["middle_key"], right["middle_key"]),
        "birth": birth_level(left, right),
        "sex": equal_level(left["sex_any"], right["sex_any"]),
        "commune": equal_level(left["commune_code"], right["commune_code"]),
        "household": fuzzy_equal_level(left["head_other"], right["head_other"]),
        "mother": fuzzy_equal_level(left["mother_key"], right["mother_key"]),
        "phone": equal_level(left["phone"], right["phone"]),
    })
