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
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from etl.errors import SourceError
from etl.extract.mapping import Mapping, header_key
from etl.extract.structure import (
    BLANKISH_LONGEST,
    TableStructure,
    header_words,
    is_blankish,
)
from etl.extract.tabular import (
    MAX_HEADER_BAND,
    MAX_HEADER_SEARCH,
    Fonts,
    HeaderMatch,
    Sheet,
    cell_text,
    cell_texts,
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
# What a mapped column's value does in its record (``_Table.fields``).
_IDENTITY, _EXTRA, _LEGEND, _MARK = "identity", "extra", "legend", "mark"


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


# json.dumps(obj, ensure_ascii=False) and the hash's canonical form (keys sorted, no spaces),
# as encoders built once: the same text, without a new encoder for each of a million rows.
_to_json = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_canonical_json = json.JSONEncoder(ensure_ascii=False, check_circular=False, sort_keys=True,
                                   separators=(",", ":")).encode
# A text as a JSON string, the escaping both encoders apply to every key and text.
_json_string = json.encoder.encode_basestring


def record_hash(raw: dict[str, object]) -> str:
    """A source record's content hash: the same cells under the same headers give the same
    hash in any file (the re-run of yesterday's file changes nothing)."""
    return _digest(_canonical_json(raw))


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


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
    are counted in ``result.structure``.

    ``take`` runs once per row of a million-row registry: whatever depends only on the table
    (what each column does, the raw keys, the provenance every record shares) is settled here.
    """

    def __init__(self, path: Path, sha: str, sheet_name: str, result: SheetResult, reader: str,
                 title: str | None, book_legends: dict[str, dict[str, str]],
                 data_rows: Callable[[], Iterable[list[object]]]) -> None:
        match = result.match
        assert match is not None
        self.result, self.match, self.csv = result, match, reader == "csv"
        self.sheet_name = sheet_name
        headers = match.headers
        serial_col = next((i for i, h in enumerate(headers)
                           if fold(h).replace(".", "").replace(" ", "") in _SERIAL_HEADERS
                           and i not in match.columns), None)
        legends = {col: book_legends[header_key(headers[col])] for col in match.columns
                   if header_key(headers[col]) in book_legends}
        marks = _mark_columns(match, data_rows)
        self.only_female_marks = set(marks.values()) == {"sex_female"}
        words = header_words(headers, next((c for c, f in match.columns.items()
                                            if f == "full_name"), None))
        self.structure = TableStructure(match.columns, words, serial_col)
        # Per mapped column (one per field), in order: its field, its position, what its value
        # does and with what (the value a mark means, the legend, whether blanks are cleared).
        self.fields: list[tuple[str, int, str, object]] = []
        for col, name in match.columns.items():
            if col in marks:
                self.fields.append((name, col, _MARK, MARK_COLUMNS[marks[col]]))
            elif col in legends:
                self.fields.append((name, col, _LEGEND, legends[col]))
            elif name in IDENTITY_COLUMNS:
                self.fields.append((name, col, _IDENTITY, name != "sex"))
            else:
                self.fields.append((name, col, _EXTRA, None))
        self.raw = _RawCells(headers)
        kind = match.mapping.kind
        self.record_key = f"{kind}:{sha[:16]}:"
        self.blank: dict[str, object] = dict.fromkeys(RECORD_COLUMNS)
        self.provenance = {"source_kind": kind, "source_file": path.name, "file_sha256": sha,
                           "sheet": None if self.csv else sheet_name, "sheet_title": title}
        self.records: list[dict[str, object]] = []

    def take(self, index: int, row: list[object], first_row: int = 1) -> bool:
        """Read row ``index`` of the sheet (0-based; the sheet's row ``first_row + index``);
        ``False`` at the footer, where the table ends."""
        texts = cell_texts(row)
        filled = list(filter(None, texts))
        if not filled:
            return True
        if len(filled) <= 3 and is_footer_text(filled):
            self.result.footer_row = first_row + index
            return False
        reason = self.structure.reason(texts, filled)
        if reason:
            self.result.structure[reason] += 1
            return True
        width = len(texts)
        record = self.blank.copy()
        extra: dict[str, str] = {}
        for name, col, does, how in self.fields:
            value = texts[col] if col < width else None
            if does is _IDENTITY:  # (a cell text is trimmed: when long, no placeholder)
                record[name] = value if value is None or not how or \
                    len(value) > BLANKISH_LONGEST or not is_blankish(value) else None
            elif value is None:
                if does is _LEGEND and name in IDENTITY_COLUMNS:
                    # empty, as an identity column's empty cell: a sex a mark gave is undone
                    record[name] = None
            elif does is _EXTRA:
                extra[name] = value
            elif does is _LEGEND:
                record[name] = how.get(value, value)  # type: ignore[attr-defined]
            elif record["sex"] is None and fold(value) in _MARKS:  # a mark column
                record["sex"] = how
        if record["sex"] is None and self.only_female_marks:
            record["sex"] = "Nam"
        if extra:
            _complete_birth_date(record, extra)
            _complete_address(record, extra)
        raw, canonical = self.raw.json(texts, filled)
        excel_row = first_row + index
        locator = f"row={index - self.match.data_start + 1}" if self.csv \
            else f"{self.sheet_name}!{excel_row}"
        record.update(self.provenance, locator=locator, row_number=excel_row,
                      record_key=self.record_key + locator, record_hash=_digest(canonical),
                      extra=_to_json(extra) if extra else None, raw=raw)
        self.records.append(record)
        return True


class _RawCells:
    """A row's filled cells under their headers (``raw``) as JSON: the text stored in ``raw``
    and the canonical form ``record_hash`` hashes, the very texts ``_to_json`` and
    ``_canonical_json`` write for the dict ``{header: text}`` — without building it.

    Which cells are filled repeats from row to row (all of them, or the same few left empty),
    so the JSON around the cells (keys, separators, the sorted order) is laid out once per
    pattern of filled cells (``_Layout``), and a row's texts are only escaped and put in place.
    """

    PATTERNS = 1024  # layouts kept; a file whose rows fill cells at random lays out every row

    def __init__(self, headers: list[str]) -> None:
        # A cell's key: its header, or its position when under an empty header or past the end.
        self.keys = [h or f"col{i + 1}" for i, h in enumerate(headers)]
        self.layouts: dict[tuple[bool, ...], _Layout] = {}

    def json(self, texts: list[str | None], filled: list[str]) -> tuple[str, str]:
        """``raw`` and its canonical form for a row's ``cell_texts`` (``filled``: those not
        ``None``, in order)."""
        pattern = tuple(map(bool, texts))
        layout = self.layouts.get(pattern)
        if layout is None:
            layout = self._layout(pattern)
        cells = list(map(_json_string, filled))
        return layout.raw % layout.raw_cells(cells), layout.canonical % layout.sorted_cells(cells)

    def _layout(self, pattern: tuple[bool, ...]) -> _Layout:
        keys = self.keys
        keys.extend(f"col{i + 1}" for i in range(len(keys), len(pattern)))
        # As a dict built cell by cell: a key repeated (two columns under one header) keeps
        # its first place and the last cell's text.
        cell_of: dict[str, int] = {}
        for n, column in enumerate([i for i, full in enumerate(pattern) if full]):
            cell_of[keys[column]] = n
        ordered = sorted(cell_of)
        layout = _Layout(
            "{" + ", ".join(_json_string(k).replace("%", "%%") + ": %s" for k in cell_of) + "}",
            _picker([cell_of[k] for k in cell_of]),
            "{" + ",".join(_json_string(k).replace("%", "%%") + ":%s" for k in ordered) + "}",
            _picker([cell_of[k] for k in ordered]))
        if len(self.layouts) < self.PATTERNS:
            self.layouts[pattern] = layout
        return layout


@dataclass(frozen=True)
class _Layout:
    """The JSON of ``raw`` and of its canonical form for one pattern of filled cells, as
    %-templates, and which escaped cells fill each template's places in order."""

    raw: str
    raw_cells: Callable[[list[str]], tuple[str, ...]]
    canonical: str
    sorted_cells: Callable[[list[str]], tuple[str, ...]]


def _picker(positions: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The items at ``positions`` of a list, always as a tuple (``itemgetter`` of one position
    gives the item itself, of none is an error)."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)  # type: ignore[return-value]
    return lambda cells: tuple(cells[p] for p in positions)


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
