"""Reading the master person index out of the database, for the matcher.

Matching is a pure step (:mod:`etl.match`): it receives the records already loaded — each
with its person — as a frame, and the analysts' decisions. This module is how the pipeline
reads them; load stays the only stage that talks to the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load.schema import RECORD_FILE, source_files, source_records
from etl.stage import REPEATED_TEXTS, shared

MASTER_COLUMNS = ["record_key", "person_id", "source_kind", "file_key", "full_name",
                  "family_key", "middle_key", "given_key", "sex", "birth_year", "birth_month",
                  "birth_day", "birth_date_precision", "personal_id", "personal_id_status",
                  "social_insurance_code", "commune_code", "address_key", "facility_code",
                  "facility_patient_id", "household_head_key", "mother_key", "phone"]
_READ_ROWS = 200_000  # records per slice of the SQLite read


def empty_master() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in MASTER_COLUMNS})


def read_master(engine: Engine | None) -> pd.DataFrame:
    """The master person index: every loaded record's identity as its source presented it,
    in ``record_key`` order (by code point, not a database collation, so SQLite and
    PostgreSQL give the same frame)."""
    if engine is None:
        return empty_master()
    stored = [c for c in MASTER_COLUMNS if c != "file_key" and c in source_records.c]
    if engine.dialect.name == "sqlite":
        columns = _sqlite_master(engine, stored)
    else:
        with engine.connect() as conn:
            columns = _rows_master(conn, engine, stored)
    n = len(columns["record_key"])
    if not n:
        return empty_master()
    order = np.argsort(columns["record_key"], kind="stable")
    # Built once, in its final order and shape: pandas' reorder, sort and reset of a million
    # rows copied every column three times.
    return pd.DataFrame({c: columns[c][order] if c in columns else np.full(n, None, dtype=object)
                         for c in MASTER_COLUMNS}, copy=False)


def _kept_once(values: list, once: dict) -> np.ndarray:
    """``values`` as an object array holding, for each distinct value, the one object ``once``
    keeps for it (a value first seen is kept as it is)."""
    codes, distinct = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
    keep = once.setdefault
    kept = np.empty(len(distinct) + 1, dtype=object)  # the last: a missing value's None
    kept[:-1] = [keep(v, v) for v in distinct.tolist()]
    return kept[codes]


def _slices(engine: Engine, sql: str, starts: list[int]) -> Iterator[sa.Row]:
    """The SQLite read's slices (rowid ranges from each of ``starts``), each fetched in a
    helper thread while this one decodes the one before: SQLite builds a slice's JSON arrays
    without Python's lock, a third of a million-record read (1.7 of 4.9 s), which ran on an
    idle core. Only a database in a file: an in-memory one is a connection per thread (a
    second, empty database) or one shared connection."""

    def fetch(start: int) -> sa.Row:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql, (start, start + _READ_ROWS)).one()

    if not starts:
        return
    if engine.url.database in (None, "", ":memory:") or "mode=memory" in str(engine.url):
        for start in starts:
            yield fetch(start)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hssk-master") as pool:
        ahead = pool.submit(fetch, starts[0])
        for start in [*starts[1:], None]:
            found = ahead.result()
            if start is not None:
                ahead = pool.submit(fetch, start)
            yield found
            del found


def _rows_master(conn: sa.Connection, engine: Engine, stored: list[str]
                 ) -> dict[str, np.ndarray]:
    columns = [source_records.c[c] for c in stored]
    # The file's content hash, as a batch names its own files: two rows of one list are
    # recognised whether or not one of them is already loaded.
    columns.append(source_files.c.sha256.label("file_key"))
    records = source_records.join(source_files, RECORD_FILE)
    sql = str(sa.select(*columns).select_from(records).compile(engine))
    # Plain DB-API tuples: building SQLAlchemy rows for the whole index costs seconds.
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute(sql)
    rows = cursor.fetchall()
    cursor.close()
    frame = pd.DataFrame(rows, columns=[*stored, "file_key"])
    return {c: shared(frame[c]) if c in REPEATED_TEXTS else frame[c].to_numpy()
            for c in frame.columns}


def _sqlite_master(engine: Engine, stored: list[str]) -> dict[str, np.ndarray]:
    """The same columns as :func:`_rows_master`, read as one JSON array per column and slice
    of ``_READ_ROWS`` records: SQLite hands back a few long texts instead of a Python tuple per
    record (a million records: 10 s of tuples and their frame against 4 s), and the file hash
    is looked up per file, not per record. In slices, the texts of the whole index are never
    in memory at once. Numbers keep the frame's usual dtypes (int64, or float64 where one is
    missing); repeated texts are held once (:func:`etl.stage.shared`)."""
    names = [*stored, "source_file_id"]
    arrays = ", ".join(f"json_group_array({c})" for c in names)
    with engine.connect() as conn:
        top = conn.exec_driver_sql("SELECT max(id) FROM source_records").scalar() or 0
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
    sql = f"SELECT {arrays} FROM source_records WHERE id > ? AND id <= ?"
    for found in _slices(engine, sql, list(range(0, top, _READ_ROWS))):
        for name, text in zip(names, found, strict=True):
            decoded = json.loads(text)
            if name in numbers:
                parts[name].append(np.array(decoded, dtype=float))  # None becomes NaN
            elif name in once:
                parts[name].append(_kept_once(decoded, once[name]))
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
