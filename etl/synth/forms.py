"""Insurance forms and import templates as they really arrive, written from simulated residents.

The lists in ``sources.py`` are tidy; the files a health centre receives are official forms and
software templates: a title block, a merged two-row header, a column-number row, section rows
("I Tăng", "I.1 Người tham gia"), sub-totals, notes, a data sheet beside lookup sheets, a
household appendix, hundreds of rows that hold only formulas, field-code headers (HoTen,
MasoBHXH…), sex as an "x" under "Nữ" or as 1/0 with a legend, and a birth-year mark. Each writer
returns the ground truth of the people it wrote (file, locator, resident id); everything else in
the file is structure that must never become a person.
"""

from __future__ import annotations

import random
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from etl.synth.noise import birth_text, name_variant, strip_marks
from etl.synth.population import COMMUNES, Resident

Truth = list[tuple[str, str, str]]

D03_TOP = ["STT", "Họ và tên", "Mã số BHXH", "Số CCCD/\nCNTND\nĐDCN/hộ chiếu",
           "Ngày tháng năm sinh", "Giới tính", "Địa chỉ", "Nơi đăng ký KCB ban đầu",
           "Ngày biên lai", "Số biên lai", "Tiền lương hưu, trợ cấp TN, TS", "Hỗ trợ thêm", None,
           "Thời gian tham gia", None, "Mã số nhân viên thu", "Ghi chú"]
D03_SUB = [None] * 11 + ["NSĐP", "Khác", "Từ tháng", "Số tháng", None, None]
D03_NUMBERS = ["A", "B", *range(1, 16)]


def _address(r: Resident) -> str:
    commune = COMMUNES[r.commune][0]
    return f"{r.village}, xã {commune}, huyện Mường Lát, tỉnh Thanh Hóa"


def _facility(r: Resident) -> str:
    return "38150" if r.commune in ("14845", "14848") else f"381{int(r.commune) % 100:02d}"


def _title_block(ws: Worksheet, title: str) -> None:
    ws.append(["Tên đơn vị/Điểm thu: ĐẠI LÝ THU XÃ TAM CHUNG", None, None, None, None, None, None,
               None, None, None, None, "Mẫu D03-TS"])
    ws.append(["Mã đơn vị/Điểm thu: TH0001", None, None, "MS thuế: 0000000000", None, None, None,
               None, None, None, None, "(Ban hành kèm theo QĐ số 490/QĐ-BHXH"])
    ws.append(["Địa chỉ: Bản Sa Ná, xã Tam Chung, huyện Mường Lát", None, None, None, None, None,
               title])
    ws.append(["Điện thoại: 0900000000", None, None, "Email: daily@example.invalid"])
    ws.append([None, None, None, None, None, None, "Số 01 tháng 3 năm 2025"])
    ws.append([])
    ws.append([None, "Đối tượng tham gia: Hộ gia đình", None, None, "Mã đối tượng: GD"])


def _d03_person(rng: random.Random, r: Resident, n: int, sex_style: str) -> list[object]:
    name = name_variant(rng, r, typo_rate=0.02, drop_middle_rate=0.05).upper()
    if rng.random() < 0.2:
        name = strip_marks(name)
    sex: object = "Nam" if r.sex == "M" else "Nữ"
    if sex_style == "female-mark":
        sex = "x" if r.sex == "F" else None
    return [n, name, r.social_insurance_code, r.personal_id or "",
            birth_text(rng, r, style="dmy"), sex, _address(r), _facility(r), "01/03/2025",
            f"{rng.randint(1, 9999):04d}", None, None, None, "03/2025", 12, "NV01", None]


def write_d03ts(path: Path, increases: list[Resident], decreases: list[Resident],
                rng: random.Random, *, sex_style: str = "text") -> Truth:
    """Form D03-TS (list of people insured for health only) with its sections, sub-totals,
    column numbers, notes and signatures. With no residents it is the blank form, which lists
    nobody. ``sex_style`` "female-mark" writes the sex column as an "x" for women only."""
    wb = Workbook()
    ws = wb.active
    ws.title = "D03-TS"
    _title_block(ws, "DANH SÁCH NGƯỜI CHỈ THAM GIA BẢO HIỂM Y TẾ")
    ws.append([None, "Nguồn đóng: NSNN hỗ trợ", None, None, "Tỷ lệ NSNN hỗ trợ quy định: 30%"])
    top = len(D03_TOP)
    ws.append(D03_TOP if sex_style == "text" else
              [*D03_TOP[:5], "Nữ (x)", *D03_TOP[6:]])
    header_row = ws.max_row
    ws.append(D03_SUB)
    for col in range(1, top + 1):
        if D03_SUB[col - 1] is None and col not in (13, 15):
            ws.merge_cells(start_row=header_row, start_column=col, end_row=header_row + 1,
                           end_column=col)
    ws.merge_cells(start_row=header_row, start_column=12, end_row=header_row, end_column=13)
    ws.merge_cells(start_row=header_row, start_column=14, end_row=header_row, end_column=15)
    ws.append(D03_NUMBERS)
    truth: Truth = []

    def people(section: str, residents: list[Resident]) -> None:
        ws.append([section, "Người tham gia"])
        for n, r in enumerate(residents, 1):
            ws.append(_d03_person(rng, r, n, sex_style))
            truth.append((path.name, f"D03-TS!{ws.max_row}", r.resident_id))
        ws.append([])

    ws.append(["I", "Tăng"])
    people("I.1", increases)
    ws.append(["I.2", "Tiền lương"])
    ws.append([])
    ws.append([None, "Cộng tăng", None, None, None, None, None, None, None, None,
               len(increases)])
    ws.append(["II", "Giảm"])
    people("II.1", decreases)
    ws.append(["II.2", "Tiền lương"])
    ws.append([None, "Cộng giảm", None, None, None, None, None, None, None, None,
               len(decreases)])
    ws.append([])
    ws.append([None, f"Tổng số thẻ BHYT đề nghị cấp: {len(increases)}"])
    ws.append(["- Ghi chú: Cột 16 chỉ áp dụng đối với người tham gia có thay đổi", None, None,
               None, None, None, None, None, None, None, None, "Mường Lát, ngày 11 tháng 3 năm 2025"])
    ws.append(["Cơ quan LĐTBXH, UBND xã/Tổ chức dịch vụ thu"])
    ws.append(["(ký, ghi rõ họ tên và đóng dấu)"])
    wb.save(path)
    return truth


TK1_CAPTIONS = ["ID Lao động", "Họ tên", "Mã số BHXH", "Loại khai báo", "Phương án",
                "Ngày biên lai", "Số tiền thực tế", "Tỉnh đang sinh sống", "Mã tỉnh đang sinh sống",
                "Huyện đang sinh sống", "Mã huyện đang sinh sống", "Xã đang sinh sống",
                "Mã xã đang sinh sống", "Địa chỉ đang sinh sống", "Ngày sinh", "Giới tính",
                "Quốc tịch", "Dân tộc", "Số CCCD", "Mã hộ gia đình", "Mã phòng ban"]
TK1_CODES = ["STT", "HoTen", "MasoBHXH", "Loai", "PA", "NgayBienLai", "TienDongThucTe",
             "TenTinhDangSS", "Matinh_DangSS", "TenhuyenDangSS", "Mahuyen_DangSS", "TenxaDangSS",
             "Maxa_DangSS", "Diachi_DangSS", "NgaySinh", "GioiTinh", "QuocTich", "DanToc",
             "SoCCCD", "Maho_Giadinh", "MaPhongBan"]
MEMBER_CODES = ["STT", "HoTen", "MasoBHXH", "NgaySinh", "GioiTinh", "TenTinhKS", "Matinh_KS",
                "MaThon", "TenMoiQuanHe", "MoiQuanHe", "CMND", "NguoiThamGia", "TenTinh", "Matinh",
                "TenHuyen", "Mahuyen", "TenXa", "Maxa", "Maso_HoGiadinh", "Diachi_HK"]


def _sex_code(r: Resident) -> int:
    return 1 if r.sex == "M" else 0  # the template's legend: "Nam:1 Nữ: 0"


def _birth_or_year(rng: random.Random, r: Resident) -> str:
    return str(r.birth.year) if r.year_only else birth_text(rng, r, style="dmy")


def _formula_rows(ws: Worksheet, count: int, width: int, lookups: dict[int, str]) -> None:
    """What a template's pre-filled lookup rows look like once saved: formulas with no cached
    value (read as empty), cached zeros, and the odd lookup result with no person beside it."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i in range(count):
        row: list[object] = [None] * width
        for col, text in lookups.items():
            row[col] = text if i % 7 == 0 else 0
        row[width - 1] = f"=IFERROR(VLOOKUP({letters[1]}{ws.max_row + 1},Xa!A:C,2,0),0)"
        ws.append(row)


def write_import_template(path: Path, declarants: list[Resident], members: list[Resident],
                          rng: random.Random, *, formula_rows: int = 340) -> Truth:
    """A D03-TK1 import template as insurance software ships it: sheet "Dữ Liệu" (caption rows
    with the sex legend above a field-code header row), sheet "Phụ lục" (household members),
    lookup sheets, and hundreds of formula rows under both tables."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Dữ Liệu"
    legend: list[object] = [None] * len(TK1_CODES)
    legend[0] = "CHÚ Ý: Những cột mà tiêu đề màu đỏ là bắt buộc nhập"
    legend[TK1_CODES.index("NgaySinh")] = "ngày/tháng/năm\ntháng/năm\nnăm"
    legend[TK1_CODES.index("GioiTinh")] = "Nam:1\nNữ: 0"
    ws.append(legend)
    ws.append(TK1_CAPTIONS)
    ws.append(TK1_CODES)
    truth: Truth = []
    for n, r in enumerate(declarants, 1):
        commune = COMMUNES[r.commune][0]
        ws.append([n, r.full_name, r.social_insurance_code, 1, rng.choice(["TM", "ON", "DC"]),
                   "01/03/2025", 1105000, "Tỉnh Thanh Hóa", "38", "Huyện Mường Lát", "384",
                   f"Xã {commune}", r.commune, r.village, _birth_or_year(rng, r), _sex_code(r),
                   "VN", r.ethnicity, r.personal_id or "", r.household, "P1"])
        truth.append((path.name, f"Dữ Liệu!{ws.max_row}", r.resident_id))
    _formula_rows(ws, formula_rows, len(TK1_CODES), {7: "Tỉnh Thanh Hóa", 9: "Huyện Mường Lát"})

    members_ws = wb.create_sheet("Phụ lục")
    members_ws.append(["THÔNG TIN THÀNH VIÊN HỘ GIA ĐÌNH"])
    members_ws.append(["ID Lao động", "Họ tên thành viên", "Mã số BHXH", "Ngày sinh", "Giới tính"])
    members_ws.append(MEMBER_CODES)
    for n, r in enumerate(members, 1):
        head = r.head or r
        members_ws.append([n, r.full_name, r.social_insurance_code or "",
                           _birth_or_year(rng, r), _sex_code(r), "Tỉnh Thanh Hóa", "38", r.village,
                           r.relation, "00" if r.head is None else "08", "", 1, "Tỉnh Thanh Hóa",
                           "38", "Huyện Mường Lát", "384", f"Xã {COMMUNES[r.commune][0]}",
                           r.commune, head.household, r.village])
        truth.append((path.name, f"Phụ lục!{members_ws.max_row}", r.resident_id))
    _formula_rows(members_ws, formula_rows, len(MEMBER_CODES), {5: "Tỉnh Thanh Hóa"})

    for name, header, rows in (
            ("Dân tộc", ["Tên dân tộc", "Mã dân tộc", "Tên khác"],
             [["Kinh", "01", "Việt"], ["Thái", "03", "Tày Khao"], ["Mông", "08", "Mèo, H'Mông"]]),
            ("Tinh", ["TÊN TỈNH", "MÃ TỈNH"], [["Tỉnh Thanh Hóa", "38"], ["Tỉnh Sơn La", "14"]]),
            ("Xa", ["Tên xã", "Mã xã", "Mã quận huyện"],
             [[f"Xã {v[0]}", k, "384"] for k, v in sorted(COMMUNES.items())]),
            ("Mức hưởng BHYT", ["Mã", "Diễn giải"], [[1, "Được quỹ BHYT thanh toán 100%"]])):
        sheet = wb.create_sheet(name)
        sheet.append([f"DANH MỤC {name.upper()}"])
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    wb.save(path)
    return truth


MARK_HEADERS = ["STT", "SOBHXH", "HOTEN", "NGAYSINH", "NAMSINH", "GIOITINH", "SOCMND", "DANTOC",
                "DIACHI", "TINH_HK", "HUYEN_HK", "XA_HK", "MA_BV", "SDT"]


def write_marked_list(path: Path, residents: list[Resident], rng: random.Random) -> Truth:
    """The software import sheet of form D03-TS: field-code headers, GIOITINH holding an "X" for
    women only, NAMSINH marked when only the birth year is known (NGAYSINH then carries a
    placeholder day), and the filling instructions as rows under the table."""
    wb = Workbook()
    ws = wb.active
    ws.title = "import"
    ws.append(MARK_HEADERS)
    truth: Truth = []
    for n, r in enumerate(residents, 1):
        birth = f"01/01/{r.birth.year}" if r.year_only else birth_text(rng, r, style="dmy")
        ws.append([n, r.social_insurance_code, r.full_name.upper(), birth,
                   "x" if r.year_only else None, "X" if r.sex == "F" else None,
                   "", r.ethnicity, r.village, "38", "384", r.commune, _facility(r), ""])
        truth.append((path.name, f"import!{ws.max_row}", r.resident_id))
    ws.append([])
    for note in ("NAMSINH : DANH DAU X NEU CHI CO NAM SINH",
                 "GIOITINH: DANH DAU X NEU LA NU",
                 "TINH_HK; HUYEN_HK; XA_HK : MA DON VI HANH CHINH NOI DANG KY HO KHAU"):
        ws.append([note])
    wb.save(path)
    return truth
