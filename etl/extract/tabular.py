"""Reading tables out of CSV and XLSX files as people really make them.

A workbook sheet is read whole (values as typed, with their Excel row numbers); a CSV file is
checked end to end and then streamed row by row (``open_csv``), as a province registry is a
million rows. Legacy-font text is converted, then the header band is searched for: title rows
above it are skipped, one to three header rows with merged cells are joined ("Giới tính / Nam"),
and the table ends at the first footer or signature line.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from etl.errors import SourceError
from etl.extract.mapping import Mapping, header_key
from etl.text import fold
from etl.text.legacy import LATIN1_FOREIGN, LATIN1_VIETNAMESE, decode, detect_encoding

# Reader limits: what one file may cost before a byte of its content is trusted. A file over a
# limit becomes a file-scope reject with one line saying which limit and by how much, and the
# rest of the folder loads. Declared here, in one place, and listed in SECURITY.md; they are
# constants, not settings, so every installation refuses the same files.
MB = 1_000_000
# Zip-based workbooks (.xlsx, .xlsm, .ods), checked on the central directory before calamine
# opens the file (calamine's zip reader refuses a member that inflates past its declared size,
# so the declared sizes are binding). A real 100,000-row registry sheet is ~60 MB of XML.
MAX_ZIP_MEMBER_BYTES = 500 * MB  # one member, uncompressed
MAX_ZIP_TOTAL_BYTES = 1_000 * MB  # all members, uncompressed
MAX_ZIP_RATIO = 100  # uncompressed : compressed, for members over ZIP_RATIO_FLOOR; sheets
ZIP_RATIO_FLOOR = 5 * MB  # written by Excel or LibreOffice compress 5-20:1
MAX_ZIP_MEMBERS = 10_000
# calamine builds each sheet as one dense grid (last used row x last used column), so a 5 KB
# workbook with one cell at XFD1048576 would ask for 17 billion cells: the sheets' extents are
# read from their XML first (a streamed scan, no tree built).
MAX_COLUMNS = 2_000  # Excel allows 16,384; no register or exam form comes near 2,000
MAX_SHEET_CELLS = 25_000_000  # last row x last column of one sheet
MAX_XLS_BYTES = 100 * MB  # old .xls (OLE2) is read whole by calamine: limited by file size
MAX_CSV_CELL_CHARS = 1_000_000  # csv.field_size_limit while reading (Python's default: 131,072)
BINARY_CONTROL_SHARE = 0.01  # control characters in a text file's first 64 KB beyond this: binary

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
    if type(value) is str:  # every cell of a CSV file: once per cell of a million rows
        text = (value if value.isascii() else unicodedata.normalize("NFC", value)).strip()
        return text or None
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


def cell_texts(row: list[object]) -> list[str | None]:
    """``cell_text`` of every cell of a row. A row all of text (every row of a CSV file, a
    million of them) is done in one pass without a call per cell."""
    try:
        "".join(row)  # type: ignore[arg-type]  # a TypeError unless every cell is a str
    except TypeError:
        return [cell_text(v) for v in row]
    nfc = unicodedata.normalize
    return [(v if v.isascii() else nfc("NFC", v)).strip() or None  # type: ignore[union-attr]
            for v in row]


def _refuse(path: Path, slug: str, message: str, hint: str | None = None) -> SourceError:
    """A file-scope problem: one line naming the file, a hint, and a reject slug for the file
    (``exc.slug``; extract falls back to ``unreadable-file``)."""
    exc = SourceError(f"{Path(path).name}: {message}", hint=hint)
    exc.slug = slug  # type: ignore[attr-defined]
    return exc


# A CSV file is streamed (a province registry is a million rows): what depends on the whole
# file — its byte encoding, whether it is refused — is settled by passes over its bytes that keep
# nothing, before its first row is handed on; the rest is decided from its head.
CSV_BLOCK_BYTES = 1 << 20  # read and decoded at a time
CSV_HEAD_BYTES = 1 << 20  # the head UTF-16, UTF-8 and the legacy code page are judged on
_CSV_BATCH = 1024  # rows parsed per raising of the (process-wide) csv cell limit
_CP1258_UNDEFINED = re.compile(b"[\x81\x8a\x8d\x8e\x8f\x90\x9a\x9d\x9e]")  # no cp1258 character


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when every other byte of the head is NUL (text saved as "Unicode"
    by a tool that wrote no byte-order mark), else ``None``."""
    head = data[:4096]
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    # Vietnamese letters (U+1Exx) have no NUL half, ASCII has one: a third is plenty, as no
    # 8-bit text holds a NUL at all.
    if odd.count(0) >= 0.3 * len(odd) and even.count(0) <= 0.02 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.3 * len(even) and odd.count(0) <= 0.02 * len(odd):
        return "utf-16-be"
    return None


class _NotUtf8(Exception):
    """The file's head is UTF-8 but a later byte is not: it is read as an 8-bit code page."""


def _byte_encoding(head: bytes, complete: bool) -> str | None:
    """UTF-16 (a byte-order mark, or NUL halves) or UTF-8 from the file's head; ``None`` for an
    8-bit file (``_legacy_encoding``). UTF-8 holds only if every byte of the file decodes, which
    the check pass finds out (``_NotUtf8``)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return None
    return "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"


def _byte_blocks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while block := fh.read(CSV_BLOCK_BYTES):
            yield block


def _legacy_encoding(path: Path, head: bytes) -> str:
    """An 8-bit file is read as Latin-1 when that reveals a TCVN3/VNI font (the bytes are the
    font's), else as Windows-1258, the Vietnamese code page — unless some byte of the file has
    no Windows-1258 character. The font is judged on the first 200,000 characters of both."""
    if any(_CP1258_UNDEFINED.search(block) for block in _byte_blocks(path)):
        return "latin-1"
    sample = head[:200_000].decode("latin-1")
    legacy = detect_encoding(sample.splitlines()).encoding
    # Composing never more than halves Windows-1258 text, so a 1 MB head gives the whole file's
    # first 200,000 composed characters.
    windows = unicodedata.normalize("NFC", head.decode("cp1258"))[:200_000]
    if legacy in ("tcvn3", "vni") and _vietnamese_score(decode(sample, legacy)) > \
            _vietnamese_score(windows):
        return "latin-1"
    return "cp1258"


def _text_blocks(path: Path, encoding: str) -> Iterator[str]:
    """The file's text in blocks that end at a line end, the same characters as decoding it
    whole: UTF-16 without its byte-order marks, Windows-1258 composed (NFC — a line end never
    composes with a neighbour, so block by block composes as the whole would). A byte that is
    not UTF-16 refuses the file, naming its offset; one that is not UTF-8 raises ``_NotUtf8``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    compose, strip_bom = encoding == "cp1258", encoding.startswith("utf-16")
    fed = 0
    carry = [""]  # the text since the last line end, in pieces (a long line is not recopied)
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CSV_BLOCK_BYTES)
            buffered = len(getattr(decoder, "buffer", b""))  # undecoded tail of the last block
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                if encoding.startswith("utf-8"):
                    raise _NotUtf8 from exc
                raise _refuse(path, "binary-file", f"looks like UTF-16 text but byte "
                              f"{fed - buffered + exc.start:,} is not UTF-16 (a binary file, or "
                              "cut short?)", hint="save it again as CSV UTF-8 from Excel or "
                              "LibreOffice") from exc
            fed += len(block)
            if strip_bom:
                text = text.lstrip("\ufeff")
                strip_bom = not text
            if block:
                if not text:
                    continue
                # A "\r" last may be half of "\r\n": it is a line end once the next character
                # is known not to be "\n".
                cut = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1)) + 1
                if not cut and (not carry[-1].endswith("\r") or text[0] == "\n"):
                    carry.append(text)
                    continue
                text, carry = "".join(carry) + text[:cut], [text[cut:]]
            else:
                text = "".join(carry) + text
            if compose:
                text = unicodedata.normalize("NFC", text)
            if text:
                yield text
            if not block:
                return


def _lines(blocks: Iterable[str]) -> Iterator[str]:
    """Lines as ``io.StringIO(whole_text, newline="")`` gives them to the csv module (blocks
    end at line ends, so no line is split)."""
    return chain.from_iterable(io.StringIO(text, newline="") for text in blocks)


@contextlib.contextmanager
def _csv_cell_limit() -> Iterator[None]:
    """``csv.field_size_limit`` is process-wide: raised only while this reader parses."""
    previous = csv.field_size_limit(MAX_CSV_CELL_CHARS)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _csv_refusal(path: Path, line: int, exc: csv.Error) -> SourceError:
    if "field larger than field limit" in str(exc):
        return _refuse(path, "oversized-cell", f"line {line} holds a cell longer than "
                       f"{MAX_CSV_CELL_CHARS:,} characters (an unclosed quote?); nothing of this "
                       "file was loaded", hint="check the quotes on that line, or remove the "
                       "cell, and save again")
    return _refuse(path, "unreadable-file", f"not a readable CSV at line {line} ({exc})",
                   hint="save it again as CSV UTF-8")


def _nul_refusal(path: Path, at: int) -> SourceError:
    return _refuse(path, "binary-file", f"holds a NUL character (at character {at:,}): a binary "
                   "file, not text", hint="open it in Excel or LibreOffice and save as .xlsx or "
                   "CSV UTF-8; a renamed workbook keeps its own extension")


def _control_refusal(path: Path, head: str) -> SourceError | None:
    """A spreadsheet, image or archive renamed .csv decodes as 8-bit text full of control
    characters; no table a person typed holds more than a stray one (NULs: ``_nul_refusal``)."""
    sample = head[:65_536]
    controls = sum(1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS)
    if controls >= 3 and controls > BINARY_CONTROL_SHARE * len(sample):
        return _refuse(path, "binary-file", f"{controls:,} control characters in its first "
                       f"{len(sample):,}: a binary file, not text", hint="open it in Excel or "
                       "LibreOffice and save as .xlsx or CSV UTF-8")
    return None


_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1a")  # \x1a: the DOS end-of-file mark old tools add


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


def _refuse_wide_row(path: Path, row: list[object], where: str) -> list[object]:
    """A row over MAX_COLUMNS once its trailing empty cells are dropped refuses the file."""
    width = len(row)
    while width and row[width - 1] in (None, ""):
        width -= 1
    if width > MAX_COLUMNS:
        raise _refuse(path, "too-many-columns", f"{where} has {width:,} columns; hssk reads "
                      f"tables of at most {MAX_COLUMNS:,}", hint="delete the stray columns "
                      "on the right (or split the table) and save again")
    return row[:width]


def _check_csv(path: Path, encoding: str) -> str:
    """Read the whole file once, keeping nothing, and refuse it for the first problem a whole
    read would have named: a byte that is not UTF-16, then a NUL anywhere, then control
    characters in its head, then the first line (in file order) with a cell over
    MAX_CSV_CELL_CHARS, over MAX_COLUMNS columns or not parsable. Returns the delimiter, sniffed
    from the head. Refusing before the first row is handed on is what keeps "nothing of this
    file was loaded" true of a problem in its last line."""
    blocks = _text_blocks(path, encoding)
    head = ""
    for text in blocks:  # the first 65,536 characters (and the rest of their block)
        head += text
        if len(head) >= 65_536:
            break
    delimiter = _sniff_delimiter(head)
    problem = _control_refusal(path, head)
    nul = head.find("\x00")
    scanned = len(head)
    eight_bit = encoding in ("latin-1", "cp1258")  # no byte can fail later: a NUL settles it

    def rest() -> Iterator[str]:
        nonlocal nul, scanned
        yield head
        for text in blocks:
            if nul < 0 and (at := text.find("\x00")) >= 0:
                nul = scanned + at
            scanned += len(text)
            if nul >= 0 and eight_bit:
                return
            yield text

    texts = rest()
    if problem is None and nul < 0:
        reader = csv.reader(_lines(t for t in texts if nul < 0), delimiter=delimiter)
        with _csv_cell_limit():
            try:
                for row in reader:
                    if len(row) > MAX_COLUMNS:
                        try:
                            _refuse_wide_row(path, row, f"line {reader.line_num}")
                        except SourceError as exc:
                            problem = exc
                            break
            except csv.Error as exc:
                problem = _csv_refusal(path, reader.line_num, exc)
    for _ in texts:  # after a refusal, the rest is still decoded: a bad byte or NUL outranks it
        pass
    if nul >= 0:
        raise _nul_refusal(path, nul)
    if problem is not None:
        raise problem
    return delimiter


@dataclass(frozen=True)
class CsvText:
    """A CSV file that passed every check of ``open_csv``, read row by row in bounded memory."""

    path: Path
    encoding: str  # byte encoding: utf-8, utf-8-sig, utf-16(-le/-be), cp1258 or latin-1
    delimiter: str

    def rows(self) -> Iterator[list[object]]:
        """The file's rows as the csv module parses them, a row over MAX_COLUMNS trimmed of its
        empty tail. A refusal here means the file changed since ``open_csv`` checked it."""
        reader = csv.reader(_lines(_text_blocks(self.path, self.encoding)),
                            delimiter=self.delimiter)
        while True:
            batch: list[list[object]] = []
            with _csv_cell_limit():
                try:
                    for row in reader:
                        if len(row) > MAX_COLUMNS:
                            row = _refuse_wide_row(self.path, row, f"line {reader.line_num}")
                        batch.append(row)
                        if len(batch) == _CSV_BATCH:
                            break
                except csv.Error as exc:
                    raise _csv_refusal(self.path, reader.line_num, exc) from exc
                except _NotUtf8 as exc:
                    raise _refuse(self.path, "unreadable-file", "changed while it was read (no "
                                  "longer UTF-8)", hint="copy it again and rerun") from exc
            if not batch:
                return
            yield from batch


def open_csv(path: Path) -> CsvText:
    """A CSV or text table checked end to end, ready to stream (``CsvText.rows``).

    The byte encoding is UTF-16 or UTF-8 (BOM or not) when the whole file decodes as it, else
    an 8-bit code page (``_legacy_encoding``); the delimiter is sniffed from the head. A cell
    over MAX_CSV_CELL_CHARS refuses the whole file rather than one row: such a cell is nearly
    always an unclosed quote that swallowed every row after it, so "reject that row" would
    silently lose the rest of the file. Every refusal is raised here, before a row is read.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(CSV_HEAD_BYTES)
        complete = not fh.read(1)
    if not head:
        raise _refuse(path, "empty-file", "the file is empty (0 bytes)",
                      hint="export it again from the source system")
    encoding = _byte_encoding(head, complete)
    if encoding is not None:
        try:
            return CsvText(path, encoding, _check_csv(path, encoding))
        except _NotUtf8:
            pass
    encoding = _legacy_encoding(path, head)
    return CsvText(path, encoding, _check_csv(path, encoding))


def read_csv(path: Path) -> Workbook:
    """A CSV or text table read whole (one sheet of every row); extract streams it instead
    (``open_csv``), with the same checks and refusals."""
    source = open_csv(path)
    return Workbook([Sheet(Path(path).stem, list(source.rows()))], "csv", source.encoding)


_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Cell and row positions in sheet XML (SpreadsheetML and OpenDocument), for the extent scan.
# Cells and rows are what carry an attribute named ``r`` in a worksheet; matching on the bare
# ``r="`` (no name boundary) keeps the scan fast and can only overstate an extent, never miss one.
_XLSX_CELL_COLUMN = re.compile(rb'r="([A-Z]{1,7})[0-9]')
_XLSX_CELL_ROW = re.compile(rb'r="[A-Z]{1,7}([0-9]{1,12})"')
_XLSX_ROW = re.compile(rb'r="([0-9]{1,12})"')
_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell\b([^>]*?)(/?)>")
_ODS_ROWS_REPEATED = re.compile(rb'table:number-rows-repeated="([0-9]{1,12})"')
_ODS_COLUMNS_REPEATED = re.compile(rb'table:number-columns-repeated="([0-9]{1,12})"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _pieces(stream: io.BufferedIOBase, boundary: bytes, size: int = 4 << 20):
    """A member's bytes in pieces that start at ``boundary`` (a row's start tag), so per-row
    counts are never split; a row longer than 64 MB is cut anyway (it is refused regardless)."""
    tail = b""
    while True:
        block = stream.read(size)
        buf = tail + block
        if not block:
            if buf:
                yield buf
            return
        cut = buf.rfind(boundary)
        if cut <= 0 and len(buf) < 64 << 20:
            tail = buf
            continue
        if cut <= 0:
            cut = len(buf)
        yield buf[:cut]
        tail = buf[cut:]


def _xlsx_extent(stream: io.BufferedIOBase) -> tuple[int, int]:
    """(rows, columns) calamine would allocate for one worksheet: the largest row and column
    any cell or row names, or the count of cells in a row for cells written without position."""
    rows = columns = row_tags = 0
    for piece in _pieces(stream, b"<row"):  # (<x:row> pieces are cut at 64 MB instead)
        letters = set(_XLSX_CELL_COLUMN.findall(piece))
        if letters:
            columns = max(columns, max(map(_column_number, letters)))
        numbers = set(_XLSX_ROW.findall(piece)) | set(_XLSX_CELL_ROW.findall(piece))
        if numbers:
            rows = max(rows, max(map(int, numbers)))
        segments = piece.split(b"<row")
        row_tags += len(segments) - 1
        columns = max(columns, max(s.count(b"<c") for s in segments))
    return max(rows, row_tags), columns


def _ods_extent(stream: io.BufferedIOBase) -> list[tuple[int, int]]:
    """(rows, columns) of each table of an OpenDocument content.xml, counting repeated rows and
    cells up to the last one holding something (LibreOffice writes the empty rest of a sheet as
    one repeated empty row, which calamine skips)."""
    tables: list[tuple[int, int]] = []
    rows = columns = seen = 0
    for piece in _pieces(stream, b"<table:table-row"):
        for segment in piece.split(b"<table:table-row")[1:]:
            if segment[:1] not in (b" ", b">", b"/", b"\n", b"\r", b"\t"):
                continue  # <table:table-rows>, <table:table-row-group>: not a row
            head = segment[:segment.find(b">") + 1]
            repeated = _ODS_ROWS_REPEATED.search(head)
            seen += int(repeated.group(1)) if repeated else 1
            cells = _ODS_CELL.findall(segment)
            filled = [k for k, (_, closed) in enumerate(cells) if not closed]
            if filled:
                width = 0
                for attrs, _ in cells[:filled[-1] + 1]:
                    found = _ODS_COLUMNS_REPEATED.search(attrs)
                    width += int(found.group(1)) if found else 1
                rows, columns = seen, max(columns, width)
            if b"</table:table>" in segment:
                tables.append((rows, columns))
                rows = columns = seen = 0
    return [*tables, (rows, columns)]


def _check_zip(path: Path) -> None:
    """Refuse a zip-based workbook whose central directory promises more than the limits, or
    whose sheets would make calamine allocate an absurd grid, before calamine opens it."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise _refuse(path, "oversized-file", f"the workbook has {len(members):,} parts "
                              f"(limit {MAX_ZIP_MEMBERS:,})", hint=_RESAVE)
            total = 0
            for info in members:
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size > ZIP_RATIO_FLOOR and ratio > MAX_ZIP_RATIO:
                    raise _refuse(path, "suspected-zip-bomb", f"part {info.filename!r} inflates "
                                  f"{ratio:,.0f}:1 to {info.file_size / MB:,.0f} MB (workbooks "
                                  f"compress at most {MAX_ZIP_RATIO}:1); not opened",
                                  hint="ask the sender for the original file")
                if info.file_size > MAX_ZIP_MEMBER_BYTES:
                    raise _refuse(path, "oversized-file", f"part {info.filename!r} inflates to "
                                  f"{info.file_size / MB:,.0f} MB (limit "
                                  f"{MAX_ZIP_MEMBER_BYTES / MB:,.0f} MB per part)", hint=_SPLIT)
            if total > MAX_ZIP_TOTAL_BYTES:
                raise _refuse(path, "oversized-file", f"the workbook inflates to "
                              f"{total / MB:,.0f} MB (limit {MAX_ZIP_TOTAL_BYTES / MB:,.0f} MB)",
                              hint=_SPLIT)
            for info in members:
                name = info.filename.lower()
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    with zf.open(info) as stream:
                        _check_extent(path, info.filename, *_xlsx_extent(stream))
                elif name == "content.xml":
                    with zf.open(info) as stream:
                        for rows, columns in _ods_extent(stream):
                            _check_extent(path, "content.xml", rows, columns)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise _refuse(path, "truncated-file", f"the workbook is cut short or damaged ({exc})",
                      hint="copy or download it again; if Excel opens it, save it again") from exc
    except (OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise _refuse(path, "unreadable-file", f"not a readable Excel workbook "
                      f"({type(exc).__name__})", hint=_RESAVE) from exc


def _check_extent(path: Path, part: str, rows: int, columns: int) -> None:
    if columns > MAX_COLUMNS:
        raise _refuse(path, "too-many-columns", f"sheet part {part!r} reaches column {columns:,}; "
                      f"hssk reads tables of at most {MAX_COLUMNS:,} columns",
                      hint="delete the stray cells on the right of the table and save again")
    if rows * columns > MAX_SHEET_CELLS:
        raise _refuse(path, "oversized-file", f"sheet part {part!r} spans {rows:,} rows x "
                      f"{columns:,} columns (limit {MAX_SHEET_CELLS:,} cells per sheet)",
                      hint=_SPLIT)


_RESAVE = "open it in Excel or LibreOffice and save as .xlsx"
_SPLIT = "split it into smaller workbooks (or export it as CSV) and load those"


def read_xlsx(path: Path) -> Workbook:
    """A workbook through calamine, after the reader limits: zip parts and sheet extents for
    .xlsx/.xlsm/.ods, file size for old .xls."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise _refuse(path, "empty-file", "the file is empty (0 bytes)",
                      hint="export it again from the source system")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK"):
        _check_zip(path)
    elif size > MAX_XLS_BYTES:
        kind = "an old .xls workbook" if magic == _OLE2_MAGIC else "a workbook"
        raise _refuse(path, "oversized-file", f"{kind} of {size / MB:,.0f} MB (limit "
                      f"{MAX_XLS_BYTES / MB:,.0f} MB: calamine reads it whole)", hint=_SPLIT)
    elif path.suffix.lower() in (".xlsx", ".xlsm", ".ods"):
        raise _refuse(path, "unreadable-file", f"not a {path.suffix.lower()} workbook (no zip "
                      "signature: another format renamed, or damaged)", hint=_RESAVE)
    try:
        wb = CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in wb.sheet_names:
            sheet = wb.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False)
            merged = list(sheet.merged_cell_ranges or [])
            sheets.append(Sheet(name, [list(r) for r in rows], 1, merged))
    except (CalamineError, OSError, ValueError, TypeError, IndexError, KeyError,
            OverflowError, UnicodeError) as exc:
        raise _refuse(path, "unreadable-file", f"not a readable Excel workbook "
                      f"({type(exc).__name__})", hint=_RESAVE) from exc
    except BaseException as exc:  # a panic inside calamine (pyo3 PanicException) on bad input
        if type(exc).__name__ != "PanicException":
            raise
        raise _refuse(path, "unreadable-file", "not a readable Excel workbook (the reader "
                      "gave up on its content)", hint=_RESAVE) from exc
    return Workbook(sheets, "calamine")


WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})


def reads_as_csv(path: Path) -> bool:
    """Whether ``path`` is read as delimited text (any tabular file that is not a workbook)."""
    return Path(path).suffix.lower() not in WORKBOOK_SUFFIXES


def read_workbook(path: Path) -> Workbook:
    return read_csv(path) if reads_as_csv(path) else read_xlsx(path)


@dataclass(frozen=True)
class Fonts:
    """The legacy font of a table's text: per column, or one for the whole sheet.

    Decided once (``detect_fonts``) and applied to every row (``convert``), so the rows of a
    streamed CSV file after its head are converted as the head was. ``label`` is what the file
    info reports: ``unicode``, ``tcvn3``, ``vni``, ``viqr`` or, for a mixed sheet,
    e.g. ``tcvn3+unicode``.
    """

    label: str
    sheet: str  # for a column without a verdict of its own
    columns: tuple[str, ...] = ()

    @property
    def converts(self) -> bool:
        return self.label != "unicode"

    def convert(self, row: list[object]) -> list[object]:
        if not self.converts:
            return row
        columns, width = self.columns, len(self.columns)
        return [_decode_cell(v, columns[c] if c < width else self.sheet)
                for c, v in enumerate(row)]


def detect_fonts(rows: list[list[object]], forced: str | None = None) -> Fonts:
    """Detect the font encoding of ``rows`` (headers included).

    Detection runs over all the rows and then per column: a column with strong evidence of its
    own (a TCVN3 name column under Unicode headers that newer software wrote) keeps its own
    verdict, weak columns follow the sheet. ``forced`` (``--text-encoding``) skips detection.
    """
    if forced:
        return Fonts(forced, forced)
    texts = [v for row in rows for v in row if isinstance(v, str) and v]
    found_sheet = detect_encoding(texts)
    sheet_encoding = found_sheet.encoding
    if sheet_encoding == "unicode" and found_sheet.legacy_marks == 0:
        return Fonts("unicode", "unicode")  # not one legacy character: nothing to convert
    width = max((len(r) for r in rows), default=0)
    per_column = []
    for c in range(width):
        column = [r[c] for r in rows if c < len(r) and isinstance(r[c], str) and r[c]]
        found = detect_encoding(column)
        strong = found.legacy_marks >= 3 or found.vietnamese_unicode >= 3
        per_column.append(found.encoding if strong else sheet_encoding)
    used = set(per_column) or {sheet_encoding}
    return Fonts("+".join(sorted(used, key=lambda e: (e == "unicode", e))), sheet_encoding,
                 tuple(per_column))


def convert_legacy_text(sheet: Sheet, forced: str | None = None) -> str:
    """Convert the sheet's text to Unicode from the font ``detect_fonts`` finds in it (or
    ``forced``); returns the font label."""
    fonts = detect_fonts(sheet.rows, forced)
    if fonts.converts:
        sheet.rows = [fonts.convert(row) for row in sheet.rows]
    sheet.text_encoding = fonts.label
    return fonts.label


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
    return is_footer_text([cell_text(v) for v in row])


def is_footer_text(texts: list[str | None]) -> bool:
    """``is_footer`` of a row already turned into ``cell_text``s."""
    filled = [t for t in texts if t]
    return bool(filled) and len(filled) <= 3 and bool(_FOOTER.match(fold(filled[0])))
