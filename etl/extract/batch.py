"""Extract a batch: the files given (folders walked) in, staged tables out, in bounded chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from etl.errors import SourceError, UsageError
from etl.extract import clinic_xml
from etl.extract.chunks import Chunk
from etl.extract.files import expand_paths, file_sha256, unsupported_files
from etl.extract.mapping import mappings_for
from etl.extract.read import FileNote, read_file
from etl.stage import StageData
from etl.text.legacy import ENCODINGS

Progress = Callable[[str, int, int], None]


@dataclass
class ExtractResult:
    """The extracted stage (notes about whole files are in ``data.meta["notes"]``)."""

    data: StageData


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
    chunk = Chunk()
    chunk.notes += [FileNote(p.name, f"not read: {p.suffix or 'no'} files are not a source type "
                             "hssk reads (CSV, XLSX, XLS, ODS, XML)") for p in not_read]
    for n, path in enumerate(files, 1):
        if progress:
            progress("extract", n, len(files))
        sha = file_sha256(path)
        for part in read_file(path, sha, mappings, kind, text_encoding,
                              clinic_xml.PART_EPISODES if chunk_records else None):
            chunk.add(path, sha, part)
            if chunk_records and chunk.weight >= chunk_records:
                yield chunk.stage()
                chunk = Chunk()
    if chunk.file_rows or not chunk_records:
        yield chunk.stage()
