"""The stages chained: what ``hssk run`` does, as a library function."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from etl.extract import extract_files
from etl.load import load_stage
from etl.load.db import redact
from etl.match import match_stage
from etl.stage import StageData, write_stage
from etl.summary import FileCounts, RunSummary, reject_counts
from etl.transform import transform_stage

log = logging.getLogger(__name__)
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
) -> RunSummary:
    """Extract, transform, match and load ``paths`` into ``engine``'s database.

    ``keep_stages`` writes each stage's Parquet folder there for inspection; ``dry_run`` stops
    before loading and reports what would have been read and rejected.
    """
    summary = RunSummary(command="run", database=redact(str(engine.url)), dry_run=dry_run)
    clock = time.perf_counter()

    def lap(stage: str, data: StageData) -> StageData:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[stage] = round(now - clock, 3)
        clock = now
        summary.peak_memory_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        log.info("stage done", extra={"stage": stage, "records": len(data.records),
                                      "rejects": len(data.rejects),
                                      "seconds": summary.seconds[stage],
                                      "peak_memory_mb": summary.peak_memory_mb})
        if keep_stages is not None:
            write_stage(data, Path(keep_stages) / stage)
        return data

    extracted = lap("extract", extract_files(paths, kind=kind, text_encoding=text_encoding,
                                             mapping_files=mapping_files,
                                             progress=progress).data)
    summary.notes = [f"{n['source_file']}: {n['message']}"
                     for n in extracted.meta.get("notes", [])]
    cleaned = lap("transform", transform_stage(extracted, policy=policy))
    matched = lap("match", match_stage(cleaned, engine))
    summary.count_findings(matched.issues, matched.rejects)
    if dry_run:
        summary.files = dry_run_counts(matched)
        return summary
    counts = load_stage(matched, engine, command="run", progress=progress)
    lap("load", matched)
    summary.absorb(counts)
    return summary


def dry_run_counts(data: StageData) -> list[FileCounts]:
    """Per-file counts without touching the database (everything not rejected is 'created')."""
    out = []
    for f in data.files.itertuples():
        kept = int((data.records["file_sha256"] == f.file_sha256).sum())
        out.append(FileCounts(f.source_file, f.kind, int(f.rows), created=kept,
                              **reject_counts(data.rejects, f.file_sha256)))
    return out
