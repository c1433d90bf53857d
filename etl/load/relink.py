"""Apply a full relink's plan (:func:`etl.match.relink.plan`) in one transaction.

Source records, their clinical rows, the review queue and the persons' identifiers move
together; every person that gained or lost a record is recomputed from its own records by the
survivorship rules (a person split off starts from its records, never as a copy of the person it
left); persons left without records are removed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl import __version__
from etl.load import schema as s
from etl.load.bulk import bulk_insert, bulk_update
from etl.load.loader import identifiers_of, insert_identifiers, refresh_persons

PERSON_TABLES = (s.encounters, s.immunizations)
ENCOUNTER_CHILDREN = (s.observations, s.conditions, s.lab_results)
PERSON_LEVEL_TABLES = (s.birth_conditions, s.risk_factors, s.allergies, s.disease_history,
                       s.disabilities, s.surgeries, s.reproductive_history)
REVIEW_FIELDS = ("record_key_a", "record_key_b", "person_a", "person_b", "score",
                 "probability", "priority", "group_key")


@dataclass
class RelinkSummary:
    records: int = 0
    records_moved: int = 0
    persons_before: int = 0
    persons_after: int = 0
    persons_created: int = 0
    persons_removed: int = 0
    persons_kept: int = 0
    persons_recomputed: int = 0
    batch_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def apply_relink(engine: Engine, master: pd.DataFrame, target: dict[str, str],
                 review: pd.DataFrame) -> RelinkSummary:
    """Move every record of ``master`` to its person in ``target``; replace the queue."""
    moved = {k: p for k, p, old in zip(master["record_key"], master["record_key"].map(target),
                                       master["person_id"], strict=True) if p != old}
    summary = RelinkSummary(records=len(master), persons_before=master["person_id"].nunique(),
                            records_moved=len(moved), persons_after=len(set(target.values())))
    with engine.begin() as conn:
        batch_id = conn.execute(s.batches.insert().values(
            started_at=dt.datetime.now(), status="running", command="match --full",
            tool_version=__version__).returning(s.batches.c.id)).scalar_one()
        summary.batch_id = batch_id
        if moved:
            _move(conn, master, target, moved, batch_id, summary)
            conn.execute(s.match_reviews.delete().where(s.match_reviews.c.status == "open"))
            queued = {(r.record_key_a, r.record_key_b) for r in conn.execute(
                sa.select(s.match_reviews.c.record_key_a, s.match_reviews.c.record_key_b))}
            bulk_insert(conn, s.match_reviews, [
                {**{f: getattr(r, f) for f in REVIEW_FIELDS if hasattr(r, f)},
                 "score": float(r.score), "status": "open", "batch_id": batch_id}
                for r in review.itertuples() if (r.record_key_a, r.record_key_b) not in queued])
        summary.persons_kept = summary.persons_after - summary.persons_created
        conn.execute(s.batches.update().where(s.batches.c.id == batch_id).values(
            finished_at=dt.datetime.now(), status="committed",
            summary=json.dumps(summary.as_dict())))
    return summary


def _move(conn: Connection, master: pd.DataFrame, target: dict[str, str],
          moved: dict[str, str], batch_id: int, summary: RelinkSummary) -> None:
    old_of = dict(zip(master["record_key"], master["person_id"], strict=True))
    existing = set(master["person_id"])
    created = sorted({p for p in moved.values() if p not in existing})
    # New persons start empty; survivorship fills them from their own records below.
    bulk_insert(conn, s.persons, [{"person_id": p, "created_batch_id": batch_id,
                                   "updated_batch_id": batch_id} for p in created])
    summary.persons_created = len(created)
    ids = dict(conn.execute(sa.select(s.source_records.c.record_key, s.source_records.c.id)
                            .where(s.source_records.c.record_key.in_(sorted(moved)))).all())
    bulk_update(conn, s.source_records, "id", [
        {"id": ids[k], "person_id": p, "match_rule": "relinked", "updated_batch_id": batch_id}
        for k, p in sorted(moved.items())])
    pairs = [{"rid": ids[k], "p": p} for k, p in moved.items()]
    for table in PERSON_TABLES:
        conn.execute(table.update().where(table.c.source_record_id == sa.bindparam("rid"))
                     .values(person_id=sa.bindparam("p")), pairs)
    for table in ENCOUNTER_CHILDREN:
        encounter = sa.select(s.encounters.c.id).where(
            s.encounters.c.source_record_id == sa.bindparam("rid")).scalar_subquery()
        conn.execute(table.update().where(table.c.encounter_id.in_(encounter))
                     .values(person_id=sa.bindparam("p")), pairs)
    affected = sorted(set(moved.values()) | {old_of[k] for k in moved})
    _rebuild_identifiers(conn, affected, batch_id)
    emptied = sorted({old_of[k] for k in moved} - set(target.values()))
    if emptied:
        for table in PERSON_LEVEL_TABLES:
            conn.execute(table.delete().where(table.c.person_id.in_(emptied)))
        conn.execute(s.persons.delete().where(s.persons.c.person_id.in_(emptied)))
        summary.persons_removed = len(emptied)
    summary.persons_recomputed = refresh_persons(conn, set(affected) - set(emptied), batch_id)


def _rebuild_identifiers(conn: Connection, persons: list[str], batch_id: int) -> None:
    """Identifiers follow their records: rebuilt for every person that gained or lost one."""
    conn.execute(s.person_identifiers.delete().where(
        s.person_identifiers.c.person_id.in_(persons)))
    record_rows = conn.execute(sa.select(s.source_records).where(
        s.source_records.c.person_id.in_(persons))).mappings().all()
    wanted = {(kind, value, r["person_id"], status) for r in record_rows
              for kind, value, status in identifiers_of(dict(r))}
    insert_identifiers(conn, wanted, batch_id)
