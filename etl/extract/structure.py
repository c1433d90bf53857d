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
from dataclasses import dataclass

from etl.extract.mapping import header_key
from etl.text import fold

# Fields that make a row someone: without any of them there is nobody to load or reject.
IDENTITY_FIELDS = ("full_name", "birth_date", "birth_year", "personal_id", "cmnd", "passport",
                   "id_document", "social_insurance_code", "insurance_card",
                   "facility_patient_id")

# What a formula or an empty lookup shows in place of a value.
BLANKISH = frozenset({"0", "0.0", "-", "--", "#n/a", "#ref!", "#value!", "#name?", "#div/0!",
                      "n/a", "null", "none", "false"})

# STT cells of section rows: roman numerals, letters, outline numbers ("I", "II.1", "A", "1.2").
_SECTION_MARK = re.compile(r"^(?:[ivxlc]+|[a-z])(?:\.\d+)*\.?$|^\d+\.\d+(?:\.\d+)*$")
_COLUMN_NUMBER = re.compile(r"^\(?(?:[A-Za-z]|\d{1,2})\)?$")
# Name cells of section and sub-total rows, folded.
_HEADING = re.compile(
    r"^(?:tang|giam|tang moi|nguoi tham gia|tien luong|dieu chinh|truy thu|thoai thu|"
    r"(?:tong )?cong\b.*|tong|tong so\b.*|lop\s*\d.*|khoi\s*\d.*|"
    r"danh sach.*|phan\s+[ivx\d]+.*|muc\s+[ivx\d]+.*)\s*:?$")
_NOT_A_NAME = re.compile(r"[\d:;()\[\]*•=+/\\]|^[-–]")


# A trimmed text longer than this is no placeholder: most cells (names, numbers) are let
# through on their length alone.
BLANKISH_LONGEST = max(map(len, BLANKISH))


def is_blankish(text: str | None) -> bool:
    if text is None:
        return True
    if len(text) > BLANKISH_LONGEST and not text[0].isspace() and not text[-1].isspace():
        return False
    return text.strip().lower() in BLANKISH


def _column_numbers(texts: list[str]) -> bool:
    """"A B 1 2 3 …" or "(1) (2) (3)": short labels whose numbers climb."""
    if len(texts) < 3:
        return False
    for t in texts:  # asked of every row: a person's row answers by its first few cells
        if not _COLUMN_NUMBER.match(t.strip()):
            return False
    numbers = [int(t.strip("()")) for t in texts if t.strip("()").isdigit()]
    return len(numbers) >= 2 and all(b > a for a, b in zip(numbers, numbers[1:], strict=False))


@dataclass(frozen=True)
class HeaderWords:
    """Per column, what a repeated header row would show: the lower-cased texts of each header
    band row ("Giới tính / Nam" shows "giới tính" or "nam"), and the folded key of the whole
    header, in which a field code must appear ("Loai" under "Loại khai báo"). Computed once per
    table, so the per-row check is a set lookup."""

    texts: list[frozenset[str]]
    keys: list[str]
    name_column: int | None  # a repeated header repeats the name column's header first of all

    def shows(self, i: int, text: str) -> bool:
        """Whether ``text`` in column ``i`` is that column's header (or its field code)."""
        return i < len(self.keys) and bool(self.keys[i]) and (text.lower() in self.texts[i] or (
            # a field code ("HoTen") is one token, never a number: only those are folded
            " " not in text and not text[0].isdigit()
            and bool(key := header_key(text)) and key in self.keys[i]))


def header_words(headers: list[str], name_column: int | None) -> HeaderWords:
    return HeaderWords(
        [frozenset({h.lower(), *(p.strip().lower() for p in h.split(" / "))} if h else ())
         for h in headers],
        [header_key(h) for h in headers], name_column)


def _repeated_header(texts: list[str | None], words: HeaderWords) -> bool:
    """The header printed again on the next page of a long list, or a field-code row under the
    captions (HoTen under "Họ tên" folds the same)."""
    name = words.name_column
    if name is not None and not (name < len(texts) and texts[name]
                                 and words.shows(name, texts[name])):
        return False  # a person's name: the cheap test that settles almost every row
    filled = [i for i, t in enumerate(texts) if t]
    same = sum(1 for i in filled if words.shows(i, texts[i]))
    return len(filled) >= 2 and same >= max(2, (len(filled) + 1) // 2)


class TableStructure:
    """How the rows of one table are told from people: the columns of its identity fields, its
    header texts and its STT column, worked out once per table (``reason`` runs on every row of
    a million-row registry, so nothing about the columns is looked up again per row).

    ``columns`` maps column → field, one column per field (``Mapping.match_headers``).
    """

    def __init__(self, columns: dict[int, str], words: HeaderWords,
                 serial_column: int | None) -> None:
        self.identity = [(name, col) for col, name in columns.items() if name in IDENTITY_FIELDS]
        self.words, self.serial_column = words, serial_column

    def reason(self, texts: list[str | None], filled: list[str]) -> str | None:
        """Why this row is table structure (``column-numbers``, ``repeated-header``,
        ``section``, ``note``, ``no-identity``), or ``None`` for a row that may be a person.

        ``texts`` are the row's cells as text (``cell_text``), ``filled`` those not empty.
        """
        if _column_numbers(filled):
            return "column-numbers"
        width = len(texts)
        identity = {f: texts[col] for f, col in self.identity
                    if col < width and not is_blankish(texts[col])}
        if identity.get("full_name") and _repeated_header(texts, self.words):
            return "repeated-header"
        if not identity:
            return "no-identity"
        if len(identity) > ("full_name" in identity):  # an identifying field besides the name
            return None
        # Only a name: a section heading, a sub-total or a note typed in the name column?
        name = fold(identity["full_name"] or "")
        serial = self.serial_column
        serial_text = texts[serial] if serial is not None and serial < width else None
        if serial_text and _SECTION_MARK.match(fold(serial_text)):
            return "section"
        if _HEADING.match(name):
            return "section"
        if _NOT_A_NAME.search(name) or len(name.split()) > 7:
            return "note"
        return None
