"""One source file into parts: the reader its content calls for, failures as file rejects.

A clinic month (GIAMDINHHS XML) is read in parts of ``clinic_xml.PART_EPISODES`` episodes and a
CSV file in parts of ``sheets.PART_ROWS`` data rows, so a large file runs in bounded memory; a
workbook is one part. Whatever the reader says about the whole file (sheets not read, columns
not mapped, rows skipped as form structure, an episode count that does not add up) becomes a
``FileNote``, carried by the file's last part.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from etl.errors import SourceError
from etl.extract import clinic_xml
from etl.extract.mapping import Mapping
from etl.extract.sheets import WorkbookResult, iter_csv_table, read_tabular
from etl.extract.tabular import reads_as_csv


@dataclass
class FileNote:
    """Something about a whole file worth telling the operator (no personal data)."""

    source_file: str
    message: str


@dataclass
class Part:
    """What one read of (part of) a file produced."""

    kind: str
    records: list[dict[str, object]]
    rejects: list[dict[str, object]]
    tables: dict[str, list[dict[str, object]]]
    info: dict[str, object]
    notes: list[FileNote]
    structure_rows: int = 0  # rows of form structure (section, sub-total, formula rows) skipped


def read_file(path: Path, sha: str, mappings: dict[str, Mapping], kind: str | None,
              text_encoding: str | None, chunk_records: int | None) -> Iterator[Part]:
    """The parts of one file (several for a large clinic XML or CSV file); an unreadable file is
    one part holding a file-level reject, so one bad file never stops the batch.

    A CSV file is refused, if at all, before its first part (``tabular.open_csv`` checks all of
    it first), so a refused file never has records loaded. Should an error still come after a
    part was handed on (the file changed while it was read), it stops the run rather than
    become a reject beside records already on their way.
    """
    try:
        if kind in (None, clinic_xml.KIND) and clinic_xml.sniff(path):
            yield from _xml_parts(path, sha, chunk_records)
            return
        if kind == clinic_xml.KIND or path.suffix.lower() == ".xml":
            raise SourceError(f"{path.name}: not a GIAMDINHHS clinic export")
        if not reads_as_csv(path):
            book = read_tabular(path, sha, mappings, kind, text_encoding)
            yield Part(book.kind, book.records, [], {}, book.info, _workbook_notes(path, book),
                       book.structure_rows)
            return
        parts = _csv_parts(path, sha, mappings, kind, text_encoding)
        first = next(parts)
    except SourceError as exc:
        reject = {"source_file": path.name, "file_sha256": sha, "locator": "file",
                  "stage": "extract", "scope": "file",
                  "slug": getattr(exc, "slug", None) or "unreadable-file", "field": "",
                  "message": str(exc) + (f" ({exc.hint})" if exc.hint else ""), "raw": None}
        yield Part(kind or "unknown", [], [reject], {},
                   {"encoding": None, "text_encoding": None, "reader": None}, [])
        return
    yield first
    yield from parts


def _csv_parts(path: Path, sha: str, mappings: dict[str, Mapping], kind: str | None,
               text_encoding: str | None) -> Iterator[Part]:
    """A CSV file's parts; the last one carries the notes about the whole file."""
    for part in iter_csv_table(path, sha, mappings, kind, text_encoding):
        notes = _workbook_notes(path, part.book) if part.book is not None else []
        yield Part(part.kind, part.records, [], {}, part.info, notes, part.structure_rows)


def _xml_parts(path: Path, sha: str, chunk_records: int | None) -> Iterator[Part]:
    """A clinic export's parts; the last one carries the notes about the whole file."""
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
        yield Part(clinic_xml.KIND, xml.records, xml.rejects, xml.tables, info, notes)
        if following is None:
            return
        xml = following


def _workbook_notes(path: Path, book: WorkbookResult) -> list[FileNote]:
    """Per sheet: why it was not read, which columns no mapping knows, what was structure."""
    notes: list[FileNote] = []
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
    return notes
