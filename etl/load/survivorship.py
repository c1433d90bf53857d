"""The golden record: a person's administrative fields, recomputed from all their current source
records by rules declared once, here.

After every load the loader recomputes each person it touched (a record created, changed, moved
to or from the person, or no longer current) from *all* the person's current source records, so
a corrected birth date in next month's registry reaches the person, and a value only a retired
record gave goes away with it. A person whose records are all no longer current keeps the
values it last had.

Each rule names a group of fields that travel together (a name's parts, an address with its
commune code, the birth date's parts with its precision), taken from the first record, in the
rule's order, that gives any field of the group:

* ``registry-first`` — the most authoritative source kind first (each mapping's ``priority``,
  lower wins: registry 10, insurance 20, clinic 30, school exam 40, adult exam 45, immunization
  50), then the newest record (the batch that last wrote it);
* ``newest`` — the newest current record first, then the most authoritative source;
* ``finest-birth-date`` — the finest precision first (day, then month, then year only), then the
  most authoritative source, then the newest record.

Ties end on the record key, so the same records always give the same person.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from etl.load.columns import plain_values

REGISTRY_FIRST = "registry-first"
NEWEST = "newest"
FINEST_BIRTH_DATE = "finest-birth-date"

# group → (rule, person fields that travel together). Every administrative person field is in
# exactly one group; ``birth_date`` is derived from the birth group.
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": (REGISTRY_FIRST, ("full_name", "family_name", "middle_name", "given_name",
                              "name_key")),
    "sex": (REGISTRY_FIRST, ("sex",)),
    "ethnicity": (REGISTRY_FIRST, ("ethnicity_code",)),
    "religion": (REGISTRY_FIRST, ("religion",)),
    "nationality": (REGISTRY_FIRST, ("nationality",)),
    "occupation": (REGISTRY_FIRST, ("occupation",)),
    "household": (REGISTRY_FIRST, ("household_code", "household_head_name", "relation_to_head")),
    "father": (REGISTRY_FIRST, ("father_name",)),
    "mother": (REGISTRY_FIRST, ("mother_name",)),
    "permanent_address": (NEWEST, ("permanent_address", "permanent_commune_code",
                                   "permanent_commune_code_2025")),
    "current_address": (NEWEST, ("current_address", "current_commune_code",
                                 "current_commune_code_2025")),
    "phone": (NEWEST, ("phone",)),
    "email": (NEWEST, ("email",)),
    "birth": (FINEST_BIRTH_DATE, ("birth_year", "birth_month", "birth_day",
                                  "birth_date_precision")),
}
GOLDEN_FIELDS: tuple[str, ...] = tuple(f for _, fields in RULES.values() for f in fields) + (
    "birth_date",)
_PRECISION_RANK = {"day": 0, "month": 1, "year": 2}
_ORDER = {  # sort columns of each rule; _p: source priority, _age: newest first, then the key
    REGISTRY_FIRST: ["_p", "_age", "record_key"],
    NEWEST: ["_age", "_p", "record_key"],
    FINEST_BIRTH_DATE: ["_rank", "_p", "_age", "record_key"],
}


def golden_values(records: pd.DataFrame, priority: dict[str, int]) -> dict[str, dict[str, object]]:
    """Person id → every field of :data:`GOLDEN_FIELDS`, from ``records``: current source
    records with ``person_id``, ``source_kind``, ``record_key``, ``updated_batch_id`` (how new
    the record's content is) and the person fields each gives."""
    golden = golden_columns(records, priority)
    return {person_id: dict(zip(GOLDEN_FIELDS, values, strict=True))
            for person_id, *values in zip(golden["person_id"].tolist(),
                                          *(golden[f].tolist() for f in GOLDEN_FIELDS),
                                          strict=True)}


def golden_columns(records: pd.DataFrame, priority: dict[str, int]) -> dict[str, np.ndarray]:
    """The golden records of :func:`golden_values` as object arrays: ``person_id`` (each person
    once, in order of first appearance) and every field of :data:`GOLDEN_FIELDS`. A first
    load creates a person per record or so: a dictionary per person cost it seconds."""
    fields = [f for _, group in RULES.values() for f in group]
    person, ids = pd.factorize(records["person_id"])
    values = {f: plain_values(records[f]) for f in fields}
    out = {"person_id": np.asarray(ids, dtype=object),
           **{f: np.full(len(ids), None, dtype=object) for f in GOLDEN_FIELDS}}
    # A person with one record takes its values: every rule would pick that record. Most persons
    # of a first load are such, and skipping the sorts keeps the load of a district fast.
    several = np.bincount(person, minlength=len(ids))[person] > 1
    alone = np.flatnonzero(~several)
    for f in fields:
        out[f][person[alone]] = values[f][alone]
    rows = np.flatnonzero(several)
    if len(rows):
        for fields_of_rule, chosen in _chosen(records.iloc[rows], person[rows], priority):
            for f in fields_of_rule:
                out[f][person[rows[chosen]]] = values[f][rows[chosen]]
    out["birth_date"][:] = [_birth_date(*parts) for parts in zip(
        out["birth_date_precision"], out["birth_year"], out["birth_month"], out["birth_day"],
        strict=True)]
    return out


def _chosen(records: pd.DataFrame, person: np.ndarray, priority: dict[str, int]
            ) -> Iterable[tuple[tuple[str, ...], np.ndarray]]:
    """Each rule's pick for persons with several records (``person``: their codes): the fields
    of the group and the position in ``records`` of each person's chosen record, for the
    persons that give the group. One ``lexsort`` per ordering (not a frame sort per rule),
    then the first row of each person among those giving the group."""
    sort_keys = {
        "_p": records["source_kind"].map(lambda k: priority.get(k, 50)).to_numpy(dtype="int64"),
        "_age": -records["updated_batch_id"].to_numpy(dtype="int64"),
        "_rank": records["birth_date_precision"].map(
            lambda p: _PRECISION_RANK.get(p, 9)).to_numpy(dtype="int64"),
        "record_key": pd.factorize(records["record_key"], sort=True)[0],
    }
    # np.lexsort sorts by its last key first: the person, then the rule's keys in order.
    order = {rule: np.lexsort([sort_keys[k] for k in reversed(keys)] + [person])
             for rule, keys in _ORDER.items()}
    for rule, fields in RULES.values():
        given = records[list(fields)].notna().any(axis=1).to_numpy().copy()
        if rule == FINEST_BIRTH_DATE:
            given &= records["birth_year"].notna().to_numpy()
        rows = order[rule][given[order[rule]]]
        first = rows[np.r_[True, person[rows][1:] != person[rows][:-1]]] if len(rows) else rows
        yield fields, first


def _birth_date(precision: object, year: object, month: object, day: object) -> dt.date | None:
    if precision != "day":
        return None
    try:
        return dt.date(int(year), int(month), int(day))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def describe() -> Iterable[str]:
    """The rules in words, one line per group (for docs and ``--help``)."""
    words = {REGISTRY_FIRST: "most authoritative source (registry first), then newest record",
             NEWEST: "newest current record, then most authoritative source",
             FINEST_BIRTH_DATE: "finest precision, then most authoritative source, then newest"}
    for group, (rule, fields) in RULES.items():
        yield f"{group} ({', '.join(fields)}): {words[rule]}"
