"""Where a person lives: commune, district and province codes from address text and codes.

Vietnam's units changed on 1 July 2025 (districts abolished, 63 provinces → 34, ~10,000
communes → 3,321), and records carry both generations for years. Every resolution therefore
gives the pre-2025 GSO codes *and* the post-2025 ones, linked through the crosswalk shipped in
``etl/reference`` (built from the MIT package ``vietnamadminunits``).

Address text is read the way a clerk writes it: any order, with or without diacritics,
abbreviated unit words ("P.", "TX.", "TP"), streets and villages mixed in, one typo. The reading
is a small scorer, not a grammar: every name found is a candidate, and a commune wins by being
named as a commune ("Phường Ba Đình" beats a street "Trần Phú"), and by agreeing with the
district and province written beside it, the codes given with it, and lastly the file's own
place (:class:`PlaceContext`). A tie is reported as ``ambiguous-commune``, never guessed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from etl import reference
from etl.text import clean, fold

METHODS = ("code", "address", "code+address", "none")
FINDINGS = ("commune-code-mismatch", "ambiguous-commune", "unknown-commune")
PLACE_COLUMNS = ("commune_code", "commune_code_2025", "district_code", "province_code",
                 "province_code_2025", "method", "finding")


@dataclass(frozen=True)
class Place:
    """One resolved place. Codes are GSO codes as strings with their leading zeros."""

    commune_code: str | None  # pre-2025, 5 digits; None when only a post-2025 unit is known
    commune_code_2025: str | None  # post-2025 (through the crosswalk when the input was old)
    district_code: str | None  # pre-2025, 3 digits (districts no longer exist after 2025)
    province_code: str | None  # pre-2025, 2 digits
    province_code_2025: str | None
    method: str  # "code", "address", "code+address", "none"
    finding: str | None  # None, "commune-code-mismatch", "ambiguous-commune", "unknown-commune"


@dataclass(frozen=True)
class PlaceContext:
    """The file's own districts and provinces (pre-2025 codes, plus post-2025 province codes):
    a name shared by several communes ("Kim Tân") is read as the one in these units."""

    province_codes: frozenset[str] = frozenset()
    district_codes: frozenset[str] = frozenset()
    province_codes_2025: frozenset[str] = frozenset()


_NONE = Place(None, None, None, None, None, "none", None)

# --------------------------------------------------------------------------------------------
# Reference index

_COMMUNE_TYPES = {"Phường": "phuong", "Xã": "xa", "Thị trấn": "thitran", "Đặc khu": "dackhu"}
_DISTRICT_TYPES = {"Huyện": "huyen", "Quận": "quan", "Thị xã": "thixa", "Thành phố": "thanhpho"}


@dataclass
class _Index:
    old: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code → district, prov, type
    new: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → province 2025, type
    district_province: dict[str, str] = field(default_factory=dict)
    district_type: dict[str, str] = field(default_factory=dict)  # "huyen", "quan", …
    province_new: dict[str, str] = field(default_factory=dict)  # old province → new province
    old_provinces: frozenset[str] = frozenset()
    new_provinces: frozenset[str] = frozenset()
    city_provinces: set[tuple[str, str]] = field(default_factory=set)  # ("o"/"n", code) "Thành phố"
    cross: dict[str, list[str]] = field(default_factory=dict)  # old → new codes
    cross_default: dict[str, str] = field(default_factory=dict)
    cross_inverse: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    island_new: dict[str, str] = field(default_factory=dict)  # district without communes → new
    communes: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    numbered: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    districts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    numbered_districts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    provinces: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    prefixes: set[str] = field(default_factory=set)
    accented: dict[tuple[str, str], str] = field(default_factory=dict)  # entry → _accent_key
    # scopes for typo tolerance: keys of names inside one unit
    by_district: dict[str, list[tuple[str, tuple[str, str]]]] = field(
        default_factory=lambda: defaultdict(list))
    by_province: dict[tuple[str, str], list[tuple[str, tuple[str, str]]]] = field(
        default_factory=lambda: defaultdict(list))
    districts_by_province: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list))


_TOKEN = re.compile(r"[^\W\d_]+|\d+|[,;/|\-]")
_SEPARATORS = frozenset(",;/|-")


@functools.lru_cache(maxsize=65536)
def _fold_token(token: str) -> str:
    """Folded form of one token, with i/y unified at a syllable's end (Lý/Lí, Mỹ/Mĩ are one
    name, docs/domain.md#spelling-variants), "qui"/"quy" alike, and numbers without leading
    zeros ("Phường 03")."""
    if token.isdigit():
        return str(int(token))
    folded = fold(token)
    if len(folded) > 1 and folded.endswith("y") and folded[-2] not in "aeiouy":
        folded = folded[:-1] + "i"
    elif folded.endswith("qui"):
        folded = folded[:-1] + "y"
    return folded


def _accent_key(text: str) -> str:
    """Lower case, one tone style, letters and digits only: "Hoằng Đông" ≠ "Hoằng Đồng"."""
    return "".join(c for c in clean(text).lower() if c.isalnum())


def _tokens(text: str) -> list[tuple[str, str]]:
    """(lower-case NFC token, folded token) pairs; separators are kept as their own tokens."""
    raw = unicodedata.normalize("NFC", text).lower()
    return [(t, t if t in _SEPARATORS else _fold_token(t)) for t in _TOKEN.findall(raw)]


def _name_keys(ix: _Index, *names: str) -> list[str]:
    """Keys of names and, for names written with a dash ("Xuân Hương - Đà Lạt"), of their first
    part, which an address split on dashes shows alone. Records every key's token-boundary
    prefixes, so reading an address stops extending a name as soon as no name starts so."""
    keys: list[str] = []
    for name in names:
        for part in ([name, name.split(" - ")[0]] if " - " in name else [name]):
            key = ""
            for _, folded in _tokens(part):
                if folded not in _SEPARATORS:
                    key += folded
                    ix.prefixes.add(key)
            if key and key not in keys:
                keys.append(key)
    return keys


@functools.cache
def _index() -> _Index:
    ix = _Index()
    for row in reference.provinces().values():
        ix.province_new[row["code"]] = row["code_2025"]
        for key in _name_keys(ix, row["name"], *filter(None, row["aliases"].split("|"))):
            if ("o", row["code"]) not in ix.provinces[key]:
                ix.provinces[key].append(("o", row["code"]))
        for key in _name_keys(ix, row["name_2025"]):
            if ("n", row["code_2025"]) not in ix.provinces[key]:
                ix.provinces[key].append(("n", row["code_2025"]))
        if row["type"] == "Thành phố":
            ix.city_provinces.add(("o", row["code"]))
        if row["type_2025"] == "Thành phố":
            ix.city_provinces.add(("n", row["code_2025"]))
    ix.old_provinces = frozenset(ix.province_new)
    ix.new_provinces = frozenset(ix.province_new.values())

    seen_district: set[str] = set()
    for row in reference.admin_units_2024():
        district, province = row["district_code"], row["province_code"]
        ix.district_province[district] = province
        ix.district_type[district] = _DISTRICT_TYPES.get(row["district_type"], "")
        if district not in seen_district:
            seen_district.add(district)
            names = _name_keys(ix, row["district"], *filter(None, row["district_aliases"].split("|")))
            for key in names:
                (ix.numbered_districts if key.isdigit() else ix.districts)[key].append(district)
                ix.districts_by_province[province].append((key, district))
        code = row["commune_code"]
        if not code:
            continue
        ix.old[code] = (district, province, _COMMUNE_TYPES.get(row["commune_type"], ""))
        entry = ("o", code)
        ix.accented[entry] = _accent_key(row["commune"])
        for key in _name_keys(ix, row["commune"], *filter(None, row["aliases"].split("|"))):
            (ix.numbered if key.isdigit() else ix.communes)[key].append(entry)
            ix.by_district[district].append((key, entry))
            ix.by_province[("o", province)].append((key, entry))
    for row in reference.communes():  # curated Mường Lát aliases ("Mường Lí")
        for key in _name_keys(ix, *filter(None, row["aliases"].split("|"))):
            if ("o", row["code"]) not in ix.communes[key]:
                ix.communes[key].append(("o", row["code"]))
    for row in reference.admin_units_2025():
        code, province = row["commune_code"], row["province_code"]
        ix.new[code] = (province, _COMMUNE_TYPES.get(row["commune_type"], ""))
        entry = ("n", code)
        ix.accented[entry] = _accent_key(row["commune"])
        for key in _name_keys(ix, row["commune"], *filter(None, row["aliases"].split("|"))):
            (ix.numbered if key.isdigit() else ix.communes)[key].append(entry)
            ix.by_province[("n", province)].append((key, entry))
    for row in reference.admin_crosswalk_2025():
        old, new = row["old_commune_code"], row["new_commune_code"]
        if not old:
            ix.island_new[row["old_district_code"]] = new
            continue
        ix.cross.setdefault(old, []).append(new)
        ix.cross_inverse[new].add(old)
        if row["is_default"] == "1":
            ix.cross_default[old] = new
    for old, news in ix.cross.items():
        ix.cross_default.setdefault(old, news[0])
    return ix


# --------------------------------------------------------------------------------------------
# Reading the address text

# unit word (folded tokens) → (level, written form with diacritics or None for abbreviations)
# levels: c commune, d district, p province, dp district or province, pv province or village,
# s street/house/village (skipped)
_UNITS: dict[tuple[str, ...], tuple[str, tuple[str, ...] | None, str]] = {}


def _unit(level: str, folded: str, written: str | None, type_key: str = "") -> None:
    _UNITS[tuple(folded.split())] = (level, tuple(written.split()) if written else None, type_key)


for _f, _w, _t in (("xa", "xã", "xa"), ("phuong", "phường", "phuong"),
                   ("thi tran", "thị trấn", "thitran"), ("dac khu", "đặc khu", "dackhu")):
    _unit("c", _f, _w, _t)
for _f, _t in (("x", "xa"), ("p", "phuong"), ("tt", "thitran"), ("ttr", "thitran")):
    _unit("c", _f, None, _t)
for _f, _w, _t in (("huyen", "huyện", "huyen"), ("quan", "quận", "quan"),
                   ("thi xa", "thị xã", "thixa")):
    _unit("d", _f, _w, _t)
for _f, _t in (("h", "huyen"), ("q", "quan"), ("tx", "thixa")):
    _unit("d", _f, None, _t)
_unit("dp", "thanh pho", "thành phố", "thanhpho")
_unit("dp", "tp", None, "thanhpho")
_unit("p", "tinh", "tỉnh")
_unit("pv", "t", None)
for _f, _w in (("so", "số"), ("so nha", "số nhà"), ("duong", "đường"), ("pho", "phố"),
               ("ngo", "ngõ"), ("ngach", "ngách"), ("hem", "hẻm"), ("kiet", "kiệt"),
               ("to", "tổ"), ("to dan pho", "tổ dân phố"), ("khu pho", "khu phố"),
               ("khu", "khu"), ("thon", "thôn"), ("ban", "bản"), ("xom", "xóm"), ("ap", "ấp"),
               ("khom", "khóm"), ("cum", "cụm"), ("lang", "làng"), ("khu dan cu", "khu dân cư"),
               ("chung cu", "chung cư"), ("toa", "tòa"), ("lo", "lô"), ("quoc lo", "quốc lộ"),
               ("tinh lo", "tỉnh lộ"), ("dia chi", "địa chỉ"), ("viet nam", "việt nam")):
    _unit("s", _f, _w)
for _f in ("b", "sn", "kp", "tdp", "kdc", "ktt", "ql", "tl", "dc", "vn", "d"):
    _unit("s", _f, None)
_UNIT_LENGTHS = sorted({len(k) for k in _UNITS}, reverse=True)
_LEVEL_TYPE = {"c": "c", "d": "d", "dp": "dp", "p": "p", "pv": "p"}


@dataclass
class _Mention:
    order: int
    typed: str | None  # level of the unit word before the name, None when untyped
    type_key: str  # "phuong", "xa", … when the unit word says which commune type
    communes: tuple[tuple[str, str], ...] = ()
    districts: tuple[str, ...] = ()
    provinces: tuple[tuple[str, str], ...] = ()
    accented: str = ""  # the name as written, diacritics kept (see _accent_key)
    words: tuple[tuple[str, str], ...] = ()  # (raw, folded) tokens of the name


@dataclass
class _Reading:
    mentions: list[_Mention]
    leftovers: list[tuple[tuple[tuple[str, str], ...], str | None]]  # unmatched (raw, folded)
    marked: bool = False  # the text has diacritics, so they can tell namesakes apart


def _unit_at(tokens: list[tuple[str, str]], i: int, end: int,
             marked: bool) -> tuple[str, int, str] | None:
    """The unit word starting at token i: (level, length, commune type key)."""
    for size in _UNIT_LENGTHS:
        if i + size > end:
            continue
        found = _UNITS.get(tuple(f for _, f in tokens[i:i + size]))
        if found is None:
            continue
        level, written, type_key = found
        raws = tuple(r for r, _ in tokens[i:i + size])
        if written is None:
            if not raws[0].isascii():
                continue
        elif marked and raws != written and any(r.isascii() for r in raws):
            # text with diacritics writes "xã", so a bare "xa" there is a name ("Phúc Xá" folded)
            continue
        elif raws != written and not all(r.isascii() for r in raws):
            continue  # "xá" is not "xã"
        return level, size, type_key
    return None


def _admin_unit_at(tokens: list[tuple[str, str]], i: int, end: int, marked: bool) -> bool:
    unit = _unit_at(tokens, i, end, marked)
    return unit is not None and unit[0] != "s"


def _longest_name(tokens: list[tuple[str, str]], i: int, end: int,
                  tables: tuple[dict, ...]) -> tuple[int, str] | None:
    """(end token, key) of the longest known name starting at token i, in any of ``tables``."""
    prefixes = _index().prefixes
    key = ""
    best = None
    for j in range(i, end):
        key += tokens[j][1]
        if key not in prefixes:
            break
        if any(key in table for table in tables):
            best = (j + 1, key)
    return best


def _tables_for(level: str) -> tuple[dict, ...]:
    ix = _index()
    return {
        "c": (ix.communes, ix.numbered), "d": (ix.districts, ix.numbered_districts),
        "dp": (ix.districts, ix.numbered_districts, ix.provinces), "p": (ix.provinces,),
    }[level]


def _mention(order: int, typed: str | None, type_key: str, key: str,
             words: list[tuple[str, str]]) -> _Mention:
    ix = _index()
    level = _LEVEL_TYPE.get(typed or "", "")
    communes = ix.communes.get(key, []) if level in ("c", "") else []
    if level == "c":
        communes = communes + ix.numbered.get(key, [])
    districts = ix.districts.get(key, []) if level in ("d", "dp", "") else []
    if level in ("d", "dp"):
        districts = districts + ix.numbered_districts.get(key, [])
    provinces = ix.provinces.get(key, []) if level in ("p", "dp", "") else []
    if typed == "dp":  # "Thành phố X" as a province only for the centrally-run cities
        provinces = [p for p in provinces if p in ix.city_provinces]
    return _Mention(order, typed, type_key, tuple(communes), tuple(districts), tuple(provinces),
                    _accent_key(" ".join(r for r, _ in words)), tuple(words))


@functools.lru_cache(maxsize=200_000)
def _read(text: str) -> _Reading:
    """Mentions of administrative names in reading order (see the module docstring)."""
    tokens = _tokens(text)
    reader = _Reader(tokens)
    start = 0
    for i, (_, f) in enumerate(tokens + [("", ",")]):
        if f in _SEPARATORS:
            if i > start:
                reader.segment(start, i)
            start = i + 1
    return _Reading(reader.mentions, reader.leftovers, reader.marked)


class _Reader:
    """One pass over a text's tokens, segment by segment (between commas and dashes): the names
    it mentions, and the runs of words left over (kept, with the unit word that typed them, for
    typo tolerance)."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.marked = any(not r.isascii() for r, f in tokens if f not in _SEPARATORS)
        self.mentions: list[_Mention] = []
        self.leftovers: list[tuple[tuple[tuple[str, str], ...], str | None]] = []
        self.run: list[tuple[str, str]] = []
        self.any_name = _tables_for("dp") + (_index().communes,)

    def flush(self, typed: str | None = None) -> None:
        if self.run:
            self.leftovers.append((tuple(self.run), typed))
            self.run.clear()

    def mention(self, level: str | None, type_key: str, key: str, start: int, stop: int) -> None:
        self.mentions.append(_mention(len(self.mentions), level, type_key, key,
                                      self.tokens[start:stop]))

    def segment(self, i: int, end: int) -> None:
        tokens = self.tokens
        while i < end:
            unit = _unit_at(tokens, i, end, self.marked)
            if unit and unit[0] != "s":
                after = self._after_unit(i, end, unit)
                if after is not None:
                    i = after
                    continue
            name = _longest_name(tokens, i, end, self.any_name)
            if unit and unit[0] in ("s", "pv") and not (name and name[0] - i > unit[1]):
                self.flush()
                i = self._past_street_or_village(i + unit[1] + 1, end)
                continue
            if name:
                self.flush()
                self.mention(None, "", name[1], i, name[0])
                i = name[0]
                continue
            if not tokens[i][1].isdigit():
                self.run.append(tokens[i])
            i += 1
        self.flush()

    def _after_unit(self, i: int, end: int, unit: tuple[str, int, str]) -> int | None:
        """Read the name a unit word (xã, huyện, tỉnh…) at token ``i`` introduces; the token to
        go on from, or ``None`` when the words are to be read as if it were not there."""
        tokens, marked = self.tokens, self.marked
        level, size, type_key = unit
        name = _longest_name(tokens, i + size, end, _tables_for("p" if level == "pv" else level))
        if name:
            self.flush()
            j = name[0]
            if j < end and not _admin_unit_at(tokens, j, end, marked) and not (
                    _longest_name(tokens, j, end, self.any_name)):
                # "Phường Ba Dinhh": "Ba" is a commune somewhere, but the unit word names
                # "Ba Dinhh"; keep the whole run for typo tolerance
                while j < end and not _admin_unit_at(tokens, j, end, marked):
                    j += 1
                self.mention(None, "", name[1], i + size, name[0])
                self.leftovers.append((tuple(tokens[i + size:j]), _LEVEL_TYPE[level]))
                return j
            self.mention(level, type_key, name[1], i + size, name[0])
            return name[0]
        if level == "pv":
            # "T." is tỉnh, thôn or (in some exports) thị trấn: a known name after it is read
            # untyped, anything else as a village
            name = _longest_name(tokens, i + size, end, self.any_name)
            if not name:
                return None
            self.flush()
            self.mention(None, "", name[1], i + size, name[0])
            return name[0]
        self.flush()  # keep the words for typo tolerance, typed
        j = i + size
        while j < end and not _admin_unit_at(tokens, j, end, marked):
            self.run.append(tokens[j])
            j += 1
        self.flush(_LEVEL_TYPE[level])
        return j

    def _past_street_or_village(self, j: int, end: int) -> int:
        """Skip a street's or village's words up to the next unit word, or up to a known name of
        two words or more that starts after the village's own name."""
        while j < end:
            if _unit_at(self.tokens, j, end, self.marked):
                break
            later = _longest_name(self.tokens, j, end, self.any_name)
            if later and later[0] - j >= 2:
                break
            j += 1
        return j


# --------------------------------------------------------------------------------------------
# Deciding

@dataclass(frozen=True)
class _Hints:
    """Codes given beside the text (from the same record)."""

    district: str | None = None
    provinces: frozenset[tuple[str, str]] = frozenset()  # ("o"/"n", code)


@dataclass(frozen=True)
class _Found:
    entry: tuple[str, str] | None  # ("o"/"n", commune code) or None
    district: str | None
    province: str | None  # pre-2025
    province_2025: str | None
    ambiguous: bool = False
    fuzzy: bool = False


_W_TYPED, _W_UNTYPED, _W_TYPE_AGREES = 10.0, 5.0, 1.0
_W_SUPPORT_TYPED, _W_SUPPORT_UNTYPED, _W_INDIRECT = 4.0, 3.0, 1.0
_W_SAME_SPELLING = 0.25
_W_HINT, _W_CONTEXT_DISTRICT, _W_CONTEXT_PROVINCE, _W_ADJACENT = 2.0, 1.0, 0.5, 0.5


def _entry_province(entry: tuple[str, str]) -> tuple[str | None, str]:
    """(pre-2025 province or None, post-2025 province) of a commune entry."""
    ix = _index()
    if entry[0] == "o":
        district, province, _ = ix.old[entry[1]]
        return province, ix.province_new[province]
    return None, ix.new[entry[1]][0]


def _province_support(entry: tuple[str, str], provinces: Iterable[tuple[str, str]]) -> float:
    """1 when a named province is the commune's own, 1 - indirect when only its 2025 successor
    matches ("Sóc Trăng" for a commune of the new Cần Thơ), 0 otherwise."""
    old, new = _entry_province(entry)
    ix = _index()
    best = 0.0
    for system, code in provinces:
        if (system == "o" and code == old) or (system == "n" and code == new and old is None):
            return 1.0
        if (system == "n" and code == new) or (system == "o" and ix.province_new[code] == new):
            best = max(best, 1.0 - _W_INDIRECT / _W_SUPPORT_TYPED)
    return best


def _score(entry: tuple[str, str], m: _Mention, reading: _Reading, hints: _Hints,
           prefer: PlaceContext | None) -> float:
    ix = _index()
    score = _W_TYPED if m.typed == "c" else _W_UNTYPED
    kind = ix.old[entry[1]][2] if entry[0] == "o" else ix.new[entry[1]][1]
    if m.type_key and m.type_key == kind:
        score += _W_TYPE_AGREES
    if reading.marked and m.accented == ix.accented[entry]:
        score += _W_SAME_SPELLING
    district = ix.old[entry[1]][0] if entry[0] == "o" else None
    # the best pair of other mentions naming its district and its province (one role each)
    by_district: list[tuple[float, int]] = []
    by_province: list[tuple[float, int]] = []
    for other in reading.mentions:
        if other is m:
            continue
        if district is not None and district in other.districts:
            d_score = _W_SUPPORT_TYPED if other.typed in ("d", "dp") else _W_SUPPORT_UNTYPED
            if other.type_key and other.type_key == ix.district_type[district]:
                d_score += _W_TYPE_AGREES / 2
            if abs(other.order - m.order) == 1:
                d_score += _W_ADJACENT
            by_district.append((d_score, other.order))
        if other.provinces:
            support = _province_support(entry, other.provinces)
            if support:
                by_province.append((support * (_W_SUPPORT_TYPED if other.typed in (
                    "p", "dp", "pv") else _W_SUPPORT_UNTYPED), other.order))
    best = max((p + (_W_ADJACENT if abs(o - m.order) == 1 else 0.0) for p, o in by_province),
               default=0.0)
    best = max(best, max((d for d, _ in by_district), default=0.0))
    for d, od in sorted(by_district, reverse=True)[:2]:
        for p, op in sorted(by_province, reverse=True)[:2]:
            if od != op:
                best = max(best, d + p)
    score += best
    if hints.district and hints.district == district:
        score += _W_HINT
    if hints.provinces and _province_support(entry, hints.provinces) == 1.0:
        score += _W_HINT
    if prefer is not None:
        old_province, new_province = _entry_province(entry)
        if district in prefer.district_codes:
            score += _W_CONTEXT_DISTRICT
        if old_province in prefer.province_codes or new_province in prefer.province_codes_2025:
            score += _W_CONTEXT_PROVINCE
    return score


def _merge(entries: set[tuple[str, str]]) -> tuple[str, str] | None:
    """One place from tied entries when they are the same unit in both generations (old 14863
    and new 14863); ``None`` when they are really different communes."""
    ix = _index()
    olds = [e for e in entries if e[0] == "o"]
    news = [e for e in entries if e[0] == "n"]
    if len(olds) == 1:
        targets = ix.cross.get(olds[0][1], [])
        return olds[0] if all(n[1] in targets for n in news) else None
    if not olds and len(news) == 1:
        return news[0]
    return None


def _found(entry: tuple[str, str], fuzzy: bool = False) -> _Found:
    ix = _index()
    if entry[0] == "o":
        district, province, _ = ix.old[entry[1]]
        new = ix.cross_default.get(entry[1])
        return _Found(entry, district, province,
                      ix.new[new][0] if new in ix.new else ix.province_new[province], fuzzy=fuzzy)
    new_province = ix.new[entry[1]][0]
    olds = ix.cross_inverse.get(entry[1], set())
    districts = {ix.old[o][0] for o in olds}
    provinces = {ix.old[o][1] for o in olds}
    return _Found(entry, districts.pop() if len(districts) == 1 else None,
                  provinces.pop() if len(provinces) == 1 else None, new_province, fuzzy=fuzzy)


def _decide(reading: _Reading, hints: _Hints, prefer: PlaceContext | None) -> _Found:
    named = _upper_levels(reading, _Hints(), None)  # what the text itself says
    scores: dict[tuple[str, str], float] = {}
    outside = 0
    for m in reading.mentions:
        # what the rest of the text says ("Ba Đình" alone is not in Quận Ba Đình by itself)
        around = _upper_levels(reading, _Hints(), None, skip=m) if m.communes else named
        for entry in m.communes:
            if not _within(entry, *around):  # a namesake elsewhere: the text says no
                outside += 1
                continue
            s = _score(entry, m, reading, hints, prefer)
            if s > scores.get(entry, -1.0):
                scores[entry] = s
    typed_exact = any(m.typed == "c" and set(m.communes) & set(scores) for m in reading.mentions)
    if not typed_exact and (any(typed == "c" for _, typed in reading.leftovers)
                            or any(m.typed == "c" for m in reading.mentions)):
        # a commune named with its unit word but not found: a typo beats an untyped namesake
        upper = named if any(named) else _upper_levels(reading, hints, prefer)
        fuzzy = _fuzzy(reading, *upper, typed_only=True)
        if fuzzy is not None:
            return _found(fuzzy, fuzzy=True)
        # The commune the text names with its unit word is unreadable: a street or village that
        # happens to share another commune's name ("Số 127 Lam Sơn, Phường Thiệu Giương") must
        # not stand in for it.
        scores = {e: s for e, s in scores.items()
                  if any(e in m.communes and m.typed == "c" for m in reading.mentions)}
        if not scores:
            return _Found(None, *upper)
    if scores:
        top = max(scores.values())
        tied = {e for e, s in scores.items() if s >= top - 1e-9}
        entry = _merge(tied)
        if entry is None:
            district, province, province_2025 = named if any(named) else _upper_levels(
                reading, hints, prefer)
            return _Found(None, district, province, province_2025, ambiguous=True)
        if entry[0] == "o" and any(e[0] == "n" for e in tied):
            found = _found(entry)
            new = next(e[1] for e in tied if e[0] == "n")
            return _Found(entry, found.district, found.province, _index().new[new][0])
        return _found(entry)
    district, province, province_2025 = named if any(named) else _upper_levels(
        reading, hints, prefer)
    if outside or any(reading.leftovers):
        fuzzy = _fuzzy(reading, district, province, province_2025)
        if fuzzy is not None:
            return _found(fuzzy, fuzzy=True)
    return _Found(None, district, province, province_2025)


def _within(entry: tuple[str, str], district: str | None, province: str | None,
            province_2025: str | None) -> bool:
    """Whether a commune lies in the district and province the text names (when it names one)."""
    ix = _index()
    if entry[0] == "o":
        own_district, own_province, _ = ix.old[entry[1]]
        return ((district is None or district == own_district)
                and (province is None or province == own_province)
                and (province_2025 is None or province_2025 == ix.province_new[own_province]))
    if district is not None and district not in {
            ix.old[o][0] for o in ix.cross_inverse.get(entry[1], ())}:
        return False
    return province_2025 is None or province_2025 == ix.new[entry[1]][0]


def _upper_levels(reading: _Reading, hints: _Hints, prefer: PlaceContext | None,
                  skip: _Mention | None = None) -> tuple[str | None, str | None, str | None]:
    """District and province the text names: (district, province, province 2025), each None
    when not named or not one. A district counts more when another mention names its province;
    a lone untyped "Thanh Hóa" is read as the province, not as the city of the same name."""
    ix = _index()
    mentions = [m for m in reading.mentions if m is not skip]
    scores: dict[str, float] = {}
    for m in mentions:
        provinces = {p for o in mentions if o is not m for p in o.provinces}
        provinces |= hints.provinces
        if not m.typed and m.provinces and not provinces:
            continue
        for district in m.districts:
            s = _W_SUPPORT_TYPED if m.typed in ("d", "dp") else _W_SUPPORT_UNTYPED
            if m.type_key and m.type_key == ix.district_type[district]:
                s += _W_TYPE_AGREES / 2
            province = ix.district_province[district]
            if any(p == ("o", province) or (p[0] == "n" and ix.province_new[province] == p[1])
                   for p in provinces):
                s += 1.0
            elif provinces and m.typed is None:
                continue  # "Ba Đình, Thanh Hóa": not Quận Ba Đình of Hà Nội
            if prefer is not None and district in prefer.district_codes:
                s += _W_CONTEXT_DISTRICT
            scores[district] = max(scores.get(district, 0.0), s)
    if hints.district and hints.district in ix.district_province:
        scores[hints.district] = scores.get(hints.district, 0.0) + _W_HINT
    if scores:
        top = max(scores.values())
        best = [d for d, s in scores.items() if s >= top - 1e-9]
        if len(best) == 1:
            province = ix.district_province[best[0]]
            return best[0], province, ix.province_new[province]
    named = {p for m in mentions for p in m.provinces} | hints.provinces
    olds = {p[1] for p in named if p[0] == "o"}
    news = {p[1] for p in named if p[0] == "n"} | {ix.province_new[p] for p in olds}
    if len(olds) == 1 and len(news) == 1:
        old = olds.pop()
        return None, old, ix.province_new[old]
    if len(news) == 1:
        return None, None, news.pop()
    return None, None, None


def _fuzzy(reading: _Reading, district: str | None, province: str | None,
           province_2025: str | None, typed_only: bool = False) -> tuple[str, str] | None:
    """One edit in a commune name of five letters or more, only when exactly one commune of the
    resolved district (else province) is that close: a typo never picks among namesakes."""
    ix = _index()
    if district is not None:
        scope = ix.by_district.get(district, [])
    elif province is not None:
        scope = ix.by_province.get(("o", province), []) + ix.by_province.get(
            ("n", ix.province_new[province]), [])
    elif province_2025 is not None:
        scope = ix.by_province.get(("n", province_2025), [])
    else:
        return None
    if not scope:
        return None
    keys = [k for k, _ in scope]
    # a commune named with its unit word but found only elsewhere ("Xã Trung Hải" in a district
    # that has Trung Chải) is a typo candidate too
    runs = reading.leftovers + [(m.words, "c") for m in reading.mentions if m.typed == "c"]
    for want_typed in (True,) if typed_only else (True, False):
        hits: dict[tuple[str, str], int] = {}
        for run, typed in runs:
            if (typed == "c") != want_typed or typed not in ("c", None):
                continue
            for i in range(len(run)):
                query = ""
                for j in range(i, min(len(run), i + 5)):
                    query += run[j][1]
                    if len(query) < 4:
                        continue
                    written = _accent_key(" ".join(r for r, _ in run[i:j + 1]))
                    for _, _, pos in process.extract(query, keys, scorer=Levenshtein.distance,
                                                     score_cutoff=1, limit=None):
                        entry = scope[pos][1]
                        if len(keys[pos]) < 5:
                            continue
                        # with diacritics written, "gạn" is nearer "Vạn" than "Tân" or "An"
                        distance = Levenshtein.distance(written, ix.accented[entry]) if (
                            reading.marked) else 0
                        hits[entry] = min(hits.get(entry, distance), distance)
        if hits:
            nearest = min(hits.values())
            return _merge({e for e, d in hits.items() if d == nearest})
        # The clerks' phonetic slips (tr/ch, gi/d/r, s/x, l/n, final n/ng/nh) can be two edits
        # ("Chường Thi" for Trường Thi): equal once both sides are spelt by sound, and only one
        # commune of the scope sounds so.
        sounds = [_sound(k) for k in keys]
        heard: set[tuple[str, str]] = set()
        for run, typed in runs:
            if (typed == "c") != want_typed or typed not in ("c", None):
                continue
            for i in range(len(run)):
                for j in range(i + 1, min(len(run), i + 5) + 1):
                    query = "".join(r[1] for r in run[i:j])
                    if len(query) >= 5:
                        heard |= {scope[pos][1] for pos, k in enumerate(sounds)
                                  if k == _sound(query)}
        if heard:
            return _merge(heard)
    return None


_SOUNDS = (("ngh", "ng"), ("tr", "ch"), ("gi", "d"), ("r", "d"), ("s", "x"), ("l", "n"),
           ("nh", "n"), ("ng", "n"), ("y", "i"))


@functools.lru_cache(maxsize=65536)
def _sound(key: str) -> str:
    """A folded name spelt by sound, for the slips clerks make
    (docs/domain.md#spelling-variants)."""
    for written, heard in _SOUNDS:
        key = key.replace(written, heard)
    return key


# --------------------------------------------------------------------------------------------
# Codes

def _digits(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return text if text.isdigit() else None


def _province_hint(value: object) -> frozenset[tuple[str, str]]:
    ix = _index()
    text = _digits(value)
    if not text or len(text) > 3 or (len(text) == 3 and text[0] != "0"):
        return frozenset()
    code = text[-2:].zfill(2)
    out = set()
    if code in ix.old_provinces:
        out.add(("o", code))
    if code in ix.new_provinces:
        out.add(("n", code))
    return frozenset(out)


def _district_hint(value: object) -> str | None:
    text = _digits(value)
    if not text or len(text) > 3:
        return None
    code = text.zfill(3)
    return code if code in _index().district_province else None


def _code_meaning(value: object, hints: _Hints) -> tuple[list[tuple[str, str]], bool]:
    """Commune entries a code may mean, best first, and whether the choice is certain.

    Old and new codes share one number space: a new commune reuses the code of one of the old
    communes it absorbed, so "14863" is Pù Nhi before and after. The province or district code
    given with it, or existence in only one table, says which is meant.
    """
    ix = _index()
    text = _digits(value)
    if not text or len(text) > 5:
        return [], True
    padded = len(text) < 5
    code = text.zfill(5)
    scored: list[tuple[float, tuple[str, str]]] = []
    for entry in (("o", code), ("n", code)):
        if (entry[0] == "o" and code not in ix.old) or (entry[0] == "n" and code not in ix.new):
            continue
        s = 0.0
        if hints.provinces:
            support = _province_support(entry, hints.provinces)
            if not support:
                continue
            s += support
        if hints.district:
            if entry[0] == "o" and ix.old[code][0] != hints.district:
                continue
            if entry[0] == "n" and hints.district not in {
                    ix.old[o][0] for o in ix.cross_inverse.get(code, ())}:
                continue
            s += 1.0
        if padded and not (hints.provinces or hints.district):
            continue  # "4" is only 00004 when a province or district code agrees
        scored.append((s, entry))
    scored.sort(key=lambda t: (-t[0], t[1][0] != "o"))
    entries = [e for _, e in scored]
    if len(entries) == 2 and scored[0][0] == scored[1][0]:
        merged = _merge(set(entries))
        return entries, merged is not None
    return entries, True


# --------------------------------------------------------------------------------------------
# Public API

_SPLIT = re.compile(r"[,;/|\-]")
# how a house number or street part starts (lower case; a digit is checked separately)
_STREET_PREFIXES = ("số ", "so ", "sn ", "số nhà", "đường ", "duong ", "đ. ", "ngõ ", "ngo ",
                    "ngách ", "ngach ", "hẻm ", "hem ", "kiệt ", "kiet ", "lô ", "lo ", "phố ",
                    "pho ")
_COUNTRY = frozenset({"việt nam", "viet nam", "vietnam", "vn"})
_FIRST_UNIT = re.compile(r"(?:^|\s)(?:phường|phuong|xã|xa|thị trấn|thi tran|đặc khu|"
                         r"(?:p|x|tt)\.|(?:p|x|tt)\s)")


@functools.lru_cache(maxsize=131072)  # permanent and current address are mostly one text
def address_tail(text: str) -> str:
    """The administrative end of an address, lower case NFC: the last four separated parts
    once the country and the street/house parts are dropped; for text without
    separators, from the first commune unit word on. The cache key of the address reading: a
    city's million street addresses have a few thousand tails."""
    t = text.lower() if text.isascii() else unicodedata.normalize("NFC", text).lower()
    kept: list[str] = []
    last = ""
    # from the end: the administrative parts come last, and four are enough (a dash also
    # splits "Bà Rịa - Vũng Tàu" and "Văn Miếu - Quốc Tử Giám")
    for part in reversed(_SPLIT.split(t)):
        part = part.strip()
        if not part or (not kept and part in _COUNTRY):
            continue
        last = last or part
        if part[0].isdigit() or part.startswith(_STREET_PREFIXES):
            # a house number or street, skipped by the reading anyway; but "số 12 lê lợi
            # phường ba đình" has no comma before the ward
            m = _FIRST_UNIT.search(part)
            if m is None:
                continue
            part = part[m.start():].strip()
        kept.append(part)
        if len(kept) == 4:
            break
    if not kept:
        return last
    if len(kept) == 1:
        m = _FIRST_UNIT.search(kept[0])
        if m and m.start() > 0:
            return kept[0][m.start():].strip()
        return kept[0]
    return ", ".join(reversed(kept))


def _from_text(text: str, hints: _Hints, prefer: PlaceContext | None) -> _Found:
    tail = address_tail(text)
    found = _decide(_read(tail), hints, prefer)
    if found.entry is None:
        full = unicodedata.normalize("NFC", text).lower()
        if full != tail:
            again = _decide(_read(full), hints, prefer)
            if again.entry is not None or (found.district is None and again.district):
                return again
    return found


def _place(found: _Found, method: str, finding: str | None) -> Place:
    ix = _index()
    entry = found.entry
    if entry is None:
        return Place(None, None, found.district, found.province, found.province_2025, method,
                     finding)
    if entry[0] == "o":
        new = ix.cross_default.get(entry[1])
        if found.province_2025 and new in ix.new and ix.new[new][0] != found.province_2025:
            new = next((n for n in ix.cross.get(entry[1], [])
                        if ix.new[n][0] == found.province_2025), new)
        return Place(entry[1], new, found.district, found.province,
                     ix.new[new][0] if new in ix.new else found.province_2025, method, finding)
    olds = ix.cross_inverse.get(entry[1], set())
    old = next(iter(olds)) if len(olds) == 1 else None
    return Place(old, entry[1], found.district, found.province, found.province_2025, method,
                 finding)


def _same(a: _Found, b: _Found) -> bool:
    if a.entry == b.entry:
        return True
    if a.entry is None or b.entry is None:
        return False
    return _merge({a.entry, b.entry}) is not None


@functools.lru_cache(maxsize=200_000)
def _resolve(address: str | None, commune: str | None, district: str | None,
             province: str | None, prefer: PlaceContext | None) -> Place:
    district_code = _district_hint(district)
    hints = _Hints(district_code, _province_hint(province))
    entries, certain = _code_meaning(commune, hints)
    by_code = _found(entries[0]) if entries and certain else None
    text_hints = hints
    if by_code is not None:
        old_province, new_province = _entry_province(by_code.entry)
        text_hints = _Hints(hints.district or by_code.district, hints.provinces | {
            ("o", old_province) if old_province else ("n", new_province)})
    by_text = _from_text(address, text_hints, prefer) if address else None
    text_ok = by_text is not None and by_text.entry is not None

    if entries and not certain and text_ok:  # a code of both generations: the text decides
        match = [e for e in entries if _same(_found(e), by_text)]
        if len(match) == 1:
            return _place(_found(match[0]), "code+address", None)
        by_code = _found(entries[0])
        return _place(by_code, "code", "ambiguous-commune")
    if by_code is not None:
        if not text_ok:
            return _place(by_code, "code", None)
        if _same(by_code, by_text):
            return _place(by_code, "code+address", None)
        return _place(by_code, "code", "commune-code-mismatch")
    if text_ok:
        return _place(by_text, "address", None)
    if entries:  # a code of both generations and no text to choose
        return _place(_Found(None, None, None, None), "none", "ambiguous-commune")
    given = address is not None or commune is not None
    upper = by_text or _Found(None, district_code, None, None)
    if upper.district is None and district_code:
        upper = _Found(None, district_code, _index().district_province[district_code], None)
    if upper.province is None and upper.province_2025 is None and hints.provinces:
        olds = [c for s, c in hints.provinces if s == "o"]
        news = [c for s, c in hints.provinces if s == "n"]
        upper = _Found(None, upper.district, olds[0] if olds and not news else None,
                       news[0] if news else None)
    if not given:
        return Place(None, None, upper.district, upper.province, upper.province_2025, "none",
                     None)
    island = _index().island_new.get(upper.district or "")
    if island and by_text is not None:  # an island district without communes (Côn Đảo)
        return Place(None, island, upper.district, upper.province, upper.province_2025,
                     "address", None)
    finding = "ambiguous-commune" if by_text is not None and by_text.ambiguous else (
        "unknown-commune")
    return _place(upper, "none", finding)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def resolve_place(address: object = None, *, commune_code: object = None,
                  district_code: object = None, province_code: object = None,
                  prefer: PlaceContext | None = None) -> Place:
    """Resolve one place from its address text and/or its codes (MAXA/MAHUYEN/MATINH).

    When both a code and the text name a commune and they disagree, both being unambiguous, the
    code is kept (it was chosen from a list, the text typed) and the finding says
    ``commune-code-mismatch``; when only one is unambiguous, that one is kept.
    """
    return _resolve(_text(address), _digits(commune_code), _digits(district_code),
                    _digits(province_code), prefer)


def infer_context(places: Iterable[Place], share: float = 0.2) -> PlaceContext:
    """The districts and provinces holding at least ``share`` of a file's unambiguous
    resolutions (at most three of each): the file's own place, used to read ambiguous names."""
    districts: Counter[str] = Counter()
    provinces: Counter[str] = Counter()
    provinces_2025: Counter[str] = Counter()
    total = 0
    for place in places:
        if place.finding is not None or (place.commune_code or place.commune_code_2025) is None:
            continue
        total += 1
        districts[place.district_code] += 1
        provinces[place.province_code] += 1
        provinces_2025[place.province_code_2025] += 1
    return _context_from(districts, provinces, provinces_2025, total, share)


def _context_from(districts: Counter, provinces: Counter, provinces_2025: Counter, total: int,
                  share: float) -> PlaceContext:
    def major(counter: Counter) -> frozenset[str]:
        return frozenset(k for k, n in counter.most_common(3) if k and n >= share * total)

    if not total:
        return PlaceContext()
    return PlaceContext(major(provinces), major(districts), major(provinces_2025))


def _column(values: pd.Series | None, n: int) -> list[str | None]:
    if values is None:
        return [None] * n
    return [_digits(v) for v in values.tolist()]


def resolve_places(addresses: pd.Series, commune_codes: pd.Series | None = None,
                   district_codes: pd.Series | None = None,
                   province_codes: pd.Series | None = None,
                   prefer: PlaceContext | None = None) -> pd.DataFrame:
    """Vectorised: one row per input row with the Place fields as columns; resolves each DISTINCT
    input once, and for addresses caches on the normalised administrative tail (the last segments),
    not the whole string, so a million distinct street addresses cost about as much as the few
    thousand distinct tails. Two passes: first resolve, infer the context from unambiguous rows,
    then re-resolve ambiguous ones preferring the context."""
    n = len(addresses)
    raw = [_text(v) for v in addresses.tolist()]
    tails = [address_tail(t) if t else None for t in raw]
    keys = list(zip(tails, _column(commune_codes, n), _column(district_codes, n),
                    _column(province_codes, n), strict=True))
    group_of: dict[tuple, int] = {}
    ids = np.fromiter((group_of.setdefault(k, len(group_of)) for k in keys), dtype=np.int64,
                      count=n)
    groups = list(group_of)
    counts = np.bincount(ids, minlength=len(groups))
    results = [_resolve(*k, prefer) for k in groups]

    if prefer is None:
        districts: Counter[str] = Counter()
        provinces: Counter[str] = Counter()
        provinces_2025: Counter[str] = Counter()
        total = 0
        for place, count in zip(results, counts.tolist(), strict=True):
            if place.finding is None and (place.commune_code or place.commune_code_2025):
                total += count
                districts[place.district_code] += count
                provinces[place.province_code] += count
                provinces_2025[place.province_code_2025] += count
        context = _context_from(districts, provinces, provinces_2025, total, 0.2)
        if context != PlaceContext():
            results = [_resolve(*k, context) if p.finding == "ambiguous-commune" else p
                       for k, p in zip(groups, results, strict=True)]
    else:
        context = prefer

    columns = {name: np.array([getattr(p, name) for p in results], dtype=object)[ids]
               for name in PLACE_COLUMNS}
    out = pd.DataFrame(columns, index=addresses.index)
    # a tail that named no commune may still have one earlier in the full text (reversed order)
    failed = np.flatnonzero(pd.isna(out["commune_code"]).to_numpy()
                            & pd.isna(out["commune_code_2025"]).to_numpy())
    redo = [i for i in failed if raw[i] is not None and tails[i] != raw[i].lower()]
    for i in redo:
        key = keys[i]
        place = _resolve(raw[i], key[1], key[2], key[3], context if prefer is None and
                         context != PlaceContext() else prefer)
        if place.commune_code or place.commune_code_2025:
            out.iloc[i] = [getattr(place, name) for name in PLACE_COLUMNS]
    return out
