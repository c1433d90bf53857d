"""The matching model as data: comparisons, their named levels, prior m and u, the hard rules.

One declaration serves every path that decides or explains a pair — the engine, ``hssk
explain``, the review workbook and the full relink — through :func:`etl.match.decide.decide`,
so they cannot disagree. The shape follows Splink's comparison-level declarations: each
comparison is an ordered list of levels from no evidence ("missing") to the strongest
agreement; each level has a prior m (how often one person's two records show it) and u (how
often two different people's do). The data re-estimates both (:mod:`etl.match.model`); the
priors hold where the data cannot say.

The hard rules are Vietnamese knowledge (docs/domain.md#names, #dates): they forbid a link that
fuzzy evidence alone would make, where a district's population makes that evidence misleading —
siblings and twins, namesakes a generation apart. They never forbid what an ordinary typo
explains: a name one or two edits away with the birth date, sex and place in agreement is the
same name mistyped ("ải" for "Hải", "Vn" for "Văn").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Level:
    name: str
    en: str  # plain words for the explanation
    vi: str
    m: float  # prior P(level | same person)
    u: float  # prior P(level | different people)


@dataclass(frozen=True)
class Comparison:
    name: str
    en: str
    vi: str
    levels: tuple[Level, ...]
    term_frequency: bool = False  # exact agreement weighted by how rare the value is

    def code(self, level: str) -> int:
        """The integer a level is stored as (its position); level 0 is always "missing"."""
        return [lv.name for lv in self.levels].index(level)

    def codes(self, *levels: str) -> tuple[int, ...]:
        return tuple(self.code(lv) for lv in levels)


def _levels(*rows: tuple[str, str, str, float, float]) -> tuple[Level, ...]:
    return tuple(Level(*row) for row in rows)


_MISSING = ("missing", "not known on one side", "thiếu ở một bên", 0.0, 0.0)


def _name_levels(part_en: str, part_vi: str, m: list[float], u: list[float]
                 ) -> tuple[Level, ...]:
    return _levels(
        _MISSING,
        ("different", f"{part_en}s differ", f"{part_vi} khác nhau", m[0], u[0]),
        ("tone-differs", f"{part_en}s differ only in tone marks, both written with marks — "
         "two names", f"{part_vi} chỉ khác dấu thanh — hai tên khác nhau", m[1], u[1]),
        ("typo", f"{part_en}s one or two keystrokes apart", f"{part_vi} lệch một, hai ký tự",
         m[2], u[2]),
        ("similar", f"{part_en}s similar (Jaro-Winkler ≥ 0.88)", f"{part_vi} gần giống",
         m[3], u[3]),
        ("phonetic", f"{part_en}s sound alike (s/x, ch/tr, d/gi/r, l/n, n/ng)",
         f"{part_vi} đọc giống nhau", m[4], u[4]),
        ("exact", f"{part_en}s agree", f"{part_vi} trùng", m[5], u[5]),
    )


GIVEN = Comparison("given", "given name", "tên", _name_levels(
    "given name", "tên", [0.01, 0.005, 0.03, 0.04, 0.07, 0.845],
    [0.92, 0.002, 0.01, 0.02, 0.01, 0.038]), term_frequency=True)
FAMILY = Comparison("family", "family name", "họ", _name_levels(
    "family name", "họ", [0.01, 0.005, 0.02, 0.025, 0.045, 0.895],
    [0.84, 0.001, 0.01, 0.02, 0.01, 0.119]), term_frequency=True)
MIDDLE = Comparison("middle", "middle name", "tên đệm", _levels(
    _MISSING,
    ("different", "middle names differ", "tên đệm khác nhau", 0.04, 0.25),
    ("typo", "middle names one keystroke apart", "tên đệm lệch một ký tự", 0.03, 0.01),
    ("one-side", "a middle name on one side only", "chỉ một bên có tên đệm", 0.35, 0.25),
    ("exact", "middle names agree", "tên đệm trùng", 0.58, 0.29),
))
BIRTH = Comparison("birth", "birth date", "ngày sinh", _levels(
    _MISSING,
    ("far", "birth years more than one year apart", "năm sinh cách nhau hơn một năm",
     0.01, 0.86),
    ("one-year", "birth years one year apart", "năm sinh lệch một năm", 0.02, 0.04),
    ("typo", "full birth dates one digit apart", "ngày sinh lệch một chữ số", 0.02, 0.0005),
    ("same-year-other-day", "same birth year, another day", "cùng năm sinh, khác ngày",
     0.03, 0.015),
    ("swapped", "day and month swapped", "ngày và tháng bị đảo", 0.02, 0.0003),
    ("year-only", "same birth year (one side gives the year only)",
     "cùng năm sinh (một bên chỉ có năm)", 0.35, 0.02),
    ("same-month", "same birth month and year", "cùng tháng và năm sinh", 0.02, 0.001),
    ("exact", "birth dates agree", "ngày sinh trùng", 0.53, 0.0005),
))
SEX = Comparison("sex", "sex", "giới tính", _levels(
    _MISSING, ("different", "sexes differ", "giới tính khác nhau", 0.01, 0.49),
    ("exact", "same sex", "cùng giới tính", 0.99, 0.49)))
COMMUNE = Comparison("commune", "commune", "xã", _levels(
    _MISSING, ("different", "different communes", "khác xã", 0.08, 0.68),
    ("exact", "same commune", "cùng xã", 0.92, 0.12)))
# The address text counts only where a commune is not known on both sides: where it is, the
# commune already says what the address would (no evidence counted twice).
ADDRESS = Comparison("address", "address", "địa chỉ", _levels(
    _MISSING, ("different", "addresses differ", "địa chỉ khác nhau", 0.1, 0.9),
    ("similar", "addresses share most words", "địa chỉ gần giống", 0.15, 0.06),
    ("close", "addresses nearly the same", "địa chỉ gần như trùng", 0.25, 0.005),
    ("exact", "addresses agree", "địa chỉ trùng", 0.5, 0.002)))
# Within one commune, the village, hamlet or street (the address without its administrative
# names): a commune of 25,000 has a dozen villages, and two namesakes born the same year in one
# commune are often told apart only by where they live. Compared only where both records are in
# the same commune, so it adds to the commune's evidence without counting it twice.
LOCALITY = Comparison("locality", "village or street", "thôn, bản, đường phố", _levels(
    _MISSING, ("different", "different villages or streets of the commune",
               "khác thôn, bản trong xã", 0.2, 0.88),
    ("similar", "villages or streets written alike", "thôn, bản viết gần giống", 0.1, 0.04),
    ("exact", "same village or street", "cùng thôn, bản", 0.7, 0.08)))
HOUSEHOLD = Comparison("household", "household head", "chủ hộ", _levels(
    _MISSING, ("different", "different household heads", "khác chủ hộ", 0.2, 0.39),
    ("exact", "same household head", "cùng chủ hộ", 0.8, 0.01)))
MOTHER = Comparison("mother", "mother", "mẹ", _levels(
    _MISSING, ("different", "different mothers", "khác mẹ", 0.1, 0.19),
    ("exact", "same mother", "cùng mẹ", 0.9, 0.01)))
PHONE = Comparison("phone", "phone", "điện thoại", _levels(
    _MISSING, ("different", "different phone numbers", "khác số điện thoại", 0.1, 0.299),
    ("exact", "same phone number", "cùng số điện thoại", 0.9, 0.001)))

COMPARISONS: dict[str, Comparison] = {c.name: c for c in (
    GIVEN, FAMILY, MIDDLE, BIRTH, SEX, COMMUNE, ADDRESS, LOCALITY, HOUSEHOLD, MOTHER,
    PHONE)}


@dataclass(frozen=True)
class Pairs:
    """What a hard rule may look at: the level codes of every pair, and facts of the pair that
    are not comparisons (one list of people, one household)."""

    levels: pd.DataFrame
    same_home: np.ndarray  # same household head or mother
    same_list: np.ndarray  # both rows of one list that names each person once
    codes_differ: np.ndarray  # two social-insurance codes, not a mistyped digit

    def at(self, comparison: Comparison, *levels: str) -> np.ndarray:
        return np.isin(self.levels[comparison.name].to_numpy(), comparison.codes(*levels))


@dataclass(frozen=True)
class HardRule:
    """A fact that forbids a link on fuzzy evidence alone (identifiers still link)."""

    name: str
    en: str
    vi: str
    applies: Callable[[Pairs], np.ndarray]
    # A person can tell (twins from one person typed twice): the pair may still go to review.
    reviewable: bool = False


def _street_level(p: Pairs) -> np.ndarray:
    """Exact birth date and mostly the same street address (compared only where no commune is
    known): more than a commune can say, and enough to show a name was replaced or dropped,
    not a second person (a twin at the same address still differs by household or mother,
    see ``siblings-or-twins``)."""
    return p.at(BIRTH, "exact") & p.at(ADDRESS, "similar", "close", "exact") & ~p.at(
        SEX, "different")


def _same_name_and_street(p: Pairs) -> np.ndarray:
    """Both names alike and nearly the same street address: a mistyped birth date, where a
    commune alone would leave a namesake a generation older in the same village."""
    alike = ("similar", "phonetic", "exact")
    return p.at(GIVEN, *alike) & p.at(FAMILY, *alike) & p.at(ADDRESS, "close", "exact")


def _typo_uncorroborated(p: Pairs) -> np.ndarray:
    typo = p.at(GIVEN, "typo") | p.at(FAMILY, "typo")
    date = p.at(BIRTH, "exact", "swapped")
    place = p.at(COMMUNE, "exact") | p.at(ADDRESS, "similar", "close", "exact")
    return typo & ~(date & ~p.at(SEX, "different") & place)


HARD_RULES: tuple[HardRule, ...] = (
    HardRule("siblings-or-twins",
             "same household or mother and different given names: siblings or twins",
             "cùng hộ hoặc cùng mẹ nhưng khác tên: anh chị em hoặc sinh đôi",
             lambda p: p.same_home & ~p.at(GIVEN, "exact", "missing"), reviewable=True),
    HardRule("given-names-differ", "the given names differ", "tên khác nhau",
             lambda p: p.at(GIVEN, "different", "tone-differs") & ~_street_level(p)),
    HardRule("family-names-differ", "the family names differ", "họ khác nhau",
             lambda p: p.at(FAMILY, "different", "tone-differs") & ~_street_level(p)),
    HardRule("typo-without-agreement",
             "a name is a keystroke or two apart, without the exact birth date, sex and place "
             "to show it is the same name mistyped",
             "tên lệch một, hai ký tự mà ngày sinh, giới tính, nơi ở không cùng xác nhận",
             _typo_uncorroborated, reviewable=True),
    HardRule("birth-years-far", "the birth years are more than one year apart",
             "năm sinh cách nhau hơn một năm",
             lambda p: p.at(BIRTH, "far") & ~_same_name_and_street(p)),
    HardRule("sexes-differ", "the sexes differ", "giới tính khác nhau",
             lambda p: p.at(SEX, "different")),
    # A list that names each person once and gives one person two different dates is far more
    # often naming two people — same-named siblings or cousins in one household, at a
    # commune's scale — than a row typed twice (a copy keeps its date, or mistypes one digit,
    # the "typo" and "swapped" levels).
    HardRule("one-list-dates-differ",
             "two rows of one list with two different birth dates (not a mistyped digit)",
             "hai dòng của cùng một danh sách có hai ngày sinh khác nhau (không phải gõ nhầm)",
             lambda p: p.same_list & p.at(BIRTH, "one-year", "same-year-other-day"),
             reviewable=True),
    # A social-insurance code (mã số BHXH) is given once per person for life: two records
    # holding two codes (more than a digit apart) are two people — province-wide, clinic
    # episodes of namesakes born the same year otherwise met. Some people were issued a second
    # code before the registers were merged; an analyst can tell.
    HardRule("insurance-codes-differ",
             "two different social-insurance codes (not a mistyped digit)",
             "hai mã số BHXH khác nhau (không phải gõ nhầm một chữ số)",
             lambda p: p.codes_differ, reviewable=True),
    HardRule("moved-without-date", "different communes without an exact birth date",
             "khác xã mà không trùng ngày sinh",
             lambda p: p.at(COMMUNE, "different") & ~p.at(BIRTH, "exact", "swapped")),
)

# Two rows of one file that lists each person once (``one_row_per_person`` in etl/kinds.py)
# are a priori far less likely to be one person than rows of two sources: each class of pair
# has its own prior, estimated from the data (``etl.match.model``).
PRIOR_CLASSES = ("across-sources", "within-one-list")
