"""Workbooks as teachers and clerks make them: school exams, immunization, adult exams,
`hssk inspect` and `hssk template`."""

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from etl.load import schema as s
from etl.pipeline import run


def truth_for(samples, prefix):
    rows = pd.read_csv(samples / "_truth" / "ground_truth.csv", dtype=str)
    return rows[rows["source_file"].str.startswith(prefix)]


def test_school_workbooks_load_completely(db, samples, tmp_path):
    schools = sorted(samples.glob("khamsk_*.xlsx"))
    summary = run(schools, db)
    expected = truth_for(samples, "khamsk_")
    assert summary.reconciles and summary.read == len(expected)
    with db.connect() as conn:
        loaded = conn.execute(sa.select(s.source_files.c.file_name, s.source_records.c.locator,
                                        s.source_records.c.full_name, s.source_records.c.sex)
                              .join(s.source_files, s.RECORD_FILE)).all()
        vitals = conn.execute(sa.select(s.observations.c.code, sa.func.count())
                              .group_by(s.observations.c.code)).all()
        classes = conn.execute(sa.select(s.encounters.c.health_class).distinct()).scalars().all()
    rejected = summary.rejected
    assert len(loaded) + rejected == len(expected)
    assert {(f, loc) for f, loc, _, _ in loaded} <= set(zip(expected["source_file"],
                                                           expected["locator"], strict=True))
    assert all("!" in loc for _, loc, _, _ in loaded)
    assert all(sex in ("M", "F") for *_, sex in loaded)
    assert not any(ch in name for _, _, name, _ in loaded for ch in "¸µ¶·¹¨©ª«¬®")
    codes = dict(vitals)
    assert {"height", "weight", "bmi", "systolic", "diastolic", "vision_right"} <= set(codes)
    assert set(classes) <= {"I", "II", "III", "IV", "V", None}


def test_mixed_cells(db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "7A"
    ws.append(["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Chiều cao (cm)", "Cân nặng (kg)",
               "Phân loại sức khỏe"])
    ws.append([1, "Giàng A Páo", dt.datetime(2012, 9, 5), "Nam", "141,5", "32 kg", "Loại I"])
    ws.append([2, "Lò Thị Hương", "2012", "Nữ", 139, "30.5", "loại 2"])
    ws.append([3, "Vàng Thị Mỷ", 41162, "Nữ", "138", 29, "II"])
    wb.save(tmp_path / "mixed.xlsx")
    summary = run([tmp_path / "mixed.xlsx"], db)
    assert summary.files[0].created == 3
    with db.connect() as conn:
        weights = conn.execute(sa.select(s.observations.c.value_num).where(
            s.observations.c.code == "weight").order_by(s.observations.c.id)).scalars().all()
        heights = conn.execute(sa.select(s.observations.c.value_num).where(
            s.observations.c.code == "height").order_by(s.observations.c.id)).scalars().all()
        births = conn.execute(sa.select(s.source_records.c.birth_year,
                                        s.source_records.c.birth_date_precision)
                              .order_by(s.source_records.c.id)).all()
        classes = conn.execute(sa.select(s.encounters.c.health_class)
                               .order_by(s.encounters.c.id)).scalars().all()
    assert weights == [32.0, 30.5, 29.0]
    assert heights == [141.5, 139.0, 138.0]
    assert births == [(2012, "day"), (2012, "year"), (2012, "day")]
    assert classes == ["I", "II", "II"]


def test_immunization_list(db, samples):
    summary = run([samples / "tiemchung_muong_lat.csv"], db)
    assert summary.files[0].kind == "immunization"
    with db.connect() as conn:
        doses = conn.execute(sa.select(s.immunizations.c.vaccine_code, s.immunizations.c.dose_number,
                                       s.immunizations.c.given_on)).all()
    assert len(doses) == summary.files[0].created
    assert {"BCG", "DPT-VGB-HIB", "OPV"} <= {d.vaccine_code for d in doses}
    assert all(d.given_on is not None for d in doses)


def test_adult_exam(db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["DANH SÁCH KHÁM SỨC KHỎE ĐỊNH KỲ NĂM 2025"])
    ws.append(["STT", "Họ và tên", "Năm sinh", "Giới tính", "Ngày khám", "Huyết áp", "Mạch",
               "Tuần hoàn", "Hô hấp", "Phân loại sức khỏe"])
    ws.append([1, "Hà Văn Đức", 1975, "Nam", "12/05/2025", "130/85", 78, "Bình thường",
               "Bình thường", "Loại II"])
    wb.save(tmp_path / "dinhky.xlsx")
    summary = run([tmp_path / "dinhky.xlsx"], db)
    assert summary.files[0].kind == "adult-exam"
    with db.connect() as conn:
        enc = conn.execute(sa.select(s.encounters)).one()
        findings = conn.execute(sa.select(s.exam_findings.c.system)).scalars().all()
    assert enc.health_class == "II" and enc.started_at.date() == dt.date(2025, 5, 12)
    assert sorted(findings) == ["cardiovascular", "respiratory"]


def test_inspect_explains_a_workbook(hssk, samples):
    result = hssk("inspect", samples / "khamsk_truong_14863.xlsx", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["kind"] == "school-exam" and info["reader"] == "calamine"
    sheet = info["sheets"][0]
    assert sheet["text_encoding"] == "tcvn3" and sheet["header_rows"] == "5-6"
    assert sheet["mapping"]["Giới tính / Nam"] == "sex_male"
    assert info["rows"] == info["would_load"] + sum(info["would_reject"].values())
    assert info["preview"][0]["full_name"]
    text = hssk("inspect", samples / "registry_14863_Pù_Nhi.csv").output
    assert "would load" in text and "Số định danh cá nhân" in text
    masked = json.loads(hssk("inspect", samples / "registry_14863_Pù_Nhi.csv", "--json").output)
    ids = [r["personal_id"] for r in masked["preview"] if r["personal_id"]]
    assert ids and all(i.startswith("•••") for i in ids)


def test_template_round_trip(hssk, db_url, tmp_path):
    out = tmp_path / "mau.xlsx"
    assert hssk("template", "school-exam", "-o", out).exit_code == 0
    wb = load_workbook(out)
    ws = wb["Dữ liệu"]
    headers = [c.value for c in ws[1]]
    assert "Hướng dẫn" in wb.sheetnames
    assert any(dv.formula1 == '"Nam,Nữ"' for dv in ws.data_validations.dataValidation)
    row = {"Họ và tên": "Sùng A Chứ", "Ngày sinh": dt.datetime(2014, 3, 2), "Giới tính": "Nam",
           "Chiều cao (cm)": 135, "Cân nặng (kg)": 28, "Phân loại sức khỏe": "Loại I"}
    ws.append([row.get(h) for h in headers])
    wb.save(out)
    hssk("init", db=db_url)
    result = hssk("run", out, "--json", db=db_url)
    assert json.loads(result.output)["files"][0]["created"] == 1
