"""``hssk explain`` and the review workbook's explanations: the database side.

Reads the master index and the analysts' decisions through load and hands them to the pure
:func:`etl.match.explain.explain_pairs`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.errors import UsageError
from etl.load import schema as s
from etl.load.decisions import read_decisions
from etl.load.master import read_master
from etl.match import explain as pure
from etl.match.decide import Thresholds

Explanation = pure.Explanation


def explain_pairs(engine: Engine, pairs: list[tuple[str, str]],
                  thresholds: Thresholds | None = None) -> list[Explanation]:
    """One explanation per pair of record keys, from everything loaded."""
    if not pairs:
        return []
    return pure.explain_pairs(read_master(engine), read_decisions(engine), pairs, thresholds)


def explain_pair(engine: Engine, key_a: str, key_b: str,
                 thresholds: Thresholds | None = None) -> Explanation:
    return explain_pairs(engine, [(key_a, key_b)], thresholds)[0]


def find_record(engine: Engine, reference: str) -> str:
    """A record key from a record key or "FILE:LOCATOR" (as ``hssk export links`` writes)."""
    with engine.connect() as conn:
        key = conn.execute(sa.select(s.source_records.c.record_key)
                           .where(s.source_records.c.record_key == reference)).scalar()
        if key is None and ":" in reference:
            name, locator = reference.rsplit(":", 1)
            key = conn.execute(
                sa.select(s.source_records.c.record_key).join(s.source_files, s.RECORD_FILE)
                .where(s.source_files.c.file_name == name, s.source_records.c.locator == locator)
            ).scalar()
    if key is None:
        raise UsageError(f"no loaded record {reference!r}",
                         hint="give a record key, or FILE:LOCATOR as in `hssk export links`")
    return key


def person_records(engine: Engine, person_id: str) -> list[str]:
    with engine.connect() as conn:
        keys = conn.execute(sa.select(s.source_records.c.record_key)
                            .where(s.source_records.c.person_id == person_id)
                            .order_by(s.source_records.c.id)).scalars().all()
    if not keys:
        raise UsageError(f"no person {person_id!r}")
    return list(keys)
