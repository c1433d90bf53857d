"""Code lists applied to values: sex, ethnicity, administrative units from free text.

Resolution goes through folded aliases so "H'Mông", "HMông" and "Mèo" are one ethnicity and
"B. Pù Toong - X. Pù Nhi - H. Mường Lát" or "Xa Pu Nhi" is commune 14863.
"""

from __future__ import annotations

import functools
import json
import re

from etl import reference
from etl.text import fold
from etl.transform import places


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
def home_context() -> places.PlaceContext:
    """The districts of communes.csv, the communes this deployment serves (Mường Lát): read as
    the default context, so "Xa Pu Nhi" is Pù Nhi of Mường Lát (14863), not Pú Nhi of Điện Biên
    Đông, when nothing else in the text says which. Province-wide names are not biased."""
    return places.PlaceContext(district_codes=frozenset(r["district_code"]
                                                        for r in reference.communes()))


def resolve_commune(address: object) -> str | None:
    """Commune code from free address text or a bare commune code; ``None`` when no part names
    a commune unambiguously.

    The pre-2025 GSO code where one is known, else the post-2025 code (the two share one number
    space: a new commune reuses the code of one of the communes it absorbed). See
    :func:`etl.transform.places.resolve_place` for how text is read.
    """
    if address is None:
        return None
    text = str(address).strip().removesuffix(".0")
    if not text:
        return None
    if text.isdigit():
        place = places.resolve_place(commune_code=text)
    else:
        place = places.resolve_place(text, prefer=home_context())
    return place.commune_code or place.commune_code_2025


def commune_2025(code: str) -> str | None:
    """The post-1 July 2025 commune code for a pre-2025 code (crosswalk, default target of a
    split commune); a code that exists only as a post-2025 code is returned as is."""
    place = places.resolve_place(commune_code=code)
    if place.commune_code == code or place.commune_code_2025 == code:
        return place.commune_code_2025
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


# School and office words that precede a commune's name at the end of a title line.
_TITLE_UNIT = re.compile(r"(?:^|\s)(?:ubnd|uy ban nhan dan|cong an|tram y te|tyt|th ?& ?thcs|thcs|th|"
                         r"thpt|mn|mam non|tieu hoc|trung hoc co so|ptdtbt|ptdtnt)$")


def resolve_commune_in_title(text: str,
                             prefer: places.PlaceContext | None = None) -> str | None:
    """A commune named at the end of a title line ("TRƯỜNG PTDTBT TH&THCS PÙ NHI", "UBND XÃ
    TAM CHUNG"); ``None`` unless the last words name exactly one commune (in ``prefer``'s
    district or province, else the home district, when several share the name) and are preceded
    by a unit word (xã, phường, thị trấn) or a school/office word, or are the whole line."""
    words = re.sub(r"[^a-z0-9& ]", " ", fold(text)).split()
    context = prefer or home_context()
    for size in (4, 3, 2, 1):
        if len(words) < size:
            continue
        head = " ".join(words[:-size])
        name = " ".join(words[-size:])
        unit = re.search(r"(?:^|\s)(xa|phuong|thi tran|tt|dac khu)$", head)
        if head and not unit and not _TITLE_UNIT.search(head):
            continue
        prefix = unit.group(1) + " " if unit else ""
        place = places.resolve_place(prefix + name, prefer=context)
        code = place.commune_code or place.commune_code_2025
        if place.finding is None and place.method == "address" and code and (
                head or _alias_key(name) in _commune_names().get(code, ())):
            return code  # a whole line must be the name itself ("PHÒNG GD&ĐT MƯỜNG LÁT" is not)
    return None


def commune_in_title(lines: object) -> str | None:
    """The commune named by the first of a sheet's title lines that names one (``lines``: the
    staged ``sheet_title``, a JSON list of the title rows' cell texts)."""
    if lines is None:
        return None
    for text in json.loads(str(lines)):
        found = resolve_commune_in_title(text)
        if found:
            return found
    return None


@functools.cache
def _commune_names() -> dict[str, frozenset[str]]:
    """Folded names and aliases of every commune, old and new, by code."""
    names: dict[str, set[str]] = {}
    for row in [*reference.admin_units_2024(), *reference.admin_units_2025()]:
        keys = [row["commune"], *filter(None, row["aliases"].split("|"))]
        names.setdefault(row["commune_code"], set()).update(_alias_key(k) for k in keys)
    return {code: frozenset(keys) for code, keys in names.items()}
