"""Write a matched stage into the HSSK database in one transaction, idempotently.

Source records are upserted by their business key (``record_key``) and content hash, so
re-loading yesterday's files changes nothing; persons are created for new person ids and have
their empty fields filled from new evidence; identifiers and rejects are added once. The batch
row is written in the same transaction as the data it describes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl import __version__
from etl.extract.mapping import builtin_mappings
from etl.load import schema as s
from etl.load.bulk import bulk_insert, bulk_update, bulk_upsert
from etl.load.clinical import write_clinical
from etl.load.db import require_current
from etl.stage import StageData, as_objects, records_as_dicts
from etl.stage import value as _value
from etl.summary import FileCounts, LoadCounts, reject_counts
from etl.transform.text import fold

Progress = Callable[[str, int, int], None]

# Person attribute ← clean record column.
PERSON_FIELDS = {
    "full_name": "full_name", "family_name": "family_name", "middle_name": "middle_name",
    "given_name": "given_name", "name_key": "name_key", "sex": "sex",
    "birth_year": "birth_year", "birth_month": "birth_month", "birth_day": "birth_day",
    "birth_date_precision": "birth_date_precision", "ethnicity_code": "ethnicity_code",
    "religion": "religion", "nationality": "nationality", "occupation": "occupation",
    "household_code": "household_code", "household_head_name": "household_head",
    "relation_to_head": "relation_to_head", "permanent_address": "permanent_address",
    "permanent_commune_code": "permanent_commune_code", "current_address": "current_address",
    "current_commune_code": "current_commune_code", "phone": "phone", "email": "email",
    "father_name": "father_name", "mother_name": "mother_name",
    "permanent_commune_code_2025": "permanent_commune_code_2025",
    "current_commune_code_2025": "current_commune_code_2025",
}
RECORD_FIELDS = [
    "full_name", "name_key", "family_key", "middle_key", "given_key", "sex", "birth_year",
    "birth_month", "birth_day", "birth_date_precision", "personal_id", "personal_id_status",
    "cmnd", "passport", "insurance_cards", "social_insurance_code", "facility_code",
    "facility_patient_id", "household_head_key", "phone", "match_score",
]
_BIRTH = ("birth_year", "birth_month", "birth_day", "birth_date_precision")


def _priority() -> dict[str, int]:
    prio = {kind: m.priority for kind, m in builtin_mappings().items()}
    prio.setdefault("clinic-xml", 30)
    return prio


def _person_values(rec: pd.DataFrame, priority: dict[str, int]) -> dict[str, dict[str, object]]:
    """Each person's administrative fields, by person id: every field from the most
    authoritative source that has it; birth-date parts travel together, from the record with
    the finest precision."""
    frame = rec.assign(_p=rec["source_kind"].map(lambda k: priority.get(k, 50)))
    frame = frame.sort_values(["person_id", "_p", "record_key"], kind="stable")
    plain = {f: c for f, c in PERSON_FIELDS.items() if f not in _BIRTH}
    firsts = frame.groupby("person_id", sort=False)[sorted(set(plain.values()))].first()
    rank = {"day": 0, "month": 1, "year": 2}
    dated = frame[frame["birth_year"].notna()]
    dated = dated.assign(_r=dated["birth_date_precision"].map(rank)).sort_values(
        ["person_id", "_r", "_p", "record_key"], kind="stable")
    births = dated.groupby("person_id", sort=False)[list(_BIRTH)].first()
    out: dict[str, dict[str, object]] = {}
    for person_id, row in zip(firsts.index, records_as_dicts(firsts), strict=True):
        values = {f: row[c] for f, c in plain.items()}
        values.update({f: None for f in _BIRTH})
        values["birth_date"] = None
        out[person_id] = values
    for person_id, row in zip(births.index, records_as_dicts(births), strict=True):
        values = out[person_id]
        values.update({f: _int(row[f]) if f != "birth_date_precision" else row[f]
                       for f in _BIRTH})
        row = values
        if row["birth_date_precision"] == "day":
            values["birth_date"] = dt.date(row["birth_year"], row["birth_month"], row["birth_day"])
    return out


def _file_ids(conn: Connection, data: StageData, batch_id: int) -> dict[str, int]:
    rows = [
        {"sha256": f.file_sha256, "file_name": f.source_file, "path": f.path, "kind": f.kind,
         "size_bytes": int(f.size_bytes), "encoding": _value(f.encoding),
         "text_encoding": _value(f.text_encoding), "reader": _value(f.reader),
         "rows": int(f.rows), "batch_id": batch_id}
        for f in data.files.itertuples()
    ]
    bulk_upsert(conn, s.source_files, rows, ["sha256"])
    shas = [r["sha256"] for r in rows]
    found = conn.execute(sa.select(s.source_files.c.sha256, s.source_files.c.id)
                         .where(s.source_files.c.sha256.in_(shas)))
    return dict(found.all())


def load_stage(data: StageData, engine: Engine, *, command: str = "load",
               progress: Progress | None = None) -> LoadCounts:
    """Load a matched stage; returns counts per file and per table (see :mod:`etl.summary`)."""
    require_current(engine)
    rec = as_objects(data.records.reset_index(drop=True))
    counts = LoadCounts()
    started = dt.datetime.now()
    with engine.begin() as conn:
        batch_id = conn.execute(s.batches.insert().values(
            started_at=started, status="running", command=command, tool_version=__version__,
        ).returning(s.batches.c.id)).scalar_one()
        counts.batch_id = batch_id
        file_ids = _file_ids(conn, data, batch_id)

        existing: dict[str, tuple[int, str, str]] = {}
        keys = rec["record_key"].tolist()
        for start in range(0, len(keys), 5000):
            chunk = keys[start:start + 5000]
            for rid, key, rhash, person in conn.execute(
                    sa.select(s.source_records.c.id, s.source_records.c.record_key,
                              s.source_records.c.record_hash, s.source_records.c.person_id)
                    .where(s.source_records.c.record_key.in_(chunk))):
                existing[key] = (rid, rhash, person)
        status = []
        for key, rhash, person in zip(rec["record_key"], rec["record_hash"], rec["person_id"],
                                      strict=True):
            old = existing.get(key)
            if old is None:
                status.append("created")
            elif old[1] == rhash and old[2] == person:
                status.append("unchanged")
            else:
                status.append("updated")
        rec["_status"] = status
        if progress:
            progress("load", 1, 4)

        _write_persons(conn, rec[rec["_status"] != "unchanged"], batch_id, counts)
        if progress:
            progress("load", 2, 4)
        changed = rec[rec["_status"] != "unchanged"]
        record_rows = [
            {"record_key": r["record_key"], "source_kind": r["source_kind"],
             "source_file_id": file_ids[r["file_sha256"]], "locator": r["locator"],
             "record_hash": r["record_hash"], "person_id": r["person_id"],
             "match_rule": r["match_rule"], "created_batch_id": batch_id,
             "updated_batch_id": batch_id, "commune_code": _value(r["permanent_commune_code"]),
             "mother_key": fold(r["mother_name"]) or None if r["mother_name"] else None,
             "raw": r["raw"], **{c: _value(r[c]) for c in RECORD_FIELDS},
             **{c: _int(r[c]) for c in ("birth_year", "birth_month", "birth_day")}}
            for r in records_as_dicts(changed)
        ]
        update_cols = [c for c in (record_rows[0] if record_rows else {})
                       if c not in ("record_key", "created_batch_id")]
        bulk_upsert(conn, s.source_records, record_rows, ["record_key"], update_cols)
        if progress:
            progress("load", 3, 4)
        counts.identifiers_added = _write_identifiers(conn, changed, batch_id)
        changed_keys = set(changed["record_key"])
        loaded: dict[str, tuple[int, str]] = {}
        for start in range(0, len(keys), 5000):
            chunk = [k for k in keys[start:start + 5000] if k in changed_keys]
            if chunk:
                loaded.update({k: (rid, person) for rid, k, person in conn.execute(
                    sa.select(s.source_records.c.id, s.source_records.c.record_key,
                              s.source_records.c.person_id)
                    .where(s.source_records.c.record_key.in_(chunk)))})
        counts.clinical_rows = write_clinical(conn, data.tables, loaded)
        counts.reviews_added = _write_reviews(conn, data.tables.get("review"), batch_id)
        counts.rejects_added = _write_rejects(conn, data.rejects, batch_id)

        for f in data.files.itertuples():
            in_file = rec[rec["file_sha256"] == f.file_sha256]["_status"].value_counts()
            counts.files.append(FileCounts(
                source_file=f.source_file, kind=f.kind, read=int(f.rows),
                created=int(in_file.get("created", 0)), updated=int(in_file.get("updated", 0)),
                unchanged=int(in_file.get("unchanged", 0)), structure=_int(f.structure_rows) or 0,
                **reject_counts(data.rejects, f.file_sha256)))
        counts.finished_at = dt.datetime.now()
        conn.execute(s.batches.update().where(s.batches.c.id == batch_id).values(
            finished_at=counts.finished_at, status="committed",
            summary=json.dumps(counts.as_dict(), ensure_ascii=False, default=str)))
        if progress:
            progress("load", 4, 4)
    return counts


def _write_persons(conn: Connection, rec: pd.DataFrame, batch_id: int, counts: LoadCounts) -> None:
    if rec.empty:
        return
    person_ids = sorted(set(rec["person_id"]))
    known: dict[str, dict[str, object]] = {}
    cols = [s.persons.c.person_id, *[s.persons.c[f] for f in PERSON_FIELDS]]
    for start in range(0, len(person_ids), 5000):
        chunk = person_ids[start:start + 5000]
        for row in conn.execute(sa.select(*cols).where(s.persons.c.person_id.in_(chunk))):
            known[row.person_id] = dict(row._mapping)
    new_rows, updates = [], []
    for person_id, values in sorted(_person_values(rec, _priority()).items()):
        if person_id not in known:
            new_rows.append({"person_id": person_id, "created_batch_id": batch_id,
                             "updated_batch_id": batch_id, **values})
            continue
        current = known[person_id]
        fill = {f: v for f, v in values.items()
                if f in PERSON_FIELDS and f not in _BIRTH and v is not None and current[f] is None}
        if current["birth_year"] is None and values["birth_year"] is not None:
            fill.update({f: values[f] for f in (*_BIRTH, "birth_date")})
        if fill:
            updates.append({"person_id": person_id, "updated_batch_id": batch_id, **fill})
    bulk_insert(conn, s.persons, new_rows)
    by_shape: dict[tuple[str, ...], list[dict[str, object]]] = defaultdict(list)
    for row in updates:
        by_shape[tuple(sorted(row))].append(row)
    for rows in by_shape.values():
        bulk_update(conn, s.persons, "person_id", rows)
    counts.persons_created = len(new_rows)
    counts.persons_updated = len(updates)


def identifiers_of(r: dict[str, object]) -> list[tuple[str, str, str]]:
    """(kind, value, status) of every identifier a clean or loaded record carries. The person's
    identifiers are always derivable from its source records, so a relink can rebuild them."""
    found: list[tuple[str, str, str]] = []
    if r.get("personal_id"):
        found.append(("personal_id", str(r["personal_id"]),
                      str(r.get("personal_id_status") or "valid")))
    for kind in ("cmnd", "passport", "social_insurance_code"):
        if r.get(kind):
            found.append((kind, str(r[kind]), "valid"))
    for card in str(r.get("insurance_cards") or "").split(";"):
        if card:
            found.append(("insurance_card", card, "valid"))
    if r.get("facility_code") and r.get("facility_patient_id"):
        found.append(("facility_patient_id", f"{r['facility_code']}:{r['facility_patient_id']}",
                      "valid"))
    return found


def _write_identifiers(conn: Connection, rec: pd.DataFrame, batch_id: int) -> int:
    wanted = {(kind, value, row["person_id"], status) for row in records_as_dicts(rec)
              for kind, value, status in identifiers_of(row)}
    return insert_identifiers(conn, wanted, batch_id)


def insert_identifiers(conn: Connection, wanted: set[tuple[str, str, str, str]],
                       batch_id: int) -> int:
    """Add (kind, value, person, status) rows the persons do not have yet."""
    if not wanted:
        return 0
    persons = sorted({w[2] for w in wanted})
    have: set[tuple[str, str, str]] = set()
    for start in range(0, len(persons), 5000):
        chunk = persons[start:start + 5000]
        have.update(conn.execute(
            sa.select(s.person_identifiers.c.kind, s.person_identifiers.c.value,
                      s.person_identifiers.c.person_id)
            .where(s.person_identifiers.c.person_id.in_(chunk))).all())
    rows, seen = [], set()
    for kind, value, person, status in sorted(wanted):
        if (kind, value, person) in have or (kind, value, person) in seen:
            continue
        seen.add((kind, value, person))
        rows.append({"person_id": person, "kind": kind, "value": value, "status": status,
                     "first_batch_id": batch_id})
    bulk_insert(conn, s.person_identifiers, rows)
    return len(rows)


def _int(v: object) -> int | None:
    v = _value(v)
    return None if v is None else int(v)  # type: ignore[arg-type]


def _write_reviews(conn: Connection, review: pd.DataFrame | None, batch_id: int) -> int:
    """Pairs between the review and link thresholds, for the analysts' queue (once each)."""
    if review is None or review.empty:
        return 0
    rows = [{"record_key_a": r["record_key_a"], "record_key_b": r["record_key_b"],
             "person_a": r["person_a"], "person_b": r["person_b"], "score": float(r["score"]),
             "status": "open", "batch_id": batch_id}
            for r in records_as_dicts(review) if r["person_a"] != r["person_b"]]
    bulk_upsert(conn, s.match_reviews, rows, ["record_key_a", "record_key_b"])
    return len(rows)


class _Row:
    """Attribute access to a record dict (missing values already ``None``)."""

    def __init__(self, data: dict[str, object]) -> None:
        self.__dict__.update(data)


def _write_rejects(conn: Connection, rejects: pd.DataFrame, batch_id: int) -> int:
    if rejects.empty:
        return 0
    shas = sorted(set(rejects["file_sha256"]))
    have = set(conn.execute(
        sa.select(s.rejects.c.file_sha256, s.rejects.c.locator, s.rejects.c.slug, s.rejects.c.field)
        .where(s.rejects.c.file_sha256.in_(shas))).all())
    rows = []
    for r in map(_Row, records_as_dicts(rejects)):
        key = (r.file_sha256, r.locator, r.slug, r.field or "")
        if key in have:
            continue
        have.add(key)
        rows.append({"batch_id": batch_id, "source_file": r.source_file,
                     "file_sha256": r.file_sha256, "locator": r.locator, "stage": r.stage,
                     "scope": r.scope,
                     "slug": r.slug, "field": r.field or "", "message": r.message,
                     "raw": _value(r.raw)})
    bulk_insert(conn, s.rejects, rows)
    return len(rows)
