"""How clerks change what they copy: the noise each source adds to the truth."""

from __future__ import annotations

import random

from etl.synth.population import Resident
from etl.text import fold

# Phonetic slips clerks make between sources (docs/domain.md#spelling-variants).
_SLIPS = [("s", "x"), ("x", "s"), ("ch", "tr"), ("tr", "ch"), ("d", "gi"), ("gi", "d"),
          ("l", "n"), ("n", "l")]


def strip_marks(text: str) -> str:
    """Upper-case ASCII as old clinic software writes: "GIANG A PAO"."""
    return fold(text).upper()


def typo(rng: random.Random, text: str) -> str:
    """One phonetic slip or one dropped/doubled letter in a syllable of the name."""
    parts = text.split(" ")
    i = rng.randrange(len(parts))
    word = parts[i]
    lower = word.lower()
    for a, b in rng.sample(_SLIPS, len(_SLIPS)):
        if lower.startswith(a):
            new = b + word[len(a):]
            parts[i] = new[:1].upper() + new[1:] if word[:1].isupper() else new
            return " ".join(parts)
    if len(word) > 2:
        j = rng.randrange(1, len(word))
        parts[i] = word[:j] + word[j + 1:]
    return " ".join(parts)


def name_variant(rng: random.Random, r: Resident, *, typo_rate: float,
                 drop_middle_rate: float) -> str:
    family, middle, given = r.family, r.middle, r.given
    if middle and rng.random() < drop_middle_rate:
        middle = ""
    elif not middle and rng.random() < drop_middle_rate / 2:
        middle = "Văn" if r.sex == "M" and r.ethnicity != "08" else "Thị" if r.sex == "F" else "A"
    name = " ".join(p for p in (family, middle, given) if p)
    if rng.random() < typo_rate:
        name = typo(rng, name)
    return name


def birth_text(rng: random.Random, r: Resident, *, style: str = "dmy",
               swap_rate: float = 0.0) -> str:
    """The birth date as this source writes it; year-only people get a placeholder."""
    b = r.birth
    if r.year_only:
        return rng.choice([str(b.year), f"00/00/{b.year}", f"01/01/{b.year}"])
    day, month = b.day, b.month
    if swap_rate and day <= 12 and rng.random() < swap_rate:
        day, month = month, day
    if style == "dmy":
        return f"{day:02d}/{month:02d}/{b.year}"
    if style == "d/m":
        return f"{day}/{month}/{b.year}"
    return f"{day:02d}-{month:02d}-{b.year}"


def mutate_digit(rng: random.Random, number: str) -> str:
    i = rng.randrange(6, len(number))
    return number[:i] + str((int(number[i]) + rng.randint(1, 9)) % 10) + number[i + 1:]
