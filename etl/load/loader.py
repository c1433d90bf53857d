"""Write a matched stage into the HSSK database in one transaction, idempotently.

Source records are upserted by their business key (``record_key``) and content hash, so
re-loading yesterday's files changes nothing; a changed record keeps its previous version in
``source_record_versions``. Persons are created for new person ids, and every person a batch
touches is recomputed from all its current source records by the survivorship rules of
:mod:`etl.load.survivorship`. Records a snapshot feed's newer extract no longer holds are
marked no longer current (``retire_missing``), never deleted. Identifiers and rejects are added
once. The batch row is written in the same transaction as the data it describes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl import __version__
from etl.kinds import priorities
from etl.load import schema as s
from etl.load.bulk import bulk_insert, bulk_update, bulk_upsert, in_values
from etl.load.clinical import write_clinical
from etl.load.columns import Columns, int_values, json_arrays
from etl.load.db import require_current
from etl.load.survivorship import GOLDEN_FIELDS, golden_columns, golden_values
from etl.stage import StageData, as_objects, map_distinct, records_as_dicts
from etl.stage import value as _value
from etl.summary import FileCounts, LoadCounts, reject_counts
from etl.text.keys import address_key, name_key

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
# How a record's person values are stored (``source_records.person_values``, read back by
# survivorship and the review queue): a JSON array, its first item the layout, the rest that
# layout's fields in order. A layout never changes once written; a field added makes a new one.
# A text written before layouts (a JSON object of the fields present) is read as it is.
PERSON_VALUE_LAYOUTS: dict[int, tuple[str, ...]] = {1: tuple(PERSON_FIELDS)}
PERSON_VALUE_LAYOUT = 1


def person_value_texts(values: Mapping[str, Sequence[object] | np.ndarray]) -> list[str]:
    """The stored text of each record's person values (``values``: field → one per record)."""
    fields = PERSON_VALUE_LAYOUTS[PERSON_VALUE_LAYOUT]
    return json_arrays(PERSON_VALUE_LAYOUT, {f: values[f] for f in fields})


def stored_person_values(text: str) -> dict[str, object]:
    """A record's stored person values as field → value (present fields only)."""
    stored = json.loads(text)
    if isinstance(stored, dict):
        return stored
    fields = PERSON_VALUE_LAYOUTS[stored[0]]
    return {f: v for f, v in zip(fields, stored[1:], strict=True) if v is not None}


RECORD_FIELDS = [
    "full_name", "name_key", "family_key", "middle_key", "given_key", "sex", "birth_year",
    "birth_month", "birth_day", "birth_date_precision", "personal_id", "personal_id_status",
    "cmnd", "passport", "insurance_cards", "social_insurance_code", "facility_code",
    "facility_patient_id", "household_head_key", "phone", "match_score",
]


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


def _rows(frame: pd.DataFrame, keep: pd.Series | np.ndarray) -> pd.DataFrame:
    """``frame[keep]``, or ``frame`` itself when every row is kept (as in a first load): the
    selection copies every column, 200,000 rows of fifty columns a few tenths of a second."""
    return frame if keep.all() else frame[keep]


def _chunks(items: list, size: int = 5000):  # type: ignore[no-untyped-def]
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Values:
    """What the records a load writes are written with: their cells, person values (and their
    JSON), name and address keys, and the golden record of each person they name (computed per
    person, from that person's records only)."""

    def __init__(self, rec: pd.DataFrame) -> None:
        self.columns: Columns = {name: rec[name].tolist() for name in rec.columns}  # plain
        self.person_values = _person_values(rec)
        self.person_json = person_value_texts(self.person_values)
        # Keys of repeated texts computed once per distinct text, not once per row.
        self.mother_key = map_distinct(rec["mother_name"], name_key).tolist()
        self.address_key = map_distinct(rec["permanent_address"], address_key).tolist()
        frame = pd.DataFrame(
            {"person_id": rec["person_id"].to_numpy(),
             "source_kind": rec["source_kind"].to_numpy(),
             "record_key": rec["record_key"].to_numpy(), "updated_batch_id": 0,
             **self.person_values},
            dtype=object)  # ints stay ints where a column also holds None
        # Every record is of this batch: the "newest" rules' batches are all one.
        self.golden = golden_columns(frame, priorities()) if len(frame) else {}

    def kept(self, keep: np.ndarray) -> _Values:
        """These values for the records ``keep`` marks (the golden records stay whole: a
        person created has all its records among them)."""
        if keep.all():
            return self
        out = object.__new__(_Values)
        out.columns = {name: list(compress(v, keep)) for name, v in self.columns.items()}
        out.person_values = {f: v[keep] for f, v in self.person_values.items()}
        out.person_json = list(compress(self.person_json, keep))
        out.mother_key = list(compress(self.mother_key, keep))
        out.address_key = list(compress(self.address_key, keep))
        out.golden = self.golden
        return out


@dataclass
class LoadPlan:
    """A matched stage made ready to write without the database (:func:`plan_load`).
    :func:`write_plan` then asks the database which records are new or changed and writes
    those."""

    data: StageData
    rec: pd.DataFrame
    # What the caller knows the database does not hold (see plan_load): not looked up.
    unstored: np.ndarray | None = None
    unstored_persons: frozenset[str] = frozenset()
    # The written values of every record, worked out ahead when every record is to be
    # written; else (None) of the records the database says changed, at write time.
    values: _Values | None = None


def plan_load(data: StageData, *, unstored: np.ndarray | None = None,
              unstored_persons: Collection[str] = ()) -> LoadPlan:
    """The database-free part of loading ``data`` (:class:`LoadPlan`).

    ``unstored`` (one flag per record) and ``unstored_persons`` say which records and persons
    the caller knows the database does not hold: a run knows it from the master index it
    matched against, under its lock (:meth:`etl.pipeline._Run.match`). They are not looked
    up: on PostgreSQL a million-record first load spent about 15 s of the server's time
    probing indexes for keys that could not be there. A wrong hint fails the batch on a unique
    key; it never loads a duplicate.

    When every record is hinted unstored (a first load, new clinic episodes) every record is
    written, and what it is written with is worked out here: a run plans the next chunk while
    the database writes this one (PostgreSQL; see :class:`etl.pipeline.Writer`). Otherwise it
    is left to :func:`write_plan`, for the records that changed: a re-run of yesterday's files
    writes next to nothing and should not pay for planning all of them."""
    rec = as_objects(data.records)  # a new frame: its rows are numbered here, not copied again
    rec.index = pd.RangeIndex(len(rec))
    if "feed" not in rec.columns:
        rec["feed"] = None
    every = unstored is not None and bool(unstored.all())
    return LoadPlan(data, rec, unstored, frozenset(unstored_persons),
                    _Values(rec) if every else None)


def load_stage(data: StageData, engine: Engine, *, command: str = "load",
               progress: Progress | None = None) -> LoadCounts:
    """Load a matched stage; returns counts per file and per table (see :mod:`etl.summary`).

    A record is *created* (new key), *updated* (its content or person changed, or it was no
    longer current and is back; the version it replaces is kept in ``source_record_versions``)
    or *unchanged* (nothing is written). Every person a created or updated record touches is
    then recomputed from all its current records (:mod:`etl.load.survivorship`).
    """
    return write_plan(plan_load(data), engine, command=command, progress=progress)


def write_plan(plan: LoadPlan, engine: Engine, *, command: str = "load",
               progress: Progress | None = None, check_schema: bool = True,
               conn: Connection | None = None) -> LoadCounts:
    """Write a planned stage (:func:`plan_load`) in one transaction (see :func:`load_stage`).
    ``check_schema=False``: the caller has just checked it (a run, before its later chunks;
    asking Alembic costs a chunk 70 ms on PostgreSQL). ``conn``: write in that connection's
    open transaction instead, which the caller commits (a run groups SQLite chunks; see
    :class:`etl.pipeline.Writer`)."""
    if check_schema:
        require_current(engine)
    if conn is not None:
        return _write(conn, plan, command, progress)
    with engine.begin() as conn:
        return _write(conn, plan, command, progress)


def _write(conn: Connection, plan: LoadPlan, command: str, progress: Progress | None
           ) -> LoadCounts:
    data, rec = plan.data, plan.rec
    counts = LoadCounts()
    started = dt.datetime.now()

    def step(done: int) -> None:
        if progress:
            progress("load", done, 4)

    batch_id = counts.batch_id = _open_batch(conn, command, started)
    file_ids = _file_ids(conn, data, batch_id)
    replaced, moved_from = _record_status(conn, rec, plan.unstored)
    step(1)
    keep = (rec["_status"] != "unchanged").to_numpy()
    changed = _rows(rec, keep)
    written = plan.values.kept(keep) if plan.values is not None else _Values(changed)
    updated = set(changed.loc[changed["_status"] == "updated", "record_key"])
    wanted = sorted(set(changed["person_id"]))
    known_persons = _known_persons(conn, [p for p in wanted
                                          if p not in plan.unstored_persons])
    new_persons = [p for p in wanted if p not in known_persons]
    _insert_new_persons(conn, written.golden, new_persons, batch_id)
    step(2)
    _keep_versions(conn, replaced, batch_id)
    # Only a record key the database holds (or one the batch repeats) can conflict.
    _write_records(conn, written, file_ids, batch_id,
                   upsert=bool(updated) or not changed["record_key"].is_unique)
    counts.persons_created = len(new_persons)
    counts.persons_updated = refresh_persons(
        conn, (set(wanted) | moved_from) - set(new_persons), batch_id)
    step(3)
    counts.identifiers_added = insert_identifiers(conn, identifiers_in(written.columns),
                                                  batch_id, created=set(new_persons))
    # Clinical rows to write, or old ones an updated record may have to replace: a first
    # load of a registry has neither, and its record ids need not be read back.
    if updated or any(len(t) for name, t in data.tables.items() if name != "review"):
        counts.clinical_rows = write_clinical(conn, data.tables, _record_ids(conn, changed),
                                              updated)
    review = data.tables.get("review")
    counts.reviews_added = _write_reviews(conn, review, batch_id)
    counts.rejects_added = _write_rejects(conn, data.rejects, batch_id)
    counts.files = _file_counts(data, rec, set(new_persons), known_persons, review)
    _commit_batch(conn, batch_id, counts)
    step(4)
    return counts


def _open_batch(conn: Connection, command: str, started: dt.datetime) -> int:
    """The batch row, written first so every row the batch loads can name it."""
    return conn.execute(s.batches.insert().values(
        started_at=started, status="running", command=command, tool_version=__version__,
    ).returning(s.batches.c.id)).scalar_one()


def _commit_batch(conn: Connection, batch_id: int, counts: LoadCounts) -> None:
    """Close the batch row with its summary, in the transaction of the data it describes."""
    counts.finished_at = dt.datetime.now()
    conn.execute(s.batches.update().where(s.batches.c.id == batch_id).values(
        finished_at=counts.finished_at, status="committed",
        summary=json.dumps(counts.as_dict(), ensure_ascii=False, default=str)))


def _record_status(conn: Connection, rec: pd.DataFrame, unstored: np.ndarray | None = None
                   ) -> tuple[list[str], set[str]]:
    """Set ``rec["_status"]`` (created, updated or unchanged) against the stored records; return
    the keys whose content this batch replaces and the persons records move away from. Records
    flagged ``unstored`` are created without a look."""
    sr = s.source_records.c
    existing: dict[str, tuple[int, str, str, bool]] = {}
    keys = rec["record_key"] if unstored is None else rec["record_key"][~unstored]
    for chunk in _chunks(keys.tolist()):
        for rid, key, rhash, person, current in conn.execute(
                sa.select(sr.id, sr.record_key, sr.record_hash, sr.person_id, sr.is_current)
                .where(in_values(conn, sr.record_key, chunk))):
            existing[key] = (rid, rhash, person, bool(current))
    status, replaced, moved_from = [], [], set()
    for key, rhash, person in zip(rec["record_key"], rec["record_hash"], rec["person_id"],
                                  strict=True):
        old = existing.get(key)
        if old is None:
            status.append("created")
        elif old[1] == rhash and old[2] == person and old[3]:
            status.append("unchanged")
        else:
            status.append("updated")
            if old[1] != rhash:
                replaced.append(key)
            if old[2] != person:
                moved_from.add(old[2])
    rec["_status"] = status
    return replaced, moved_from


def _known_persons(conn: Connection, person_ids: list[str]) -> set[str]:
    """The persons of ``person_ids`` the database already has."""
    known: set[str] = set()
    for chunk in _chunks(person_ids):
        known.update(conn.execute(sa.select(s.persons.c.person_id)
                                  .where(in_values(conn, s.persons.c.person_id, chunk))).scalars())
    return known


def _write_records(conn: Connection, written: _Values, file_ids: dict[str, int],
                   batch_id: int, *, upsert: bool) -> None:
    """Write the created and updated source records (current again, with their person values
    stored for survivorship), column by column: an upsert by ``record_key`` when some may
    already be stored, else a plain insert (a COPY straight into the table on PostgreSQL)."""
    columns, person_values = written.columns, written.person_values
    n = len(columns["record_key"])
    rows: Columns = {c: columns[c] for c in (
        "record_key", "source_kind", "locator", "record_hash", "person_id", "match_rule", "raw",
        "feed", *RECORD_FIELDS)}
    rows.update(
        source_file_id=[file_ids[sha] for sha in columns["file_sha256"]],
        created_batch_id=[batch_id] * n, updated_batch_id=[batch_id] * n,
        commune_code=columns["permanent_commune_code"],
        commune_code_2025=columns["permanent_commune_code_2025"],
        mother_key=written.mother_key, address_key=written.address_key,
        is_current=[True] * n, superseded_batch_id=[None] * n,
        person_values=written.person_json,
        **{c: person_values[c].tolist() for c in ("birth_year", "birth_month", "birth_day")})
    if upsert:
        update_cols = [c for c in rows if c not in ("record_key", "created_batch_id")]
        bulk_upsert(conn, s.source_records, rows, ["record_key"], update_cols)
    else:
        bulk_insert(conn, s.source_records, rows)


def _record_ids(conn: Connection, changed: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """record_key → (source record id, person) of the records this batch wrote, in batch order."""
    sr = s.source_records.c
    loaded: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(changed["record_key"].tolist()):
        loaded.update({k: (rid, person) for rid, k, person in conn.execute(
            sa.select(sr.id, sr.record_key, sr.person_id)
            .where(in_values(conn, sr.record_key, chunk)))})
    return loaded


def _file_counts(data: StageData, rec: pd.DataFrame, new_persons: set[str],
                 known_persons: set[str], review: pd.DataFrame | None) -> list[FileCounts]:
    """Per file: rows by outcome, and what matching did with the rows it wrote — linked to a
    person the database already had, new persons (each counted in the first file holding one
    of its records), records in a pair sent to review."""
    in_review: set[str] = set()
    if review is not None and len(review):
        in_review = set(review["record_key_a"]) | set(review["record_key_b"])
    first_file: dict[str, str] = {}
    for person, sha, state in zip(rec["person_id"], rec["file_sha256"], rec["_status"],
                                  strict=True):
        if state != "unchanged" and person in new_persons:
            first_file.setdefault(person, sha)
    new_by_file = pd.Series(list(first_file.values()), dtype=object).value_counts()
    # Only the columns counted: a file's rows of the whole frame are a copy of every column.
    rec = rec[["file_sha256", "_status", "person_id", "match_rule", "record_key"]]
    out = []
    for f in data.files.itertuples():
        mine = rec[rec["file_sha256"] == f.file_sha256]
        states = mine["_status"].value_counts()
        written = mine[mine["_status"] != "unchanged"]
        out.append(FileCounts(
            source_file=f.source_file, kind=f.kind, read=int(f.rows),
            created=int(states.get("created", 0)), updated=int(states.get("updated", 0)),
            unchanged=int(states.get("unchanged", 0)), structure=_int(f.structure_rows) or 0,
            linked=int((written["person_id"].isin(known_persons)
                        & (written["match_rule"] != "known-record")).sum()),
            new_persons=int(new_by_file.get(f.file_sha256, 0)),
            review=int(mine["record_key"].isin(in_review).sum()),
            **reject_counts(data.rejects, f.file_sha256)))
    return out


def _insert_new_persons(conn: Connection, golden: dict[str, np.ndarray],
                        new_persons: list[str], batch_id: int) -> None:
    """Insert the persons this batch creates (``new_persons``, in that order) with their golden
    records. A new person's records are all in this batch: the golden record comes from memory
    (``golden``, the plan's) by the rules :func:`refresh_persons` applies to stored records."""
    if not new_persons:
        return
    order = pd.Index(golden["person_id"]).get_indexer(new_persons)
    n = len(new_persons)
    bulk_insert(conn, s.persons, {
        "person_id": new_persons, "created_batch_id": [batch_id] * n,
        "updated_batch_id": [batch_id] * n,
        **{f: golden[f][order].tolist() for f in GOLDEN_FIELDS}})


def _person_values(changed: pd.DataFrame) -> dict[str, np.ndarray]:
    """The person fields the clean records give (stored with each, for survivorship)."""
    values = {f: changed[c].to_numpy() for f, c in PERSON_FIELDS.items()}
    for f in ("birth_year", "birth_month", "birth_day"):
        values[f] = np.array(int_values(values[f]), dtype=object)
    return values


def _keep_versions(conn: Connection, keys: list[str], batch_id: int) -> None:
    """Copy the stored version of records whose content this batch replaces into
    ``source_record_versions`` (with the batch that had loaded it)."""
    sr, v = s.source_records.c, s.source_record_versions
    for chunk in _chunks(keys):
        conn.execute(v.insert().from_select(
            ["source_record_id", "record_hash", "raw", "source_file_id", "locator", "batch_id",
             "replaced_batch_id"],
            sa.select(sr.id, sr.record_hash, sr.raw, sr.source_file_id, sr.locator,
                      sr.updated_batch_id, sa.literal(batch_id, sa.Integer))
            .where(in_values(conn, sr.record_key, chunk))))


# source_records columns standing in for person values of records loaded before 0003
_LEGACY_VALUES = {"full_name": "full_name", "sex": "sex", "birth_year": "birth_year",
                  "birth_month": "birth_month", "birth_day": "birth_day",
                  "birth_date_precision": "birth_date_precision", "phone": "phone",
                  "permanent_commune_code": "commune_code"}


def refresh_persons(conn: Connection, person_ids: set[str], batch_id: int) -> int:
    """Recompute ``person_ids`` from all their current source records by the survivorship rules;
    write the persons whose values changed. Returns how many changed (persons updated)."""
    if not person_ids:
        return 0
    sr, p = s.source_records.c, s.persons.c
    rows: list[tuple[object, ...]] = []
    before: dict[str, dict[str, object]] = {}
    for chunk in _chunks(sorted(person_ids)):
        for person, kind, key, batch, stored, *legacy in conn.execute(
                sa.select(sr.person_id, sr.source_kind, sr.record_key, sr.updated_batch_id,
                          sr.person_values, *[sr[c] for c in _LEGACY_VALUES.values()])
                .where(in_values(conn, sr.person_id, chunk), sr.is_current.is_(True))):
            values = (stored_person_values(stored) if stored else
                      dict(zip(_LEGACY_VALUES, legacy, strict=True)))
            rows.append((person, kind, key, batch, *[values.get(f) for f in PERSON_FIELDS]))
        for r in conn.execute(sa.select(p.person_id, *[p[f] for f in GOLDEN_FIELDS])
                              .where(in_values(conn, p.person_id, chunk))):
            before[r.person_id] = dict(r._mapping)
    frame = pd.DataFrame(rows, columns=["person_id", "source_kind", "record_key",
                                        "updated_batch_id", *PERSON_FIELDS],
                         dtype=object)  # a birth month stays 9, not 9.0, beside a None
    golden = golden_values(as_objects(frame), priorities())
    updates = []
    for person_id, values in sorted(golden.items()):
        old = before.get(person_id, {})
        if any(old.get(f) != values[f] for f in GOLDEN_FIELDS):
            updates.append({"person_id": person_id, "updated_batch_id": batch_id, **values})
    bulk_update(conn, s.persons, "person_id", updates)
    return len(updates)


def retire_missing(engine: Engine, feed: str, seen_keys: set[str], *,
                   command: str = "run") -> LoadCounts:
    """Mark the current records of snapshot ``feed`` that its newest extract (``seen_keys``)
    no longer holds as no longer current, in one batch; they are never deleted. Their persons
    are recomputed from the records that remain current. No batch when nothing is gone."""
    require_current(engine)
    counts = LoadCounts()
    sr = s.source_records.c
    with engine.begin() as conn:
        current = conn.execute(sa.select(sr.id, sr.record_key, sr.person_id)
                               .where(sr.feed == feed, sr.is_current.is_(True))).all()
        gone = [(rid, person) for rid, key, person in current if key not in seen_keys]
        if not gone:
            return counts
        counts.batch_id = _open_batch(conn, command, dt.datetime.now())
        for chunk in _chunks([rid for rid, _ in gone]):
            conn.execute(s.source_records.update().where(sr.id.in_(chunk)).values(
                is_current=False, superseded_batch_id=counts.batch_id))
        counts.gone = len(gone)
        counts.feed = feed
        counts.persons_updated = refresh_persons(conn, {p for _, p in gone}, counts.batch_id)
        _commit_batch(conn, counts.batch_id, counts)
    return counts


_IDENTIFIER_COLUMNS = ("person_id", "personal_id", "personal_id_status", "cmnd", "passport",
                       "social_insurance_code", "insurance_cards", "facility_code",
                       "facility_patient_id")


def identifiers_in(columns: Mapping[str, Sequence[object]]) -> set[tuple[str, str, str, str]]:
    """(kind, value, person, status) of every identifier the records of ``columns`` (clean or
    loaded records, with ``person_id``) carry, column by column: a first load holds a record
    per person or so. The person's identifiers are always derivable from its source records,
    so a relink can rebuild them."""
    persons = columns["person_id"]

    def column(name: str) -> Sequence[object]:
        return columns[name] if name in columns else [None] * len(persons)

    found = {("personal_id", str(v), p, str(status or "valid")) for p, v, status in zip(
        persons, column("personal_id"), column("personal_id_status"), strict=True) if v}
    for kind in ("cmnd", "passport", "social_insurance_code"):
        found.update((kind, str(v), p, "valid")
                     for p, v in zip(persons, column(kind), strict=True) if v)
    found.update(("insurance_card", card, p, "valid")
                 for p, cards in zip(persons, column("insurance_cards"), strict=True) if cards
                 for card in str(cards).split(";") if card)
    found.update(("facility_patient_id", f"{code}:{patient}", p, "valid")
                 for p, code, patient in zip(persons, column("facility_code"),
                                             column("facility_patient_id"), strict=True)
                 if code and patient)
    return found


def identifiers_of(r: Mapping[str, object]) -> list[tuple[str, str, str]]:
    """(kind, value, status) of every identifier one record carries (:func:`identifiers_in`)."""
    one = {c: [r.get(c)] for c in _IDENTIFIER_COLUMNS}
    return sorted((kind, value, status) for kind, value, _, status in identifiers_in(one))


def insert_identifiers(conn: Connection, wanted: set[tuple[str, str, str, str]],
                       batch_id: int, *, created: Collection[str] = ()) -> int:
    """Add (kind, value, person, status) rows the persons do not have yet. Persons ``created``
    by this batch have none stored: they are not looked up (most persons of a first load)."""
    if not wanted:
        return 0
    persons = sorted({w[2] for w in wanted}.difference(created))
    have: set[tuple[str, str, str]] = set()
    for start in range(0, len(persons), 5000):
        chunk = persons[start:start + 5000]
        have.update(conn.execute(
            sa.select(s.person_identifiers.c.kind, s.person_identifiers.c.value,
                      s.person_identifiers.c.person_id)
            .where(in_values(conn, s.person_identifiers.c.person_id, chunk))).all())
    new = []
    # Person by person: each row's foreign key looks its person up (on PostgreSQL also locking
    # it), and the persons a batch creates were written in this order; 866,000 identifiers of
    # a million-resident registry took 10-12 s on PostgreSQL against 16-18 s by value
    # (benchmarks/bench_pg_writes.py). Of one identifier with two statuses, the first in sort
    # order is kept, as before.
    for kind, value, person, status in sorted(wanted, key=itemgetter(2, 0, 1, 3)):
        if (kind, value, person) not in have:
            have.add((kind, value, person))
            new.append((kind, value, person, status))
    return bulk_insert(conn, s.person_identifiers, {
        "person_id": [w[2] for w in new], "kind": [w[0] for w in new],
        "value": [w[1] for w in new], "status": [w[3] for w in new],
        "first_batch_id": [batch_id] * len(new)})


def _int(v: object) -> int | None:
    v = _value(v)
    return None if v is None else int(v)  # type: ignore[arg-type]


def _write_reviews(conn: Connection, review: pd.DataFrame | None, batch_id: int) -> int:
    """Pairs between the review and link thresholds, for the analysts' queue (once each). A run
    hands each chunk the pairs touching its records; ``_write`` marks those this chunk writes
    (both records loaded by then)."""
    if review is not None and "_write" in review.columns:
        review = review[review["_write"].astype(bool)]
    if review is None or review.empty:
        return 0
    rows = [{"record_key_a": r["record_key_a"], "record_key_b": r["record_key_b"],
             "person_a": r["person_a"], "person_b": r["person_b"], "score": float(r["score"]),
             "probability": r.get("probability"), "priority": r.get("priority"),
             "group_key": r.get("group_key"), "status": "open", "batch_id": batch_id}
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
