"""`hssk export persons`: the persons table, masked, formula-safe, or pseudonymised."""

from __future__ import annotations

import csv

import openpyxl
import pandas as pd
import sqlalchemy as sa

from etl.export import partial_date, person_columns
from etl.privacy import mask, safe_cell


def expected_rows(engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        persons = conn.execute(sa.text("SELECT * FROM persons")).mappings().all()
        ids = conn.execute(sa.text(
            "SELECT person_id, kind, value FROM person_identifiers "
            "ORDER BY person_id, kind, value")).all()
    masked: dict[tuple[str, str], list[str]] = {}
    for person_id, kind, value in ids:
        masked.setdefault((person_id, kind), []).append(str(mask(value)))
    out = {}
    for p in persons:
        out[p["person_id"]] = {
            "full_name": safe_cell(p["full_name"]), "sex": p["sex"],
            "birth_date": partial_date(p["birth_year"], p["birth_month"], p["birth_day"],
                                       p["birth_date_precision"]),
            "commune_code": p["permanent_commune_code"],
            "personal_id": ";".join(masked.get((p["person_id"], "personal_id"), [])) or None,
        }
    return out


def test_persons_csv_and_xlsx_equal_the_table(district, engine, tmp_path, hssk_ok):
    hssk_ok("export", "persons", "-o", tmp_path / "persons.csv", db=district)
    with open(tmp_path / "persons.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = expected_rows(engine)
    assert len(rows) == len(expected)
    got = {r["person_id"]: {k: r[k] or None for k in ("full_name", "sex", "birth_date",
                                                       "commune_code", "personal_id")}
           for r in rows}
    assert got == expected
    assert any(r["full_name"].startswith("'=") for r in rows)  # neutralised, not a formula
    assert all(not r["personal_id"] or r["personal_id"].startswith("•") for r in rows)
    years = [r for r in rows if r["birth_date_precision"] == "year"]
    assert years and all(len(r["birth_date"]) == 4 for r in years)

    hssk_ok("export", "persons", "-o", tmp_path / "persons.xlsx", db=district)
    ws = openpyxl.load_workbook(tmp_path / "persons.xlsx", read_only=True).worksheets[0]
    values = list(ws.values)
    assert list(values[0]) == person_columns()
    assert len(values) - 1 == len(expected)
    assert not any(isinstance(v, str) and v.startswith("=") for row in values for v in row)
    hssk_ok("export", "persons", "-o", tmp_path / "again.xlsx", db=district)
    assert (tmp_path / "persons.xlsx").read_bytes() == (tmp_path / "again.xlsx").read_bytes()

    hssk_ok("export", "persons", "-o", tmp_path / "full.csv", "--show-ids", db=district)
    with engine.connect() as conn:
        some_id = conn.execute(sa.text(
            "SELECT value FROM person_identifiers WHERE kind = 'personal_id'")).first()[0]
    assert some_id in (tmp_path / "full.csv").read_text(encoding="utf-8-sig")


def test_pseudonyms_are_stable_per_salt(district, engine, tmp_path, hssk_ok, monkeypatch):
    def export(name: str, *args: str) -> pd.DataFrame:
        hssk_ok("export", "persons", "-o", tmp_path / name, "--pseudonymize", *args, db=district)
        return pd.read_parquet(tmp_path / name)

    a = export("a.parquet", "--salt", "one")
    b = export("b.parquet", "--salt", "one")
    monkeypatch.setenv("HSSK_PSEUDONYM_SALT", "two")
    c = export("c.parquet")
    assert list(a.columns) == person_columns(pseudonymize=True)
    assert not {"person_id", "full_name", "personal_id", "insurance_card"} & set(a.columns)
    assert a["pseudonym"].tolist() == b["pseudonym"].tolist()
    assert a["pseudonym"].is_unique and len(a) == len(expected_rows(engine))
    assert not set(a["pseudonym"]) & set(c["pseudonym"])
    assert not set(a["pseudonym"]) & set(expected_rows(engine))
