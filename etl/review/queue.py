"""The open review queue as analysts see it: each pair with both records side by side."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from etl import reference
from etl.export import partial_date
from etl.load import schema as s
from etl.load.loader import stored_person_values

# what an analyst compares; each field appears twice in the sheet, for record A and record B
FIELDS = ("name", "sex", "birth_date", "commune", "personal_id", "social_insurance",
          "household_head", "source_file")
ID_FIELDS = ("personal_id", "social_insurance")


@dataclass
class Pair:
    """One open pair of the queue: the two records as the analyst compares them."""

    review_id: int
    key_a: str
    key_b: str
    ref_a: str
    ref_b: str
    score: float
    probability: float | None
    priority: float | None
    group_key: str | None
    a: dict[str, object]
    b: dict[str, object]


@cache
def _commune_names() -> dict[str, str]:
    return {r["commune_code"]: r["commune"] for r in reference.admin_units_2024()}


def _commune(code: object) -> str | None:
    if not code:
        return None
    name = _commune_names().get(str(code))
    return f"{code} {name}" if name else str(code)


_RECORD_COLUMNS = ("record_key", "locator", "full_name", "sex", "birth_year", "birth_month",
                   "birth_day", "birth_date_precision", "commune_code", "commune_code_2025",
                   "personal_id", "social_insurance_code", "household_head_key",
                   "person_values", "person_id")


def _fields(row: dict[str, object]) -> dict[str, object]:
    values = stored_person_values(row["person_values"]) if row["person_values"] else {}  # type: ignore[arg-type]
    return {
        "name": row["full_name"],
        "sex": row["sex"],
        "birth_date": partial_date(row["birth_year"], row["birth_month"], row["birth_day"],
                                   row["birth_date_precision"]),
        "commune": _commune(row["commune_code"]),
        "personal_id": row["personal_id"],
        "social_insurance": row["social_insurance_code"],
        "household_head": values.get("household_head_name") or row["household_head_key"],
        "source_file": row["file_name"],
    }


def open_pairs(conn: Connection, *, commune: str | None = None,
               limit: int | None = None) -> list[Pair]:
    """Open pairs, highest priority first (pairs without one last), then strongest score;
    pairs of one group kept together where the group first appears. ``commune``: pairs with
    either record in that commune (old or post-2025 code)."""
    mr = s.match_reviews.c
    a, b = s.source_records.alias("a"), s.source_records.alias("b")
    fa, fb = s.source_files.alias("fa"), s.source_files.alias("fb")
    query = (
        sa.select(mr.id, mr.score, mr.probability, mr.priority, mr.group_key,
                  *[a.c[c].label(f"a_{c}") for c in _RECORD_COLUMNS],
                  fa.c.file_name.label("a_file_name"),
                  *[b.c[c].label(f"b_{c}") for c in _RECORD_COLUMNS],
                  fb.c.file_name.label("b_file_name"))
        .join(a, a.c.record_key == mr.record_key_a).join(b, b.c.record_key == mr.record_key_b)
        .join(fa, fa.c.id == a.c.source_file_id).join(fb, fb.c.id == b.c.source_file_id)
        .where(mr.status == "open")
        .order_by(sa.case((mr.priority.is_(None), 1), else_=0), mr.priority.desc(),
                  mr.score.desc(), mr.id)
    )
    if commune:
        query = query.where(sa.or_(a.c.commune_code == commune, b.c.commune_code == commune,
                                   a.c.commune_code_2025 == commune,
                                   b.c.commune_code_2025 == commune))
    rows = conn.execute(query).mappings().all()
    names = _file_name_counts(conn, {r[f"{side}_file_name"] for r in rows for side in "ab"})
    pairs = []
    for r in rows:
        sides = {side: {c: r[f"{side}_{c}"] for c in (*_RECORD_COLUMNS, "file_name")}
                 for side in "ab"}
        refs = {side: _reference(v, names) for side, v in sides.items()}
        pairs.append(Pair(r["id"], sides["a"]["record_key"], sides["b"]["record_key"],  # type: ignore[arg-type]
                          refs["a"], refs["b"], float(r["score"]), r["probability"],
                          r["priority"], r["group_key"], _fields(sides["a"]),
                          _fields(sides["b"])))
    pairs = _grouped(pairs)
    return pairs[:limit] if limit is not None else pairs


def _file_name_counts(conn: Connection, names: set[object]) -> dict[str, int]:
    """How many loaded files carry each name (a name loaded twice cannot name a record)."""
    sf = s.source_files.c
    if not names:
        return {}
    return dict(conn.execute(sa.select(sf.file_name, sa.func.count())
                             .where(sf.file_name.in_(sorted(names))).group_by(sf.file_name)
                             ).all())


def _reference(record: dict[str, object], names: dict[str, int]) -> str:
    """FILE:LOCATOR, the form `hssk explain` takes, unless the file name is not unique."""
    if names.get(record["file_name"], 0) == 1:  # type: ignore[call-overload]
        return f"{record['file_name']}:{record['locator']}"
    return str(record["record_key"])


def _grouped(pairs: list[Pair]) -> list[Pair]:
    first: dict[str, int] = {}
    for pos, p in enumerate(pairs):
        if p.group_key is not None:
            first.setdefault(p.group_key, pos)
    return [p for _, p in sorted(
        enumerate(pairs), key=lambda x: (first.get(x[1].group_key, x[0])  # type: ignore[arg-type]
                                         if x[1].group_key is not None else x[0], x[0]))]
