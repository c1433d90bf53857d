"""The stages chained: what ``hssk run`` does, as a library function."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import resource
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine, Transaction
from sqlalchemy.exc import IntegrityError

from etl.executors import TransformWorker, prepared
from etl.extract.sheets import record_hash
from etl.job import Job
from etl.load.db import redact
from etl.load.decisions import read_decisions
from etl.load.loader import LoadPlan, plan_load, retire_missing, write_plan
from etl.load.master import empty_master, read_master
from etl.match import match_stage
from etl.match.decide import LINK_THRESHOLD, REVIEW_THRESHOLD, Thresholds
from etl.match.engine import batch_frame, match_records, release_freed_memory, with_matches
from etl.stage import (
    REPEATED_TEXTS,
    Packed,
    StageData,
    key_in,
    packed,
    read_stage,
    records_as_dicts,
    unpacked,
    write_stage,
)
from etl.stage import value as _value
from etl.summary import FileCounts, LoadCounts, RunSummary, reject_counts
from etl.text import fold
from etl.transform import transform_stage

log = logging.getLogger(__name__)
CHUNK_RECORDS = 25_000  # records plus their clinical rows per chunk
# Python's cycle collector during a run: a young generation this large instead of 700 objects.
# A run allocates rows, tuples and cells by the hundred million, nearly all freed by their
# counts; each collection of the young generation walked those still alive, and each older
# one the run's long-lived frames. A million-resident registry's main process spent 5.7 s in
# 7,255 collections, 3.0 s in 41 with these (benchmarks/bench_gc.py, BENCHMARKS.md session 16).
RUN_GC_THRESHOLD = (50_000, 20, 10)
Progress = Callable[[str, int, int], None]


@dataclass
class Inputs:
    """One set of inputs read the same way: what a job file's source entry resolves to."""

    paths: list[Path]
    kind: str | None = None
    text_encoding: str | None = None
    mapping_files: list[Path] = field(default_factory=list)
    feed: str | None = None
    snapshot: bool = False


def run(
    paths: list[Path],
    engine: Engine,
    *,
    kind: str | None = None,
    text_encoding: str | None = None,
    mapping_files: list[Path] | None = None,
    feed: str | None = None,
    snapshot: bool = False,
    **options: Any,
) -> RunSummary:
    """Extract, transform, match and load ``paths`` into ``engine``'s database (one source; see
    :func:`run_sources` for the options)."""
    return run_sources([Inputs(list(paths), kind, text_encoding, list(mapping_files or []),
                               feed, snapshot)], engine, **options)


def match_against(data: StageData, engine: Engine | None,
                  thresholds: Thresholds | None = None) -> StageData:
    """The match stage against what the database holds: the master index and the analysts'
    decisions, read through load (matching itself never touches the database)."""
    if engine is None:
        return match_stage(data, empty_master(), thresholds)
    return match_stage(data, read_master(engine), thresholds, read_decisions(engine))


def run_job(job: Job, engine: Engine, **options: Any) -> RunSummary:
    """Run a job file's sources with its thresholds and policy (see :mod:`etl.job`)."""
    inputs = [Inputs(source.files(), source.kind, source.text_encoding,
                     [source.mapping] if source.mapping else [], source.feed, source.snapshot)
              for source in job.sources]
    thresholds = Thresholds(
        LINK_THRESHOLD if job.link_threshold is None else job.link_threshold,
        REVIEW_THRESHOLD if job.review_threshold is None else job.review_threshold)
    return run_sources(inputs, engine, policy=job.policy, thresholds=thresholds, **options)


def run_sources(
    sources: list[Inputs],
    engine: Engine,
    *,
    keep_stages: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    policy: dict[str, str] | None = None,
    chunk_records: int | None = CHUNK_RECORDS,
    thresholds: Thresholds | None = None,
    heartbeat: Callable[[int | None], None] | None = None,
    executor: str = "serial",
    transform_worker: bool | None = None,
    writer_thread: bool | None = None,
) -> RunSummary:
    """Extract, transform, match and load each of ``sources`` into ``engine``'s database.

    Inputs are extracted and transformed in chunks of about ``chunk_records`` rows (records
    plus their clinical rows; a large clinic month is split by episodes), so memory stays
    bounded; the clean chunks wait on disk while all the run's records are matched at once
    against the database — one model, one set of candidate pairs, so a run links the same
    whatever its chunk size — and each chunk is then loaded as its own atomic batch.
    ``keep_stages`` writes each stage's Parquet folder there (and processes everything as one
    chunk); ``dry_run`` stops before loading and reports what would have been read and
    rejected. ``heartbeat`` is called between stages with the latest batch id (the run lock's
    sign of life). A large source is transformed in a helper process while the next chunk is
    extracted (:class:`etl.executors.TransformWorker`); ``transform_worker`` forces that on or
    off (``None``: when the first chunk is full and there is a second core). ``writer_thread``
    likewise forces the chunks' writes into a helper thread or not (``None``: on PostgreSQL;
    see :class:`Writer`).

    A snapshot source's records are keyed within its feed (:func:`key_snapshot_records`) before
    matching, and once all its files are loaded, the feed's records they no longer hold are
    marked no longer current (:func:`etl.load.loader.retire_missing`), in a batch of their own.
    """
    state = _Run(RunSummary(command="run", database=redact(str(engine.url)), dry_run=dry_run),
                 engine, heartbeat, progress, transform_worker)
    folders = [None if keep_stages is None else (
        Path(keep_stages) if len(sources) == 1 else
        Path(keep_stages) / f"{number}-{source.feed or 'source'}")
        for number, source in enumerate(sources, 1)]
    with tempfile.TemporaryDirectory(prefix="hssk-run-") as spill, _fewer_collections():
        staged = Staged(Path(spill))
        for number, source in enumerate(sources):
            chunks = prepared(source.paths, executor=executor, kind=source.kind,
                              text_encoding=source.text_encoding, policy=policy,
                              mapping_files=source.mapping_files, progress=progress,
                              chunk_records=None if keep_stages is not None else chunk_records)
            state.prepare(number, source, chunks, staged, folders[number], policy=policy)
        state.match(staged, thresholds, hints=not dry_run)
        with Writer(engine, progress, writer_thread) as writer:
            for number, data in staged:
                state.chunk(number, data, folders[number], dry_run, writer)
    if not dry_run:
        for number, source in enumerate(sources):
            if source.snapshot and state.shas[number]:
                _retire(state.summary, engine, source, state.feed_keys[number],
                        state.shas[number][-1], state.per_file, state.unreadable[number])
    summary = state.summary
    summary.files = list(state.per_file.values())
    summary.count_findings(pd.concat(state.issues) if state.issues else None,
                           pd.concat(state.rejects) if state.rejects else None)
    return summary


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """The cycle collector's thresholds at ``RUN_GC_THRESHOLD`` for a run (and for the
    transform helper it forks), then as they were: the collector still runs, less often."""
    before = gc.get_threshold()
    gc.set_threshold(*RUN_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


class Staged:
    """A run's clean chunks between transform and load: held in memory while there is one,
    written to ``spill`` once there are more (memory stays about one chunk wide), and the
    identity frame of every record, packed (:func:`etl.stage.packed`), for the run's one
    match."""

    def __init__(self, spill: Path) -> None:
        self.spill = spill
        self.items: list[tuple[int, StageData | Path]] = []
        self.frames: list[Packed] = []

    def add(self, number: int, data: StageData) -> None:
        self.frames.append(packed(batch_frame(data.records.reset_index(drop=True))))
        self.items.append((number, data))
        if len(self.items) > 1:
            self.items = [(n, self._spilled(k, item)) for k, (n, item) in enumerate(self.items)]

    def _spilled(self, k: int, item: StageData | Path) -> Path:
        return item if isinstance(item, Path) else write_stage(item, self.spill / str(k),
                                                               compression="lz4")

    def __iter__(self) -> Iterator[tuple[int, StageData]]:
        for number, item in self.items:
            yield number, (read_stage(item, "transform") if isinstance(item, Path) else item)


class _Run:
    """One run's running totals: the summary, per-file counts, findings and stage clock."""

    def __init__(self, summary: RunSummary, engine: Engine,
                 heartbeat: Callable[[int | None], None] | None,
                 progress: Progress | None, transform_worker: bool | None = None) -> None:
        self.summary, self.engine, self.heartbeat, self.progress = (summary, engine, heartbeat,
                                                                    progress)
        self.clock = time.perf_counter()
        self.per_file: dict[str, FileCounts] = {}
        self.issues: list[pd.DataFrame] = []
        self.rejects: list[pd.DataFrame] = []
        self.feed_keys: dict[int, set[str]] = defaultdict(set)  # record keys of a feed's extract
        self.shas: dict[int, list[str]] = defaultdict(list)
        self.unreadable: dict[int, bool] = defaultdict(bool)
        self.matched: tuple[pd.DataFrame, pd.DataFrame, dict] | None = None
        self.hints: list[LoadHint] = []  # per chunk, in load order (see load_hints)
        self.review_chunk = pd.Series(dtype=int)
        self.loaded = 0
        self.transform_worker = transform_worker  # see run_sources

    def lap(self, stage: str, data: StageData | None, folder: Path | None) -> None:
        now = time.perf_counter()
        summary = self.summary
        summary.seconds[stage] = round(summary.seconds.get(stage, 0) + now - self.clock, 3)
        self.clock = now
        summary.peak_memory_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        log.info("stage done", extra={"stage": stage, "seconds": summary.seconds[stage],
                                      "peak_memory_mb": summary.peak_memory_mb})
        if folder is not None and data is not None:
            write_stage(data, folder / stage)
        if self.heartbeat:
            self.heartbeat(summary.batch_id)

    def prepare(self, number: int, source: Inputs, chunks, staged: Staged,  # type: ignore[no-untyped-def]
                folder: Path | None, *, policy: dict[str, str] | None) -> None:
        """Every chunk of one source through extract and transform, staged for matching."""
        seen: Counter[str] = Counter()  # business keys of the feed's extract, for suffixes
        worker: TransformWorker | None = None
        # Chunks whose clean stage is on its way (from the worker, or already made here), in
        # order: while the worker transforms one chunk, this process extracts the next.
        waiting: deque[Future | StageData] = deque()

        def transformed() -> None:
            item = waiting.popleft()
            cleaned = item.result() if isinstance(item, Future) else item
            self.lap("transform", cleaned, folder)
            if source.feed:
                cleaned = key_snapshot_records(cleaned, source.feed, seen if source.snapshot
                                               else None)
                self.feed_keys[number].update(cleaned.records["record_key"])
            staged.add(number, cleaned)

        try:
            for extracted, clean in chunks:
                self.lap("extract", extracted, folder)
                self.summary.notes += [f"{n['source_file']}: {n['message']}"
                                       for n in extracted.meta.get("notes", [])]
                self.unreadable[number] |= bool((extracted.rejects["scope"] == "file").any())
                if clean is None and worker is None and TransformWorker.wanted(
                        extracted, self.transform_worker):
                    worker = TransformWorker(policy)
                if clean is not None:
                    waiting.append(clean)
                elif worker is not None:
                    waiting.append(worker.submit(extracted))
                else:
                    waiting.append(transform_stage(extracted, policy=policy))
                del extracted, clean
                while len(waiting) > 1 or (waiting and not isinstance(waiting[0], Future)):
                    transformed()
            while waiting:
                transformed()
        finally:
            if worker is not None:
                worker.close()

    def match(self, staged: Staged, thresholds: Thresholds | None, *, hints: bool = True
              ) -> None:
        """All the run's records at once against the database; each review pair is written
        with the chunk that loads the later of its two records. ``hints``: work out what the
        loads need not look up (a dry run loads nothing)."""
        thresholds = thresholds or Thresholds()
        if not staged.frames:
            return
        sizes = [len(f) for f in staged.frames]
        frames = [f for f in staged.frames if len(f)] or staged.frames[:1]
        staged.frames = []
        batch = unpacked(frames, REPEATED_TEXTS)
        del frames
        release_freed_memory()  # what the packed frames and the extract left in the C heap
        keys = batch["record_key"].to_numpy(object)
        master = read_master(self.engine)
        # Both frames handed over: their columns go as the match stacks them.
        result, review, stats = match_records(batch, master, thresholds,
                                              read_decisions(self.engine), consume=True)
        del batch, master
        if hints:
            self.hints = load_hints(keys, sizes, result)
        self.matched = (result, review, stats)
        if len(review):
            # Each record key's chunk (the first that loads it, for a key in two): a review
            # pair is written as soon as both its records are in, so a run that dies later
            # keeps it.
            chunk_of = pd.Series(np.repeat(np.arange(len(sizes)), sizes), index=keys
                                 ).groupby(level=0).min()
            self.review_chunk = pd.Series(np.maximum(
                chunk_of.reindex(review["record_key_a"].to_numpy()).fillna(-1).to_numpy(),
                chunk_of.reindex(review["record_key_b"].to_numpy()).fillna(-1).to_numpy()))
        del keys
        self.lap("match", None, None)

    def chunk(self, number: int, cleaned: StageData, folder: Path | None, dry_run: bool,
              writer: Writer) -> None:
        """Plan one clean chunk's load with its matches and hand it to ``writer``; count it
        per file once written."""
        assert self.matched is not None
        result, review, meta = self.matched
        k, self.loaded = self.loaded, self.loaded + 1
        keys = set(cleaned.records["record_key"])
        touching = (key_in(review["record_key_a"], keys)
                    | key_in(review["record_key_b"], keys)).to_numpy()
        mine = review[touching].assign(_write=(self.review_chunk[touching] == k).to_numpy())
        matched = with_matches(cleaned, result, mine, meta)
        if folder is not None:
            write_stage(matched, folder / "match")
        if matched.issues is not None and len(matched.issues):
            self.issues.append(matched.issues[["slug"]])
        if len(matched.rejects):
            self.rejects.append(matched.rejects[["slug", "scope"]])
        chunk_shas = list(matched.files["file_sha256"])
        if dry_run:
            self._count(number, chunk_shas, dry_run_counts(matched))
            return

        def written(load: LoadCounts) -> None:
            self.lap("load", None, None)
            _add_load(self.summary, load)
            self._count(number, chunk_shas, load.files)

        hint = self.hints[k] if k < len(self.hints) else None
        if hint is not None and np.array_equal(
                hint.keys, matched.records["record_key"].to_numpy(object)):
            plan = plan_load(matched, unstored=hint.unstored, unstored_persons=set(
                matched.records["person_id"].to_numpy(object)[hint.new_person]))
        else:
            if hint is not None:
                log.warning("load hints do not fit the chunk; every record is looked up",
                            extra={"chunk": k})
            plan = plan_load(matched)
        writer.write(plan, written)

    def _count(self, number: int, chunk_shas: list[str], counts: list[FileCounts]) -> None:
        for sha, c in zip(chunk_shas, counts, strict=True):
            _merge(self.per_file, sha, c)
            if sha not in self.shas[number]:
                self.shas[number].append(sha)


@dataclass(frozen=True)
class LoadHint:
    """What a run knows the database does not hold, for one chunk's records (in their order):
    ``unstored`` — the record's key is stored nowhere yet; ``new_person`` — nor is its
    person (see :func:`etl.load.loader.plan_load`)."""

    keys: np.ndarray
    unstored: np.ndarray
    new_person: np.ndarray


def load_hints(keys: np.ndarray, sizes: list[int], result: pd.DataFrame) -> list[LoadHint]:
    """Per chunk (``sizes`` records each, ``keys`` in chunk order), which records and persons
    the database cannot hold when the chunk is written. The master index the run matched
    against holds every stored record, and the run holds the database's lock, so:

    * a record not known to the master (its rule is not ``known-record``) is not stored,
      unless its key is in two chunks (or twice in one): the later may find the earlier's;
    * a person the master does not name is not stored, unless its records are in several
      chunks: the later find the person the first created.

    Anything else is looked up, as a load without hints does. Whether the master names a
    person is the match's ``person_stored``: its cluster holds a master record."""
    # Every key once (as in most runs): the result is in the keys' order, and no hash table
    # of a million keys is built beside the match's leftovers.
    once = len(result) == len(keys) and np.array_equal(result.index.to_numpy(object), keys)
    found = result if once else result.reindex(keys)
    person = found["person_id"].to_numpy(object)
    named = found["person_stored"].to_numpy(bool)
    unstored = found["match_rule"].to_numpy(object) != "known-record"
    if not once:
        unstored &= ~pd.Index(keys).duplicated(keep=False)
    del found
    chunk = np.repeat(np.arange(len(sizes)), sizes)
    codes, persons = pd.factorize(person)
    first = np.full(len(persons), len(sizes))
    np.minimum.at(first, codes, chunk)
    last = np.full(len(persons), -1)
    np.maximum.at(last, codes, chunk)
    stored = np.zeros(len(persons), dtype=bool)
    np.logical_or.at(stored, codes, named)
    new_person = (~stored & (first == last))[codes]
    bounds = np.cumsum([0, *sizes])
    return [LoadHint(keys[a:b], unstored[a:b], new_person[a:b])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class Writer:
    """Writes a run's planned chunks into the database one after another, in order. On
    PostgreSQL each is written in a helper thread while this one plans the next
    (:func:`etl.load.loader.plan_load`): the server spends most of a chunk's write on COPY
    and key checks, waits that free Python's lock, so the next chunk's planning fits in them.
    On SQLite the driver binds every value under that lock and releases it around each row's
    step; anything running beside it stalls the writes more than it saves (measured: 200,000
    source records with Python work beside them, 6.2 s against 5.4 s one after the other), so
    SQLite writes in this thread.

    SQLite commits several chunks at once, once ``GROUP_RECORDS`` records and clinical rows
    are written (each chunk still its own batch, in a savepoint of its own). A commit writes
    every page the transaction changed, and the person-id indexes take new persons all over:
    each chunk's commit wrote most of their pages again and checkpointed them, 9.2 GB written
    for a million-resident registry whose database is 2 GB. A run that stops loses the chunks
    of its open group with it, and only those; the next run loads them.

    At most one chunk is in the database's hands: :meth:`write` waits for the previous one,
    and its ``written`` callback runs here, in order, once the chunk is committed (so the run
    lock's heartbeat, which writes, never waits on an open group). A write that fails raises
    here; leaving the ``with`` block waits for the write in flight, or rolls the open group
    back.
    """

    GROUP_RECORDS = 100_000

    def __init__(self, engine: Engine, progress: Progress | None,
                 thread: bool | None = None) -> None:
        self.engine, self.progress = engine, progress
        if thread is None:
            thread = engine.dialect.name == "postgresql"
        self.pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="hssk-writer")
                     if thread else None)
        self.pending: tuple[Future, Callable[[LoadCounts], None]] | None = None
        self.first = True
        self.grouped = engine.dialect.name == "sqlite" and not thread
        self.group: tuple[Connection, Transaction] | None = None
        self.uncommitted: list[tuple[LoadCounts, Callable[[LoadCounts], None]]] = []
        self.records = 0  # in the open group, with their clinical rows

    def write(self, plan: LoadPlan, written: Callable[[LoadCounts], None]) -> None:
        options = {"command": "run", "progress": self.progress, "check_schema": self.first}
        self.first = False  # the schema is checked before the first chunk, not before each
        if self.grouped:
            if self.group is None:
                conn = self.engine.connect()
                self.group = (conn, conn.begin())
                # The driver would begin only at the first row written: a savepoint before it
                # would open (and its release commit) a transaction of its own.
                conn.exec_driver_sql("BEGIN")
            self.uncommitted.append((_write_plan(plan, self.engine, conn=self.group[0],
                                                 **options), written))
            # Records and their clinical rows, as a chunk is weighed: a clinic month's chunk
            # holds a few thousand episodes under twenty thousand rows of services and drugs.
            self.records += len(plan.rec) + sum(len(t) for t in plan.data.tables.values())
            if self.records >= self.GROUP_RECORDS:
                self.commit()
            return
        if self.pool is None:
            written(_write_plan(plan, self.engine, **options))
            return
        self.drain()
        self.pending = (self.pool.submit(_write_plan, plan, self.engine, **options), written)

    def commit(self) -> None:
        """Commit the open group, if any, and report its chunks."""
        self._end_group(commit=True)
        done, self.uncommitted, self.records = self.uncommitted, [], 0
        for counts, written in done:
            written(counts)

    def _end_group(self, *, commit: bool) -> None:
        """Commit or roll back the open group, if any, and give its connection back."""
        if self.group is None:
            return
        conn, transaction = self.group
        self.group = None
        try:
            if commit:
                transaction.commit()
            else:
                transaction.rollback()
        finally:
            conn.close()

    def drain(self) -> None:
        """Wait for the chunk in flight, if any, and report it."""
        if self.pending is not None:
            future, written = self.pending
            self.pending = None
            written(future.result())

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.commit()
                self.drain()
        finally:
            self._end_group(commit=False)  # the run stopped: its open group is rolled back
            if self.pool is not None:
                self.pool.shutdown(wait=True)
                # The run stops on another error: a write that failed too is at least logged.
                failed = self.pending[0].exception() if self.pending is not None else None
                if failed is not None:
                    log.error("a chunk's write failed as the run stopped",
                              extra={"error": type(failed).__name__})


# A unique key's refusal, as SQLAlchemy wraps it or, from a COPY on the driver's own
# connection, as the drivers raise it.
_REFUSED: tuple[type[Exception], ...] = (IntegrityError, sqlite3.IntegrityError)
with contextlib.suppress(ImportError):
    import psycopg

    _REFUSED += (psycopg.errors.IntegrityError,)


def _write_plan(plan: LoadPlan, engine: Engine, *, conn: Connection | None = None,
                **options: Any) -> LoadCounts:
    """:func:`write_plan`, once more with every record and person looked up should the run's
    hints prove wrong (a unique key refused the chunk, which left nothing behind): a writer that
    does not take the run lock (``hssk load`` by hand) may have stored some of them since the
    run read its master index. In ``conn``'s open transaction (a group of SQLite chunks), each
    attempt is a savepoint of its own, so a refused chunk leaves the group's others written."""

    def attempt(plan: LoadPlan) -> LoadCounts:
        if conn is None:
            return write_plan(plan, engine, **options)
        with conn.begin_nested():
            return write_plan(plan, engine, conn=conn, **options)

    try:
        return attempt(plan)
    except _REFUSED:
        if plan.unstored is None and not plan.unstored_persons:
            raise
        log.warning("records or persons the run took for new were stored meanwhile; the "
                    "chunk is written again with every one looked up")
        return attempt(replace(plan, unstored=None, unstored_persons=frozenset()))


def _add_load(summary: RunSummary, load: LoadCounts) -> None:
    summary.persons_created += load.persons_created
    summary.persons_updated += load.persons_updated
    summary.identifiers_added += load.identifiers_added
    summary.rejects_added += load.rejects_added
    summary.reviews_added += load.reviews_added
    for name, n in load.clinical_rows.items():
        summary.clinical_rows[name] = summary.clinical_rows.get(name, 0) + n
    if load.batch_id is not None:
        summary.batch_id = load.batch_id
        summary.batches.append(load.batch_id)


def _retire(summary: RunSummary, engine: Engine, source: Inputs, seen: set[str], newest: str,
            per_file: dict[str, FileCounts], unreadable: bool) -> None:
    """Mark what the feed's extract no longer holds as no longer current — unless part of the
    extract could not be read, or it holds no record at all: a broken file is not an empty
    registry."""
    if unreadable or not seen:
        why = "a file of it could not be read" if unreadable else "it holds no record"
        summary.notes.append(f"feed {source.feed}: records not in this extract were kept "
                             f"current because {why}")
        return
    retired = retire_missing(engine, source.feed or "", seen, command="run")
    if retired.batch_id is None:
        return
    per_file[newest].gone += retired.gone
    summary.persons_updated += retired.persons_updated
    summary.batch_id = retired.batch_id
    summary.batches.append(retired.batch_id)
    log.info("feed retired", extra={"feed": source.feed, "gone": retired.gone,
                                    "batch": retired.batch_id})


SERIAL_HEADERS = frozenset({"stt", "tt", "sott", "no", "so"})  # as etl/extract/sheets.py


def key_snapshot_records(data: StageData, feed: str, seen: Counter[str] | None) -> StageData:
    """Key a feed's clean records within the feed, so the next extract finds them again.

    With ``seen`` (a snapshot feed) the record key becomes ``{kind}:{feed}:{business key}``
    instead of the per-file ``{kind}:{file hash}:{row}``. The business key is ``pid-`` and a
    hash of the personal ID number where it is structurally valid (``personal_id_status`` is
    ``valid``: century/sex and year digits agree with the record); otherwise ``row-`` and a hash
    of the identity as read: folded full name, birth date (year, month, day, precision), sex,
    and the folded household head — or, for a row naming none, the folded permanent address.
    The household head, not the address, so a household that moves keeps its keys. Keys hold
    hashes, never an ID number in clear: they appear in review exports and explanations.
    Two rows of one extract with one key are both kept: the second gets ``#2``, the third
    ``#3``, in file and row order (``seen`` counts across the chunks of a run). The content hash
    leaves out the row's serial number (STT), so a row that moved up only because an earlier
    one vanished is unchanged. Every record also carries its ``feed``.
    """
    rec = data.records.copy()
    rec["feed"] = feed
    if seen is None or rec.empty:
        return StageData(data.stage, data.files, rec, data.rejects, data.tables, data.issues,
                         data.meta)
    keys, hashes = [], []
    for r in records_as_dicts(rec):
        base = f"{r['source_kind']}:{feed}:{business_key(r)}"
        seen[base] += 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
        raw = json.loads(r["raw"]) if r["raw"] else {}
        hashes.append(record_hash({k: v for k, v in raw.items()
                                   if fold(k).replace(".", "").replace(" ", "")
                                   not in SERIAL_HEADERS}))
    renamed = dict(zip(zip(rec["record_key"], rec["file_sha256"], strict=True), keys,
                       strict=True))
    rec["record_key"], rec["record_hash"] = keys, hashes
    tables = {}
    for name, table in data.tables.items():
        if "record_key" in table.columns and "file_sha256" in table.columns:
            table = table.assign(record_key=[
                renamed.get((k, sha), k)
                for k, sha in zip(table["record_key"], table["file_sha256"], strict=True)])
        tables[name] = table
    return StageData(data.stage, data.files, rec, data.rejects, tables, data.issues, data.meta)


def business_key(r: dict[str, object]) -> str:
    """A snapshot row's business key (see :func:`key_snapshot_records`)."""
    if r.get("personal_id") and r.get("personal_id_status") == "valid":
        return "pid-" + _digest(str(r["personal_id"]))
    birth = "-".join(str(_value(r.get(f)) or "") for f in
                     ("birth_year", "birth_month", "birth_day", "birth_date_precision"))
    home = fold(r.get("household_head") or "") or fold(r.get("permanent_address") or "")
    return "row-" + _digest("|".join((fold(r.get("full_name") or ""), birth,
                                      str(r.get("sex") or ""), home)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _merge(per_file: dict[str, FileCounts], sha: str, counts: FileCounts) -> None:
    """Add one chunk's counts of a file to the file's running totals."""
    if sha not in per_file:
        per_file[sha] = counts
        return
    total = per_file[sha]
    for name in ("read", "created", "updated", "unchanged", "rejected", "problems", "structure",
                 "linked", "new_persons", "review", "gone"):
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
