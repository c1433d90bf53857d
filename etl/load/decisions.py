"""Analysts' decisions about record pairs: "same" (must-link) and "different" (cannot-link).

A decision is about two source records, not two persons, so it outlives every relink: the
matcher reads :func:`read_decisions` and never joins a "different" pair nor separates a "same"
one; they are also the labelled pairs the model can be checked against. One decision per pair
(``record_key_a < record_key_b``); a newer decision replaces the older one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.load import schema as s

SAME, DIFFERENT = "same", "different"
DECISIONS = (SAME, DIFFERENT)
ORIGINS = ("review", "merge", "split", "undo")
DECISION_COLUMNS = ["record_key_a", "record_key_b", "decision"]


def ordered(key_a: str, key_b: str) -> tuple[str, str]:
    """The pair as stored: the smaller record key (by code point) first."""
    return (key_a, key_b) if key_a < key_b else (key_b, key_a)


def read_decisions(engine: Engine | Connection) -> pd.DataFrame:
    """Every decision: ``record_key_a`` < ``record_key_b``, ``decision`` ("same" or
    "different"), ordered by the pair. Empty (same columns) on a database without any."""
    d = s.match_decisions.c
    query = (sa.select(d.record_key_a, d.record_key_b, d.decision)
             .order_by(d.record_key_a, d.record_key_b))
    if isinstance(engine, Connection):
        rows = engine.execute(query).all()
    else:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=DECISION_COLUMNS, dtype=object)
    # code-point order whatever the database's collation, like the matcher's master index
    return frame.sort_values(["record_key_a", "record_key_b"], kind="stable").reset_index(
        drop=True)


def record_decisions(conn: Connection, rows: Iterable[tuple[str, str, str]], by: str,
                     reason: str | None, origin: str, change_id: int | None) -> int:
    """Write ``(record_key, record_key, decision)`` rows in ``conn``'s transaction; a pair that
    already has a decision takes the new one (its row keeps its id). A pair already holding
    the same decision is left alone (who decided it first stays). Returns rows written."""
    if origin not in ORIGINS:
        raise ValueError(f"unknown decision origin {origin!r}")
    wanted: dict[tuple[str, str], str] = {}
    for key_a, key_b, decision in rows:
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        if key_a == key_b:
            raise ValueError("a decision needs two different records")
        wanted[ordered(key_a, key_b)] = decision
    if not wanted:
        return 0
    d = s.match_decisions
    now = dt.datetime.now().replace(microsecond=0)
    existing = {}
    for a, b in wanted:
        row = conn.execute(sa.select(d).where(d.c.record_key_a == a, d.c.record_key_b == b)
                           ).mappings().first()
        if row is not None:
            existing[(a, b)] = row
    written = 0
    for (a, b), decision in sorted(wanted.items()):
        values = {"decision": decision, "decided_by": by, "reason": reason, "origin": origin,
                  "change_id": change_id}
        old = existing.get((a, b))
        if old is None:
            conn.execute(d.insert().values(record_key_a=a, record_key_b=b, decided_at=now,
                                           **values))
        elif old["decision"] != decision:
            conn.execute(d.update().where(d.c.id == old["id"]).values(decided_at=now, **values))
        else:
            continue
        written += 1
    return written


def decisions_between(conn: Connection, keys_a: Iterable[str],
                      keys_b: Iterable[str]) -> dict[tuple[str, str], str]:
    """Stored decisions of pairs with one record in ``keys_a`` and the other in ``keys_b``."""
    keys_a, keys_b = set(keys_a), set(keys_b)
    if not keys_a or not keys_b:
        return {}
    d = s.match_decisions.c
    found: dict[tuple[str, str], str] = {}
    small, other = (keys_a, keys_b) if len(keys_a) <= len(keys_b) else (keys_b, keys_a)
    chunk = sorted(small)
    for start in range(0, len(chunk), 2000):
        part = chunk[start:start + 2000]
        for a, b, decision in conn.execute(
                sa.select(d.record_key_a, d.record_key_b, d.decision)
                .where(sa.or_(d.record_key_a.in_(part), d.record_key_b.in_(part)))):
            if (a in small and b in other) or (b in small and a in other):
                found[(a, b)] = decision
    return found
