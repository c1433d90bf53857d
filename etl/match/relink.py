"""Relink everything (``hssk match --full``), keeping person ids where clusters persist.

Every loaded record is matched afresh, as if none had a person yet. Each new cluster then takes
the old person id most of its records had — the biggest overlaps choose first, and an id is
given once — so persons that did not change keep their ids; split-off groups get new persons,
emptied persons are removed. Source records, their clinical rows, the review queue and the
persons' identifiers (rebuilt from their records) move together in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl import __version__
from etl.load import schema as s
from etl.load.bulk import bulk_insert, bulk_update
from etl.load.db import require_current
from etl.load.loader import identifiers_of, insert_identifiers
from etl.match.engine import Thresholds, read_master, resolve

PERSON_TABLES = (s.encounters, s.immunizations)
ENCOUNTER_CHILDREN = (s.observations, s.conditions, s.lab_results)


@dataclass
class RelinkSummary:
    records: int = 0
    records_moved: int = 0
    persons_before: int = 0
    persons_after: int = 0
    persons_created: int = 0
    persons_removed: int = 0
    persons_kept: int = 0
    batch_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def plan(master: pd.DataFrame, thresholds: Thresholds) -> tuple[dict[str, str], pd.DataFrame]:
    """record_key → person id after a full relink, reusing old ids where clusters persist; and
    the fresh review queue."""
    fresh, review, _ = resolve(master.drop(columns=["person_id"]), master.iloc[0:0], thresholds)
    clusters: dict[str, list[int]] = defaultdict(list)
    for pos, cluster in enumerate(fresh["person_id"]):
        clusters[cluster].append(pos)
    old = master["person_id"].tolist()
    keys = master["record_key"].tolist()
    candidates = []
    for cluster, members in clusters.items():
        for person, overlap in Counter(old[m] for m in members).items():
            candidates.append((-overlap, -len(members), cluster, person))
    candidates.sort()
    taken: set[str] = set()
    chosen: dict[str, str] = {}
    for _, _, cluster, person in candidates:
        if cluster not in chosen and person not in taken:
            chosen[cluster] = person
            taken.add(person)
    existing = set(old)
    out: dict[str, str] = {}
    for cluster, members in clusters.items():
        person = chosen.get(cluster)
        if person is None:
            seed = min(keys[m] for m in members)
            person = hashlib.sha256(seed.encode()).hexdigest()[:16]
            while person in existing or person in taken:
                seed += "#"
                person = hashlib.sha256(seed.encode()).hexdigest()[:16]
            taken.add(person)
        for m in members:
            out[keys[m]] = person
    if len(review):
        review = review.assign(person_a=review["record_key_a"].map(out),
                               person_b=review["record_key_b"].map(out))
        review = review[review["person_a"] != review["person_b"]]
    return out, review


def relink(engine: Engine, thresholds: Thresholds | None = None) -> RelinkSummary:
    require_current(engine)
    master = read_master(engine)
    summary = RelinkSummary(records=len(master), persons_before=master["person_id"].nunique())
    if master.empty:
        return summary
    target, review = plan(master, thresholds or Thresholds())
    moved = {k: p for k, p, old in zip(master["record_key"], master["record_key"].map(target),
                                       master["person_id"], strict=True) if p != old}
    summary.records_moved = len(moved)
    summary.persons_after = len(set(target.values()))
    with engine.begin() as conn:
        batch_id = conn.execute(s.batches.insert().values(
            started_at=dt.datetime.now(), status="running", command="match --full",
            tool_version=__version__).returning(s.batches.c.id)).scalar_one()
        summary.batch_id = batch_id
        if moved:
            _apply(conn, master, target, moved, batch_id, summary)
            # The queue is recomputed with the new persons.
            conn.execute(s.match_reviews.delete())
            bulk_insert(conn, s.match_reviews, [
                {"record_key_a": r.record_key_a, "record_key_b": r.record_key_b,
                 "person_a": r.person_a, "person_b": r.person_b, "score": float(r.score),
                 "status": "open", "batch_id": batch_id} for r in review.itertuples()])
        summary.persons_kept = summary.persons_after - summary.persons_created
        conn.execute(s.batches.update().where(s.batches.c.id == batch_id).values(
            finished_at=dt.datetime.now(), status="committed",
            summary=json.dumps(summary.as_dict())))
    return summary


def _apply(conn: Connection, master: pd.DataFrame, target: dict[str, str],
           moved: dict[str, str], batch_id: int, summary: RelinkSummary) -> None:
    old_of = dict(zip(master["record_key"], master["person_id"], strict=True))
    existing = set(master["person_id"])
    # New persons start as a copy of the person most of their records came from.
    donors: dict[str, Counter] = defaultdict(Counter)
    for key, person in moved.items():
        if person not in existing:
            donors[person][old_of[key]] += 1
    if donors:
        columns = [c for c in s.persons.columns if c.name not in ("person_id",)]
        sources = {d.most_common(1)[0][0] for d in donors.values()}
        rows = {r.person_id: dict(r._mapping) for r in conn.execute(
            sa.select(s.persons).where(s.persons.c.person_id.in_(sorted(sources))))}
        new_rows = []
        for person, counts in sorted(donors.items()):
            base = rows[counts.most_common(1)[0][0]]
            new_rows.append({**{c.name: base[c.name] for c in columns}, "person_id": person,
                             "created_batch_id": batch_id, "updated_batch_id": batch_id})
        bulk_insert(conn, s.persons, new_rows)
        summary.persons_created = len(new_rows)
    ids = dict(conn.execute(sa.select(s.source_records.c.record_key, s.source_records.c.id)
                            .where(s.source_records.c.record_key.in_(sorted(moved)))).all())
    updates = [{"id": ids[k], "person_id": p, "match_rule": "relinked",
                "updated_batch_id": batch_id} for k, p in sorted(moved.items())]
    bulk_update(conn, s.source_records, "id", updates)
    pairs = [{"rid": ids[k], "p": p} for k, p in moved.items()]
    for table in PERSON_TABLES:
        conn.execute(table.update().where(table.c.source_record_id == sa.bindparam("rid"))
                     .values(person_id=sa.bindparam("p")), pairs)
    for table in ENCOUNTER_CHILDREN:
        encounter = sa.select(s.encounters.c.id).where(
            s.encounters.c.source_record_id == sa.bindparam("rid")).scalar_subquery()
        conn.execute(table.update().where(table.c.encounter_id.in_(encounter))
                     .values(person_id=sa.bindparam("p")), pairs)
    # Identifiers follow their records: rebuild them for every person that gained or lost one.
    affected = sorted(set(moved.values()) | {old_of[k] for k in moved})
    conn.execute(s.person_identifiers.delete().where(
        s.person_identifiers.c.person_id.in_(affected)))
    record_rows = conn.execute(sa.select(s.source_records).where(
        s.source_records.c.person_id.in_(affected))).mappings().all()
    wanted = {(kind, value, r["person_id"], status) for r in record_rows
              for kind, value, status in identifiers_of(dict(r))}
    insert_identifiers(conn, wanted, batch_id)
    # Persons left without records are removed; their review pairs with them.
    emptied = sorted({old_of[k] for k in moved} - set(target.values()))
    if emptied:
        for table in (s.birth_conditions, s.risk_factors, s.allergies, s.disease_history,
                      s.disabilities, s.surgeries, s.reproductive_history):
            conn.execute(table.delete().where(table.c.person_id.in_(emptied)))
        conn.execute(s.persons.delete().where(s.persons.c.person_id.in_(emptied)))
        summary.persons_removed = len(emptied)
