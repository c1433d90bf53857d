"""Reading the master person index out of the database, for the matcher.

Matching is a pure step (:mod:`etl.match`): it receives the records already loaded — each
with its person — as a frame, and the analysts' decisions. This module is how the pipeline
reads them; load stays the only stage that talks to the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load.schema import source_files, source_records
from etl.stage import REPEATED_TEXTS, shared

MASTER_COLUMNS = ["record_key", "person_id", "source_kind", "file_key", "full_name",
                  "family_key", "middle_key", "given_key", "sex", "birth_year", "birth_month",
                  "birth_day", "birth_date_precision", "personal_id", "personal_id_status",
                  "social_insurance_code", "commune_code", "address_key", "facility_code",
                  "facility_patient_id", "household_head_key", "mother_key", "phone"]
_READ_ROWS = 200_000  # records per slice of the read
T = TypeVar("T")


def empty_master() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in MASTER_COLUMNS})


def read_master(engine: Engine | None) -> pd.DataFrame:
    """The master person index: every loaded record's identity as its source presented it,
    in ``record_key`` order (by code point, not a database collation, so SQLite and
    PostgreSQL give the same frame)."""
    if engine is None:
        return empty_master()
    stored = [c for c in MASTER_COLUMNS if c != "file_key" and c in source_records.c]
    columns = _json_master(engine, stored)
    n = len(columns["record_key"])
    if not n:
        return empty_master()
    order = np.argsort(columns["record_key"], kind="stable")
    # Built once, in its final order and shape: pandas' reorder, sort and reset of a million
    # rows copied every column three times.
    return pd.DataFrame({c: columns[c][order] if c in columns else np.full(n, None, dtype=object)
                         for c in MASTER_COLUMNS}, copy=False)


def _slices(fetch: Callable[[int], T], starts: list[int], *, ahead: bool) -> Iterator[T]:
    """``fetch`` of each of ``starts`` (the first record id of a slice), in order; with
    ``ahead``, each fetched in a helper thread while this one decodes the one before. The
    database's share of a slice — SQLite building its JSON arrays, PostgreSQL reading and
    writing out its rows — goes on without Python's lock, on the other core: a million-record
    read spent a third of its time (SQLite) or two thirds (PostgreSQL) waiting for it."""
    if not ahead:
        for start in starts:
            yield fetch(start)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hssk-master") as pool:
        pending = pool.submit(fetch, starts[0]) if starts else None
        for k in range(len(starts)):
            assert pending is not None
            found = pending.result()
            if k + 1 < len(starts):
                pending = pool.submit(fetch, starts[k + 1])
            yield found
            del found


def _json_master(engine: Engine, stored: list[str]) -> dict[str, np.ndarray]:
    """The master columns read as one JSON array per column and slice of ``_READ_ROWS``
    records (SQLite's ``json_group_array``, PostgreSQL's ``json_agg``): the database hands back
    a few long texts instead of a Python tuple per record (a million records on SQLite: 10 s
    of tuples and their frame against 4 s; on PostgreSQL 13 s and a 2.8 GB peak), and the file
    hash is looked up per file, not per record. In slices, the texts of the whole index are
    never in memory at once. Numbers keep the frame's usual dtypes (int64, or float64 where
    one is missing); repeated texts are held once (:func:`etl.stage.shared`)."""
    names = [*stored, "source_file_id"]
    sqlite = engine.dialect.name == "sqlite"
    arrays = ", ".join(f"json_group_array({c})" if sqlite else f"json_agg({c})::text"
                       for c in names)
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(source_records.c.id))).scalar() or 0
        sha = dict(conn.execute(sa.select(source_files.c.id, source_files.c.sha256)).all())
    if not top:
        return {c: np.empty(0, dtype=object) for c in [*stored, "file_key"]}
    numbers = {c for c in stored if isinstance(source_records.c[c].type, sa.Integer)}
    numbers.add("source_file_id")
    # Repeated values kept once as they are decoded, slice by slice: a copy per record lived
    # only until the slice was done, and then no longer held the memory of the whole index.
    # Each slice's distinct values are looked up, not each cell (a million cells' lookups
    # were a fifth of the read); numbers become arrays at once.
    once: dict[str, dict] = {c: {} for c in REPEATED_TEXTS}
    parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
    # (All of a query's aggregates take its rows in one order: one scan feeds them.)
    sql = sa.text(f"SELECT {arrays} FROM source_records WHERE id > :start AND id <= :end")

    def fetch(start: int) -> sa.Row:
        with engine.connect() as conn:
            return conn.execute(sql, {"start": start, "end": start + _READ_ROWS}).one()

    # An in-memory SQLite database is a connection per thread (a second, empty database) or
    # one shared connection: read in this thread only.
    ahead = not sqlite or not (engine.url.database in (None, "", ":memory:")
                               or "mode=memory" in str(engine.url))
    for found in _slices(fetch, list(range(0, top, _READ_ROWS)), ahead=ahead):
        for name, text in zip(names, found, strict=True):
            decoded = json.loads(text)
            if name in numbers:
                parts[name].append(np.array(decoded, dtype=float))  # None becomes NaN
            elif name in once:
                parts[name].append(shared(decoded, once[name]))
            else:
                parts[name].append(np.array(decoded, dtype=object))
            del decoded
        del found
    frame = {}
    for name in stored:
        column = np.concatenate(parts.pop(name))
        if name in numbers and not np.isnan(column).any():
            column = column.astype(np.int64)
        frame[name] = column
    files = np.concatenate(parts.pop("source_file_id")).astype(np.int64)
    frame["file_key"] = shared(pd.Series(files).map(sha))
    return frame
