"""Analysts' changes to persons: merge, split and undo, each audited and exactly undoable.

Every change is one row of ``person_changes``: who (the OS user or ``--by``), when, why, and
the full rows, before and after, of every table row the change could touch — the persons, their
source records, identifiers, clinical and history rows, their review pairs and decisions, and
the batch the change wrote. An undo checks that those rows are still exactly as the change left
them (no later change, load or relink touched them) and puts the rows from before back: the
database is then as it was, row for row.

A merge moves every record of B (and what hangs off them) to A, removes B and writes a "same"
decision between a record of each; a split moves the given records to a new person (a stable id
from its own records) and writes "different" decisions between them and the rest, so later runs
and ``hssk match --full`` keep them apart. Both recompute golden records by the survivorship
rules (:func:`etl.load.loader.refresh_persons`) and rebuild identifiers from the records.

Like ``hssk run``, each change takes the run lock: while a run loads, a change is refused
(exit code 3) rather than interleaved with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl import __version__
from etl.errors import UsageError
from etl.load import schema as s
from etl.load.db import require_current
from etl.load.decisions import DIFFERENT, SAME, decisions_between, ordered, record_decisions
from etl.load.loader import identifiers_of, insert_identifiers, refresh_persons
from etl.load.lock import RunLock

log = logging.getLogger(__name__)

MERGE, SPLIT, UNDO, REVIEW_IMPORT = "merge", "split", "undo", "review-import"
_CHUNK = 2000


class CurationError(UsageError):
    """A change an analyst asked for that cannot be made as asked (exit code 2)."""


class MergeRefused(CurationError):
    """Two persons that must not be merged (e.g. two different valid personal ID numbers)."""


class UndoRefused(CurationError):
    """A change that cannot be undone (already undone, or later changes build on it)."""


def os_user() -> str:
    """Who is making a change when ``--by`` is not given: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in the environment or password database
        return "unknown"


@dataclass
class Change:
    """One audited change, as ``hssk person history`` shows it."""

    change_id: int
    kind: str
    decided_by: str
    decided_at: dt.datetime
    reason: str | None
    persons: list[str]
    summary: dict[str, object]
    undone_by: int | None = None


# --- the rows a change touches, as JSON ---------------------------------------------------------

@dataclass
class Scope:
    """What a change may touch: persons (all their rows, review pairs and decisions), record
    pairs (their decisions and review rows) and batches (by id)."""

    persons: set[str] = field(default_factory=set)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    batches: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, object]:
        return {"persons": sorted(self.persons), "pairs": sorted(map(list, self.pairs)),
                "batches": sorted(self.batches)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Scope:
        return cls(set(data.get("persons", [])),  # type: ignore[arg-type]
                   {tuple(p) for p in data.get("pairs", [])},  # type: ignore[union-attr, misc]
                   set(data.get("batches", [])))  # type: ignore[arg-type]


def _person_tables() -> list[sa.Table]:
    return [t for t in s.metadata.sorted_tables if "person_id" in t.c]


def _scoped_tables() -> list[sa.Table]:
    names = {t.name for t in _person_tables()} | {"match_reviews", "match_decisions", "batches"}
    return [t for t in s.metadata.sorted_tables if t.name in names]


def _pk(table: sa.Table) -> sa.Column:
    (column,) = table.primary_key.columns
    return column


def _encode(value: object) -> object:
    """A column value as JSON keeps it: dates as ISO text, NaN as "NaN" (NaN is not equal to
    itself, and rows are compared)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return "NaN"
    return value


def _decode(column: sa.Column, value: object) -> object:
    if value is None:
        return None
    if isinstance(column.type, sa.Float) and value == "NaN":
        return float("nan")
    if isinstance(column.type, sa.DateTime):
        return dt.datetime.fromisoformat(value)  # type: ignore[arg-type]
    if isinstance(column.type, sa.Date):
        return dt.date.fromisoformat(value)  # type: ignore[arg-type]
    return value


def _chunks(values: Iterable, size: int = _CHUNK) -> Iterator[list]:  # type: ignore[type-arg]
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _rows(conn: Connection, table: sa.Table, where: sa.ColumnElement) -> list[dict[str, object]]:
    return [{k: _encode(v) for k, v in r.items()}
            for r in conn.execute(sa.select(table).where(where)).mappings()]


def snapshot(conn: Connection, scope: Scope,
             pks: dict[str, set[object]] | None = None) -> dict[str, list[dict[str, object]]]:
    """Every row of ``scope`` (and rows with the primary keys ``pks``), table → rows ordered by
    primary key, values JSON-ready."""
    pks = pks or {}
    keys: set[str] = set()
    for chunk in _chunks(scope.persons):
        keys.update(conn.execute(sa.select(s.source_records.c.record_key)
                                 .where(s.source_records.c.person_id.in_(chunk))).scalars())
    keys.update(k for pair in scope.pairs for k in pair)
    out: dict[str, list[dict[str, object]]] = {}
    for table in _scoped_tables():
        pk = _pk(table)
        found: dict[object, dict[str, object]] = {}
        wheres: list[sa.ColumnElement] = []
        if "person_id" in table.c:
            wheres += [table.c.person_id.in_(c) for c in _chunks(scope.persons)]
        elif table is s.match_reviews:
            for c in _chunks(scope.persons):
                wheres += [table.c.person_a.in_(c), table.c.person_b.in_(c)]
            for c in _chunks(keys):
                wheres += [table.c.record_key_a.in_(c), table.c.record_key_b.in_(c)]
        elif table is s.match_decisions:
            for c in _chunks(keys):
                wheres += [table.c.record_key_a.in_(c), table.c.record_key_b.in_(c)]
        elif table is s.batches:
            wheres += [pk.in_(c) for c in _chunks(scope.batches)]
        wheres += [pk.in_(c) for c in _chunks(pks.get(table.name, set()))]
        for where in wheres:
            for row in _rows(conn, table, where):
                found[row[pk.name]] = row
        if scope.pairs and not scope.persons and table in (s.match_reviews, s.match_decisions):
            # a pair-scoped change touches those pairs' rows, not every pair of their records
            wanted = {ordered(a, b) for a, b in scope.pairs}
            found = {k: r for k, r in found.items() if ordered(
                r["record_key_a"], r["record_key_b"]) in wanted}  # type: ignore[arg-type]
        if found:
            out[table.name] = [found[k] for k in sorted(found)]  # type: ignore[type-var]
    return out


def _pk_sets(*states: dict[str, list[dict[str, object]]]) -> dict[str, set[object]]:
    out: dict[str, set[object]] = {}
    tables = {t.name: t for t in _scoped_tables()}
    for state in states:
        for name, rows in state.items():
            pk = _pk(tables[name]).name
            out.setdefault(name, set()).update(r[pk] for r in rows)
    return out


def restore(conn: Connection, target: dict[str, list[dict[str, object]]],
            current: dict[str, list[dict[str, object]]]) -> None:
    """Make the rows of ``current`` exactly ``target``: parents first, insert and update;
    then children first, delete what ``target`` does not hold."""
    tables = [t for t in _scoped_tables() if t.name in target or t.name in current]
    for table in tables:
        pk = _pk(table)
        now = {r[pk.name]: r for r in current.get(table.name, [])}
        for row in target.get(table.name, []):
            values = {c.name: _decode(c, row.get(c.name)) for c in table.columns}
            old = now.get(row[pk.name])
            if old is None:
                conn.execute(table.insert().values(**values))
            elif old != row:
                conn.execute(table.update().where(pk == values[pk.name]).values(**values))
    for table in reversed(tables):
        pk = _pk(table)
        keep = {r[pk.name] for r in target.get(table.name, [])}
        gone = [r[pk.name] for r in current.get(table.name, []) if r[pk.name] not in keep]
        for chunk in _chunks(gone):
            conn.execute(table.delete().where(pk.in_(chunk)))


@dataclass
class _Open:
    change_id: int
    scope: Scope
    before: dict[str, list[dict[str, object]]]
    summary: dict[str, object] = field(default_factory=dict)


@contextlib.contextmanager
def audited(conn: Connection, kind: str, *, by: str, reason: str | None,
            scope: Scope) -> Iterator[_Open]:
    """Record a change of ``kind`` in ``conn``'s transaction: the rows of ``scope`` before the
    block runs and after it (the block may add to ``scope``, e.g. the batch it writes, and to
    the change's ``summary``)."""
    before = snapshot(conn, scope)
    change_id = conn.execute(s.person_changes.insert().values(
        kind=kind, decided_by=by, decided_at=dt.datetime.now().replace(microsecond=0),
        reason=reason).returning(s.person_changes.c.id)).scalar_one()
    change = _Open(change_id, scope, before)
    yield change
    after = snapshot(conn, scope, _pk_sets(before))
    conn.execute(s.person_changes.update().where(s.person_changes.c.id == change_id).values(
        persons=" ".join(sorted(scope.persons | set(change.summary.get("persons", [])))) or None,
        before=json.dumps({"scope": scope.as_dict(), "tables": before}, ensure_ascii=False,
                          sort_keys=True),
        after=json.dumps({"summary": change.summary, "tables": after}, ensure_ascii=False,
                         sort_keys=True)))


def _open_batch(conn: Connection, command: str) -> int:
    return conn.execute(s.batches.insert().values(
        started_at=dt.datetime.now(), status="running", command=command,
        tool_version=__version__).returning(s.batches.c.id)).scalar_one()


def _close_batch(conn: Connection, batch_id: int, summary: dict[str, object]) -> None:
    conn.execute(s.batches.update().where(s.batches.c.id == batch_id).values(
        finished_at=dt.datetime.now(), status="committed",
        summary=json.dumps(summary, ensure_ascii=False, default=str)))


# --- reading -----------------------------------------------------------------------------------

def _require_person(conn: Connection, person_id: str) -> None:
    if conn.execute(sa.select(s.persons.c.person_id)
                    .where(s.persons.c.person_id == person_id)).first() is None:
        raise UsageError(f"no person {person_id!r}",
                         hint="person ids are in `hssk export links` and `hssk export persons`")


def records_of(conn: Connection, person_id: str) -> list[str]:
    """The record keys of ``person_id``, in order."""
    return sorted(conn.execute(sa.select(s.source_records.c.record_key)
                               .where(s.source_records.c.person_id == person_id)).scalars())


def lookup_records(conn: Connection, refs: Iterable[str]) -> tuple[dict[str, str],
                                                                   dict[str, str]]:
    """Record key of each reference (a record key, or FILE:LOCATOR as `hssk export links` and
    `hssk explain` write them), and what is wrong with each reference that names no single
    record."""
    sr, sf = s.source_records.c, s.source_files.c
    refs = list(dict.fromkeys(refs))
    found: dict[str, str] = {}
    for chunk in _chunks(refs):
        found.update({k: k for k in conn.execute(
            sa.select(sr.record_key).where(sr.record_key.in_(chunk))).scalars()})
    problems: dict[str, str] = {}
    for ref in refs:
        if ref in found:
            continue
        candidates: list[tuple[str, bool]] = []
        for at in [i for i, ch in enumerate(ref) if ch == ":"][::-1]:
            name, locator = ref[:at], ref[at + 1:]
            candidates = [(k, bool(c)) for k, c in conn.execute(
                sa.select(sr.record_key, sr.is_current)
                .join(s.source_files, sf.id == sr.source_file_id)
                .where(sf.file_name == name, sr.locator == locator))]
            if candidates:
                break
        current = sorted({k for k, is_current in candidates if is_current}
                         or {k for k, _ in candidates})
        if len(current) == 1:
            found[ref] = current[0]
        elif not current:
            problems[ref] = f"no loaded record {ref!r}"
        else:
            problems[ref] = (f"{ref!r} names {len(current)} records (a file of that name was "
                             "loaded more than once); give the record key")
    return found, problems


def resolve_records(conn: Connection, refs: Iterable[str]) -> dict[str, str]:
    """Record key of each reference (see :func:`lookup_records`); unknown or ambiguous
    references are refused, all named at once."""
    found, problems = lookup_records(conn, refs)
    if problems:
        listed = list(problems.values())
        raise UsageError("; ".join(listed[:10]) + (
            f"; and {len(listed) - 10} more" if len(listed) > 10 else ""),
            hint="give a record key, or FILE:LOCATOR as in `hssk export links`")
    return found


# --- merge -------------------------------------------------------------------------------------

def _valid_personal_ids(conn: Connection, person_id: str) -> set[str]:
    pi = s.person_identifiers.c
    return set(conn.execute(sa.select(pi.value).where(
        pi.person_id == person_id, pi.kind == "personal_id", pi.status == "valid")).scalars())


def check_merge(conn: Connection, keep: str, gone: str) -> None:
    """Refuse a merge that cannot be right, with the reason (never an ID number)."""
    if keep == gone:
        raise MergeRefused(f"{keep} and {gone} are one person already")
    for person in (keep, gone):
        _require_person(conn, person)
    ids_keep, ids_gone = _valid_personal_ids(conn, keep), _valid_personal_ids(conn, gone)
    if ids_keep and ids_gone and len(ids_keep | ids_gone) > 1:
        raise MergeRefused(
            f"persons {keep} and {gone} have different valid personal ID numbers: two people",
            hint=f"compare them with `hssk person show {keep}` and `hssk person show {gone}`")


def _reassign(conn: Connection, table: sa.Table, where: sa.ColumnElement, target: str) -> None:
    """Move ``table``'s rows matching ``where`` to person ``target``; a table keyed by person
    (one row each) keeps the target's own row when it has one."""
    if _pk(table).name == "person_id" and conn.execute(
            sa.select(table.c.person_id).where(table.c.person_id == target)).first():
        conn.execute(table.delete().where(where))
        return
    conn.execute(table.update().where(where).values(person_id=target))


def _rebuild_identifiers(conn: Connection, persons: set[str], batch_id: int) -> None:
    """Identifiers of ``persons`` exactly as their records give them; rows that stay keep
    their ids and batch."""
    pi = s.person_identifiers
    wanted: set[tuple[str, str, str, str]] = set()
    for chunk in _chunks(persons):
        for r in conn.execute(sa.select(s.source_records)
                              .where(s.source_records.c.person_id.in_(chunk))).mappings():
            wanted.update((kind, value, r["person_id"], status)
                          for kind, value, status in identifiers_of(dict(r)))
    keys = {(k, v, p) for k, v, p, _ in wanted}
    stale = [rid for rid, k, v, p in conn.execute(
        sa.select(pi.c.id, pi.c.kind, pi.c.value, pi.c.person_id)
        .where(pi.c.person_id.in_(sorted(persons)))) if (k, v, p) not in keys]
    for chunk in _chunks(stale):
        conn.execute(pi.delete().where(pi.c.id.in_(chunk)))
    insert_identifiers(conn, wanted, batch_id)


def merge_in(conn: Connection, keep: str, gone: str, *, reason: str | None, by: str,
             records: tuple[str, str] | None = None, origin: str = "merge") -> Change:
    """Merge person ``gone`` into ``keep`` in ``conn``'s transaction (see :func:`merge_persons`).
    ``records``: the pair (a record of each) whose "same" decision the merge writes."""
    check_merge(conn, keep, gone)
    keys_keep, keys_gone = records_of(conn, keep), records_of(conn, gone)
    if records is None:
        records = (keys_keep[0], keys_gone[0])
    scope = Scope(persons={keep, gone})
    with audited(conn, MERGE, by=by, reason=reason, scope=scope) as change:
        batch_id = _open_batch(conn, "person merge")
        scope.batches.add(batch_id)
        sr = s.source_records
        conn.execute(sr.update().where(sr.c.person_id == gone)
                     .values(person_id=keep, match_rule="merged"))
        for table in _person_tables():
            if table.name not in ("persons", "source_records", "person_identifiers"):
                _reassign(conn, table, table.c.person_id == gone, keep)
        mr = s.match_reviews
        conn.execute(mr.update().where(mr.c.person_a == gone).values(person_a=keep))
        conn.execute(mr.update().where(mr.c.person_b == gone).values(person_b=keep))
        conn.execute(mr.update().where(mr.c.person_a == keep, mr.c.person_b == keep,
                                       mr.c.status == "open").values(status=SAME))
        _rebuild_identifiers(conn, {keep, gone}, batch_id)
        conn.execute(s.persons.delete().where(s.persons.c.person_id == gone))
        refresh_persons(conn, {keep}, batch_id)
        # The latest word wins: earlier cannot-links between the two are replaced by "same".
        overridden = [pair for pair, d in decisions_between(conn, keys_keep, keys_gone).items()
                      if d == DIFFERENT]
        decided = record_decisions(conn, [(*records, SAME), *[(*p, SAME) for p in overridden]],
                                   by, reason, origin, change.change_id)
        change.summary.update(kept=keep, merged=gone, records_moved=len(keys_gone),
                              decisions=decided, overridden=len(overridden), batch_id=batch_id)
        _close_batch(conn, batch_id, {"change_id": change.change_id, **change.summary})
    log.info("merge", extra={"change_id": change.change_id, "records": len(keys_gone)})
    return _change(conn, change.change_id)


def merge_persons(engine: Engine, a: str, b: str, reason: str | None, by: str | None = None,
                  *, records: tuple[str, str] | None = None, origin: str = "merge") -> Change:
    """Merge person ``b`` into ``a`` in one transaction: ``b``'s records, clinical and history
    rows, review pairs and identifiers move to ``a``; ``b`` is removed; ``a``'s golden record
    is recomputed from all the records; a "same" decision joins a record of each. Refused
    (:class:`MergeRefused`) when the two have different valid personal ID numbers."""
    require_current(engine)
    with RunLock(engine, command="person merge"), engine.begin() as conn:
        return merge_in(conn, a, b, reason=reason, by=by or os_user(), records=records,
                        origin=origin)


# --- split -------------------------------------------------------------------------------------

def _new_person_id(conn: Connection, keys: list[str]) -> str:
    """Stable id of a split-off person: from its first record key, like the matcher's new
    persons; re-hashed while taken."""
    seed = min(keys)
    while True:
        person = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]
        if conn.execute(sa.select(s.persons.c.person_id)
                        .where(s.persons.c.person_id == person)).first() is None:
            return person
        seed += "#"


def split_in(conn: Connection, person_id: str, record_refs: Iterable[str], *,
             reason: str | None, by: str) -> Change:
    """Split records off ``person_id`` in ``conn``'s transaction (see :func:`split_person`)."""
    _require_person(conn, person_id)
    keys = sorted(set(resolve_records(conn, record_refs).values()))
    if not keys:
        raise CurationError("name the records to split off with --records")
    own = records_of(conn, person_id)
    foreign = sorted(set(keys) - set(own))
    if foreign:
        raise CurationError(f"{len(foreign)} of the records are not person {person_id}'s: "
                            + ", ".join(foreign[:5]),
                            hint=f"see `hssk person show {person_id}`")
    rest = sorted(set(own) - set(keys))
    if not rest:
        raise CurationError(f"those are all of person {person_id}'s records: nothing to split")
    new = _new_person_id(conn, keys)
    scope = Scope(persons={person_id, new})
    with audited(conn, SPLIT, by=by, reason=reason, scope=scope) as change:
        batch_id = _open_batch(conn, "person split")
        scope.batches.add(batch_id)
        conn.execute(s.persons.insert().values(person_id=new, created_batch_id=batch_id,
                                               updated_batch_id=batch_id))
        sr = s.source_records
        ids = [rid for rid, in conn.execute(sa.select(sr.c.id).where(sr.c.record_key.in_(keys)))]
        conn.execute(sr.update().where(sr.c.id.in_(ids)).values(person_id=new, match_rule=SPLIT))
        encounters = sa.select(s.encounters.c.id).where(s.encounters.c.source_record_id.in_(ids))
        for table in _person_tables():
            mine = table.c.person_id == person_id
            if "source_record_id" in table.c:
                _reassign(conn, table, mine & table.c.source_record_id.in_(ids), new)
            elif "encounter_id" in table.c:
                _reassign(conn, table, mine & table.c.encounter_id.in_(encounters), new)
        mr = s.match_reviews
        conn.execute(mr.update().where(mr.c.record_key_a.in_(keys)).values(person_a=new))
        conn.execute(mr.update().where(mr.c.record_key_b.in_(keys)).values(person_b=new))
        _rebuild_identifiers(conn, {person_id, new}, batch_id)
        refresh_persons(conn, {person_id, new}, batch_id)
        decided = record_decisions(conn, [(k, r, DIFFERENT) for k in keys for r in rest],
                                   by, reason, SPLIT, change.change_id)
        change.summary.update(person=person_id, new_person=new, records=keys,
                              decisions=decided, batch_id=batch_id)
        _close_batch(conn, batch_id, {"change_id": change.change_id, "kind": SPLIT,
                                      "records_moved": len(keys), "decisions": decided})
    log.info("split", extra={"change_id": change.change_id, "records": len(keys)})
    return _change(conn, change.change_id)


def split_person(engine: Engine, person_id: str, record_refs: Iterable[str],
                 reason: str | None, by: str | None = None) -> Change:
    """Split the records ``record_refs`` (record keys or FILE:LOCATOR) off ``person_id`` into a
    new person, in one transaction. Their clinical and history rows follow them; the new
    person's golden record comes from its own records, the old one's from those it keeps;
    identifiers are rebuilt; "different" decisions between the two sets keep them apart in
    later runs."""
    require_current(engine)
    with RunLock(engine, command="person split"), engine.begin() as conn:
        return split_in(conn, person_id, record_refs, reason=reason, by=by or os_user())


# --- undo and history --------------------------------------------------------------------------

def _change(conn: Connection, change_id: int) -> Change:
    row = conn.execute(sa.select(s.person_changes)
                       .where(s.person_changes.c.id == change_id)).mappings().first()
    if row is None:
        raise UsageError(f"no change {change_id}", hint="`hssk person history ID` lists them")
    after = json.loads(row["after"]) if row["after"] else {}
    return Change(row["id"], row["kind"], row["decided_by"], row["decided_at"], row["reason"],
                  (row["persons"] or "").split(), after.get("summary", {}),
                  row["undone_by_change_id"])


def _touched(before: dict[str, object], after: dict[str, object]) -> set[tuple[str, object]]:
    return {(name, pk) for name, pks in _pk_sets(before["tables"],  # type: ignore[arg-type]
                                                 after["tables"]).items()  # type: ignore[arg-type]
            for pk in pks}


def undo_in(conn: Connection, change_id: int, *, by: str, reason: str | None = None) -> Change:
    """Undo change ``change_id`` in ``conn``'s transaction (see :func:`undo`)."""
    row = conn.execute(sa.select(s.person_changes).with_for_update()
                       .where(s.person_changes.c.id == change_id)).mappings().first()
    if row is None:
        raise UsageError(f"no change {change_id}", hint="`hssk person history ID` lists them")
    if row["undone_by_change_id"] is not None:
        raise UndoRefused(f"change {change_id} was undone already, by change "
                          f"{row['undone_by_change_id']}")
    if row["kind"] == UNDO:
        raise UndoRefused(f"change {change_id} is an undo; it cannot be undone",
                          hint="make the change again (merge or split)")
    before, after = json.loads(row["before"]), json.loads(row["after"])
    touched = _touched(before, after)
    later = conn.execute(sa.select(s.person_changes).where(
        s.person_changes.c.id > change_id, s.person_changes.c.kind != UNDO,
        s.person_changes.c.undone_by_change_id.is_(None)).order_by(
            s.person_changes.c.id.desc())).mappings().all()
    for other in later:
        if touched & _touched(json.loads(other["before"]), json.loads(other["after"])):
            raise UndoRefused(
                f"change {other['id']} ({other['kind']}) was made later on the same persons "
                f"or records; undo it first",
                hint=f"`hssk person undo {other['id']}`, then `hssk person undo {change_id}`")
    scope = Scope.from_dict(before["scope"])
    current = snapshot(conn, scope, _pk_sets(before["tables"], after["tables"]))
    if current != after["tables"]:
        changed = sorted(n for n in set(current) | set(after["tables"])
                         if current.get(n) != after["tables"].get(n))
        raise UndoRefused(
            f"change {change_id} cannot be undone exactly: {', '.join(changed)} changed since "
            "(a later load or `hssk match --full`)",
            hint="split or merge the persons again instead")
    undo_id = conn.execute(s.person_changes.insert().values(
        kind=UNDO, decided_by=by, decided_at=dt.datetime.now().replace(microsecond=0),
        reason=reason, persons=row["persons"],
        before=json.dumps({"scope": before["scope"], "tables": current}, ensure_ascii=False,
                          sort_keys=True),
        after=json.dumps({"summary": {"undid": change_id, "kind": row["kind"]},
                          "tables": before["tables"]}, ensure_ascii=False, sort_keys=True),
    ).returning(s.person_changes.c.id)).scalar_one()
    restore(conn, before["tables"], current)
    conn.execute(s.person_changes.update().where(s.person_changes.c.id == change_id)
                 .values(undone_by_change_id=undo_id))
    log.info("undo", extra={"change_id": undo_id, "undid": change_id})
    return _change(conn, undo_id)


def undo(engine: Engine, change_id: int, by: str | None = None,
         reason: str | None = None) -> Change:
    """Undo a merge, split or review import: every row it touched goes back to exactly what it
    was before. Refused when it was undone already, is itself an undo, or a later change (not
    undone) or a later load touched the same rows."""
    require_current(engine)
    with RunLock(engine, command="person undo"), engine.begin() as conn:
        return undo_in(conn, change_id, by=by or os_user(), reason=reason)


def history(engine: Engine, person_id: str) -> list[Change]:
    """Every change that touched ``person_id``, oldest first (also for a person a merge
    removed or a split created)."""
    require_current(engine)
    pc = s.person_changes.c
    with engine.connect() as conn:
        ids = [cid for cid, persons in conn.execute(
            sa.select(pc.id, pc.persons)
            .where(pc.persons.contains(person_id, autoescape=True)).order_by(pc.id))
            if person_id in (persons or "").split()]
        return [_change(conn, cid) for cid in ids]


# --- show --------------------------------------------------------------------------------------

@dataclass
class PersonView:
    """A person as ``hssk person show`` prints it: the golden record, its identifiers, and the
    source records behind it (with provenance) in the order they reached the database."""

    person: dict[str, object]
    identifiers: list[tuple[str, str, str]]
    records: list[dict[str, object]]
    changes: list[Change]


def show_person(engine: Engine, person_id: str) -> PersonView:
    """The golden record of ``person_id`` and every source record behind it, as a timeline:
    loaded at (the batch that first loaded it), file, locator, kind, the identity the source
    gave, how it was linked, whether it is current, and the first clinical event it holds
    (visit or immunization). Ordered by arrival, then by event."""
    require_current(engine)
    sr, sf, b = s.source_records.c, s.source_files.c, s.batches.c
    with engine.connect() as conn:
        person = conn.execute(sa.select(s.persons).where(s.persons.c.person_id == person_id)
                              ).mappings().first()
        if person is None:
            _require_person(conn, person_id)
        pi = s.person_identifiers.c
        identifiers = [tuple(r) for r in conn.execute(
            sa.select(pi.kind, pi.value, pi.status).where(pi.person_id == person_id)
            .order_by(pi.kind, pi.value))]
        rows = conn.execute(
            sa.select(sr.id, sr.record_key, sr.source_kind, sf.file_name, sr.locator,
                      b.started_at.label("loaded_at"), sr.created_batch_id,
                      sr.updated_batch_id, sr.is_current, sr.match_rule, sr.match_score,
                      sr.full_name, sr.sex, sr.birth_year, sr.birth_month, sr.birth_day,
                      sr.birth_date_precision, sr.commune_code, sr.personal_id,
                      sr.social_insurance_code, sr.household_head_key)
            .join(s.source_files, sf.id == sr.source_file_id)
            .join(s.batches, b.id == sr.created_batch_id)
            .where(sr.person_id == person_id)).mappings().all()
        events: dict[int, object] = {}
        for table, column in ((s.encounters, s.encounters.c.started_at),
                              (s.immunizations, s.immunizations.c.given_on)):
            for rid, first in conn.execute(
                    sa.select(table.c.source_record_id, sa.func.min(column))
                    .where(table.c.person_id == person_id)
                    .group_by(table.c.source_record_id)):
                if first is not None and rid is not None:
                    if not isinstance(first, dt.datetime):
                        first = dt.datetime.combine(first, dt.time())
                    events[rid] = min(events.get(rid, first), first)  # type: ignore[type-var]
    records = [{**dict(r), "event_at": events.get(r["id"])} for r in rows]
    # by arrival; within a batch the records without a clinical event first, then by event
    records.sort(key=lambda r: (r["loaded_at"], r["event_at"] is not None,
                                r["event_at"] or dt.datetime.min, r["file_name"], r["id"]))
    return PersonView(dict(person), identifiers, records,  # type: ignore[arg-type]
                      history(engine, person_id))
