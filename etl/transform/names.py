"""Vietnamese personal names: family – middle (0–3 syllables) – given; the last is the given name.

Middle elements such as Văn (men), Thị (women) and the Mông "A" come and go between sources,
so matching compares family and given names on their own and treats the middle as weak evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.text import clean, fold, title_name

# Family names common in the district and the country, with diacritics: a folded comparison
# would confuse the given name "Lở" with the family name "Lò".
COMMON_FAMILY_NAMES = frozenset(
    """nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý lò lương hà vi
    lữ ngân cầm giàng thào vàng sùng lầu hờ mùa sồng vừ hạng chá quàng lường lục bàn triệu
    phùng đinh quách mai trịnh lưu đào cao lâm chu hứa mã nông""".split()
)
GIVEN_FIRST_SHARE = 0.6


@dataclass(frozen=True)
class PersonName:
    """A name split into parts, in display form; ``original`` keeps what the source said."""

    original: str
    full: str
    family: str
    middle: str
    given: str
    reordered: bool = False

    @property
    def key(self) -> str:
        return fold(self.full)


def parse_name(raw: object, *, given_first: bool = False) -> PersonName | None:
    """Split a full name into family / middle / given, each syllable capitalised; ``None`` when
    empty.

    ``given_first`` reads the name as given-name-first ("Páo Giàng A") and reorders it; decide
    that per source column with :func:`looks_given_first`, never per name.
    """
    if raw is None:
        return None
    original = str(raw)
    text = clean(original).strip(" ,.;")
    if not text or not any(ch.isalpha() for ch in text):
        return None
    # Every syllable of a Vietnamese name is capitalised; sources write them upper case, and
    # TCVN3 cannot write a capital with a tone mark at all ("Lß ThÞ äi" → "Lò Thị ọi").
    text = title_name(text)
    parts = text.split(" ")
    if given_first and len(parts) >= 2:
        parts = [parts[-1], *parts[1:-1], parts[0]]  # "Páo A Giàng" → "Giàng A Páo"
    reordered = given_first and len(parts) >= 2
    if len(parts) == 1:
        return PersonName(original, parts[0], "", "", parts[0], reordered)
    return PersonName(original, " ".join(parts), parts[0], " ".join(parts[1:-1]), parts[-1],
                      reordered)


def looks_given_first(names: list[str]) -> bool:
    """True when a column's names are mostly written given-name-first: most end in a family
    name and do not start with one. Strong evidence only: at least 20 names."""
    votes = total = 0
    for name in names:
        parts = clean(name).lower().split(" ") if name else []
        if len(parts) < 2:
            continue
        total += 1
        if parts[-1] in COMMON_FAMILY_NAMES and parts[0] not in COMMON_FAMILY_NAMES:
            votes += 1
    return total >= 20 and votes / total >= GIVEN_FIRST_SHARE
