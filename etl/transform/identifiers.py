"""Vietnamese identifiers: what each number's structure says, and whether it fits the record.

The personal ID number has no check digit, so validation is shape + province + agreement of
its century/sex digit and year digits with the record. A disagreement is evidence of a wrong
number or a different person, so it is reported, never silently "fixed".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from etl.reference import province_codes

VALID, INVALID, INCONSISTENT = "valid", "invalid", "inconsistent"
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_CARD = re.compile(r"^([A-Z]{2})([1-5])(\d{2})(\d{10})$")
_PASSPORT = re.compile(r"^[A-Z]\d{7}$")


@dataclass(frozen=True)
class IdCheck:
    """The verdict on one identifier: ``status`` is valid / invalid / inconsistent."""

    kind: str
    value: str
    status: str
    slug: str = ""
    reason: str = ""

    @property
    def usable(self) -> bool:
        """Structurally valid and consistent with the record: safe as linking evidence."""
        return self.status == VALID


def compact(value: object) -> str:
    """Strip spaces, dots and dashes; keep letters upper case. Excel floats lose their .0."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return _NON_ALNUM.sub("", text).upper()


def century_sex_digit(birth_year: int, sex: str) -> int | None:
    """The G digit a personal ID number must carry for this birth year and sex ('M'/'F')."""
    century = birth_year // 100 - 19
    if not 0 <= century <= 4 or sex not in ("M", "F"):
        return None
    return century * 2 + (1 if sex == "F" else 0)


def check_personal_id(
    value: object, *, birth_year: int | None = None, sex: str | None = None
) -> IdCheck:
    """Số định danh cá nhân: 12 digits PPP G YY RRRRRR (docs/domain.md#personal-id)."""
    number = compact(value)
    if not re.fullmatch(r"\d{12}", number):
        return IdCheck("personal_id", number, INVALID, "invalid-personal-id",
                       f"expected 12 digits, got {len(number)} characters")
    province = number[1:3]
    if number[0] != "0" or province not in province_codes():
        return IdCheck("personal_id", number, INVALID, "invalid-personal-id",
                       f"unknown province code {number[:3]}")
    g, yy = int(number[3]), int(number[4:6])
    id_century = 1900 + (g // 2) * 100
    id_sex = "F" if g % 2 else "M"
    if birth_year is not None and (birth_year % 100 != yy
                                   or birth_year // 100 * 100 != id_century):
        return IdCheck("personal_id", number, INCONSISTENT, "cccd-year-mismatch",
                       "birth-year digits disagree with the record's birth year")
    if sex in ("M", "F") and sex != id_sex:
        return IdCheck("personal_id", number, INCONSISTENT, "cccd-sex-mismatch",
                       "century/sex digit disagrees with the record's sex")
    return IdCheck("personal_id", number, VALID)


def implied_by_personal_id(value: str) -> tuple[int, str] | None:
    """(birth year, sex) that a well-formed personal ID number implies."""
    if not re.fullmatch(r"0\d{11}", value or ""):
        return None
    g, yy = int(value[3]), int(value[4:6])
    return 1900 + (g // 2) * 100 + yy, "F" if g % 2 else "M"


def check_cmnd(value: object) -> IdCheck:
    """Old 9-digit identity card (CMND): shape only."""
    number = compact(value)
    if re.fullmatch(r"\d{9}", number):
        return IdCheck("cmnd", number, VALID)
    return IdCheck("cmnd", number, INVALID, "invalid-cmnd", "expected 9 digits")


def check_passport(value: object) -> IdCheck:
    number = compact(value)
    if _PASSPORT.match(number):
        return IdCheck("passport", number, VALID)
    return IdCheck("passport", number, INVALID, "invalid-passport", "expected a letter and 7 digits")


def classify_document_number(value: object, **record: object) -> IdCheck:
    """A column like "Số CCCD/ĐDCN/Hộ chiếu" holds any of three documents: tell them apart."""
    number = compact(value)
    if len(number) == 9 and number.isdigit():
        return check_cmnd(number)
    if number[:1].isalpha():
        return check_passport(number)
    return check_personal_id(number, **record)  # type: ignore[arg-type]


def check_social_insurance_code(value: object) -> IdCheck:
    """Mã số BHXH: 10 digits, lifelong."""
    number = compact(value)
    if re.fullmatch(r"\d{10}", number):
        return IdCheck("social_insurance_code", number, VALID)
    return IdCheck("social_insurance_code", number, INVALID, "invalid-social-insurance-code",
                   "expected 10 digits")


@dataclass(frozen=True)
class InsuranceCard:
    """Mã thẻ BHYT: group (TE, HS, DT…), benefit level, province, 10-digit social-insurance code."""

    number: str
    group: str
    level: int
    province: str
    social_insurance_code: str


def parse_insurance_cards(value: object) -> tuple[list[InsuranceCard], list[IdCheck]]:
    """Split "DT2383812345678;TE1383812345679" into cards; bad pieces come back as checks."""
    cards: list[InsuranceCard] = []
    problems: list[IdCheck] = []
    if value is None:
        return cards, problems
    for piece in re.split(r"[;,\s]+", str(value).strip()):
        number = compact(piece)
        if not number:
            continue
        m = _CARD.match(number)
        if not m:
            problems.append(IdCheck("insurance_card", number, INVALID, "invalid-insurance-card",
                                    "expected 2 letters, a level digit, 2-digit province, 10 digits"))
            continue
        cards.append(InsuranceCard(number, m[1], int(m[2]), m[3], m[4]))
    return cards, problems


def check_facility_code(value: object) -> IdCheck:
    """Facility (cơ sở KCB) code: 5 characters, province code first."""
    code = compact(value)
    if re.fullmatch(r"\d{5}", code) and code[:2] in province_codes():
        return IdCheck("facility_code", code, VALID)
    return IdCheck("facility_code", code, INVALID, "invalid-facility-code",
                   "expected 5 digits starting with a province code")


def normalize_facility_patient_id(value: object) -> str | None:
    """A facility's patient id (mã bệnh nhân, MA_BN) in the form that compares: one hospital
    system writes "PC-0226…" in one export and "PC0226…" in another, so spaces, dots, dashes
    and slashes do not count, nor does letter case (see :func:`compact`)."""
    code = compact(value)
    return code or None
