"""Rows of a form that are table structure, not people.

Official forms carry more than people between their header and their footer: the column-number
row under the header ("A B 1 2 3 …"), section rows ("I | Tăng", "I.1 | Người tham gia", "II |
Giảm"), sub-totals ("Cộng tăng"), notes ("- Ghi chú: cột 16 …"), a header repeated on every printed
page, and rows that hold only formulas or formatting (a template's 340 VLOOKUP rows that show 0 or
nothing). None of them names a person; loading them made phantom persons, rejecting them made
hundreds of false rejects. Each is recognised from the row alone plus the meaning of its columns,
and counted as skipped structure in the summary.
"""

from __future__ import annotations

import re

from etl.extract.mapping import header_key
from etl.transform.text import fold

# Fields that make a row someone: without any of them there is nobody to load or reject.
IDENTITY_FIELDS = ("full_name", "birth_date", "birth_year", "personal_id", "cmnd", "passport",
                   "id_document", "social_insurance_code", "insurance_card",
                   "facility_patient_id")
IDENTIFYING_FIELDS = tuple(f for f in IDENTITY_FIELDS if f != "full_name")

# What a formula or an empty lookup shows in place of a value.
BLANKISH = frozenset({"0", "0.0", "-", "--", "#n/a", "#ref!", "#value!", "#name?", "#div/0!",
                      "n/a", "null", "none", "false"})

# STT cells of section rows: roman numerals, letters, outline numbers ("I", "II.1", "A", "1.2").
_SECTION_MARK = re.compile(r"^(?:[ivxlc]+|[a-z])(?:\.\d+)*\.?$|^\d+\.\d+(?:\.\d+)*$")
_COLUMN_NUMBER = re.compile(r"^\(?(?:[a-z]|\d{1,2})\)?$")
# Name cells of section and sub-total rows, folded.
_HEADING = re.compile(
    r"^(?:tang|giam|tang moi|nguoi tham gia|tien luong|dieu chinh|truy thu|thoai thu|"
    r"(?:tong )?cong\b.*|tong|tong so\b.*|lop\s*\d.*|khoi\s*\d.*|"
    r"danh sach.*|phan\s+[ivx\d]+.*|muc\s+[ivx\d]+.*)\s*:?$")
_NOT_A_NAME = re.compile(r"[\d:;()\[\]*•=+/\\]|^[-–]")


def is_blankish(text: str | None) -> bool:
    return text is None or fold(text) in BLANKISH


def _column_numbers(texts: list[str]) -> bool:
    """"A B 1 2 3 …" or "(1) (2) (3)": short labels whose numbers climb."""
    if len(texts) < 3 or not all(_COLUMN_NUMBER.match(fold(t)) for t in texts):
        return False
    numbers = [int(t.strip("()")) for t in texts if t.strip("()").isdigit()]
    return len(numbers) >= 2 and all(b > a for a, b in zip(numbers, numbers[1:], strict=False))


def _repeated_header(texts: list[str | None], headers: list[str]) -> bool:
    """The header printed again on the next page of a long list."""
    same = sum(1 for i, t in enumerate(texts)
               if t and i < len(headers) and headers[i]
               and header_key(t) and header_key(t) in header_key(headers[i]))
    filled = sum(1 for t in texts if t)
    return filled >= 2 and same >= max(2, (filled + 1) // 2)


def structure_reason(texts: list[str | None], fields: dict[str, str | None],
                     headers: list[str], serial: str | None) -> str | None:
    """Why this row is table structure (``column-numbers``, ``repeated-header``, ``section``,
    ``note``, ``no-identity``), or ``None`` for a row that may be a person.

    ``texts`` are the row's cells as text, ``fields`` the values of its mapped fields, ``headers``
    the table's column headers and ``serial`` the row's STT cell, if the table has one.
    """
    filled = [t for t in texts if t]
    if _column_numbers(filled):
        return "column-numbers"
    if _repeated_header(texts, headers):
        return "repeated-header"
    identity = {f: fields.get(f) for f in IDENTITY_FIELDS if not is_blankish(fields.get(f))}
    if not identity:
        return "no-identity"
    if any(f in identity for f in IDENTIFYING_FIELDS):
        return None
    # Only a name: a section heading, a sub-total or a note typed in the name column?
    name = fold(identity["full_name"] or "")
    if serial and _SECTION_MARK.match(fold(serial)):
        return "section"
    if _HEADING.match(name):
        return "section"
    if _NOT_A_NAME.search(name) or len(name.split()) > 7:
        return "note"
    return None
