"""Reading the master person index out of the database, for the matcher.

Matching is a pure step (:mod:`etl.match`): it receives the records already loaded — each
with its person — as a frame, and the analysts' decisions. This module is how the pipeline
reads them; load stays the only stage that talks to the database.
"""

from __future__ import annotations

import json

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
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            columns = _sqlite_master(conn, stored)
        else:
            columns = _rows_master(conn, engine, stored)
    n = len(columns["record_key"])
    if not n:
        return empty_master()
    order = np.argsort(columns["record_key"], kind="stable")
    # Built once, in its final order and shape: pandas' reorder, sort and reset of a million
    # rows copied every column three times.
    return pd.DataFrame({c: columns[c][order] if c in columns else np.full(n, None, dtype=object)
                         for c in MASTER_COLUMNS}, copy=False)


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


def _sqlite_master(conn: sa.Connection, stored: list[str]) -> dict[str, np.ndarray]:
    """The same columns as :func:`_rows_master`, read as one JSON array per column and slice
    of ``_READ_ROWS`` records: SQLite hands back a few long texts instead of a Python tuple per
    record (a million records: 10 s of tuples and their frame against 4 s), and the file hash
    is looked up per file, not per record. In slices, the texts of the whole index are never
    in memory at once. Numbers keep the frame's usual dtypes (int64, or float64 where one is
    missing); repeated texts are held once (:func:`etl.stage.shared`)."""
    names = [*stored, "source_file_id"]
    arrays = ", ".join(f"json_group_array({c})" for c in names)
    top = conn.exec_driver_sql("SELECT max(id) FROM source_records").scalar() or 0
    numbers = {c for c in stored if isinstance(source_records.c[c].type, sa.Integer)}
    # Repeated values kept once as they are decoded, slice by slice: a copy per record lived
    # only until the slice was done, and then no longer held the memory of the whole index.
    once: dict[str, dict] = {c: {} for c in [*numbers, *REPEATED_TEXTS, "source_file_id"]}
    values: dict[str, list] = {c: [] for c in names}
    for start in range(0, top, _READ_ROWS):  # rowid ranges: rows in the order of a full scan
        found = conn.exec_driver_sql(
            f"SELECT {arrays} FROM source_records WHERE id > ? AND id <= ?",
            (start, start + _READ_ROWS)).one()
        for name, text in zip(names, found, strict=True):
            decoded = json.loads(text)
            if name in once:
                keep = once[name].setdefault
                decoded = [keep(v, v) for v in decoded]
            values[name].extend(decoded)
            del decoded
        del found
    sha = dict(conn.execute(sa.select(source_files.c.id, source_files.c.sha256)).all())
    frame = {}
    for name in stored:
        column = values.pop(name)
        if name in numbers:
            floats = np.array(column, dtype=float)  # None becomes NaN
            frame[name] = floats if np.isnan(floats).any() else floats.astype(np.int64)
        else:
            frame[name] = np.array(column, dtype=object)
    files = np.array(values.pop("source_file_id"), dtype=np.int64)
    frame["file_key"] = shared(pd.Series(files).map(sha))
    return frame
