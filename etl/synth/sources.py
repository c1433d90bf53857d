"""Source files written from the simulated population, each with the noise its clerks add.

Every written row is also a ground-truth row (file, locator, resident id), so precision and
recall of linking can be measured exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from openpyxl import Workbook

from etl.synth.noise import birth_text, mutate_digit, name_variant, strip_marks
from etl.synth.population import Resident, place
from etl.text.legacy import unicode_to_tcvn3

ETHNIC_NAMES = {"08": "Mông", "03": "Thái", "01": "Kinh", "09": "Dao", "06": "Mường",
                "29": "Khơ Mú"}
Truth = list[tuple[str, str, str]]


_DISTRICT_ABBREVIATIONS = {"Huyện": "H.", "Thị xã": "TX.", "Thành phố": "TP.", "Quận": "Q."}


def _address(rng: random.Random, r: Resident) -> str:
    p = place(r.commune)
    kind, district = p.type, p.district_type
    return rng.choice([
        f"{r.village}, {kind.lower()} {p.name}, {district.lower()} {p.district}, "
        f"tỉnh {p.province}",
        f"{r.village} - {kind[0]}. {p.name} - {_DISTRICT_ABBREVIATIONS.get(district, '')} "
        f"{p.district}",
        f"{r.village}, {kind} {p.name}, {p.district}, {p.province}",
    ])


REGISTRY_HEADERS = ["STT", "Số định danh cá nhân", "Họ, chữ đệm và tên", "Ngày, tháng, năm sinh",
                    "Giới tính", "Dân tộc", "Tôn giáo", "Quốc tịch", "Nơi thường trú",
                    "Nơi ở hiện tại", "Họ và tên chủ hộ", "Quan hệ với chủ hộ", "Số điện thoại"]


def _registry_row(rng: random.Random, r: Resident, n: int, *, duplicate: bool) -> list[str]:
    name = name_variant(rng, r, typo_rate=0.02 if not duplicate else 0.3,
                        drop_middle_rate=0.02 if not duplicate else 0.3)
    pid = r.personal_id or ""
    if pid and rng.random() < (0.01 if not duplicate else 0.5):
        pid = "" if duplicate else mutate_digit(rng, pid)
    birth = birth_text(rng, r, style=rng.choice(["dmy", "dmy", "d/m"]))
    if rng.random() < 0.002:
        birth = f"31/02/{r.birth.year}"  # a clerk's impossible date: must be rejected
    address = _address(rng, r)
    head = r.head.full_name if r.head else r.full_name
    return [str(n), pid, name, birth, "Nam" if r.sex == "M" else "Nữ",
            ETHNIC_NAMES[r.ethnicity], "Không", "Việt Nam", address, address, head,
            r.relation, r.phone or ""]


def write_registry(out: Path, residents: list[Resident], rng: random.Random, *,
                   one_file: str | None = None) -> tuple[dict, Truth]:
    """One extract per commune: most as UTF-8 CSV with BOM, one with ';', one as XLSX — or,
    with ``one_file``, every commune's rows in that one CSV (a province's extract)."""
    by_commune: dict[str, list[Resident]] = {}
    for r in residents:
        if rng.random() < 0.97:  # a few residents are not (yet) in the registry
            by_commune.setdefault(r.commune, []).append(r)
    written, truth = {}, []
    if one_file is not None:
        path, n = out / one_file, 0
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(REGISTRY_HEADERS)
            for _, people in sorted(by_commune.items()):
                for r in people:
                    for duplicate in (False, True) if rng.random() < 0.02 else (False,):
                        n += 1
                        writer.writerow(_registry_row(rng, r, n, duplicate=duplicate))
                        truth.append((path.name, f"row={n}", r.resident_id))
        written[path.name] = n
        return written, truth
    for i, (code, people) in enumerate(sorted(by_commune.items())):
        rows, ids = [], []
        for r in people:
            rows.append(r)
            ids.append(False)
            if rng.random() < 0.02:
                rows.append(r)
                ids.append(True)
        order = list(range(len(rows)))
        rng.shuffle(order)
        slug = place(code).name.replace(" ", "_")
        data = [_registry_row(rng, rows[j], n, duplicate=ids[j]) for n, j in enumerate(order, 1)]
        if i % 4 == 2:
            path = out / f"registry_{code}_{slug}.xlsx"
            wb = Workbook(write_only=True)
            ws = wb.create_sheet("Danh sach")
            ws.append([f"DANH SÁCH CÔNG DÂN XÃ {place(code).name.upper()}"])
            ws.append([])
            ws.append(REGISTRY_HEADERS)
            for row in data:
                ws.append(row)
            wb.save(path)
            truth += [(path.name, f"Danh sach!{n + 3}", rows[j].resident_id)
                      for n, j in enumerate(order, 1)]
        else:
            path = out / f"registry_{code}_{slug}.csv"
            delimiter = ";" if i % 4 == 1 else ","
            with open(path, "w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh, delimiter=delimiter)
                writer.writerow(REGISTRY_HEADERS)
                writer.writerows(data)
            truth += [(path.name, f"row={n}", rows[j].resident_id) for n, j in enumerate(order, 1)]
        written[path.name] = len(data)
    return written, truth


INSURANCE_HEADERS = ["STT", "Họ và tên", "Mã số BHXH", "Ngày tháng năm sinh", "Giới tính",
                     "Số CCCD/ĐDCN/Hộ chiếu", "Mã thẻ BHYT", "Nơi đăng ký KCB ban đầu", "Địa chỉ"]


def card_number(r: Resident) -> str:
    return f"{r.card_group}{r.card_level}38{r.social_insurance_code}"


def write_insurance(out: Path, residents: list[Resident], rng: random.Random) -> tuple[dict, Truth]:
    """The social-insurance list (D03-TS style): title rows, upper-case names."""
    insured = [r for r in residents if r.social_insurance_code and rng.random() < 0.7]
    path = out / "bhxh_muong_lat.xlsx"
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("D03-TS")
    ws.append(["BẢO HIỂM XÃ HỘI TỈNH THANH HÓA"])
    ws.append(["DANH SÁCH NGƯỜI THAM GIA BHYT - HUYỆN MƯỜNG LÁT"])
    ws.append([])
    ws.append(INSURANCE_HEADERS)
    truth = []
    for n, r in enumerate(insured, 1):
        name = name_variant(rng, r, typo_rate=0.03, drop_middle_rate=0.05).upper()
        if rng.random() < 0.3:
            name = strip_marks(name)
        doc = r.personal_id if r.personal_id and rng.random() < 0.6 else ""
        ws.append([n, name, r.social_insurance_code, birth_text(rng, r, style="dmy"),
                   "Nam" if r.sex == "M" else "Nữ", doc, card_number(r),
                   "38150" if r.commune in ("14845", "14848") else f"381{int(r.commune) % 100:02d}",
                   _address(rng, r)])
        truth.append((path.name, f"D03-TS!{n + 4}", r.resident_id))
    ws.append([])
    ws.append(["", "Người lập biểu", "", "", "Giám đốc"])
    wb.save(path)
    return {path.name: len(insured)}, truth




SCHOOL_TOP = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", None, "Dân tộc", "Chiều cao (cm)",
              "Cân nặng (kg)", "Huyết áp", "Thị lực", None, "Răng miệng", "Cột sống",
              "Phân loại sức khỏe", "Ghi chú"]
SCHOOL_SUB = [None, None, None, "Nam", "Nữ", None, None, None, None, "MP", "MT", None, None, None,
              None]
EXAM_DAY = dt.date(2024, 9, 16)
TCVN3_SCHOOL = "14863"  # Pù Nhi's school still types in .VnTime


def _school_birth(rng: random.Random, r: Resident) -> object:
    b = r.birth
    roll = rng.random()
    if roll < 0.45:
        return dt.datetime(b.year, b.month, b.day)  # a real date cell
    if roll < 0.65:
        return f"{b.day:02d}/{b.month:02d}/{b.year}"
    if roll < 0.8:
        return f"{b.day}/{b.month}/{b.year}"
    if roll < 0.95:
        return f"{b.day:02d}-{b.month:02d}-{b.year}"
    return b.year  # the teacher only wrote the year


def _school_row(rng: random.Random, r: Resident, n: int) -> list[object]:
    age = r.age(EXAM_DAY)
    height = round(112 + 6.2 * (age - 6) + rng.gauss(0, 5), 1)
    weight = round(19 + 3.1 * (age - 6) + rng.gauss(0, 2.5), 1)
    name = name_variant(rng, r, typo_rate=0.03, drop_middle_rate=0.08)
    systolic = rng.randint(90, 115)
    vision = [rng.choice(["10/10"] * 8 + ["9/10", "8/10", "6/10"]) for _ in range(2)]
    weight_cell: object = weight if rng.random() < 0.85 else (
        f"{str(weight).replace('.', ',')}" if rng.random() < 0.5 else f"{weight} kg")
    return [n, name, _school_birth(rng, r), "x" if r.sex == "M" else None,
            "x" if r.sex == "F" else None, ETHNIC_NAMES[r.ethnicity], height, weight_cell,
            f"{systolic}/{systolic - rng.randint(30, 45)}", vision[0], vision[1],
            rng.choice(["Bình thường"] * 3 + ["Sâu răng"]),
            rng.choice(["Bình thường"] * 9 + ["Cong vẹo"]),
            rng.choice(["Loại I", "Loại I", "Loại II", "Loại II", "Loại III"]), None]


def write_school(out: Path, residents: list[Resident], rng: random.Random) -> tuple[dict, Truth]:
    """One workbook per commune school, one sheet per class, merged two-row headers, title and
    signature rows; one school typed in TCVN3."""
    written, truth = {}, []
    pupils: dict[str, dict[str, list[Resident]]] = {}
    for r in residents:
        age = r.age(EXAM_DAY)
        if 6 <= age <= 14 and rng.random() < 0.9:
            grade = age - 5
            pupils.setdefault(r.commune, {}).setdefault(f"{grade}A", []).append(r)
    for code, classes in sorted(pupils.items()):
        commune = place(code).name
        legacy = code == TCVN3_SCHOOL
        enc = unicode_to_tcvn3 if legacy else (lambda s: s)
        wb = Workbook()
        wb.remove(wb.active)
        path = out / f"khamsk_truong_{code}.xlsx"
        for klass, members in sorted(classes.items(), key=lambda kv: int(kv[0][:-1])):
            ws = wb.create_sheet(klass)
            ws.append([enc("PHÒNG GD&ĐT MƯỜNG LÁT")])
            ws.append([enc(f"TRƯỜNG PTDTBT TH&THCS {commune.upper()}")])
            ws.append([enc(f"DANH SÁCH KẾT QUẢ KHÁM SỨC KHỎE HỌC SINH LỚP {klass} "
                           "NĂM HỌC 2024-2025")])
            ws.append([])
            ws.append([enc(h) if h else None for h in SCHOOL_TOP])
            ws.append([enc(h) if h else None for h in SCHOOL_SUB])
            for col in (1, 2, 3, 6, 7, 8, 9, 12, 13, 14, 15):
                ws.merge_cells(start_row=5, start_column=col, end_row=6, end_column=col)
            ws.merge_cells(start_row=5, start_column=4, end_row=5, end_column=5)
            ws.merge_cells(start_row=5, start_column=10, end_row=5, end_column=11)
            rng.shuffle(members)
            for n, r in enumerate(members, 1):
                ws.append([enc(v) if isinstance(v, str) else v for v in _school_row(rng, r, n)])
                truth.append((path.name, f"{klass}!{n + 6}", r.resident_id))
            ws.append([])
            ws.append([None, enc(f"Mường Lát, ngày 16 tháng 9 năm {EXAM_DAY.year}")])
            ws.append([None, enc("Người lập biểu"), None, None, None, None, None, None,
                       enc("Hiệu trưởng")])
        wb.save(path)
        written[path.name] = sum(len(m) for m in classes.values())
    return written, truth




IMMUNIZATION_HEADERS = ["STT", "Họ và tên trẻ", "Ngày sinh", "Giới tính", "Họ tên mẹ", "Địa chỉ",
                        "Vắc xin", "Mũi", "Ngày tiêm", "Cơ sở tiêm"]
# (register spelling, dose, age in days when given)
SCHEDULE = [("BCG", 1, 0), ("VGB sơ sinh", 1, 0), ("5 trong 1", 1, 60), ("OPV", 1, 60),
            ("5 trong 1", 2, 90), ("OPV", 2, 90), ("5 trong 1", 3, 120), ("OPV", 3, 120),
            ("IPV", 1, 150), ("Sởi", 1, 270), ("Viêm não Nhật Bản", 1, 365),
            ("Viêm não Nhật Bản", 2, 380), ("Sởi - Rubella", 1, 540), ("DPT4", 1, 540)]
EXPORT_DAY = dt.date(2025, 6, 30)


def write_immunization(out: Path, residents: list[Resident],
                       rng: random.Random) -> tuple[dict, Truth]:
    """The district's immunization register: one row per dose given to children under 5."""
    path = out / "tiemchung_muong_lat.csv"
    truth, rows = [], []
    for r in residents:
        if r.age(EXPORT_DAY) >= 5 or r.year_only:
            continue
        name = name_variant(rng, r, typo_rate=0.02, drop_middle_rate=0.05)
        mother = r.mother.full_name if r.mother else ""
        for vaccine, dose, days in SCHEDULE:
            given = r.birth + dt.timedelta(days=days + rng.randint(0, 20))
            if given > EXPORT_DAY or rng.random() > 0.9:
                continue
            rows.append((r, [name, f"{r.birth.day:02d}/{r.birth.month:02d}/{r.birth.year}",
                             "Nam" if r.sex == "M" else "Nữ", mother, _address(rng, r), vaccine,
                             dose, given.strftime("%d/%m/%Y"),
                             f"Trạm Y tế xã {place(r.commune).name}"]))
    rng.shuffle(rows)
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(IMMUNIZATION_HEADERS)
        for n, (r, row) in enumerate(rows, 1):
            writer.writerow([n, *row])
            truth.append((path.name, f"row={n}", r.resident_id))
    return {path.name: len(rows)}, truth


WRITER_KINDS = ("registry", "insurance", "school-exam", "clinic-xml", "immunization")
