"""Deterministic identity resolution: shared identifiers link records, transitively.

Evidence used: a structurally valid personal ID number that agrees with the record's sex and
birth year, the 10-digit social-insurance code (from the code column or any insurance card),
and a facility's own patient id within that facility. Two different valid personal ID numbers
are a cannot-link: such a group is split rather than merged. Persons already in the database
keep their ids; a record seen before keeps the person it was linked to.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load.schema import person_identifiers, source_records
from etl.stage import StageData, as_objects, records_as_dicts

IDENTIFIER_KINDS = ("personal_id", "social_insurance_code", "facility_patient_id")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        parent = self.parent.setdefault(x, x)
        if parent != x:
            root = self.find(parent)
            self.parent[x] = root
            return root
        return x

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def record_identifiers(row: dict[str, object]) -> list[tuple[str, str]]:
    """The (kind, value) pairs a clean record offers as linking evidence."""
    found: list[tuple[str, str]] = []
    if row["personal_id"] and row["personal_id_status"] == "valid":
        found.append(("personal_id", row["personal_id"]))
    if row["social_insurance_code"]:
        found.append(("social_insurance_code", row["social_insurance_code"]))
    if row["facility_code"] and row["facility_patient_id"]:
        found.append(("facility_patient_id", f"{row['facility_code']}:{row['facility_patient_id']}"))
    return found


def new_person_id(record_keys: Iterable[str]) -> str:
    """A stable id for a new person: derived from its first source record, so the same files
    loaded into an empty database always give the same ids."""
    first = min(record_keys)
    return hashlib.sha256(first.encode("utf-8")).hexdigest()[:16]


def _known(engine: Engine | None, keys: list[str],
           values: set[tuple[str, str]]) -> tuple[dict[str, str], dict[tuple[str, str], set[str]]]:
    """Record keys already loaded (→ person) and identifiers already known (→ persons)."""
    if engine is None:
        return {}, {}
    known_records: dict[str, str] = {}
    known_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    with engine.connect() as conn:
        for start in range(0, len(keys), 5000):
            chunk = keys[start:start + 5000]
            rows = conn.execute(sa.select(source_records.c.record_key, source_records.c.person_id)
                                .where(source_records.c.record_key.in_(chunk)))
            known_records.update({k: p for k, p in rows})
        wanted = sorted(values)
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start:start + 5000]
            by_kind: dict[str, list[str]] = defaultdict(list)
            for kind, value in chunk:
                by_kind[kind].append(value)
            for kind, vals in by_kind.items():
                rows = conn.execute(
                    sa.select(person_identifiers.c.value, person_identifiers.c.person_id)
                    .where(person_identifiers.c.kind == kind,
                           person_identifiers.c.value.in_(vals)))
                for value, person in rows:
                    known_ids[(kind, value)].add(person)
    return known_records, known_ids


def match_stage(data: StageData, engine: Engine | None = None) -> StageData:
    """Assign ``person_id`` and ``match_rule`` to every clean record."""
    rec = as_objects(data.records.reset_index(drop=True))
    rows = records_as_dicts(rec[["record_key", "personal_id", "personal_id_status",
                                 "social_insurance_code", "facility_code",
                                 "facility_patient_id"]])
    ids_per_record = [record_identifiers(row) for row in rows]
    all_values = {v for ids in ids_per_record for v in ids}
    known_records, known_ids = _known(engine, rec["record_key"].tolist(), all_values)

    uf = _UnionFind()
    for i, ids in enumerate(ids_per_record):
        uf.find(("r", i))
        for value in ids:
            uf.union(("r", i), ("id", value))
            for person in known_ids.get(value, ()):
                uf.union(("id", value), ("p", person))
        key = rows[i]["record_key"]
        if key in known_records:
            uf.union(("r", i), ("p", known_records[key]))

    groups: dict[object, list[int]] = defaultdict(list)
    for i in range(len(rec)):
        groups[uf.find(("r", i))].append(i)
    persons_of_root: dict[object, set[str]] = defaultdict(set)
    for node in list(uf.parent):
        if isinstance(node, tuple) and node[0] == "p":
            persons_of_root[uf.find(node)].add(node[1])

    person_ids: list[str | None] = [None] * len(rec)
    rules: list[str] = [""] * len(rec)
    for root, members in groups.items():
        for part in _split_on_conflicting_ids(members, rows):
            _assign(part, rows, ids_per_record, known_records, known_ids,
                    persons_of_root.get(root, set()), person_ids, rules)
    out = rec.copy()
    out["person_id"] = person_ids
    out["match_rule"] = rules
    meta = dict(data.meta)
    meta["matcher"] = "deterministic"
    return StageData("match", data.files, out, data.rejects, dict(data.tables), data.issues, meta)


def _split_on_conflicting_ids(members: list[int], rows: list[dict]) -> list[list[int]]:
    """Two different valid personal ID numbers never share a person: split such groups by ID;
    records without one stay apart rather than guess (they go to a person of their own)."""
    pids = {rows[i]["personal_id"] for i in members
            if rows[i]["personal_id"] and rows[i]["personal_id_status"] == "valid"}
    if len(pids) <= 1:
        return [members]
    by_pid: dict[str, list[int]] = defaultdict(list)
    loose: list[list[int]] = []
    for i in members:
        pid = rows[i]["personal_id"]
        if pid in pids and rows[i]["personal_id_status"] == "valid":
            by_pid[pid].append(i)
        else:
            loose.append([i])
    return list(by_pid.values()) + loose


def _assign(part: list[int], rows: list[dict], ids_per_record: list[list[tuple[str, str]]],
            known_records: dict[str, str], known_ids: dict[tuple[str, str], set[str]],
            root_persons: set[str], person_ids: list[str | None], rules: list[str]) -> None:
    """Person ids for one group. A record loaded before keeps its person (ids never change
    except by an explicit merge); new records join the group's existing person, the lowest id
    when the evidence spans several (their merge is left to a person), or a new person."""
    existing: set[str] = set()
    for i in part:
        key = rows[i]["record_key"]
        if key in known_records:
            existing.add(known_records[key])
        for value in ids_per_record[i]:
            existing.update(known_ids.get(value, ()))
    if root_persons:
        existing &= root_persons
    person = min(existing) if existing else new_person_id(rows[i]["record_key"] for i in part)
    for i in part:
        key = rows[i]["record_key"]
        if key in known_records:
            person_ids[i] = known_records[key]
            rules[i] = "known-record"
            continue
        person_ids[i] = person
        if (ids_per_record[i] and len(part) > 1) or existing:
            kinds = sorted({k for k, _ in ids_per_record[i]})
            rules[i] = "+".join(kinds) if kinds else "group"
        else:
            rules[i] = "new"
