"""Reading tables out of CSV and XLSX files as people really make them.

A sheet is read whole (values as typed, with their Excel row numbers), legacy-font text is
converted, then the header band is searched for: title rows above it are skipped, one to three
header rows with merged cells are joined ("Giới tính / Nam"), and the table ends at the first
footer or signature line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from etl.errors import SourceError
from etl.extract.mapping import Mapping, header_key
from etl.transform.legacy import LATIN1_FOREIGN, LATIN1_VIETNAMESE, decode, detect_encoding
from etl.transform.text import fold

MAX_HEADER_SEARCH = 30
MAX_HEADER_BAND = 3
_FOOTER = re.compile(
    r"^(?:nguoi lap|nguoi lap bieu|hieu truong|thu truong|giam doc|truong tram|xac nhan|"
    r"ke toan|ngay\s*\.*\s*\d*\s*thang|.*,\s*ngay\s+\d+\s+thang)"
)


@dataclass
class Sheet:
    """One table-bearing sheet: ``rows[i]`` is Excel row ``first_row + i``."""

    name: str
    rows: list[list[object]]
    first_row: int = 1
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    text_encoding: str = "unicode"


@dataclass
class Workbook:
    sheets: list[Sheet]
    reader: str
    encoding: str | None = None  # byte encoding of a text file


@dataclass
class HeaderMatch:
    """Where a sheet's table starts and what its columns mean under ``mapping``."""

    mapping: Mapping
    header_row: int  # index into Sheet.rows of the band's first row
    band: int
    headers: list[str]
    columns: dict[int, str]
    score: float

    @property
    def data_start(self) -> int:
        return self.header_row + self.band

    @property
    def unmapped(self) -> list[str]:
        ignored = self.mapping.ignored_keys
        return [h for i, h in enumerate(self.headers)
                if h and i not in self.columns and header_key(h) not in ignored]


def cell_text(value: object) -> str | None:
    """A cell as text the way a person reads it; ``None`` for empty. Dates become ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    text = unicodedata.normalize("NFC", str(value)).strip()
    return text or None


def _decode_bytes(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM or not) or UTF-16 first; legacy 8-bit otherwise.

    An 8-bit file is read as Latin-1 when that reveals a TCVN3/VNI font (the bytes are the
    font's), else as Windows-1258, the Vietnamese code page.
    """
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    latin = data.decode("latin-1")
    sample = latin[:200_000]
    legacy = detect_encoding(sample.splitlines()).encoding
    try:
        windows = unicodedata.normalize("NFC", data.decode("cp1258"))
    except UnicodeDecodeError:
        return latin, "latin-1"
    if legacy in ("tcvn3", "vni") and _vietnamese_score(decode(sample, legacy)) > \
            _vietnamese_score(windows[:200_000]):
        return latin, "latin-1"
    return windows, "cp1258"


def _vietnamese_score(text: str) -> int:
    """Vietnamese letters produced minus characters no Vietnamese text contains."""
    good = sum(1 for ch in text if 0x100 <= ord(ch) <= 0x1EF9 or ch in LATIN1_VIETNAMESE)
    bad = sum(1 for ch in text if unicodedata.combining(ch) or ch in LATIN1_FOREIGN)
    return good - 3 * bad


def _sniff_delimiter(text: str) -> str:
    head = text[:20000]
    lines = [ln for ln in head.splitlines() if ln.strip()][:30]
    best, best_score = ",", -1.0
    for delim in (",", ";", "\t", "|"):
        counts = [ln.count(delim) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        common = max(set(counts), key=counts.count)
        score = counts.count(common) * common
        if score > best_score:
            best, best_score = delim, score
    return best


def read_csv(path: Path) -> Workbook:
    data = Path(path).read_bytes()
    text, encoding = _decode_bytes(data)
    delimiter = _sniff_delimiter(text)
    rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    return Workbook([Sheet(Path(path).stem, rows)], "csv", encoding)


def read_xlsx(path: Path) -> Workbook:
    try:
        wb = CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
            merged = list(sheet.merged_cell_ranges or [])
            sheets.append(Sheet(name, [list(r) for r in rows], 1, merged))
    except (CalamineError, OSError, ValueError) as exc:
        raise SourceError(f"{Path(path).name}: not a readable Excel workbook ({type(exc).__name__})",
                          hint="open it in Excel or LibreOffice and save as .xlsx") from exc
    return Workbook(sheets, "calamine")


def read_workbook(path: Path) -> Workbook:
    suffix = Path(path).suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        return read_xlsx(path)
    return read_csv(path)


def convert_legacy_text(sheet: Sheet, forced: str | None = None) -> str:
    """Detect the font encoding and convert the sheet's text to Unicode; returns what was used.

    Detection runs over the whole sheet (headers included) and then per column: a column with
    strong evidence of its own (a TCVN3 name column under Unicode headers that newer software
    wrote) keeps its own verdict, weak columns follow the sheet. ``forced`` (``--text-encoding``)
    skips detection. The result is ``unicode``, ``tcvn3``, ``vni``, ``viqr`` or, for a mixed
    sheet, e.g. ``tcvn3+unicode``.
    """
    if forced:
        per_column = None
        sheet_encoding = forced
    else:
        texts = [v for row in sheet.rows for v in row if isinstance(v, str) and v]
        found_sheet = detect_encoding(texts)
        sheet_encoding = found_sheet.encoding
        if sheet_encoding == "unicode" and found_sheet.legacy_marks == 0:
            sheet.text_encoding = "unicode"  # not one legacy character: nothing to convert
            return "unicode"
        width = max((len(r) for r in sheet.rows), default=0)
        per_column = []
        for c in range(width):
            column = [r[c] for r in sheet.rows if c < len(r) and isinstance(r[c], str) and r[c]]
            found = detect_encoding(column)
            strong = found.legacy_marks >= 3 or found.vietnamese_unicode >= 3
            per_column.append(found.encoding if strong else sheet_encoding)
    used = {sheet_encoding} if per_column is None else set(per_column) or {sheet_encoding}
    if used != {"unicode"}:
        sheet.rows = [
            [_decode_cell(v, per_column[c] if per_column else sheet_encoding)
             for c, v in enumerate(row)]
            for row in sheet.rows
        ]
    label = "+".join(sorted(used, key=lambda e: (e == "unicode", e)))
    sheet.text_encoding = label
    return label


def _decode_cell(value: object, encoding: str) -> object:
    """Convert one cell, unless it already holds letters only Unicode has (ă đ ơ ư ạ…):
    such a cell was typed in Unicode whatever its column looks like."""
    if not isinstance(value, str) or encoding == "unicode":
        return value
    if any(0x102 <= ord(ch) <= 0x1EF9 for ch in value):
        return value
    return decode(value, encoding)


def _band_headers(sheet: Sheet, start: int, band: int) -> list[str]:
    rows = sheet.rows[start:start + band]
    width = max((len(r) for r in rows), default=0)
    grid = [[cell_text(r[c]) if c < len(r) else None for c in range(width)] for r in rows]
    for (r1, c1), (r2, c2) in sheet.merged:
        top = r1 - start
        value = None
        if 0 <= top < band and c1 < width:
            value = grid[top][c1]
        elif top < 0 <= r2 - start and c1 < width:
            value = cell_text(sheet.rows[r1][c1]) if c1 < len(sheet.rows[r1]) else None
        if value is None:
            continue
        for r in range(max(r1 - start, 0), min(r2 - start, band - 1) + 1):
            for c in range(c1, min(c2, width - 1) + 1):
                grid[r][c] = value
    headers = []
    for c in range(width):
        parts: list[str] = []
        for r in range(len(grid)):
            text = grid[r][c]
            if text and text not in parts:
                parts.append(text)
        headers.append(" / ".join(parts))
    return headers


def find_header(sheet: Sheet, mappings: Iterable[Mapping]) -> HeaderMatch | None:
    """The best (mapping, header band) in the first rows of ``sheet``, or ``None``.

    With a single mapping (the operator named the kind) only its required fields must be there.
    """
    best: HeaderMatch | None = None
    limit = min(len(sheet.rows), MAX_HEADER_SEARCH)
    mappings = list(mappings)
    strict = len(mappings) > 1
    context = " ".join(fold(t) for row in sheet.rows[:MAX_HEADER_SEARCH] for t in
                       (cell_text(v) for v in row) if t) + " " + fold(sheet.name)
    for start in range(limit):
        if sum(1 for v in sheet.rows[start] if cell_text(v)) < 2:
            continue
        for band in range(1, MAX_HEADER_BAND + 1):
            if start + band > len(sheet.rows):
                break
            headers = _band_headers(sheet, start, band)
            for mapping in mappings:
                score = mapping.score(headers, strict=strict)
                if score <= 0:
                    continue
                if mapping.hints and any(h in context for h in mapping.hints):
                    score += 0.05  # the title says what the table is ("học sinh", "định kỳ")
                better = best is None or score > best.score + 1e-9 or (
                    abs(score - best.score) <= 1e-9 and mapping.priority < best.mapping.priority)
                if better:
                    best = HeaderMatch(mapping, start, band, headers,
                                       mapping.match_headers(headers), score)
    return best


def is_footer(row: list[object]) -> bool:
    """Signature lines under a table ("Người lập biểu", "…, ngày 5 tháng 9 năm…"). Totals are
    not footers: forms put sections after them ("Cộng tăng", then "II Giảm"), see structure.py."""
    texts = [t for t in (cell_text(v) for v in row) if t]
    return bool(texts) and len(texts) <= 3 and bool(_FOOTER.match(fold(texts[0])))
