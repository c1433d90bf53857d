"""Loading into real SQLite and PostgreSQL databases: idempotent, atomic, reconciled."""

import csv
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from etl.errors import SchemaOutOfDate
from etl.export import export_links
from etl.extract import extract_files
from etl.load import load_stage
from etl.load import schema as s
from etl.load.db import connect, head_revision, migrate
from etl.match import match_stage
from etl.pipeline import run
from etl.transform import transform_stage


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def truth(samples) -> pd.DataFrame:
    return pd.read_csv(samples / "_truth" / "ground_truth.csv", dtype=str)


def test_run_loads_every_row_and_reconciles(db, samples, tmp_path):
    summary = run([samples], db)
    assert summary.reconciles
    rows = truth(samples)
    assert summary.read == len(rows)
    loaded = sum(f.created for f in summary.files)
    assert loaded + summary.rejected == len(rows)
    assert count(db, s.source_records) == loaded
    assert count(db, s.rejects) == summary.rejected
    assert count(db, s.persons) == summary.persons_created > 0
    with db.connect() as conn:
        batch = conn.execute(sa.select(s.batches)).one()
    assert batch.status == "committed" and '"persons_created"' in batch.summary

    out = tmp_path / "links.csv"
    assert export_links(db, out) == loaded
    with open(out, encoding="utf-8") as fh:
        links = list(csv.DictReader(fh))
    assert list(links[0]) == ["source_file", "locator", "person_id"]
    with db.connect() as conn:
        rejected = {(r.source_file, r.locator) for r in conn.execute(sa.select(s.rejects))}
    covered = {(link["source_file"], link["locator"]) for link in links} | rejected
    assert covered == set(zip(rows["source_file"], rows["locator"], strict=True))


def test_second_run_is_a_no_op(db, samples):
    first = run([samples], db)
    before = {t.name: count(db, t) for t in (s.persons, s.source_records,
                                              s.person_identifiers, s.rejects)}
    with db.connect() as conn:
        ids_before = dict(conn.execute(sa.select(s.source_records.c.record_key,
                                                 s.source_records.c.person_id)).all())
    second = run([samples], db)
    assert second.persons_created == 0 and second.identifiers_added == 0
    assert sum(f.created + f.updated for f in second.files) == 0
    assert sum(f.unchanged for f in second.files) == sum(f.created for f in first.files)
    after = {t.name: count(db, t) for t in (s.persons, s.source_records,
                                             s.person_identifiers, s.rejects)}
    assert after == before
    with db.connect() as conn:
        ids_after = dict(conn.execute(sa.select(s.source_records.c.record_key,
                                                s.source_records.c.person_id)).all())
    assert ids_after == ids_before


def test_personal_id_links_registry_and_insurance(db, samples):
    run([samples], db)
    with db.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT personal_id, COUNT(DISTINCT person_id) AS persons, "
            "COUNT(DISTINCT source_kind) AS kinds FROM source_records "
            "WHERE personal_id IS NOT NULL GROUP BY personal_id")).all()
    assert rows and all(r.persons == 1 for r in rows)
    assert any(r.kinds == 2 for r in rows)


def test_corrected_row_updates_only_that_record(db, tmp_path):
    path = tmp_path / "dan_cu.csv"
    header = "Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính\n"
    path.write_text(header + "038062001234,Giàng A Páo,1962,Nam\n"
                    "038165004321,Lò Thị Hương,05/09/1965,Nữ\n", encoding="utf-8")
    run([path], db)
    path.write_text(header + "038062001234,Giàng A Páo,1962,Nam\n"
                    "038165004321,Lò Thị Hương,15/09/1965,Nữ\n", encoding="utf-8")
    second = run([path], db)
    # A corrected file is a new file (new content hash): its rows are new source records that
    # link to the persons already known through the personal ID number.
    assert second.persons_created == 0
    assert count(db, s.persons) == 2


def test_failed_batch_leaves_nothing(db, samples, monkeypatch):
    import etl.load.loader as loader

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "_write_identifiers", boom)
    data = match_stage(transform_stage(extract_files([samples]).data), db)
    with pytest.raises(RuntimeError):
        load_stage(data, db)
    assert count(db, s.persons) == 0
    assert count(db, s.source_records) == 0
    assert count(db, s.batches) == 0


def test_load_refuses_an_uninitialised_database(tmp_path, samples):
    engine = connect(f"sqlite:///{tmp_path / 'empty.db'}")
    data = match_stage(transform_stage(extract_files([samples]).data))
    with pytest.raises(SchemaOutOfDate) as exc:
        load_stage(data, engine)
    assert "hssk init" in exc.value.hint


VERSIONS = Path(__file__).parents[2] / "etl" / "load" / "migrations" / "versions"


def test_migrate_is_repeatable(db_url):
    engine = connect(db_url)
    assert migrate(engine)[0] is None
    head = head_revision()
    assert head == sorted(p.stem.split("_")[0] for p in VERSIONS.glob("[0-9]*.py"))[-1]
    assert migrate(engine) == (head, head)
    assert {"persons", "immunizations", "encounters", "observations", "lab_results",
            "conditions", "risk_factors", "person_identifiers"} <= set(
        sa.inspect(engine).get_table_names())


def test_persons_and_records_carry_old_and_new_commune_codes(db, samples):
    run([samples], db)
    with db.connect() as conn:
        persons = conn.execute(sa.select(s.persons.c.permanent_commune_code,
                                         s.persons.c.permanent_commune_code_2025)).all()
        records = conn.execute(sa.select(s.source_records.c.commune_code,
                                         s.source_records.c.commune_code_2025)).all()
    # Mường Lát's communes kept their numbers on 1 July 2025 (Thị trấn Mường Lát became a xã).
    assert {old for old, _ in persons} - {None} <= {"14845", "14848", "14854", "14857", "14860",
                                                    "14863", "14864", "14866"}
    assert [new for old, new in persons if old is not None] == \
        [old for old, _ in persons if old is not None]
    assert [new for old, new in records if old is not None] == \
        [old for old, _ in records if old is not None]
    assert sum(old is not None for old, _ in persons) >= 0.9 * len(persons)
