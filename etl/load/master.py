"""Reading the master person index out of the database, for the matcher.

Matching is a pure step (:mod:`etl.match`): it receives the records already loaded — each
with its person — as a frame, and the analysts' decisions. This module is how the pipeline
reads them; load stays the only stage that talks to the database.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load.schema import source_files, source_records

MASTER_COLUMNS = ["record_key", "person_id", "source_kind", "file_key", "full_name",
                  "family_key", "middle_key", "given_key", "sex", "birth_year", "birth_month",
                  "birth_day", "birth_date_precision", "personal_id", "personal_id_status",
                  "social_insurance_code", "commune_code", "address_key", "facility_code",
                  "facility_patient_id", "household_head_key", "mother_key", "phone"]


def empty_master() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in MASTER_COLUMNS})


def read_master(engine: Engine | None) -> pd.DataFrame:
    """The master person index: every loaded record's identity as its source presented it,
    in ``record_key`` order (by code point, not a database collation, so SQLite and
    PostgreSQL give the same frame)."""
    if engine is None:
        return empty_master()
    stored = [c for c in MASTER_COLUMNS if c != "file_key" and c in source_records.c]
    columns = [source_records.c[c] for c in stored]
    # The file's content hash, as a batch names its own files: two rows of one list are
    # recognised whether or not one of them is already loaded.
    columns.append(source_files.c.sha256.label("file_key"))
    sql = str(sa.select(*columns).select_from(source_records.join(source_files)).compile(engine))
    with engine.connect() as conn:
        # Plain DB-API tuples: building SQLAlchemy rows for the whole index costs seconds.
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        cursor.close()
    master = pd.DataFrame(rows, columns=[*stored, "file_key"])
    for c in MASTER_COLUMNS:
        if c not in master:
            master[c] = None
    master = master[MASTER_COLUMNS]
    return master.sort_values("record_key", kind="stable").reset_index(drop=True)
