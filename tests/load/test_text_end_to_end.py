"""End to end: legacy fonts and name variants arrive as one comparable Unicode form."""

import unicodedata

import sqlalchemy as sa
from openpyxl import Workbook

from etl.load import schema as s
from etl.pipeline import run
from etl.text.legacy import unicode_to_tcvn3

NAMES = ["Giàng A Páo", "Lò Thị Hương", "Vàng Thị Mỷ", "Hà Văn Đức", "Lò Thị Thủy"]


def test_tcvn3_school_workbook_loads_with_unicode_names(db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "6A"
    t = unicode_to_tcvn3
    ws.append([t("TRƯỜNG PTDTBT TH&THCS PÙ NHI")])
    ws.append([t("DANH SÁCH KHÁM SỨC KHỎE HỌC SINH NĂM HỌC 2024-2025")])
    ws.append([t(h) for h in ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "", "Chiều cao (cm)",
                              "Cân nặng (kg)", "Thị lực", ""]])
    ws.append(["", "", "", "Nam", t("Nữ"), "", "", "MP", "MT"])
    for col in (1, 2, 3, 6, 7):
        ws.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
    ws.merge_cells("D3:E3")
    ws.merge_cells("H3:I3")
    for n, name in enumerate(NAMES, 1):
        male = name in ("Giàng A Páo", "Hà Văn Đức")
        ws.append([n, t(name), f"0{n}/09/2013", "x" if male else None, None if male else "x",
                   140.5, 32, "10/10", "9/10"])
    ws.append([None, t("Người lập biểu")])
    wb.save(tmp_path / "pu_nhi.xlsx")

    summary = run([tmp_path / "pu_nhi.xlsx"], db)
    assert summary.files[0].kind == "school-exam"
    assert summary.files[0].created == len(NAMES)
    with db.connect() as conn:
        rows = conn.execute(sa.select(s.source_records.c.locator, s.source_records.c.full_name,
                                      s.source_records.c.sex)
                            .order_by(s.source_records.c.id)).all()
        encoding = conn.execute(sa.select(s.source_files.c.text_encoding)).scalar_one()
    assert encoding == "tcvn3"
    assert [r.full_name for r in rows] == NAMES
    assert [r.locator for r in rows] == [f"6A!{n}" for n in range(5, 10)]
    assert [r.sex for r in rows] == ["M", "F", "F", "M", "F"]


def test_name_variants_share_one_match_key(db, tmp_path):
    variants = ["Giàng A Páo", "GIANG A PAO", "GIÀNG A PÁO",
                unicodedata.normalize("NFD", "Giàng A Páo"), "giàng  a páo"]
    old_style = ["Lò Thị Thuỷ", "Lò Thị Thủy", "LO THI THUY"]
    path = tmp_path / "variants.csv"
    lines = ["Họ và tên,Năm sinh,Nơi thường trú"] + [
        f"{v},1962,Pù Nhi" for v in variants + old_style]
    path.write_text("\n".join(lines), encoding="utf-8")
    run([path], db)
    with db.connect() as conn:
        keys = conn.execute(sa.select(s.source_records.c.name_key)
                            .order_by(s.source_records.c.id)).scalars().all()
        names = conn.execute(sa.select(s.source_records.c.full_name)
                             .order_by(s.source_records.c.id)).scalars().all()
    assert set(keys[:5]) == {"giang a pao"}
    assert set(keys[5:]) == {"lo thi thuy"}
    assert names[0] == names[2] == names[3] == names[4] == "Giàng A Páo"
    assert names[5] == names[6] == "Lò Thị Thủy"
