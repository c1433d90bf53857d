"""`hssk report coverage` against counts computed here, independently, in SQL."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

AS_OF = "2025-12-31"
RESIDENTS = ("SELECT DISTINCT person_id FROM source_records WHERE source_kind = 'registry' "
             "AND is_current = TRUE")
HEALTH = ("SELECT person_id FROM encounters UNION SELECT person_id FROM immunizations "
          "UNION SELECT person_id FROM observations UNION SELECT person_id FROM lab_results")
VISITED = ("SELECT person_id FROM encounters WHERE started_at >= :start AND started_at < :end")
IDENTIFIED = ("SELECT person_id FROM person_identifiers WHERE status = 'valid' AND kind IN "
              "('personal_id', 'cmnd', 'passport', 'social_insurance_code', 'insurance_card')")
HEADER = ["commune_code", "commune", "residents", "with_health_data", "visited_12m",
          "complete_admin", "coverage_pct", "visited_12m_pct", "complete_admin_pct",
          "target_pct", "gap_people", "commune_code_2025", "commune_2025", "district_code",
          "district", "province_code", "province"]


def expected_per_commune(engine) -> dict[str, dict[str, int]]:
    """residents, with_health_data, visited_12m, complete_admin per commune, straight SQL."""
    query = f"""
        SELECT COALESCE(NULLIF(p.permanent_commune_code, ''), '(unknown)') AS commune,
               COUNT(*) AS residents,
               SUM(CASE WHEN p.person_id IN ({HEALTH}) THEN 1 ELSE 0 END) AS with_health_data,
               SUM(CASE WHEN p.person_id IN ({VISITED}) THEN 1 ELSE 0 END) AS visited_12m,
               SUM(CASE WHEN p.full_name IS NOT NULL AND p.full_name <> ''
                         AND p.sex IS NOT NULL AND p.birth_year IS NOT NULL
                         AND p.ethnicity_code IS NOT NULL AND p.ethnicity_code <> ''
                         AND p.permanent_commune_code IS NOT NULL
                         AND p.permanent_commune_code <> ''
                         AND p.person_id IN ({IDENTIFIED}) THEN 1 ELSE 0 END) AS complete_admin
        FROM persons p WHERE p.person_id IN ({RESIDENTS})
        GROUP BY COALESCE(NULLIF(p.permanent_commune_code, ''), '(unknown)')"""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query), {"start": "2024-12-31 00:00:00",
                                             "end": "2026-01-01 00:00:00"}).mappings().all()
    return {r["commune"]: {k: int(r[k]) for k in ("residents", "with_health_data",
                                                  "visited_12m", "complete_admin")}
            for r in rows}


def sheet_rows(path: Path, sheet: str | None = None) -> tuple[list[str], list[dict]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    values = list(ws.values)
    return list(values[0]), [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def test_coverage_tables_equal_sql_counts_and_rerun_is_byte_identical(district, engine,
                                                                      tmp_path, hssk_ok):
    hssk_ok("report", "coverage", "--as-of", AS_OF, "-o", tmp_path / "a", db=district)
    hssk_ok("report", "coverage", "--as-of", AS_OF, "-o", tmp_path / "b", db=district)
    for name in ("coverage.html", "coverage.xlsx"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    wb = openpyxl.load_workbook(tmp_path / "a" / "coverage.xlsx", read_only=True)
    assert wb.sheetnames[0] == "coverage"
    header, rows = sheet_rows(tmp_path / "a" / "coverage.xlsx")
    assert header == HEADER
    expected = expected_per_commune(engine)
    got = {r["commune_code"]: {k: r[k] for k in ("residents", "with_health_data",
                                                 "visited_12m", "complete_admin")}
           for r in rows}
    assert got == expected
    assert "(unknown)" in got  # the extra registry row without an address
    with engine.connect() as conn:
        residents = conn.execute(sa.text(f"SELECT COUNT(*) FROM ({RESIDENTS}) r")).scalar_one()
    assert sum(r["residents"] for r in rows) == residents

    by_code = {r["commune_code"]: r for r in rows}
    assert by_code["14863"]["commune"] == "Pù Nhi"
    assert by_code["14863"]["district"] == "Mường Lát"
    assert by_code["14863"]["province"] == "Thanh Hóa"
    assert by_code["14863"]["commune_code_2025"] == "14863"
    for r in rows:  # a 2025 report date is after the plan's first year: the target is 100 %
        assert r["target_pct"] == 100.0
        assert r["gap_people"] == r["residents"] - r["with_health_data"]
        assert r["coverage_pct"] == round(100 * r["with_health_data"] / r["residents"], 1)

    # the other tables break the same residents down; each sums to the same total
    for sheet in ("communes_2025", "districts", "provinces", "age_groups", "sex", "ethnicity"):
        _, table = sheet_rows(tmp_path / "a" / "coverage.xlsx", sheet)
        assert sum(r["residents"] for r in table) == residents, sheet
        assert sum(r["with_health_data"] for r in table) == sum(
            e["with_health_data"] for e in expected.values()), sheet

    _, trend = sheet_rows(tmp_path / "a" / "coverage.xlsx", "trend")
    assert len(trend) == 2  # two runs, two batches
    assert trend[0]["with_health_data"] == 0  # the registry alone holds no health data
    assert trend[-1]["residents"] == residents
    assert trend[-1]["with_health_data"] == sum(e["with_health_data"] for e in expected.values())

    html = (tmp_path / "a" / "coverage.html").read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert html.count("<svg") == 2


def test_target_option_and_plan_year_one(district, tmp_path, hssk_ok):
    hssk_ok("report", "coverage", "--as-of", "2022-06-30", "-o", tmp_path / "y1", db=district)
    _, rows = sheet_rows(tmp_path / "y1" / "coverage.xlsx")
    assert {r["target_pct"] for r in rows} == {80.0}
    hssk_ok("report", "coverage", "--target", "50", "-o", tmp_path / "t", db=district)
    _, rows = sheet_rows(tmp_path / "t" / "coverage.xlsx")
    for r in rows:
        assert r["target_pct"] == 50.0
        need = -(-r["residents"] * 50 // 100)
        assert r["gap_people"] == max(0, need - r["with_health_data"])


class _Cells(HTMLParser):
    """Cells of the coverage table in a DOM dump: {data-row: {data-col: data-value}}."""

    def __init__(self) -> None:
        super().__init__()
        self.table: str | None = None
        self.row: str | None = None
        self.rows: dict[str, dict[str, str]] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("data-table")
        elif tag == "tr" and self.table == "coverage" and "data-row" in a:
            self.row = a["data-row"]
            self.rows[self.row] = {}
        elif tag == "td" and self.table == "coverage" and self.row is not None:
            self.rows[self.row][a["data-col"]] = a["data-value"]

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        elif tag == "tr":
            self.row = None


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("chromium is required in CI (.ci/run installs it with apt-get)")
        pytest.skip("chromium not installed (apt-get install chromium); CI requires it")
    return found


def test_coverage_page_in_a_real_browser(district, engine, tmp_path, hssk_ok):
    if not district.startswith("sqlite"):
        pytest.skip("the page is the same on both databases; rendered once")
    browser = _chromium()
    hssk_ok("report", "coverage", "--as-of", AS_OF, "-o", tmp_path, db=district)
    page = tmp_path / "coverage.html"
    dump = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=True).stdout
    assert "<svg" in dump and "coverage per commune" in dump.lower()
    parser = _Cells()
    parser.feed(dump)
    shown = {code: {k: int(cells[k]) for k in ("residents", "with_health_data", "visited_12m",
                                               "complete_admin")}
             for code, cells in parser.rows.items()}
    assert shown == expected_per_commune(engine)
