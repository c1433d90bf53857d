"""Code lists applied to values: sex, ethnicity, administrative units from free text.

Resolution goes through folded aliases so "H'Mông", "HMông" and "Mèo" are one ethnicity and
"B. Pù Toong - X. Pù Nhi - H. Mường Lát" or "Xa Pu Nhi" is commune 14863.
"""

from __future__ import annotations

import functools
import re

from etl import reference
from etl.transform.text import fold

_ADDRESS_PREFIX = re.compile(
    r"^(?:xa|x|thi tran|tt|phuong|p|ban|b|thon|t|huyen|h|tinh|t)\s*[.:]?\s+", re.IGNORECASE
)
_ADDRESS_SPLIT = re.compile(r"\s*[-,;/]\s*")


def _alias_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


def normalize_sex(value: object) -> str | None:
    """M, F or U from 1/2/3, Nam/Nữ, M/F…; ``None`` when empty or unknown."""
    if value is None:
        return None
    text = fold(str(value)).strip().removesuffix(".0")
    if not text:
        return None
    return reference.sex_codes().get(text)


@functools.cache
def _ethnicity_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for row in reference.ethnicities():
        for alias in [row["name"], *filter(None, row["aliases"].split("|"))]:
            index[_alias_key(alias)] = row["code"]
    return index


def resolve_ethnicity(value: object, *, code_system: str = "gso") -> str | None:
    """GSO code (01 Kinh … 08 Mông) from a name, alias or a code in ``code_system``.

    ``code_system`` "population" reads the population-order numbering some systems use
    (Mường 04, Khmer 05) instead of GSO's.
    """
    if value is None:
        return None
    text = str(value).strip().removesuffix(".0")
    if not text:
        return None
    if text.isdigit():
        code = text.zfill(2)
        if code_system == "population":
            for row in reference.ethnicities():
                if row["population_order_code"] == code:
                    return row["code"]
            return None
        return code if any(r["code"] == code for r in reference.ethnicities()) else None
    key = _alias_key(re.sub(r"^(?:dan toc|dt)\s+", "", fold(text)))
    return _ethnicity_index().get(key)


@functools.cache
def _commune_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for row in reference.communes():
        for alias in [row["name"], row["name_2025"], *filter(None, row["aliases"].split("|"))]:
            index[_alias_key(alias)] = row["code"]
    return index


def resolve_commune(address: object) -> str | None:
    """Commune code from free address text; ``None`` when no part names a known commune.

    Parts are read right to left after the village (bản), because the district name "Mường Lát"
    is also a commune's name and appears to the right of the commune.
    """
    if address is None:
        return None
    text = fold(str(address))
    if not text:
        return None
    index = _commune_index()
    parts = [p for p in _ADDRESS_SPLIT.split(text) if p]
    candidates: list[str] = []
    for part in parts:
        is_district = bool(re.match(r"^(?:huyen|h)\s*[.:]?\s+", part))
        is_province = bool(re.match(r"^tinh\s+", part))
        stripped = _ADDRESS_PREFIX.sub("", part)
        if is_district or is_province:
            continue
        code = index.get(_alias_key(stripped))
        if code:
            candidates.append(code)
    if candidates:
        return candidates[0]
    if text.isdigit() and len(text) == 5:
        return text if any(r["code"] == text for r in reference.communes()) else None
    return None


def commune_2025(code: str) -> str | None:
    """The post-1 July 2025 commune code for a pre-2025 code (crosswalk)."""
    for row in reference.communes():
        if row["code"] == code:
            return row["code_2025"]
    return None


@functools.cache
def _value_set_index(name: str) -> dict[str, str]:
    sets = reference.value_sets()
    if name not in sets:
        raise KeyError(f"no value set {name!r}; known: {', '.join(sorted(sets))}")
    return {_value_key(spelling): code for code, spellings in sets[name].items()
            for spelling in [code, *spellings]}


def _value_key(text: str) -> str:
    """Like the alias key, but a sign is meaning here (Rh+ / Rh-)."""
    return re.sub(r"[^a-z0-9+\-]", "", fold(text))


def resolve_value(value_set: str, value: object) -> str | None:
    """The canonical code of ``value`` in an 831 value set ("Loại II" → "II"), or ``None``."""
    if value is None:
        return None
    return _value_set_index(value_set).get(_value_key(str(value)))


_TITLE_UNIT = re.compile(r"(?:xa|thi tran|tt|th ?& ?thcs|thcs|th|mn|mam non|tieu hoc|"
                         r"trung hoc co so|ptdtbt|ptdtnt)\s+([a-z ]+?)\s*$")


def resolve_commune_in_title(text: str) -> str | None:
    """A commune named at the end of a title line ("TRƯỜNG PTDTBT TH&THCS PÙ NHI", "UBND XÃ
    TAM CHUNG"); ``None`` unless the last words are exactly a known commune."""
    folded = fold(text)
    index = _commune_index()
    words = re.sub(r"[^a-z& ]", " ", folded).split()
    for size in (3, 2, 1):
        if len(words) >= size:
            code = index.get(_alias_key(" ".join(words[-size:])))
            if code and (len(words) == size or _TITLE_UNIT.search(" ".join(words))):
                return code
    return None
