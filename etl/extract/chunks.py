"""Parts of files gathered into staged tables of bounded size.

A chunk holds about ``chunk_records`` records plus their clinical rows; a file can span chunks,
and each chunk's ``files`` table counts the rows it holds of each. Within a chunk one record
stands per business key: a month exported twice keeps the later file's episode.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.extract import clinic_xml
from etl.extract.read import FileNote, Part
from etl.stage import FILE_COLUMNS, RECORD_COLUMNS, REJECT_COLUMNS, StageData, empty


def latest_per_key(records: list[dict[str, object]]
                   ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """One record per business key in a batch: a month exported twice (the correction after the
    original) keeps the later file's episode; the earlier one is rejected as superseded.
    Returns the records kept and the rejects of those superseded."""
    last = {r["record_key"]: i for i, r in enumerate(records)}
    if len(last) == len(records):  # every key once (a registry's rows): nothing superseded
        return list(records), []
    kept: list[dict[str, object]] = []
    superseded: list[dict[str, object]] = []
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


class Chunk:
    """The records, rejects, clinical rows and notes of the parts read since the last chunk."""

    def __init__(self) -> None:
        self.file_rows: list[dict[str, object]] = []
        self.records: list[dict[str, object]] = []
        self.rejects: list[dict[str, object]] = []
        self.tables: dict[str, list[dict[str, object]]] = {n: [] for n in clinic_xml.SIDE_TABLES}
        self.notes: list[FileNote] = []
        self.weight = 0  # records plus clinical rows: what a chunk costs in memory

    def add(self, path: Path, sha: str, part: Part) -> None:
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
                row["structure_rows"] += part.structure_rows
                return
        self.file_rows.append({"source_file": path.name, "path": str(path.resolve()),
                               "file_sha256": sha, "kind": part.kind,
                               "size_bytes": path.stat().st_size, "rows": seen_rows,
                               "structure_rows": part.structure_rows, **part.info})

    def stage(self) -> StageData:
        records, superseded = latest_per_key(self.records)
        rejects = self.rejects + superseded
        tables = {name: rows for name, rows in self.tables.items() if rows}
        kept = {(r["record_key"], r["file_sha256"]) for r in records} if tables else set()
        return StageData(
            "extract",
            pd.DataFrame(self.file_rows, columns=FILE_COLUMNS),
            pd.DataFrame(records, columns=RECORD_COLUMNS) if records else empty(RECORD_COLUMNS),
            pd.DataFrame(rejects, columns=REJECT_COLUMNS) if rejects else empty(REJECT_COLUMNS),
            tables={name: pd.DataFrame([r for r in rows
                                        if (r["record_key"], r["file_sha256"]) in kept])
                    for name, rows in tables.items()},
            meta={"notes": [n.__dict__ for n in self.notes]},
        )
