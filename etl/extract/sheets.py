"""Workbooks and CSV files into staged records, one sheet at a time.

Every sheet is matched against the mappings on its own, so a workbook that holds an insured list,
its household appendix and a few lookup sheets loads the first two, each as its own kind, and
names the others with the reason they were not read. Inside a table, rows that are form structure
(see structure.py) are counted, never loaded or rejected.

A CSV file (one table, possibly a million rows) is streamed: its table is recognised from its
head (``HEAD_ROWS`` rows: title lines, header band, legends, fonts), and its rows become records
``PART_ROWS`` at a time (``iter_csv_table``), so memory is bounded by a part, not by the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from etl.errors import SourceError
from etl.extract.mapping import Mapping, header_key
from etl.extract.structure import header_words, is_blankish, structure_reason
from etl.extract.tabular import (
    MAX_HEADER_BAND,
    MAX_HEADER_SEARCH,
    Fonts,
    HeaderMatch,
    Sheet,
    cell_text,
    detect_fonts,
    find_header,
    is_footer_text,
    open_csv,
    read_workbook,
    reads_as_csv,
)
from etl.stage import IDENTITY_COLUMNS, RECORD_COLUMNS
from etl.text import fold

# A mark ("x", "X", "✓") in a column that stands for one value of another field.
MARK_COLUMNS = {"sex_male": "Nam", "sex_female": "Nữ"}
_MARKS = frozenset({"x", "v", "1", "co", "\u2713", "\u2714", "*"})
_SERIAL_HEADERS = frozenset({"stt", "tt", "sott", "no", "so"})
# Unit names that complete an address when a form splits it into columns.
_ADDRESS_PARTS = ("village", "commune_name", "district_name", "province_name")
# A CSV file's table is recognised from its first HEAD_ROWS rows (never fewer than the header
# search needs) and read PART_ROWS data rows at a time: a part is a fifth of extract's default
# chunk, so chunks stay close to the size asked for.
HEAD_ROWS = 20_000
PART_ROWS = 5_000


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
    """Every sheet of ``path`` matched and read on its own (``kind`` forces one mapping); a
    CSV file's parts gathered into one result."""
    if reads_as_csv(path):
        return _gathered(iter_csv_table(path, sha, mappings, kind, text_encoding))
    workbook = read_workbook(path)
    candidates = [mappings[kind]] if kind else list(mappings.values())
    results: list[SheetResult] = []
    tables: list[tuple[Sheet, SheetResult]] = []
    for sheet in workbook.sheets:
        result, _ = _recognise(sheet, candidates, text_encoding)
        if result.match is not None:
            tables.append((sheet, result))
        results.append(result)
    # A legend written over one sheet's column holds for the same column in the other sheets.
    book_legends = {header_key(r.match.headers[col]): legend for s, r in tables
                    for col, legend in _legends(s, r.match).items()}
    for sheet, result in tables:
        table = _Table(path, sha, sheet.name, result, workbook.reader, _title_lines(sheet, result),
                       book_legends, lambda s=sheet, r=result: s.rows[r.match.data_start:])
        for index in range(result.match.data_start, len(sheet.rows)):
            if not table.take(index, sheet.rows[index], sheet.first_row):
                break
        result.records = table.records
        if not result.records:
            result.note = "table header found but no rows of people under it"
    return _workbook_result(path, kind, results, workbook.reader, workbook.encoding)


def _recognise(sheet: Sheet, candidates: list[Mapping],
               text_encoding: str | None) -> tuple[SheetResult, Fonts | None]:
    """A sheet's fonts converted and its table header found (``match`` is ``None`` and
    ``note`` says why when it has none)."""
    if not any(cell_text(v) for row in sheet.rows for v in row):
        return SheetResult(sheet.name, "unicode", note="empty sheet"), None
    fonts = detect_fonts(sheet.rows, text_encoding)
    if fonts.converts:
        sheet.rows = [fonts.convert(row) for row in sheet.rows]
    sheet.text_encoding = fonts.label
    result = SheetResult(sheet.name, fonts.label, find_header(sheet, candidates))
    if result.match is None:
        result.note = "no table header recognised (a lookup or notes sheet?)"
    return result, fonts


def _workbook_result(path: Path, kind: str | None, results: list[SheetResult], reader: str,
                     encoding: str | None) -> WorkbookResult:
    """The file's kind and info from its sheets; no table anywhere refuses the file."""
    matched = [s for s in results if s.match is not None]
    if not matched:
        expected = kind or "any known kind"
        raise SourceError(f"{path.name}: no table with the headers of {expected} found",
                          hint="run `hssk inspect` on it, or add header synonyms to a mapping")
    kinds = list(dict.fromkeys(s.match.mapping.kind for s in matched if s.records)) or \
        [max(matched, key=lambda s: s.match.score).match.mapping.kind]
    encodings = sorted({s.text_encoding for s in results if s.match is not None}) or ["unicode"]
    info = {"encoding": encoding, "text_encoding": ",".join(encodings), "reader": reader}
    return WorkbookResult("+".join(kinds), results, info)


@dataclass
class TablePart:
    """Consecutive data rows of a CSV file's table, as records. The last part of the file also
    carries ``book``, the whole file's result (its sheet's structure counts and notes) without
    records."""

    kind: str
    records: list[dict[str, object]]
    structure_rows: int
    info: dict[str, object]
    book: WorkbookResult | None = None


def iter_csv_table(path: Path, sha: str, mappings: dict[str, Mapping], kind: str | None,
                   text_encoding: str | None) -> Iterator[TablePart]:
    """A CSV file's records in parts of at most ``PART_ROWS`` data rows, the same records a
    whole read gives.

    ``open_csv`` checks the whole file first, so every refusal comes before the first part.
    The head (``HEAD_ROWS`` rows) decides what a whole read decides from the table's top: title
    lines, header band, legends; and the fonts, from the head's text rather than the whole
    file's (the one decision a file whose later rows are typed in another font can change).
    Whether a sex column holds only marks ("x") is settled over the whole column, re-reading
    the file when the head cannot tell.
    """
    source = open_csv(path)
    rows = source.rows()
    try:
        limit = max(HEAD_ROWS, MAX_HEADER_SEARCH + MAX_HEADER_BAND)
        sheet = Sheet(path.stem, list(islice(rows, limit)))
        count = len(sheet.rows)
        candidates = [mappings[kind]] if kind else list(mappings.values())
        result, fonts = _recognise(sheet, candidates, text_encoding)
        book = _workbook_result(path, kind, [result], "csv", source.encoding)
        match = result.match
        assert match is not None and fonts is not None

        def data_rows() -> Iterator[list[object]]:
            yield from sheet.rows[match.data_start:]
            if count == limit:  # the file goes on past its head
                rest = source.rows()
                try:
                    yield from map(fonts.convert, islice(rest, count, None))
                finally:
                    rest.close()

        table = _Table(path, sha, sheet.name, result, "csv", _title_lines(sheet, result),
                       {header_key(match.headers[c]): legend
                        for c, legend in _legends(sheet, match).items()}, data_rows)
        numbered = chain(_released(sheet.rows, match.data_start),
                         enumerate(map(fonts.convert, rows), count))
        sheet.rows = []
        yield from _parts(table, numbered, book)
    finally:
        rows.close()


def _released(rows: list[list[object]], start: int) -> Iterator[tuple[int, list[object]]]:
    """``rows[start:]`` numbered from ``start``, each let go of once handed on, so a large
    file's head is not held until the file's end."""
    end = len(rows)
    del rows[:start]
    rows.reverse()
    for index in range(start, end):
        yield index, rows.pop()


def _parts(table: _Table, numbered: Iterator[tuple[int, list[object]]],
           book: WorkbookResult) -> Iterator[TablePart]:
    """``numbered`` rows cut into parts of PART_ROWS; the last (the footer or the file's end,
    seen one row ahead) carries ``book``."""
    result = table.result
    following = next(numbered, None)
    seen = 0
    while True:
        table.records = []
        structure = sum(result.structure.values())
        ended = False
        for _ in range(PART_ROWS):
            if following is None:
                break
            if not table.take(*following):
                ended = True
                break
            following = next(numbered, None)
        seen += len(table.records)
        last = ended or following is None
        if last and not seen:
            result.note = "table header found but no rows of people under it"
        yield TablePart(book.kind, table.records, sum(result.structure.values()) - structure,
                        book.info, book if last else None)
        if last:
            return


def _gathered(parts: Iterable[TablePart]) -> WorkbookResult:
    """A streamed CSV file's parts as one whole result (``hssk inspect``)."""
    records: list[dict[str, object]] = []
    for part in parts:
        records += part.records
        if part.book is not None:
            part.book.sheets[0].records = records
            return part.book
    raise AssertionError("a CSV table always ends with a part carrying its result")


def _title_lines(sheet: Sheet, result: SheetResult) -> str | None:
    """The texts of the title rows above the header, as typed (a JSON list, one entry per
    cell), or ``None``. Title rows often name the place ("TRƯỜNG PTDTBT TH&THCS PÙ NHI", "CÔNG
    AN XÃ TAM CHUNG"); transform reads from them the commune of every row that does not say its
    own (``sheet_title`` in etl/stage.py)."""
    assert result.match is not None
    lines = [text for row in sheet.rows[:result.match.header_row]
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


def _mark_columns(match: HeaderMatch,
                  data_rows: Callable[[], Iterable[list[object]]]) -> dict[int, str]:
    """Columns that hold only marks, mapped to the value a mark means.

    A "Nữ" column (or a GIOITINH column whose note says "x if female") holding only "x" marks
    means female where marked and male where not, when the table has no column for men. Every
    data row counts (``data_rows`` are read only while a sex column could still be all marks).
    """
    out: dict[int, str] = {}
    fields = set(match.columns.values())
    for col, name in match.columns.items():
        if name in MARK_COLUMNS:
            out[col] = name
    if "sex_male" in fields:
        return out
    open_columns = {col for col, name in match.columns.items() if name == "sex"}
    marked: set[int] = set()
    if open_columns:
        for row in data_rows():
            for col in list(open_columns):
                text = cell_text(row[col]) if col < len(row) else None
                if text is None:
                    continue
                if fold(text) == "x":
                    marked.add(col)
                else:
                    open_columns.discard(col)
                    marked.discard(col)
            if not open_columns:
                break
    out.update(dict.fromkeys(marked & open_columns, "sex_female"))
    return out


class _Table:
    """How the data rows under one header become records: worked out once from the header and
    the rows above it, then applied row by row (``take``), so a streamed CSV file's parts are
    read exactly as its whole would be. Records gather in ``records``, rows of form structure
    are counted in ``result.structure``."""

    def __init__(self, path: Path, sha: str, sheet_name: str, result: SheetResult, reader: str,
                 title: str | None, book_legends: dict[str, dict[str, str]],
                 data_rows: Callable[[], Iterable[list[object]]]) -> None:
        match = result.match
        assert match is not None
        self.path, self.sha, self.sheet_name, self.result = path, sha, sheet_name, result
        self.reader, self.title, self.match = reader, title, match
        headers = match.headers
        self.serial_col = next((i for i, h in enumerate(headers)
                                if fold(h).replace(".", "").replace(" ", "") in _SERIAL_HEADERS
                                and i not in match.columns), None)
        self.legends = {col: book_legends[header_key(headers[col])] for col in match.columns
                        if header_key(headers[col]) in book_legends}
        self.marks = _mark_columns(match, data_rows)
        self.only_female_marks = set(self.marks.values()) == {"sex_female"}
        self.words = header_words(headers, next((c for c, f in match.columns.items()
                                                 if f == "full_name"), None))
        self.records: list[dict[str, object]] = []

    def take(self, index: int, row: list[object], first_row: int = 1) -> bool:
        """Read row ``index`` of the sheet (0-based; the sheet's row ``first_row + index``);
        ``False`` at the footer, where the table ends."""
        match, result = self.match, self.result
        texts = [cell_text(v) for v in row]
        if is_footer_text(texts):
            result.footer_row = first_row + index
            return False
        if not any(texts):
            return True
        values = {name: texts[col] if col < len(texts) else None
                  for col, name in match.columns.items()}
        serial_col = self.serial_col
        serial = texts[serial_col] if serial_col is not None and serial_col < len(texts) else None
        reason = structure_reason(texts, values, self.words, serial)
        if reason:
            result.structure[reason] += 1
            return True
        kind, headers, marks, legends = match.mapping.kind, match.headers, self.marks, self.legends
        excel_row = first_row + index
        locator = f"row={index - match.data_start + 1}" if self.reader == "csv" \
            else f"{self.sheet_name}!{excel_row}"
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
        if record["sex"] is None and self.only_female_marks:
            record["sex"] = "Nam"
        _complete_birth_date(record, extra)
        _complete_address(record, extra)
        record.update(
            source_kind=kind, source_file=self.path.name, file_sha256=self.sha, locator=locator,
            sheet=self.sheet_name if self.reader != "csv" else None, row_number=excel_row,
            record_key=f"{kind}:{self.sha[:16]}:{locator}", record_hash=record_hash(raw),
            extra=json.dumps(extra, ensure_ascii=False) if extra else None,
            raw=json.dumps(raw, ensure_ascii=False), sheet_title=self.title,
        )
        self.records.append(record)
        return True


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
