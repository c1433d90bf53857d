"""Writing the exam part of the record (encounters and what hangs off them) for loaded records.

A source record that is new or changed gets its clinical rows replaced as a whole: a corrected
re-export of an episode updates that episode's encounter, vitals, labs, diagnoses, drugs and
services and nothing else. Rows are keyed by ``encounter_key`` (the source record's business
key).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl.load import schema as s
from etl.load.bulk import bulk_insert, in_values
from etl.load.columns import Columns
from etl.stage import as_objects, key_in, records_as_dicts

CHILD_TABLES = {"observations": s.observations, "conditions": s.conditions,
                "lab_results": s.lab_results, "clinical_notes": s.clinical_notes,
                "exam_findings": s.exam_findings, "prescriptions": s.prescriptions,
                "services": s.services}
_PERSON_LESS = {"clinical_notes", "exam_findings", "prescriptions", "services"}


def write_clinical(conn: Connection, tables: dict[str, pd.DataFrame],
                   records: dict[str, tuple[int, str]],
                   updated: set[str] | None = None) -> dict[str, int]:
    """Replace the clinical rows of ``records`` (record_key → (source_record_id, person_id)).
    Only the ``updated`` ones (record keys the database held before; all, when ``None``) can
    have rows to delete: a created record has none, and skipping its deletes spares a scan of
    every clinical table per chunk."""
    counts: dict[str, int] = {}
    if not records:
        return counts
    ids = sorted(rid for key, (rid, _) in records.items() if updated is None or key in updated)
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        encounter_ids = sa.select(s.encounters.c.id).where(
            s.encounters.c.source_record_id.in_(chunk)).scalar_subquery()
        for table in CHILD_TABLES.values():
            conn.execute(table.delete().where(table.c.encounter_id.in_(encounter_ids)))
        conn.execute(s.encounters.delete().where(s.encounters.c.source_record_id.in_(chunk)))
        conn.execute(s.immunizations.delete().where(
            s.immunizations.c.source_record_id.in_(chunk)))
    doses = tables.get("immunizations")
    if doses is not None and not doses.empty:
        columns = [c.name for c in s.immunizations.columns
                   if c.name not in ("id", "person_id", "source_record_id")]
        counts["immunizations"] = bulk_insert(conn, s.immunizations, [
            {"person_id": records[r["record_key"]][1],
             "source_record_id": records[r["record_key"]][0],
             **{c: _plain(r.get(c)) for c in columns}}
            for r in records_as_dicts(doses[key_in(doses["record_key"], records)])])
    encounters = tables.get("encounters")
    if encounters is None or encounters.empty:
        return counts
    wanted = as_objects(encounters[key_in(encounters["record_key"], records)])
    of_record = [records[k] for k in wanted["record_key"]]
    rows: Columns = {
        "person_id": [person for _, person in of_record],
        "source_record_id": [rid for rid, _ in of_record],
        **{c: wanted[c].tolist() if c in wanted else [None] * len(wanted)
           for c in ("encounter_key", "kind", "facility_code", "started_at", "ended_at",
                     "visit_type", "reason", "examiner", "outcome", "health_class", "advice",
                     "notes")}}
    counts["encounters"] = bulk_insert(conn, s.encounters, rows)
    keys = rows["encounter_key"]
    encounter_id: dict[str, int] = {}
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        encounter_id.update(conn.execute(
            sa.select(s.encounters.c.encounter_key, s.encounters.c.id)
            .where(in_values(conn, s.encounters.c.encounter_key, chunk))).all())
    for name, table in CHILD_TABLES.items():
        df = tables.get(name)
        if df is None or df.empty:
            continue
        wanted = df[key_in(df["record_key"], records)]
        rows = {c.name: _db_values(wanted, c.name) for c in table.columns
                if c.name not in ("id", "encounter_id", "person_id")}
        rows["encounter_id"] = [encounter_id.get(e) for e in wanted["encounter_key"]]
        if name not in _PERSON_LESS:
            rows["person_id"] = [records[k][1] for k in wanted["record_key"]]
        counts[name] = bulk_insert(conn, table, rows)
    return counts


def _db_values(df: pd.DataFrame, column: str) -> list[object]:
    """``df[column]`` as plain values (``None`` where the column is missing or a cell empty;
    timestamps as ``datetime``), converted a column at a time: a clinic month has a few hundred
    thousand drug and service rows, and a test of each cell cost seconds."""
    if column not in df.columns:
        return [None] * len(df)
    col = df[column]
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        values = col.array.to_pydatetime()
    else:
        values = col.to_numpy(object)
    missing = col.isna().to_numpy()
    if missing.any():
        values = values.copy()  # an object column hands out its own array
        values[missing] = None
    if col.dtype.kind == "O" and pd.api.types.infer_dtype(values, skipna=True) not in (
            "string", "empty"):
        return [_plain(v) for v in values]  # whatever else an object column holds
    return values.tolist()


def _plain(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):  # NumPy scalars
        return value.item()
    return value
