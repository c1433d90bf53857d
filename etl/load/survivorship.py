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

from etl.load.columns import plain_columns

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
    if records.empty:
        return {}
    fields = [f for _, group in RULES.values() for f in group]
    # A person with one record takes its values: every rule would pick that record. Most persons
    # of a first load are such, and skipping the sorts keeps the load of a district fast.
    alone = ~records["person_id"].duplicated(keep=False)
    single = plain_columns(records.loc[alone], ["person_id", *fields])
    out: dict[str, dict[str, object]] = {
        person_id: dict(zip(fields, values, strict=True))
        for person_id, *values in zip(*single.values(), strict=True)}
    records = records[~alone]
    if len(records):
        out.update(_chosen(records, priority))
    for values in out.values():
        values["birth_date"] = _birth_date(values)
    return out


def _chosen(records: pd.DataFrame, priority: dict[str, int]) -> dict[str, dict[str, object]]:
    """Each rule's pick for persons with several records: one ``lexsort`` per ordering (not a
    frame sort per rule), then the first row of each person among those giving the group."""
    person, _ = pd.factorize(records["person_id"])
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
    columns = plain_columns(records, [f for _, group in RULES.values() for f in group])
    ids = records["person_id"].tolist()
    out: dict[str, dict[str, object]] = {ids[i]: dict.fromkeys(GOLDEN_FIELDS)
                                         for i in np.unique(person, return_index=True)[1]}
    for rule, fields in RULES.values():
        given = records[list(fields)].notna().any(axis=1).to_numpy().copy()
        if rule == FINEST_BIRTH_DATE:
            given &= records["birth_year"].notna().to_numpy()
        rows = order[rule][given[order[rule]]]
        first = rows[np.r_[True, person[rows][1:] != person[rows][:-1]]] if len(rows) else rows
        for i in first.tolist():
            out[ids[i]].update((f, columns[f][i]) for f in fields)
    return out


def _birth_date(values: dict[str, object]) -> dt.date | None:
    if values["birth_date_precision"] != "day":
        return None
    try:
        return dt.date(int(values["birth_year"]), int(values["birth_month"]),  # type: ignore[arg-type]
                       int(values["birth_day"]))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def describe() -> Iterable[str]:
    """The rules in words, one line per group (for docs and ``--help``)."""
    words = {REGISTRY_FIRST: "most authoritative source (registry first), then newest record",
             NEWEST: "newest current record, then most authoritative source",
             FINEST_BIRTH_DATE: "finest precision, then most authoritative source, then newest"}
    for group, (rule, fields) in RULES.items():
        yield f"{group} ({', '.join(fields)}): {words[rule]}"
