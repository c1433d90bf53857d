"""Workbooks and CSV files into staged records, one sheet at a time.

Every sheet is matched against the mappings on its own, so a workbook that holds an insured list,
its household appendix and a few lookup sheets loads the first two, each as its own kind, and
names the others with the reason they were not read. Inside a table, rows that are form structure
(see structure.py) are counted, never loaded or rejected.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from etl.errors import SourceError
from etl.extract.mapping import Mapping, header_key
from etl.extract.structure import header_words, is_blankish, structure_reason
from etl.extract.tabular import (
    HeaderMatch,
    Sheet,
    cell_text,
    convert_legacy_text,
    find_header,
    is_footer,
    read_workbook,
)
from etl.stage import IDENTITY_COLUMNS, RECORD_COLUMNS
from etl.text import fold

# A mark ("x", "X", "✓") in a column that stands for one value of another field.
MARK_COLUMNS = {"sex_male": "Nam", "sex_female": "Nữ"}
_MARKS = frozenset({"x", "v", "1", "co", "\u2713", "\u2714", "*"})
_SERIAL_HEADERS = frozenset({"stt", "tt", "sott", "no", "so"})
# Unit names that complete an address when a form splits it into columns.
_ADDRESS_PARTS = ("village", "commune_name", "district_name", "province_name")


@dataclass
class SheetResult:
    """What one sheet gave: its table (if any), records and the rows skipped as structure."""

    name: str
    text_encoding: str
    match: HeaderMatch | None = None
    records: list[dict[str, object]] = field(default_factory=list)
    structure: Counter[str] = field(default_factory=Counter)
    footer_row: int | None = None
    note: str | None = None  # why the sheet was not read


@dataclass
class WorkbookResult:
    kind: str
    sheets: list[SheetResult]
    info: dict[str, object]

    @property
    def records(self) -> list[dict[str, object]]:
        return [r for s in self.sheets for r in s.records]

    @property
    def structure_rows(self) -> int:
        return sum(sum(s.structure.values()) for s in self.sheets)


def record_hash(raw: dict[str, object]) -> str:
    payload = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def read_tabular(path: Path, sha: str, mappings: dict[str, Mapping], kind: str | None,
                 text_encoding: str | None) -> WorkbookResult:
    """Every sheet of ``path`` matched and read on its own (``kind`` forces one mapping)."""
    workbook = read_workbook(path)
    candidates = [mappings[kind]] if kind else list(mappings.values())
    results: list[SheetResult] = []
    tables: list[tuple[Sheet, SheetResult]] = []
    for sheet in workbook.sheets:
        if not any(cell_text(v) for row in sheet.rows for v in row):
            results.append(SheetResult(sheet.name, "unicode", note="empty sheet"))
            continue
        used = convert_legacy_text(sheet, text_encoding)
        result = SheetResult(sheet.name, used, find_header(sheet, candidates))
        if result.match is None:
            result.note = "no table header recognised (a lookup or notes sheet?)"
        else:
            tables.append((sheet, result))
        results.append(result)
    # A legend written over one sheet's column holds for the same column in the other sheets.
    book_legends = {header_key(r.match.headers[col]): legend for s, r in tables
                    for col, legend in _legends(s, r.match).items()}
    for sheet, result in tables:
        _read_sheet(path, sha, sheet, result, workbook.reader, book_legends)
        if not result.records:
            result.note = "table header found but no rows of people under it"
    matched = [s for s in results if s.match is not None]
    if not matched:
        expected = kind or "any known kind"
        raise SourceError(f"{path.name}: no table with the headers of {expected} found",
                          hint="run `hssk inspect` on it, or add header synonyms to a mapping")
    kinds = list(dict.fromkeys(s.match.mapping.kind for s in matched if s.records)) or \
        [max(matched, key=lambda s: s.match.score).match.mapping.kind]
    encodings = sorted({s.text_encoding for s in results if s.match is not None}) or ["unicode"]
    info = {"encoding": workbook.encoding, "text_encoding": ",".join(encodings),
            "reader": workbook.reader}
    return WorkbookResult("+".join(kinds), results, info)


def _title_lines(sheet: Sheet, match: HeaderMatch) -> str | None:
    """The texts of the title rows above the header, as typed (a JSON list, one entry per
    cell), or ``None``. Title rows often name the place ("TRƯỜNG PTDTBT TH&THCS PÙ NHI", "CÔNG
    AN XÃ TAM CHUNG"); transform reads from them the commune of every row that does not say its
    own (``sheet_title`` in etl/stage.py)."""
    lines = [text for row in sheet.rows[:match.header_row]
             for text in filter(None, (cell_text(v) for v in row))]
    return json.dumps(lines, ensure_ascii=False) if lines else None


def _legends(sheet: Sheet, match: HeaderMatch) -> dict[int, dict[str, str]]:
    """Value legends written beside a header ("Nam:1 Nữ: 0" above a GioiTinh column): per column,
    code → meaning. Only sex legends are read; they are how import templates define 0 and 1."""
    legends: dict[int, dict[str, str]] = {}
    top = max(0, match.header_row - 3)
    for col, name in match.columns.items():
        if name != "sex":
            continue
        for row in sheet.rows[top:match.data_start]:
            text = fold(cell_text(row[col]) or "") if col < len(row) else ""
            found = dict(re.findall(r"\b(nam|nu)\s*[:=]\s*(\d)\b", text))
            if len(found) == 2:
                legends[col] = {found["nam"]: "Nam", found["nu"]: "Nữ"}
    return legends


def _mark_columns(sheet: Sheet, match: HeaderMatch) -> dict[int, str]:
    """Columns that hold only marks, mapped to the value a mark means.

    A "Nữ" column (or a GIOITINH column whose note says "x if female") holding only "x" marks
    means female where marked and male where not, when the table has no column for men.
    """
    out: dict[int, str] = {}
    fields = set(match.columns.values())
    for col, name in match.columns.items():
        if name in MARK_COLUMNS:
            out[col] = name
        elif name == "sex":
            values = {fold(cell_text(r[col]) or "") for r in sheet.rows[match.data_start:]
                      if col < len(r) and cell_text(r[col])}
            if values and values <= {"x"} and "sex_male" not in fields:
                out[col] = "sex_female"
    return out


def _read_sheet(path: Path, sha: str, sheet: Sheet, result: SheetResult, reader: str,
                book_legends: dict[str, dict[str, str]]) -> None:
    match = result.match
    assert match is not None
    kind = match.mapping.kind
    headers = match.headers
    serial_col = next((i for i, h in enumerate(headers) if fold(h).replace(".", "").replace(" ", "")
                       in _SERIAL_HEADERS and i not in match.columns), None)
    title = _title_lines(sheet, match)
    legends = {col: book_legends[header_key(headers[col])] for col in match.columns
               if header_key(headers[col]) in book_legends}
    marks = _mark_columns(sheet, match)
    only_female_marks = set(marks.values()) == {"sex_female"}
    words = header_words(headers, next((c for c, f in match.columns.items()
                                        if f == "full_name"), None))
    for index in range(match.data_start, len(sheet.rows)):
        row = sheet.rows[index]
        if is_footer(row):
            result.footer_row = sheet.first_row + index
            break
        texts = [cell_text(v) for v in row]
        if not any(texts):
            continue
        values = {name: texts[col] if col < len(texts) else None
                  for col, name in match.columns.items()}
        serial = texts[serial_col] if serial_col is not None and serial_col < len(texts) else None
        reason = structure_reason(texts, values, words, serial)
        if reason:
            result.structure[reason] += 1
            continue
        excel_row = sheet.first_row + index
        locator = f"row={index - match.data_start + 1}" if reader == "csv" \
            else f"{sheet.name}!{excel_row}"
        raw = {(headers[i] if i < len(headers) and headers[i] else f"col{i + 1}"): t
               for i, t in enumerate(texts) if t is not None}
        record: dict[str, object] = dict.fromkeys(RECORD_COLUMNS)
        extra: dict[str, str] = {}
        for col, name in match.columns.items():
            value = values[name]
            if col in marks:
                if value is not None and fold(value) in _MARKS and record["sex"] is None:
                    record["sex"] = MARK_COLUMNS[marks[col]]
            elif col in legends and value is not None:
                record[name] = legends[col].get(value, value)
            elif name in IDENTITY_COLUMNS:
                record[name] = None if is_blankish(value) and name != "sex" else value
            elif value is not None:
                extra[name] = value
        if record["sex"] is None and only_female_marks:
            record["sex"] = "Nam"
        _complete_birth_date(record, extra)
        _complete_address(record, extra)
        record.update(
            source_kind=kind, source_file=path.name, file_sha256=sha, locator=locator,
            sheet=sheet.name if reader != "csv" else None, row_number=excel_row,
            record_key=f"{kind}:{sha[:16]}:{locator}", record_hash=record_hash(raw),
            extra=json.dumps(extra, ensure_ascii=False) if extra else None,
            raw=json.dumps(raw, ensure_ascii=False), sheet_title=title,
        )
        result.records.append(record)


def _complete_birth_date(record: dict[str, object], extra: dict[str, str]) -> None:
    """Forms with a separate birth-year column: NAMSINH holds the year when the date is empty,
    or an "x" meaning "only the year of NGAYSINH is known" (the D03-TS instructions)."""
    year = extra.pop("birth_year", None)
    if year is None:
        return
    if fold(year) in _MARKS:
        found = re.search(r"(1[89]|20)\d\d", str(record["birth_date"] or ""))
        if found:
            record["birth_date"] = found.group(0)
    elif record["birth_date"] is None:
        record["birth_date"] = year


def _complete_address(record: dict[str, object], extra: dict[str, str]) -> None:
    """Forms that split the address into unit columns (thôn, xã, huyện, tỉnh): join the units
    the address text does not already name, so the commune can be resolved from it."""
    parts = [extra.get(p) for p in _ADDRESS_PARTS]
    if not any(parts):
        return
    address = str(record["permanent_address"] or "")
    missing = [p for p in parts if p and fold(p) not in fold(address)]
    if missing:
        record["permanent_address"] = ", ".join([address, *missing] if address else missing)
