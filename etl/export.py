"""Exports from the HSSK database for people and other tools."""

from __future__ import annotations

import csv
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load import schema as s
from etl.load.db import require_current

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
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with engine.connect() as conn, open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(LINK_COLUMNS)
        for row in conn.execute(query):
            writer.writerow([safe_cell(v) for v in row])
            n += 1
    return n


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formula injection: text starting with = + - @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
