"""Exports from the HSSK database for people and other tools."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load import schema as s
from etl.load.db import require_current
from etl.privacy import mask, write_csv

LINK_COLUMNS = ["source_file", "locator", "person_id"]


def export_links(engine: Engine, out: Path) -> int:
    """One row per source record: file name, locator and the person it is linked to.

    The contract other tools rely on: CSV locators are ``row=N`` (1-based data row), XLSX
    ``SHEET!R`` (Excel row), clinic XML the episode's ``MA_LK``.
    """
    require_current(engine)
    query = (
        sa.select(s.source_files.c.file_name, s.source_records.c.locator,
                  s.source_records.c.person_id)
        .join(s.source_files, s.source_files.c.id == s.source_records.c.source_file_id)
        .order_by(s.source_files.c.file_name, s.source_records.c.id)
    )
    with engine.connect() as conn:
        return write_csv(out, LINK_COLUMNS, conn.execute(query))


REVIEW_COLUMNS = ["score", "person_a", "source_file_a", "locator_a", "name_a", "birth_a",
                  "personal_id_a", "person_b", "source_file_b", "locator_b", "name_b", "birth_b",
                  "personal_id_b", "status"]


def export_review(engine: Engine, out: Path, *, show_ids: bool = False) -> int:
    """The analysts' queue: pairs scored between the review and link thresholds, strongest
    first, with what a person needs to decide (names, birth dates, masked ID numbers)."""
    require_current(engine)
    a, b = s.source_records.alias("a"), s.source_records.alias("b")
    fa, fb = s.source_files.alias("fa"), s.source_files.alias("fb")
    query = (
        sa.select(s.match_reviews.c.score, s.match_reviews.c.person_a, fa.c.file_name,
                  a.c.locator, a.c.full_name, a.c.birth_year, a.c.birth_month, a.c.birth_day,
                  a.c.personal_id, s.match_reviews.c.person_b, fb.c.file_name, b.c.locator,
                  b.c.full_name, b.c.birth_year, b.c.birth_month, b.c.birth_day,
                  b.c.personal_id, s.match_reviews.c.status)
        .join(a, a.c.record_key == s.match_reviews.c.record_key_a)
        .join(b, b.c.record_key == s.match_reviews.c.record_key_b)
        .join(fa, fa.c.id == a.c.source_file_id).join(fb, fb.c.id == b.c.source_file_id)
        .where(s.match_reviews.c.status == "open")
        .order_by(s.match_reviews.c.score.desc())
    )

    def birth(y: object, m: object, d: object) -> str:
        return "-".join(f"{int(v):02d}" if i else str(v)
                        for i, v in enumerate((y, m, d)) if v is not None)

    with engine.connect() as conn:
        rows = ([round(r[0], 2), r[1], r[2], r[3], r[4], birth(r[5], r[6], r[7]),
                 mask(r[8], show_ids), r[9], r[10], r[11], r[12], birth(r[13], r[14], r[15]),
                 mask(r[16], show_ids), r[17]] for r in conn.execute(query))
        return write_csv(out, REVIEW_COLUMNS, rows, bom=True)
