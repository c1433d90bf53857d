"""Merge, split and undo on a real loaded district (SQLite file and PostgreSQL schema).

The undo contract is checked on whole tables: after a merge (or a split) and its undo, every
row of every table but the audit table itself is what it was before, column for column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.load import schema as s
from etl.load.curation import (
    MergeRefused,
    UndoRefused,
    history,
    merge_persons,
    show_person,
    split_person,
    undo,
)
from etl.load.decisions import ordered, read_decisions
from etl.load.loader import (
    PERSON_FIELDS,
    identifiers_of,
    person_value_texts,
    stored_person_values,
)
from etl.pipeline import run
from etl.synth import write_samples


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("curation")
    write_samples(out, people=150, seed=7)
    return out


def everything(engine) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """Every table's full content but the audit table's, rows ordered by primary key."""
    out = {}
    with engine.connect() as conn:
        for table in s.metadata.sorted_tables:
            if table.name == "person_changes":
                continue
            out[table.name] = [tuple(r) for r in conn.execute(
                sa.select(table).order_by(*table.primary_key.columns))]
    return out


def scalars(engine, query):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(query).scalars().all()


def person_of(engine, key: str) -> str:
    sr = s.source_records.c
    return scalars(engine, sa.select(sr.person_id).where(sr.record_key == key))[0]


def records_of(engine, person: str) -> list[str]:
    sr = s.source_records.c
    return sorted(scalars(engine, sa.select(sr.record_key).where(sr.person_id == person)))


def valid_ids(engine, person: str) -> set[str]:
    pi = s.person_identifiers.c
    return set(scalars(engine, sa.select(pi.value).where(
        pi.person_id == person, pi.kind == "personal_id", pi.status == "valid")))


def with_clinic(engine) -> list[str]:
    """Persons holding a clinic record (encounters, observations, conditions, lab results)
    and a registry record, most records first."""
    sr = s.source_records.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sr.person_id, sa.func.count()).where(
            sr.person_id.in_(sa.select(sr.person_id).where(sr.source_kind == "clinic-xml")),
            sr.person_id.in_(sa.select(sr.person_id).where(sr.source_kind == "registry")))
            .group_by(sr.person_id)).all()
    return [p for p, n in sorted(rows, key=lambda r: (-r[1], r[0]))]


def add_history_rows(engine, person: str, key: str, *, tag: str) -> None:
    """History and risk-factor rows of ``person`` from its record ``key`` (the generator
    writes none): a row of a one-per-person table and of a many-per-person one."""
    sr = s.source_records.c
    with engine.begin() as conn:
        rid = conn.execute(sa.select(sr.id).where(sr.record_key == key)).scalar_one()
        conn.execute(s.birth_conditions.insert().values(
            person_id=person, delivery_type=tag, birth_weight_g=3000, source_record_id=rid))
        conn.execute(s.risk_factors.insert().values(
            person_id=person, factor="smoking", status=tag, source_record_id=rid))


@pytest.fixture
def loaded(db, district):
    run([district], db)
    return db


def test_merge_then_undo_restores_every_table(loaded):
    db = loaded
    candidates = with_clinic(db)
    a = candidates[0]
    b = next(p for p in candidates[1:] if not (valid_ids(db, a) and valid_ids(db, p)))
    keys_a, keys_b = records_of(db, a), records_of(db, b)
    add_history_rows(db, a, keys_a[0], tag="normal")
    add_history_rows(db, b, keys_b[0], tag="caesarean")
    with db.begin() as conn:
        conn.execute(s.reproductive_history.insert().values(person_id=b, pregnancies=2))
        conn.execute(s.match_reviews.insert().values(
            record_key_a=keys_a[0], record_key_b=keys_b[0], person_a=a, person_b=b, score=9.5,
            status="open", batch_id=1))
        conn.execute(s.match_decisions.insert().values(
            record_key_a=ordered(keys_a[-1], keys_b[-1])[0],
            record_key_b=ordered(keys_a[-1], keys_b[-1])[1], decision="different",
            decided_by="earlier", decided_at=dt.datetime(2026, 1, 2),
            origin="review"))
    before = everything(db)

    change = merge_persons(db, a, b, reason="same mother and birth date", by="analyst1")

    merged = everything(db)
    assert merged != before
    assert change.kind == "merge" and change.decided_by == "analyst1"
    assert set(records_of(db, a)) == set(keys_a) | set(keys_b)
    assert scalars(db, sa.select(s.persons.c.person_id).where(s.persons.c.person_id == b)) == []
    for table in (s.encounters, s.immunizations, s.observations, s.conditions, s.lab_results,
                  s.risk_factors, s.reproductive_history):
        assert scalars(db, sa.select(table.c.person_id).where(table.c.person_id == b)) == []
    # one-per-person rows: A keeps its own
    assert scalars(db, sa.select(s.birth_conditions.c.delivery_type)) == ["normal"]
    assert sorted(scalars(db, sa.select(s.risk_factors.c.status))) == ["caesarean", "normal"]
    with db.connect() as conn:
        rows = conn.execute(sa.select(s.source_records)
                            .where(s.source_records.c.person_id == a)).mappings().all()
        have = set(conn.execute(sa.select(s.person_identifiers.c.kind,
                                          s.person_identifiers.c.value)
                                .where(s.person_identifiers.c.person_id == a)).all())
        status = conn.execute(sa.select(s.match_reviews.c.status).where(
            s.match_reviews.c.record_key_a == keys_a[0],
            s.match_reviews.c.record_key_b == keys_b[0])).scalar_one()
    assert have == {(k, v) for r in rows for k, v, _ in identifiers_of(dict(r))}
    assert status == "same"
    decisions = {(r.record_key_a, r.record_key_b): r.decision
                 for r in read_decisions(db).itertuples()}
    assert decisions == {ordered(keys_a[0], keys_b[0]): "same",
                         ordered(keys_a[-1], keys_b[-1]): "same"}

    undone = undo(db, change.change_id, by="analyst2", reason="wrong pair")
    assert undone.kind == "undo" and undone.summary["undid"] == change.change_id
    assert everything(db) == before


def test_split_then_undo_restores_every_table(loaded):
    db = loaded
    person = with_clinic(db)[0]
    keys = records_of(db, person)
    clinic = next(k for k in keys if k.startswith("clinic-xml:"))
    add_history_rows(db, person, clinic, tag="normal")
    # the split-off record says something the person's golden record does not
    sr = s.source_records
    with db.begin() as conn:
        values = stored_person_values(conn.execute(sa.select(sr.c.person_values)
                                                   .where(sr.c.record_key == clinic)).scalar_one())
        values.update(full_name="Lò Văn Tách", given_name="Tách", name_key="lo van tach")
        conn.execute(sr.update().where(sr.c.record_key == clinic).values(
            person_values=person_value_texts({f: [values.get(f)] for f in PERSON_FIELDS})[0]))
    golden_name = scalars(db, sa.select(s.persons.c.full_name)
                          .where(s.persons.c.person_id == person))[0]
    assert golden_name != "Lò Văn Tách"
    before = everything(db)

    change = split_person(db, person, [clinic], reason="another patient", by="analyst1")

    new = change.summary["new_person"]
    assert new != person
    assert records_of(db, new) == [clinic]
    assert clinic not in records_of(db, person)
    with db.connect() as conn:
        names = dict(conn.execute(sa.select(s.persons.c.person_id, s.persons.c.full_name)
                                  .where(s.persons.c.person_id.in_([person, new]))).all())
        rid = conn.execute(sa.select(sr.c.id).where(sr.c.record_key == clinic)).scalar_one()
        encounter_persons = set(conn.execute(sa.select(s.encounters.c.person_id)
                                             .where(s.encounters.c.source_record_id == rid))
                                .scalars())
        moved = {t.name: set(conn.execute(sa.select(t.c.person_id).where(
            t.c.encounter_id.in_(sa.select(s.encounters.c.id)
                                 .where(s.encounters.c.source_record_id == rid)))).scalars())
            for t in (s.observations, s.conditions, s.lab_results)}
        history_rows = set(conn.execute(sa.select(s.birth_conditions.c.person_id)).scalars())
    assert names == {person: golden_name, new: "Lò Văn Tách"}
    assert encounter_persons == {new}
    assert all(v <= {new} for v in moved.values()) and moved["observations"] == {new}
    assert history_rows == {new}
    expected = {ordered(clinic, k) for k in keys if k != clinic}
    decisions = read_decisions(db)
    assert {(r.record_key_a, r.record_key_b) for r in decisions.itertuples()} == expected
    assert set(decisions["decision"]) == {"different"}
    assert [c.change_id for c in history(db, new)] == [change.change_id]

    undo(db, change.change_id, by="analyst1")
    assert everything(db) == before


def test_merge_refuses_two_valid_personal_ids_and_changes_nothing(loaded):
    db = loaded
    pi = s.person_identifiers.c
    with db.connect() as conn:
        a, b = conn.execute(sa.select(pi.person_id).where(
            pi.kind == "personal_id", pi.status == "valid").distinct()
            .order_by(pi.person_id).limit(2)).scalars().all()
    before = everything(db)
    with pytest.raises(MergeRefused) as exc:
        merge_persons(db, a, b, reason="test", by="analyst1")
    assert exc.value.exit_code == 2
    message = str(exc.value) + (exc.value.hint or "")
    assert "valid personal ID" in message
    for secret in valid_ids(db, a) | valid_ids(db, b):
        assert secret not in message
    assert everything(db) == before
    assert scalars(db, sa.select(s.person_changes.c.id)) == []


def test_undo_refuses_twice_and_out_of_order(loaded):
    db = loaded
    candidates = with_clinic(db)
    a = candidates[0]
    b = next(p for p in candidates[1:] if not (valid_ids(db, a) and valid_ids(db, p)))
    original = everything(db)
    merge = merge_persons(db, a, b, reason="one person", by="analyst1")
    clinic = next(k for k in records_of(db, a) if k.startswith("clinic-xml:"))
    split = split_person(db, a, [clinic], reason="but not this visit", by="analyst1")
    with pytest.raises(UndoRefused, match=f"change {split.change_id}"):
        undo(db, merge.change_id, by="analyst1")
    undo(db, split.change_id, by="analyst1")
    with pytest.raises(UndoRefused, match="undone already"):
        undo(db, split.change_id, by="analyst1")
    undo(db, merge.change_id, by="analyst1")
    assert everything(db) == original
    kinds = [(c.kind, c.undone_by is not None) for c in history(db, a)]
    assert kinds == [("merge", True), ("split", True), ("undo", False), ("undo", False)]


def test_undo_refused_after_a_later_load_touched_the_person(loaded, tmp_path):
    db = loaded
    pi = s.person_identifiers.c
    sr = s.source_records.c
    with db.connect() as conn:
        a, pid = conn.execute(sa.select(pi.person_id, pi.value).where(
            pi.kind == "personal_id", pi.status == "valid").order_by(pi.person_id)).first()
        name, year, sex = conn.execute(sa.select(sr.full_name, sr.birth_year, sr.sex).where(
            sr.person_id == a, sr.personal_id == pid)).first()
    b = next(p for p in with_clinic(db) if p != a and not valid_ids(db, p))
    change = merge_persons(db, a, b, reason="one person", by="analyst1")
    merged = records_of(db, a)
    late = tmp_path / "late" / "dan_cu_bo_sung.csv"
    late.parent.mkdir()
    late.write_text("Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính\n"
                    f"{pid},{name},{year},{'Nam' if sex == 'M' else 'Nữ'}\n", encoding="utf-8")
    run([late.parent], db)
    assert set(records_of(db, a)) > set(merged)  # the new row joined the merged person
    with pytest.raises(UndoRefused, match="changed since"):
        undo(db, change.change_id, by="analyst1")


def test_show_person_is_a_timeline_with_provenance(loaded):
    db = loaded
    person = with_clinic(db)[0]
    view = show_person(db, person)
    assert view.person["person_id"] == person
    assert sorted(r["record_key"] for r in view.records) == records_of(db, person)
    assert all(r["file_name"] and r["locator"] and r["loaded_at"] for r in view.records)
    assert [r["loaded_at"] for r in view.records] == sorted(r["loaded_at"] for r in view.records)
    assert any(r["event_at"] is not None for r in view.records)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_new_tables_follow_the_roles(loaded):
    with loaded.connect() as conn:
        conn.execute(sa.text("SET ROLE hssk_loader"))
        conn.execute(sa.text(
            "INSERT INTO person_changes (kind, decided_by, decided_at) "
            "VALUES ('merge', 'x', now())"))
        conn.execute(sa.text(
            "INSERT INTO match_decisions (record_key_a, record_key_b, decision, decided_by, "
            "decided_at, origin) VALUES ('a', 'b', 'same', 'x', now(), 'review')"))
        conn.rollback()
    for table in ("person_changes", "match_decisions"):
        with loaded.connect() as conn:
            conn.execute(sa.text("SET ROLE hssk_analyst"))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text(f"SELECT * FROM {table}"))
            conn.rollback()
