"""The stages chained: what ``hssk run`` does, as a library function."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from etl.extract import iter_extract
from etl.load import load_stage
from etl.load.db import redact
from etl.match import match_stage
from etl.match.engine import Thresholds
from etl.stage import StageData, write_stage
from etl.summary import FileCounts, RunSummary, reject_counts
from etl.transform import transform_stage

log = logging.getLogger(__name__)
CHUNK_RECORDS = 25_000  # records plus their clinical rows per chunk
Progress = Callable[[str, int, int], None]


def run(
    paths: list[Path],
    engine: Engine,
    *,
    kind: str | None = None,
    text_encoding: str | None = None,
    mapping_files: list[Path] | None = None,
    keep_stages: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    policy: dict[str, str] | None = None,
    chunk_records: int | None = CHUNK_RECORDS,
    thresholds: Thresholds | None = None,
) -> RunSummary:
    """Extract, transform, match and load ``paths`` into ``engine``'s database.

    Inputs go through the stages in chunks of about ``chunk_records`` rows (records plus their
    clinical rows; a large clinic month is split by episodes), each loaded as its own atomic
    batch, so memory stays bounded;
    later chunks match against the persons earlier chunks loaded. ``keep_stages`` writes each
    stage's Parquet folder there (and processes everything as one chunk); ``dry_run`` stops
    before loading and reports what would have been read and rejected.
    """
    summary = RunSummary(command="run", database=redact(str(engine.url)), dry_run=dry_run)
    clock = time.perf_counter()
    per_file: dict[str, FileCounts] = {}
    issues, rejects = [], []

    def lap(stage: str, data: StageData) -> StageData:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[stage] = round(summary.seconds.get(stage, 0) + now - clock, 3)
        clock = now
        summary.peak_memory_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        log.info("stage done", extra={"stage": stage, "records": len(data.records),
                                      "rejects": len(data.rejects),
                                      "seconds": summary.seconds[stage],
                                      "peak_memory_mb": summary.peak_memory_mb})
        if keep_stages is not None:
            write_stage(data, Path(keep_stages) / stage)
        return data

    chunks = iter_extract(paths, kind=kind, text_encoding=text_encoding,
                          mapping_files=mapping_files, progress=progress,
                          chunk_records=None if keep_stages is not None else chunk_records)
    for extracted in chunks:
        lap("extract", extracted)
        summary.notes += [f"{n['source_file']}: {n['message']}"
                          for n in extracted.meta.get("notes", [])]
        cleaned = lap("transform", transform_stage(extracted, policy=policy))
        del extracted
        matched = lap("match", match_stage(cleaned, engine, thresholds))
        del cleaned
        if matched.issues is not None and len(matched.issues):
            issues.append(matched.issues[["slug"]])
        if len(matched.rejects):
            rejects.append(matched.rejects[["slug", "scope"]])
        shas = list(matched.files["file_sha256"])
        if dry_run:
            counts = dry_run_counts(matched)
        else:
            load = load_stage(matched, engine, command="run", progress=progress)
            lap("load", matched)
            counts = load.files
            summary.persons_created += load.persons_created
            summary.persons_updated += load.persons_updated
            summary.identifiers_added += load.identifiers_added
            summary.rejects_added += load.rejects_added
            summary.reviews_added += load.reviews_added
            for name, n in load.clinical_rows.items():
                summary.clinical_rows[name] = summary.clinical_rows.get(name, 0) + n
            summary.batch_id = load.batch_id
        for sha, c in zip(shas, counts, strict=True):
            _merge(per_file, sha, c)
        del matched
    summary.files = list(per_file.values())
    summary.count_findings(pd.concat(issues) if issues else None,
                           pd.concat(rejects) if rejects else None)
    return summary


def _merge(per_file: dict[str, FileCounts], sha: str, counts: FileCounts) -> None:
    """Add one chunk's counts of a file to the file's running totals."""
    if sha not in per_file:
        per_file[sha] = counts
        return
    total = per_file[sha]
    for name in ("read", "created", "updated", "unchanged", "rejected", "problems", "structure"):
        setattr(total, name, getattr(total, name) + getattr(counts, name))


def dry_run_counts(data: StageData) -> list[FileCounts]:
    """Per-file counts without touching the database (everything not rejected is 'created')."""
    out = []
    for f in data.files.itertuples():
        kept = int((data.records["file_sha256"] == f.file_sha256).sum())
        out.append(FileCounts(f.source_file, f.kind, int(f.rows), created=kept,
                              structure=int(f.structure_rows or 0),
                              **reject_counts(data.rejects, f.file_sha256)))
    return out
