"""Extract: source files in, one staged-record table out (values exactly as typed + provenance).

Each file's kind is detected from its content (the mapping whose headers fit best, or the XML
envelope) unless ``kind`` is given. Rows that cannot become a record go to rejects with file,
position and reason; nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from etl.errors import SourceError, UsageError
from etl.extract import clinic_xml
from etl.extract.mapping import Mapping, mappings_for
from etl.extract.sheets import read_tabular
from etl.stage import FILE_COLUMNS, RECORD_COLUMNS, REJECT_COLUMNS, StageData, empty
from etl.transform.legacy import ENCODINGS

TABULAR_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods"}
SUPPORTED_SUFFIXES = TABULAR_SUFFIXES | {".xml"}
Progress = Callable[[str, int, int], None]


@dataclass
class FileNote:
    """Something about a whole file worth telling the operator (no personal data)."""

    source_file: str
    message: str


@dataclass
class ExtractResult:
    """The extracted stage (notes about whole files are in ``data.meta["notes"]``)."""

    data: StageData


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _skipped(relative: Path) -> bool:
    """Hidden files, Excel lock files and anything under a folder or file named with a leading
    underscore (such as the samples' ``_truth/``) are not sources."""
    return any(part.startswith((".", "_", "~$")) for part in relative.parts)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, folders walked recursively for supported files, in a stable order.

    Inside folders, names starting with ``.``, ``_`` or ``~$`` are skipped (see ``_skipped``);
    other files of a type no reader takes are listed by ``unsupported_files``.
    """
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found.extend(p for p in _walk(path) if p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.exists():
            found.append(path)
        else:
            raise SourceError(f"{path}: no such file or folder")
    return found


def unsupported_files(paths: Iterable[Path]) -> list[Path]:
    """Files inside the given folders that no reader takes (a .pdf, a .docx): the summary names
    them, so an operator never wonders why a file put in the folder did not load."""
    return [p for path in map(Path, paths) if path.is_dir()
            for p in _walk(path) if p.suffix.lower() not in SUPPORTED_SUFFIXES]


def _walk(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not _skipped(p.relative_to(folder)))


def _latest_per_key(records: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    """One record per business key in a batch: a month exported twice (the correction after the
    original) keeps the later file's episode; the earlier one is rejected as superseded."""
    last: dict[object, int] = {}
    for i, r in enumerate(records):
        last[r["record_key"]] = i
    kept, superseded = [], []
    for i, r in enumerate(records):
        if last[r["record_key"]] == i:
            kept.append(r)
        else:
            superseded.append({"source_file": r["source_file"], "file_sha256": r["file_sha256"],
                               "locator": r["locator"], "stage": "extract", "scope": "record",
                               "slug": "superseded-episode", "field": "",
                               "message": "the same episode appears in a later file of this "
                                          "batch, which was loaded instead",
                               "raw": r["raw"]})
    return kept, superseded


def extract_files(
    paths: Iterable[Path],
    *,
    kind: str | None = None,
    text_encoding: str | None = None,
    mapping_files: list[Path] | None = None,
    progress: Progress | None = None,
) -> ExtractResult:
    """Extract every file in ``paths`` (folders walked) into one staged table."""
    chunks = list(iter_extract(paths, kind=kind, text_encoding=text_encoding,
                               mapping_files=mapping_files, progress=progress, chunk_records=None))
    return ExtractResult(chunks[0])


def iter_extract(
    paths: Iterable[Path],
    *,
    kind: str | None = None,
    text_encoding: str | None = None,
    mapping_files: list[Path] | None = None,
    progress: Progress | None = None,
    chunk_records: int | None = 25_000,
) -> Iterator[StageData]:
    """Extract ``paths`` as staged tables of about ``chunk_records`` rows each — records plus
    their clinical rows — (``None``: one table), so large inputs run through the later stages in
    bounded memory. A clinic month is read in parts of ``clinic_xml.PART_EPISODES`` episodes; a
    file can span chunks, and each chunk's ``files`` table counts the rows it holds of each."""
    mappings = mappings_for(mapping_files)
    if kind is not None and kind not in mappings and kind != clinic_xml.KIND:
        raise UsageError(f"unknown source kind {kind!r}; known: "
                         f"{', '.join(sorted([*mappings, clinic_xml.KIND]))}")
    if text_encoding is not None and text_encoding not in ENCODINGS:
        raise UsageError(f"unknown text encoding {text_encoding!r}; use one of {ENCODINGS}")
    paths = list(paths)
    files = expand_paths(paths)
    not_read = unsupported_files(paths)
    if not files:
        raise SourceError("no source files found", hint="pass CSV, XLSX, XLS, ODS or XML files "
                          "or folders" + (f" ({len(not_read)} files of other types were found)"
                                          if not_read else ""))
    chunk = _Chunk()
    chunk.notes += [FileNote(p.name, f"not read: {p.suffix or 'no'} files are not a source type "
                             "hssk reads (CSV, XLSX, XLS, ODS, XML)") for p in not_read]
    for n, path in enumerate(files, 1):
        if progress:
            progress("extract", n, len(files))
        sha = file_sha256(path)
        for part in _read_file(path, sha, mappings, kind, text_encoding,
                               clinic_xml.PART_EPISODES if chunk_records else None):
            chunk.add(path, sha, part)
            if chunk_records and chunk.weight >= chunk_records:
                yield chunk.stage()
                chunk = _Chunk()
    if chunk.file_rows or not chunk_records:
        yield chunk.stage()


@dataclass
class _Part:
    """What one read of (part of) a file produced."""

    kind: str
    records: list[dict[str, object]]
    rejects: list[dict[str, object]]
    tables: dict[str, list[dict[str, object]]]
    info: dict[str, object]
    notes: list[FileNote]
    structure_rows: int = 0  # rows of form structure (section, sub-total, formula rows) skipped


class _Chunk:
    def __init__(self) -> None:
        self.file_rows: list[dict[str, object]] = []
        self.records: list[dict[str, object]] = []
        self.rejects: list[dict[str, object]] = []
        self.tables: dict[str, list[dict[str, object]]] = {n: [] for n in clinic_xml.SIDE_TABLES}
        self.notes: list[FileNote] = []
        self.weight = 0  # records plus clinical rows: what a chunk costs in memory

    def add(self, path: Path, sha: str, part: _Part) -> None:
        self.weight += len(part.records) + sum(len(rows) for rows in part.tables.values())
        self.records += part.records
        self.rejects += part.rejects
        for name, rows in part.tables.items():
            self.tables[name] += [{**row, "file_sha256": sha} for row in rows]
        self.notes += part.notes
        seen_rows = len(part.records) + sum(r["scope"] == "record" for r in part.rejects)
        for row in self.file_rows:  # a later part of a file already in this chunk
            if row["file_sha256"] == sha:
                row["rows"] += seen_rows
                return
        self.file_rows.append({"source_file": path.name, "path": str(path.resolve()),
                               "file_sha256": sha, "kind": part.kind,
                               "size_bytes": path.stat().st_size, "rows": seen_rows,
                               "structure_rows": part.structure_rows, **part.info})

    def stage(self) -> StageData:
        records, superseded = _latest_per_key(self.records)
        rejects = self.rejects + superseded
        kept = {(r["record_key"], r["file_sha256"]) for r in records}
        return StageData(
            "extract",
            pd.DataFrame(self.file_rows, columns=FILE_COLUMNS),
            pd.DataFrame(records, columns=RECORD_COLUMNS) if records else empty(RECORD_COLUMNS),
            pd.DataFrame(rejects, columns=REJECT_COLUMNS) if rejects else empty(REJECT_COLUMNS),
            tables={name: pd.DataFrame([r for r in rows
                                        if (r["record_key"], r["file_sha256"]) in kept])
                    for name, rows in self.tables.items() if rows},
            meta={"notes": [n.__dict__ for n in self.notes]},
        )


def _read_file(path: Path, sha: str, mappings: dict[str, Mapping], kind: str | None,
               text_encoding: str | None, chunk_records: int | None) -> Iterator[_Part]:
    """The parts of one file (several for a large clinic XML); an unreadable file is one part
    holding a file-level reject, so one bad file never stops the batch."""
    try:
        if kind in (None, clinic_xml.KIND) and clinic_xml.sniff(path):
            info = {"encoding": "utf-8", "text_encoding": "unicode", "reader": "xml"}
            skipped: dict[str, int] = {}
            seen = 0
            parts = clinic_xml.iter_read(path, sha, chunk=chunk_records)
            xml = next(parts)
            while True:
                following = next(parts, None)
                for name, count in xml.skipped_tables.items():
                    skipped[name] = skipped.get(name, 0) + count
                seen += len(xml.records) + sum(r["scope"] == "record" for r in xml.rejects)
                notes: list[FileNote] = []
                if following is None:  # last part: what the whole file said
                    if skipped:
                        notes.append(FileNote(path.name, "inner tables not read: " + ", ".join(
                            f"{k} ×{v}" for k, v in sorted(skipped.items()))))
                    if xml.declared is not None and xml.declared != seen:
                        notes.append(FileNote(path.name, f"SOLUONGHOSO says {xml.declared} "
                                                         f"episodes, {seen} found"))
                yield _Part(clinic_xml.KIND, xml.records, xml.rejects, xml.tables, info, notes)
                if following is None:
                    return
                xml = following
        if kind == clinic_xml.KIND or path.suffix.lower() == ".xml":
            raise SourceError(f"{path.name}: not a GIAMDINHHS clinic export")
        notes: list[FileNote] = []
        book = read_tabular(path, sha, mappings, kind, text_encoding)
        for sheet in book.sheets:
            if sheet.note:
                notes.append(FileNote(path.name, f"sheet {sheet.name!r} not read: {sheet.note}"))
            elif sheet.match is not None and sheet.match.unmapped:
                unmapped = sheet.match.unmapped
                notes.append(FileNote(path.name, f"sheet {sheet.name!r}: {len(unmapped)} "
                                      f"column{'s' if len(unmapped) > 1 else ''} not mapped: "
                                      + ", ".join(repr(c) for c in unmapped)))
            if sheet.structure:
                notes.append(FileNote(path.name, f"sheet {sheet.name!r}: skipped as table "
                                      "structure: " + ", ".join(
                                          f"{k} {v}" for k, v in sheet.structure.most_common())))
        yield _Part(book.kind, book.records, [], {}, book.info, notes, book.structure_rows)
    except SourceError as exc:
        reject = {"source_file": path.name, "file_sha256": sha, "locator": "file",
                  "stage": "extract", "scope": "file",
                  "slug": getattr(exc, "slug", None) or "unreadable-file", "field": "",
                  "message": str(exc) + (f" ({exc.hint})" if exc.hint else ""), "raw": None}
        yield _Part(kind or "unknown", [], [reject], {},
                    {"encoding": None, "text_encoding": None, "reader": None}, [])
