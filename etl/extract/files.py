"""Which files a batch reads: folders walked, hidden and underscore names skipped, others named.

A file's identity is its SHA-256 (``file_sha256``): the same bytes under another name are the
same source file, and every staged row carries it as provenance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from etl.errors import SourceError

TABULAR_SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods"}
SUPPORTED_SUFFIXES = TABULAR_SUFFIXES | {".xml"}


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
