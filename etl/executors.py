"""Where the per-file work runs: in this process, in a pool of processes, or on Dask.

Extract and transform are per file and independent, so they scale out; matching and loading
are global (one master index, one writer) and stay in the calling process, in file order, so
every executor gives the same batches in the same order. ``serial`` streams a source in chunks
of about ``chunk_records`` rows across files (bounded memory); ``processes`` and ``dask`` hand
out one file per task and receive each file's extracted and clean stage back.

Dask runs the same function on a ``distributed`` cluster: ``dask`` alone starts a local one
(``LocalCluster``, one worker per core); set ``HSSK_DASK_SCHEDULER=tcp://host:8786`` to use a
running cluster whose workers have ``hssk-etl`` installed and can read the input paths.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from etl.errors import UsageError
from etl.extract import iter_extract
from etl.extract.files import expand_paths, unsupported_files
from etl.stage import StageData, concat_stages
from etl.transform import transform_stage

EXECUTORS = ("serial", "processes", "dask")
OVERLAP_MIN_RECORDS = 10_000  # a first chunk this full: transform beside extract


@dataclass(frozen=True)
class FileTask:
    """What a worker needs to extract and transform one file (picklable)."""

    path: Path
    kind: str | None = None
    text_encoding: str | None = None
    mapping_files: tuple[Path, ...] = field(default_factory=tuple)
    policy: tuple[tuple[str, str], ...] | None = None


def prepare_file(task: FileTask) -> tuple[StageData, StageData]:
    """Extract and transform one whole file: (extracted, clean)."""
    extracted = next(iter_extract([task.path], kind=task.kind, text_encoding=task.text_encoding,
                                  mapping_files=list(task.mapping_files) or None,
                                  chunk_records=None))
    policy = dict(task.policy) if task.policy is not None else None
    return extracted, transform_stage(extracted, policy=policy)


def prepared(paths: list[Path], *, executor: str = "serial", kind: str | None = None,
             text_encoding: str | None = None, mapping_files: list[Path] | None = None,
             policy: dict[str, str] | None = None, chunk_records: int | None = 25_000,
             progress=None) -> Iterator[tuple[StageData, StageData | None]]:  # type: ignore[no-untyped-def]
    """(extracted, clean) stage pairs of ``paths``, in file order, from ``executor``. The
    serial executor leaves the clean stage ``None``: the caller transforms each chunk as it
    comes, so the two stages are timed apart and only one chunk is in memory."""
    if executor not in EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    files = expand_paths(paths) if executor != "serial" else []
    if not files:  # serial, or nothing to read (the serial path words the error)
        for extracted in iter_extract(paths, kind=kind, text_encoding=text_encoding,
                                      mapping_files=mapping_files, progress=progress,
                                      chunk_records=chunk_records):
            yield extracted, None
        return
    notes = [{"source_file": p.name, "message": f"not read: {p.suffix or 'no'} files are not a "
              "source type hssk reads (CSV, XLSX, XLS, ODS, XML)"}
             for p in unsupported_files(paths)]
    tasks = [FileTask(p, kind, text_encoding, tuple(mapping_files or ()),
                      tuple(sorted(policy.items())) if policy is not None else None)
             for p in files]
    if executor == "processes":
        with ProcessPoolExecutor(max_workers=min(len(tasks), os.cpu_count() or 1)) as pool:
            yield from _rechunked(pool.map(prepare_file, tasks), notes, chunk_records)
        return
    yield from _rechunked(_on_dask(tasks), notes, chunk_records)


def _rechunked(results: Iterator[tuple[StageData, StageData]], notes: list[dict[str, str]],
               chunk_records: int | None) -> Iterator[tuple[StageData, StageData]]:
    """The files' stages regrouped into the chunks the serial path makes (consecutive files up
    to ``chunk_records`` rows), so matching sees the same batches whatever ran the files; the
    files not read are noted on the first, as the serial path does."""
    pending: list[tuple[StageData, StageData]] = []
    weight = 0
    for n, (extracted, clean) in enumerate(results):
        if n == 0 and notes:
            extracted.meta["notes"] = notes + list(extracted.meta.get("notes", []))
        pending.append((extracted, clean))
        weight += len(extracted.records) + sum(len(t) for t in extracted.tables.values())
        if chunk_records and weight >= chunk_records:
            yield _joined(pending)
            pending, weight = [], 0
    if pending:
        yield _joined(pending)


def _joined(pending: list[tuple[StageData, StageData]]) -> tuple[StageData, StageData]:
    return (concat_stages([e for e, _ in pending]), concat_stages([c for _, c in pending]))


def _on_dask(tasks: list[FileTask]) -> Iterator[tuple[StageData, StageData]]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise UsageError("the dask executor needs Dask: pip install 'hssk-etl[dask]'") from exc
    address = os.environ.get("HSSK_DASK_SCHEDULER")
    cluster = None if address else LocalCluster(n_workers=os.cpu_count() or 1,
                                                threads_per_worker=1, processes=True,
                                                dashboard_address=None)
    client = Client(address or cluster)
    try:
        futures = client.map(prepare_file, tasks, pure=False)
        for future in futures:  # in file order: matching and loading stay deterministic
            yield future.result()
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class TransformWorker:
    """Transform in a helper process while this one extracts the next chunk: a large file's
    chunks are extracted here and transformed there, so the two stages share the machine's
    two cores instead of taking turns. The chunks come back in the order they went, and
    ``transform_stage`` is the same function either way, so the clean stages are the same.

    Started only for a source whose first chunk is full (``OVERLAP_MIN_RECORDS``; small runs
    would pay a process start for nothing) on a machine with more than one core. The helper is
    forked (where the system can): it starts at once, with the text caches this process has
    already filled, and a script that calls :func:`etl.pipeline.run` without a ``__main__``
    guard is not run again in it, as a fresh interpreter would.
    """

    def __init__(self, policy: dict[str, str] | None) -> None:
        self.policy = policy
        methods = multiprocessing.get_all_start_methods()
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context(
            "fork" if "fork" in methods else None))

    @staticmethod
    def wanted(extracted: StageData, forced: bool | None) -> bool:
        if forced is not None:
            return forced
        weight = len(extracted.records) + sum(len(t) for t in extracted.tables.values())
        return (os.cpu_count() or 1) > 1 and weight >= OVERLAP_MIN_RECORDS

    def submit(self, extracted: StageData) -> Future:
        return self.pool.submit(transform_stage, extracted, policy=self.policy)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
