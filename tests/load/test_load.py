"""Loading into real SQLite and PostgreSQL databases: idempotent, atomic, reconciled."""

import csv
import datetime as dt
import json
import sqlite3
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
from etl.pipeline import match_against, run
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


def table_rows(engine, table) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Every row of ``table`` as a dict, in primary-key order."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(table).order_by(*table.primary_key.columns))]


def changes(before: dict[str, object], after: dict[str, object]) -> dict[str, tuple]:
    return {k: (before[k], after[k]) for k in after if before.get(k) != after[k]}


def test_corrected_row_updates_only_that_record(db, tmp_path):
    path = tmp_path / "dan_cu.csv"
    header = "Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính\n"
    path.write_text(header + "038062001234,Giàng A Páo,1962,Nam\n"
                    "038165004321,Lò Thị Hương,05/09/1965,Nữ\n", encoding="utf-8")
    run([path], db)
    persons_before = {p["person_id"]: p for p in table_rows(db, s.persons)}
    records_before = table_rows(db, s.source_records)
    path.write_text(header + "038062001234,Giàng A Páo,1962,Nam\n"
                    "038165004321,Lò Thị Hương,15/09/1965,Nữ\n", encoding="utf-8")
    second = run([path], db)
    persons_after = {p["person_id"]: p for p in table_rows(db, s.persons)}
    records_after = table_rows(db, s.source_records)
    first_batch, second_batch = (b["id"] for b in table_rows(db, s.batches))

    # A corrected file is a new file (new content hash): its rows are new source records that
    # link to the persons already known through the personal ID number.
    assert (second.persons_created, second.persons_updated) == (0, 1)
    by_pid = {r["personal_id"]: r for r in records_before}
    pao, huong = by_pid["038062001234"], by_pid["038165004321"]
    assert persons_after.keys() == persons_before.keys() == {pao["person_id"], huong["person_id"]}
    # The unchanged person is untouched, row for row; the corrected one changes in its birth
    # day only, and says which batch changed it.
    assert persons_after[pao["person_id"]] == persons_before[pao["person_id"]]
    assert changes(persons_before[huong["person_id"]], persons_after[huong["person_id"]]) == {
        "birth_date": (dt.date(1965, 9, 5), dt.date(1965, 9, 15)), "birth_day": (5, 15),
        "updated_batch_id": (first_batch, second_batch)}
    # The first file's records stay as they were; each new record differs from its
    # predecessor in identity and provenance, and the corrected one in its content too.
    assert records_after[:2] == records_before
    assert len(records_after) == 4
    provenance = {"id", "record_key", "source_file_id", "match_rule", "created_batch_id",
                  "updated_batch_id"}
    for new in records_after[2:]:
        old = by_pid[new["personal_id"]]
        diff = changes(old, new)
        assert new["person_id"] == old["person_id"]
        assert (diff["created_batch_id"], diff["updated_batch_id"]) == \
            ((first_batch, second_batch), (first_batch, second_batch))
        if old is pao:
            assert diff.keys() == provenance
        else:
            assert diff.keys() == provenance | {"record_hash", "raw", "birth_day",
                                                "person_values"}
            assert diff["birth_day"] == (5, 15)


def test_stage_by_stage_equals_run(hssk, samples, tmp_path, db_url, other_db_url,
                                   link_partition):
    """`extract`, `transform`, `match` and `load` one after another, on one empty database,
    group the records into persons exactly as `run` does on another."""
    work = tmp_path / "work"
    assert hssk("init", db=db_url).exit_code == 0
    result = hssk("extract", "auto", samples, "-o", work / "staged", "--json")
    assert result.exit_code == 0, result.output
    read = json.loads(result.output)["read"]
    assert hssk("transform", work / "staged", "-o", work / "clean").exit_code == 0
    assert hssk("match", work / "clean", "-o", work / "matched", db=db_url).exit_code == 0
    result = hssk("load", work / "matched", "--json", db=db_url)
    assert result.exit_code == 0, result.output
    staged = json.loads(result.output)

    assert hssk("init", db=other_db_url).exit_code == 0
    result = hssk("run", samples, "--json", db=other_db_url)
    assert result.exit_code == 0, result.output
    whole = json.loads(result.output)

    assert staged["reconciles"] and whole["reconciles"]
    assert sum(f["created"] for f in staged["files"]) + staged["rejected"] == read
    for key in ("read", "rejected", "persons_created", "identifiers_added"):
        assert staged[key] == whole[key], key
    stepwise, at_once = connect(db_url), connect(other_db_url)
    try:
        assert link_partition(stepwise) == link_partition(at_once)
        assert count(stepwise, s.rejects) == count(at_once, s.rejects)
    finally:
        stepwise.dispose()
        at_once.dispose()


def test_failed_batch_leaves_nothing(db, samples, monkeypatch):
    import etl.load.loader as loader

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "insert_identifiers", boom)
    data = match_against(transform_stage(extract_files([samples]).data), db)
    with pytest.raises(RuntimeError):
        load_stage(data, db)
    assert count(db, s.persons) == 0
    assert count(db, s.source_records) == 0
    assert count(db, s.batches) == 0


def test_load_refuses_an_uninitialised_database(tmp_path, samples):
    engine = connect(f"sqlite:///{tmp_path / 'empty.db'}")
    data = match_against(transform_stage(extract_files([samples]).data), None)
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


def test_the_migrations_build_the_indexes_the_schema_declares(db_url, other_db_url):
    """Every index of the migrated schema is one ``etl.load.schema`` declares, and the other
    way round: an index a migration forgot to drop is written by every load for nothing, one it
    forgot to create is a lookup that reads whole tables."""
    migrated = connect(db_url)
    migrate(migrated)
    declared = connect(other_db_url)
    s.metadata.create_all(declared)

    def indexes(engine: sa.Engine) -> dict[str, set[tuple[str | None, tuple[str, ...], bool]]]:
        inspector = sa.inspect(engine)
        return {table: {(i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in inspector.get_indexes(table)}
                for table in s.metadata.tables}

    found, wanted = indexes(migrated), indexes(declared)
    migrated.dispose()
    declared.dispose()
    assert found == wanted
    assert ("ix_person_identifiers_lookup", ("kind", "value"), False) not in \
        found["person_identifiers"]


def test_a_new_sqlite_database_takes_large_pages_an_existing_one_keeps_its_own(tmp_path):
    """New files get 16 KiB pages (a source record is about 2 KB); a file made elsewhere with
    SQLite's default keeps its pages, which only a VACUUM could change."""
    new = connect(f"sqlite:///{tmp_path / 'new.db'}")
    migrate(new)
    old_path = tmp_path / "old.db"
    raw = sqlite3.connect(old_path)
    raw.execute("CREATE TABLE t (x)")
    raw.close()
    old = connect(f"sqlite:///{old_path}")
    migrate(old)
    sizes = []
    for engine in (new, old):
        with engine.connect() as conn:
            sizes.append(conn.exec_driver_sql("PRAGMA page_size").scalar())
        engine.dispose()
    assert sizes == [16384, 4096]


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


def test_a_spilled_stage_keeps_integers_with_gaps(tmp_path):
    """A run's chunks wait on disk between transform and load: a column of integers with a gap
    (a drug row without its STT) must come back as integers and None, not 1.0 — PostgreSQL's
    COPY refuses "1.0" for an INTEGER column."""
    from etl.stage import (
        FILE_COLUMNS,
        RECORD_COLUMNS,
        REJECT_COLUMNS,
        StageData,
        empty,
        read_stage,
        write_stage,
    )

    drugs = pd.DataFrame({"record_key": ["a", "a", "b"],
                          "line": pd.Series([1, None, 3], dtype=object),
                          "amount": [1.5, None, 2.0]})
    data = StageData("transform", empty(FILE_COLUMNS), empty(RECORD_COLUMNS),
                     empty(REJECT_COLUMNS), {"prescriptions": drugs})
    back = read_stage(write_stage(data, tmp_path / "chunk"), "transform")
    line = back.tables["prescriptions"]["line"].tolist()
    assert line == [1, None, 3] and all(type(v) is int for v in line if v is not None)
    assert back.tables["prescriptions"]["amount"].tolist()[::2] == [1.5, 2.0]


def test_an_upsert_empties_a_column_no_row_fills(db):
    """A column every row leaves empty is not sent at all (binding ``None`` is slow on
    SQLite): inserted it is NULL, and an upsert still sets it to NULL over a stored value."""
    from etl.load.bulk import bulk_insert, bulk_upsert

    pair = {"record_key_a": ["a"], "record_key_b": ["b"], "person_a": ["p"], "person_b": ["q"],
            "score": [15.0], "status": ["open"]}
    with db.begin() as conn:
        batch = conn.execute(s.batches.insert().values(
            started_at=dt.datetime(2025, 7, 1), status="running", command="test",
            tool_version="0").returning(s.batches.c.id)).scalar_one()
        bulk_insert(conn, s.match_reviews, {**pair, "batch_id": [batch], "group_key": ["g"],
                                            "probability": [None], "priority": [None]})
        assert conn.execute(sa.select(s.match_reviews.c.group_key, s.match_reviews.c.priority)
                            ).all() == [("g", None)]
        bulk_upsert(conn, s.match_reviews, {**pair, "batch_id": [batch], "group_key": [None]},
                    ["record_key_a", "record_key_b"], ["group_key"])
        assert conn.execute(sa.select(s.match_reviews.c.group_key)).all() == [(None,)]


def test_missing_values_are_stored_as_null_in_every_column_type(db):
    """A missing value in a column some rows fill is stored as SQL NULL whatever the column's
    type (SQLite binds it as a NaN, which it stores as NULL): read back it is ``None``, not a
    NaN, and ``typeof`` says null; a real value beside it is kept as it is."""
    from etl.load.bulk import bulk_insert

    t = s.source_records.c
    with db.begin() as conn:
        batch = conn.execute(s.batches.insert().values(
            started_at=dt.datetime(2025, 7, 1), status="running", command="test",
            tool_version="0").returning(s.batches.c.id)).scalar_one()
        file_id = conn.execute(s.source_files.insert().values(
            sha256="f" * 64, file_name="x.csv", path="x.csv", kind="registry", size_bytes=1,
            rows=2, batch_id=batch).returning(s.source_files.c.id)).scalar_one()
        bulk_insert(conn, s.persons, {"person_id": ["p1", "p2"], "created_batch_id": [batch] * 2,
                                      "updated_batch_id": [batch] * 2})
        bulk_insert(conn, s.source_records, {
            "record_key": ["k1", "k2"], "source_kind": ["registry"] * 2,
            "source_file_id": [file_id] * 2, "locator": ["row=1", "row=2"],
            "record_hash": ["h1", "h2"], "person_id": ["p1", "p2"], "match_rule": ["new", None],
            "match_score": [None, 12.5], "created_batch_id": [batch] * 2,
            "updated_batch_id": [batch] * 2, "full_name": [None, "Giàng A Páo"],
            "birth_year": [1990, None], "is_current": [True, False], "feed": [None, "f"]})
        got = conn.execute(sa.select(t.record_key, t.match_rule, t.match_score, t.full_name,
                                     t.birth_year, t.is_current, t.feed)
                           .order_by(t.record_key)).all()
        assert got == [("k1", "new", None, None, 1990, True, None),
                       ("k2", None, 12.5, "Giàng A Páo", None, False, "f")]
        if db.dialect.name == "sqlite":
            kinds = conn.exec_driver_sql(
                "SELECT typeof(match_rule), typeof(match_score), typeof(full_name), "
                "typeof(birth_year), typeof(is_current), typeof(feed) FROM source_records "
                "ORDER BY record_key").all()
            assert kinds == [("text", "null", "null", "integer", "integer", "null"),
                             ("null", "real", "text", "null", "integer", "text")]


def test_a_record_key_twice_in_one_batch_is_upserted_as_before(db, samples):
    """Records of a batch that are all new are inserted without an upsert; a batch repeating
    a key still takes the upsert: SQLite keeps one record, PostgreSQL refuses the batch."""
    data = match_against(transform_stage(extract_files([samples]).data), db)
    data.records = pd.concat([data.records, data.records.iloc[:3]], ignore_index=True)
    if db.dialect.name == "postgresql":
        with pytest.raises(sa.exc.ProgrammingError, match="cannot affect row a second time"):
            load_stage(data, db)
        return
    load_stage(data, db)
    assert count(db, s.source_records) == data.records["record_key"].nunique()
