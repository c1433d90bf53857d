"""Drugs (XML2) and services (XML3) as part of the visit: loaded whole, replaced per episode on a
corrected re-import, the same on SQLite and PostgreSQL; and the 0002 migration. All names,
codes and numbers are synthetic."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from importlib.resources import files

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from etl.errors import DatabaseError
from etl.load import schema as s
from etl.load.db import connect, current_revision, head_revision, migrate
from etl.pipeline import run
from etl.synth import simulate
from etl.synth.clinic import STYLES, envelope, episode, filehoso, inner_table, write_clinic

FACILITY = "38150"
STYLE = STYLES["file-name"]  # BOM, <?xml?>, CRLF, CDATA: the most decorated real style


def drug(ma_lk, line, code, name, quantity, amount, ordered, doctor="000111/TH-CCHN"):
    return [("MA_LK", ma_lk), ("STT", line), ("MA_THUOC", code), ("MA_NHOM", "4"),
            ("TEN_THUOC", name), ("DON_VI_TINH", "Viên"), ("HAM_LUONG", "500mg"),
            ("DUONG_DUNG", "1.01"), ("LIEU_DUNG", "Ngày 2 lần, mỗi lần 1 viên"),
            ("CACH_DUNG", ""), ("SO_LUONG", quantity), ("THANH_TIEN_BV", amount),
            ("MA_BAC_SI", doctor), ("NGAY_YL", ordered)]


def service(ma_lk, line, code, name, amount, ordered, result, team):
    return [("MA_LK", ma_lk), ("STT", line), ("MA_DICH_VU", code), ("TEN_DICH_VU", name),
            ("MA_VAT_TU", ""), ("TEN_VAT_TU", ""), ("MA_NHOM", "1"), ("DON_VI_TINH", "Lần"),
            ("SO_LUONG", "1"), ("THANH_TIEN_BV", amount), ("MA_BAC_SI", team),
            ("NGUOI_THUC_HIEN", team), ("NGAY_YL", ordered), ("NGAY_TH_YL", ordered),
            ("NGAY_KQ", result), ("MA_MAY", "XN-01")]


def hoso(ma_lk, patient, name, drugs, services):
    x1 = [("MA_LK", ma_lk), ("STT", "1"), ("MA_BN", patient), ("HO_TEN", name),
          ("SO_CCCD", ""), ("NGAY_SINH", "196001010000"), ("GIOI_TINH", "2"),
          ("DIA_CHI", "Bản Thử,Xã Pù Nhi,,Tỉnh Thanh Hóa"), ("MATINH_CU_TRU", "38"),
          ("MAHUYEN_CU_TRU", ""), ("MAXA_CU_TRU", "14863"), ("MA_BENH_CHINH", "J06.9"),
          ("NGAY_VAO", "202507010800"), ("NGAY_RA", "202507011000"), ("MA_CSKCB", FACILITY)]
    tables = [("XML1", inner_table("XML1", STYLE, "TONG_HOP", fields=x1)),
              ("XML2", inner_table("XML2", STYLE, "CHITIEU_CHITIET_THUOC",
                                   list_tag="DSACH_CHI_TIET_THUOC", row_tag="CHI_TIET_THUOC",
                                   rows=drugs)),
              ("XML3", inner_table("XML3", STYLE, "CHITIEU_CHITIET_DVKT_VTYT",
                                   list_tag="DSACH_CHI_TIET_DVKT", row_tag="CHI_TIET_DVKT",
                                   rows=services))]
    return "<HOSO>" + "".join(filehoso(k, v, "base64") for k, v in tables) + "</HOSO>"


EPISODE_A = hoso("LKA001", "PC-0001", "LÒ THỊ MẪU", [
    drug("LKA001", 1, "40.17", "Paracetamol", "14.000", "7000.00", "202507010830"),
    drug("LKA001", 2, "40.155", "Amoxicilin", "10", "12000", "202507010831"),
], [service("LKA001", 1, "22.0120.1370", "Tổng phân tích tế bào máu", "46200",
            "202507010810", "202507010900", "000111/TH-CCHN;000222/TH-CCHN")])
EPISODE_B = hoso("LKB002", "PC-0002", "HÀ VĂN THỬ", [
    drug("LKB002", 1, "40.591", "Metformin", "60", "57000.00", "202507010930"),
], [service("LKB002", 1, "02.1896", "Khám Nội", "38700", "202507010905", "", "000333/TH-CCHN"),
    service("LKB002", 2, "23.0075.1494", "Định lượng Glucose", "21500.00", "202507010910",
            "202507011000", "000222/TH-CCHN")])
EPISODE_B_CORRECTED = hoso("LKB002", "PC-0002", "HÀ VĂN THỬ", [
    drug("LKB002", 1, "40.591", "Metformin", "30", "28500.00", "202507010930"),
    drug("LKB002", 2, "40.489", "Amlodipin", "30", "12,600", "202507010932"),
], [service("LKB002", 1, "02.1896", "Khám Nội", "38700", "202507010905", "", "000333/TH-CCHN")])

KEY_A, KEY_B = f"clinic-xml:{FACILITY}:LKA001", f"clinic-xml:{FACILITY}:LKB002"


def row_a_drugs():
    base = {"encounter_key": KEY_A, "strength": "500mg", "route": "1.01",
            "dosage": "Ngày 2 lần, mỗi lần 1 viên", "usage": None, "unit": "Viên",
            "doctor_code": "000111/TH-CCHN", "extra": json.dumps({"MA_NHOM": "4"})}
    return [
        {**base, "line": 1, "drug_code": "40.17", "drug_name": "Paracetamol",
         "quantity_text": "14.000", "quantity": 14.0, "ordered_at": dt.datetime(2025, 7, 1, 8, 30),
         "amount_text": "7000.00", "amount": 7000.0},
        {**base, "line": 2, "drug_code": "40.155", "drug_name": "Amoxicilin",
         "quantity_text": "10", "quantity": 10.0, "ordered_at": dt.datetime(2025, 7, 1, 8, 31),
         "amount_text": "12000", "amount": 12000.0},
    ]


def row_b_drugs(corrected: bool):
    base = {"encounter_key": KEY_B, "strength": "500mg", "route": "1.01",
            "dosage": "Ngày 2 lần, mỗi lần 1 viên", "usage": None, "unit": "Viên",
            "doctor_code": "000111/TH-CCHN", "extra": json.dumps({"MA_NHOM": "4"})}
    if not corrected:
        return [{**base, "line": 1, "drug_code": "40.591", "drug_name": "Metformin",
                 "quantity_text": "60", "quantity": 60.0,
                 "ordered_at": dt.datetime(2025, 7, 1, 9, 30), "amount_text": "57000.00",
                 "amount": 57000.0}]
    return [{**base, "line": 1, "drug_code": "40.591", "drug_name": "Metformin",
             "quantity_text": "30", "quantity": 30.0, "ordered_at": dt.datetime(2025, 7, 1, 9, 30),
             "amount_text": "28500.00", "amount": 28500.0},
            {**base, "line": 2, "drug_code": "40.489", "drug_name": "Amlodipin",
             "quantity_text": "30", "quantity": 30.0, "ordered_at": dt.datetime(2025, 7, 1, 9, 32),
             "amount_text": "12,600", "amount": 12600.0}]


def service_row(key, line, code, name, amount_text, ordered, result, team):
    return {"encounter_key": key, "line": line, "service_code": code, "service_name": name,
            "supply_code": None, "supply_name": None, "group_code": "1", "quantity_text": "1",
            "quantity": 1.0, "unit": "Lần", "ordered_at": ordered, "performed_at": ordered,
            "result_at": result, "doctor_code": team, "performer": team,
            "amount_text": amount_text, "amount": float(amount_text),
            "extra": json.dumps({"MA_MAY": "XN-01"})}


SERVICE_A = [service_row(KEY_A, 1, "22.0120.1370", "Tổng phân tích tế bào máu", "46200",
                         dt.datetime(2025, 7, 1, 8, 10), dt.datetime(2025, 7, 1, 9, 0),
                         "000111/TH-CCHN;000222/TH-CCHN")]
EXAM_B = service_row(KEY_B, 1, "02.1896", "Khám Nội", "38700", dt.datetime(2025, 7, 1, 9, 5),
                     None, "000333/TH-CCHN")
SERVICES_B = [EXAM_B, service_row(KEY_B, 2, "23.0075.1494", "Định lượng Glucose", "21500.00",
                                  dt.datetime(2025, 7, 1, 9, 10), dt.datetime(2025, 7, 1, 10, 0),
                                  "000222/TH-CCHN")]


def loaded(engine, table):
    """The whole table as loaded, each row with its encounter's key instead of database ids."""
    columns = [c for c in table.columns if c.name not in ("id", "encounter_id")]
    query = (sa.select(s.encounters.c.encounter_key, *columns)
             .select_from(table)
             .join(s.encounters, s.encounters.c.id == table.c.encounter_id)
             .order_by(s.encounters.c.encounter_key, table.c.line))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def ids(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(s.encounters.c.encounter_key, table.c.line, table.c.id)
                            .select_from(table).join(s.encounters, s.encounters.c.id == table.c.encounter_id)
                            .order_by(table.c.id)).all()


def test_drugs_and_services_load_as_whole_tables(db, tmp_path):
    path = tmp_path / "QD130_38150_202507.xml"
    path.write_bytes(envelope(FACILITY, [EPISODE_A, EPISODE_B], STYLE))
    summary = run([path], db)
    assert summary.reconciles and summary.files[0].created == 2
    assert (summary.clinical_rows["prescriptions"], summary.clinical_rows["services"]) == (3, 3)
    assert loaded(db, s.prescriptions) == row_a_drugs() + row_b_drugs(corrected=False)
    assert loaded(db, s.services) == SERVICE_A + SERVICES_B


def test_corrected_month_replaces_items_of_that_episode_only(db, tmp_path):
    first = tmp_path / "a_original.xml"
    first.write_bytes(envelope(FACILITY, [EPISODE_A, EPISODE_B], STYLE))
    run([first], db)
    before = ids(db, s.prescriptions)
    corrected = tmp_path / "b_corrected.xml"
    corrected.write_bytes(envelope(FACILITY, [EPISODE_A, EPISODE_B_CORRECTED], STYLE))
    summary = run([corrected], db)
    counts = summary.files[0]
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
    assert (summary.clinical_rows["prescriptions"], summary.clinical_rows["services"]) == (2, 1)
    assert loaded(db, s.prescriptions) == row_a_drugs() + row_b_drugs(corrected=True)
    assert loaded(db, s.services) == SERVICE_A + [EXAM_B]
    # Episode A was not touched: its rows keep their ids.
    after = ids(db, s.prescriptions)
    assert [r for r in after if r[0] == KEY_A] == [r for r in before if r[0] == KEY_A]
    # Re-running the corrected file changes nothing.
    again = run([corrected], db)
    assert again.files[0].unchanged == 2 and "prescriptions" not in again.clinical_rows


def test_generated_month_in_real_styles_loads_every_item(db, tmp_path):
    """The generator's real styles (random per facility file, 130 and 4210 layouts, some files
    with post-2025 codes): every drug and service row written is loaded, keyed to its visit."""
    written, truth = write_clinic(tmp_path, simulate(150, seed=4), random.Random(4),
                                  month=(2025, 8), style="random")
    assert written and truth
    drugs, items = {}, {}
    for path in tmp_path.glob("*.xml"):
        text = path.read_bytes().decode("utf-8-sig")
        for hoso_text in text.split("<HOSO>")[1:]:
            inner = "".join(_decode(c) for c in _between(hoso_text, "<NOIDUNGFILE>",
                                                         "</NOIDUNGFILE>"))
            ma_lk = _between(inner, "<MA_LK>", "</MA_LK>")[0]
            key = f"clinic-xml:{ma_lk[:5]}:{ma_lk}"
            drugs[key] = inner.count("<CHI_TIET_THUOC>")
            items[key] = inner.count("<CHI_TIET_DVKT>")
    summary = run([tmp_path], db)
    assert summary.reconciles and summary.rejected == 0
    assert _per_encounter(db, s.prescriptions) == {k: n for k, n in drugs.items() if n}
    assert _per_encounter(db, s.services) == {k: n for k, n in items.items() if n}


def _between(text, start, end):
    return [part.split(end)[0] for part in text.split(start)[1:]]


def _decode(content):
    if content.startswith("&lt;"):
        return content.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return base64.b64decode(content).decode("utf-8")


def _per_encounter(engine, table):
    with engine.connect() as conn:
        return dict(conn.execute(
            sa.select(s.encounters.c.encounter_key, sa.func.count()).select_from(table)
            .join(s.encounters, s.encounters.c.id == table.c.encounter_id)
            .group_by(s.encounters.c.encounter_key)).all())


def test_pc_and_pc_dash_are_one_facility_patient_id(db, tmp_path):
    """One hospital system writes MA_BN "PC-0001" in one export style and "PC0001" in the other."""
    r = simulate(50, seed=2)[0]
    r.facility_ids[FACILITY] = "BN0001"
    visit = dt.datetime(2025, 7, 3, 9, 0)
    for n, style in enumerate(("compact", "file-name")):
        hoso_text = episode(r, f"LKP00{n}", FACILITY, visit, random.Random(n), style=style)
        (tmp_path / f"{style}.xml").write_bytes(envelope(FACILITY, [hoso_text], style))
    run([tmp_path], db)
    with db.connect() as conn:
        values = conn.execute(sa.select(s.person_identifiers.c.value).where(
            s.person_identifiers.c.kind == "facility_patient_id")).scalars().all()
    assert sorted(values) == [f"{FACILITY}:PC0001"]


# --- the 0002 migration ------------------------------------------------------------------------

def _alembic(conn) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("etl.load") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def test_schema_module_matches_the_migrations(db):
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), s.metadata)
    assert diff == []


def test_init_upgrades_a_0001_database_and_keeps_its_rows(db_url, hssk):
    engine = connect(db_url)
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0001")
        conn.execute(s.batches.insert().values(
            id=1, started_at=dt.datetime(2025, 7, 1), status="committed", command="run",
            tool_version="old"))
        conn.execute(sa.text("INSERT INTO persons (person_id, full_name, created_batch_id, "
                             "updated_batch_id) VALUES ('P1', 'Lò Thị Mẫu', 1, 1)"))
    assert not {"prescriptions", "services"} & set(sa.inspect(engine).get_table_names())
    result = hssk("init", db=db_url)
    assert result.exit_code == 0, result.output
    assert f"0001 → {head_revision()}" in result.output
    engine.dispose()
    engine = connect(db_url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"prescriptions", "services"} <= tables
    with engine.connect() as conn:
        person = conn.execute(sa.select(
            s.persons.c.person_id, s.persons.c.full_name, s.persons.c.permanent_commune_code_2025,
            s.persons.c.current_commune_code_2025)).all()
    assert person == [("P1", "Lò Thị Mẫu", None, None)]
    columns = {c["name"] for c in sa.inspect(engine).get_columns("source_records")}
    assert "commune_code_2025" in columns
    assert migrate(engine) == (head_revision(), head_revision())
    engine.dispose()


def test_0002_downgrades_and_upgrades_again_with_data(db, tmp_path):
    path = tmp_path / "m.xml"
    path.write_bytes(envelope(FACILITY, [EPISODE_A], STYLE))
    run([path], db)
    migrate(db, "0001")
    inspector = sa.inspect(db)
    assert not {"prescriptions", "services"} & set(inspector.get_table_names())
    assert "commune_code_2025" not in {c["name"] for c in inspector.get_columns("source_records")}
    assert migrate(db)[1] == head_revision()
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.persons)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(s.prescriptions)).scalar() == 0


def test_an_upgrade_that_would_leave_a_dangling_key_changes_nothing(tmp_path, samples):
    """SQLite rebuilds tables with key enforcement off (0009 drops keys); a row left referring
    to a missing one refuses the upgrade, which then changes nothing."""
    engine = connect(f"sqlite:///{tmp_path / 'hssk.db'}")
    migrate(engine)
    run(sorted(samples.glob("registry_*.csv"))[:1], engine)
    migrate(engine, "0008")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
        conn.execute(s.person_identifiers.insert().values(
            person_id="NO-SUCH-PERSON", kind="cmnd", value="000000001", status="valid",
            first_batch_id=1))
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    before = _contents(engine)
    with pytest.raises(DatabaseError, match="1 rows referring to missing rows "
                                            r"\(tables person_identifiers\)"):
        migrate(engine)
    assert _contents(engine) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        conn.execute(s.person_identifiers.delete().where(
            s.person_identifiers.c.person_id == "NO-SUCH-PERSON"))
        conn.commit()
    assert migrate(engine) == ("0008", head_revision())
    engine.dispose()


def _contents(engine) -> tuple:
    """The revision, the tables' definitions and every row of the tables 0009 rebuilds."""
    with engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all()
        rows = {t: conn.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY 1').all()
                for t in ("source_records", "persons", "person_identifiers", "rejects")}
    return current_revision(engine), tables, rows
