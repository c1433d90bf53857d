"""Official forms and software templates: people load, structure never becomes a person."""

from __future__ import annotations

import random

import pandas as pd
import pytest
import xlwt

from etl.extract import extract_files
from etl.synth import simulate
from etl.synth.forms import write_d03ts, write_import_template, write_marked_list


@pytest.fixture(scope="module")
def residents():
    people = simulate(300, 7)
    return [r for r in people if r.social_insurance_code]


def _locators(data) -> list[tuple[str, str]]:
    return list(zip(data.records["source_file"], data.records["locator"], strict=True))


def _structure(data) -> int:
    return int(data.files["structure_rows"].sum())


def test_blank_d03ts_form_lists_nobody(tmp_path):
    path = tmp_path / "d03ts_blank.xlsx"
    write_d03ts(path, [], [], random.Random(1))
    data = extract_files([path]).data
    assert data.records.empty and data.rejects.empty
    # Sections I, I.1, I.2, Cộng tăng, II, II.1, II.2, Cộng giảm and the total in the name
    # column; the sub-header row and three note lines hold no one; one column-number row.
    notes = [n["message"] for n in data.meta["notes"]]
    assert notes == [
        "sheet 'D03-TS' not read: table header found but no rows of people under it",
        "sheet 'D03-TS': skipped as table structure: section 9, no-identity 4, column-numbers 1"]
    assert _structure(data) == 14


@pytest.mark.parametrize("sex_style", ["text", "female-mark"])
def test_d03ts_sections_hold_exactly_the_people(tmp_path, residents, sex_style):
    path = tmp_path / "d03ts.xlsx"
    truth = write_d03ts(path, residents[:5], residents[5:8], random.Random(2), sex_style=sex_style)
    data = extract_files([path]).data
    assert data.rejects.empty
    assert _locators(data) == [(f, loc) for f, loc, _ in truth]
    by_id = {r.resident_id: r for r in residents}
    expected_sex = ["Nam" if by_id[rid].sex == "M" else "Nữ" for _, _, rid in truth]
    assert list(data.records["sex"]) == expected_sex
    assert list(data.records["social_insurance_code"]) == \
        [by_id[rid].social_insurance_code for _, _, rid in truth]
    assert list(data.records["source_kind"]) == ["insurance"] * 8


def test_import_template_loads_each_sheet_as_its_own_table(tmp_path, residents):
    path = tmp_path / "tk1.xlsx"
    declarants, members = residents[:3], residents[3:5]
    truth = write_import_template(path, declarants, members, random.Random(3))
    data = extract_files([path]).data
    assert data.rejects.empty
    assert _locators(data) == [(f, loc) for f, loc, _ in truth]
    # 340 formula rows under each table, and the field-code row under the captions of "Dữ Liệu"
    # (the captions are the header there) counts as a repeated header.
    assert _structure(data) == 2 * 340 + 1
    by_id = {r.resident_id: r for r in residents}
    # "Nam:1 Nữ: 0" above the GioiTinh column decides what 0 means.
    assert list(data.records["sex"]) == \
        ["Nam" if by_id[rid].sex == "M" else "Nữ" for _, _, rid in truth]
    assert list(data.records["commune_code"]) == [by_id[rid].commune for _, _, rid in truth]
    assert list(data.records["district_code"]) == ["384"] * 5
    notes = " | ".join(n["message"] for n in data.meta["notes"])
    for lookup in ("Dân tộc", "Tinh", "Xa", "Mức hưởng BHYT"):
        assert f"sheet {lookup!r} not read: no table header recognised" in notes


def test_marked_list_reads_female_marks_and_year_marks(tmp_path, residents):
    path = tmp_path / "import.xlsx"
    chosen = residents[:12]
    truth = write_marked_list(path, chosen, random.Random(4))
    data = extract_files([path]).data
    assert _locators(data) == [(f, loc) for f, loc, _ in truth]
    assert _structure(data) == 3  # the three instruction lines under the table
    assert list(data.records["sex"]) == ["Nam" if r.sex == "M" else "Nữ" for r in chosen]
    years = [str(r.birth.year) for r in chosen]
    for r, birth, year in zip(chosen, data.records["birth_date"], years, strict=True):
        assert birth == year if r.year_only else birth.endswith(year) and len(birth) == 10


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_old_excel_and_opendocument_read_like_xlsx(tmp_path, residents, suffix):
    path = tmp_path / "d03ts.xlsx"
    write_d03ts(path, residents[:4], [], random.Random(5))
    sheet = pd.read_excel(path, header=None, dtype=object, engine="calamine")
    other = tmp_path / f"d03ts{suffix}"
    if suffix == ".xls":
        book = xlwt.Workbook()
        ws = book.add_sheet("D03-TS")
        for i, row in enumerate(sheet.itertuples(index=False)):
            for j, value in enumerate(row):
                if not pd.isna(value):
                    ws.write(i, j, value)
        book.save(str(other))
    else:
        sheet.to_excel(other, engine="odf", sheet_name="D03-TS", header=False, index=False)
    xlsx = extract_files([path]).data.records
    again = extract_files([other]).data.records
    columns = ["locator", "full_name", "social_insurance_code", "birth_date", "sex"]
    assert again[columns].values.tolist() == xlsx[columns].values.tolist()


def test_folder_names_files_it_does_not_read(tmp_path, residents):
    write_marked_list(tmp_path / "import.xlsx", residents[:2], random.Random(6))
    (tmp_path / "cong_van.pdf").write_bytes(b"%PDF-1.4 not a table")
    (tmp_path / "_notes.txt").write_text("skipped: underscore")
    data = extract_files([tmp_path]).data
    assert list(data.files["source_file"]) == ["import.xlsx"]
    notes = [n for n in data.meta["notes"] if n["source_file"] == "cong_van.pdf"]
    assert [n["message"] for n in notes] == [
        "not read: .pdf files are not a source type hssk reads (CSV, XLSX, XLS, ODS, XML)"]


def test_a_header_printed_again_on_the_next_page_is_structure(tmp_path):
    path = tmp_path / "dan_cu.csv"
    header = "STT,Họ và tên,Ngày sinh,Giới tính,Số định danh cá nhân,Nơi thường trú\n"
    path.write_text(header
                    + "1,Giàng A Páo,1962,Nam,038062001234,Bản Pù Toong - X. Pù Nhi\n"
                    + header
                    + "2,Lò Thị Hương,05/09/1965,Nữ,038165004321,Bản Cang - X. Pù Nhi\n",
                    encoding="utf-8")
    data = extract_files([path]).data
    assert list(data.records["full_name"]) == ["Giàng A Páo", "Lò Thị Hương"]
    assert list(data.records["locator"]) == ["row=1", "row=3"]
    assert [n["message"] for n in data.meta["notes"]] == [
        "sheet 'dan_cu': skipped as table structure: repeated-header 1"]
