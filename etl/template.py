"""Clean workbook templates (``hssk template``) for schools and stations that start fresh.

Headers are the mapping's own first synonyms, so a filled template always loads; sex and health
class are dropdowns, date columns only accept dates, and an instructions sheet says how to fill
it in (and that the old TCVN3 fonts must not be used). A use case built from the mappings, not
an extractor, so it sits beside the pipeline.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from etl.errors import UsageError
from etl.extract.mapping import builtin_mappings

# Fields per kind a template offers, in order (identity first).
TEMPLATE_FIELDS = {
    "school-exam": ["full_name", "birth_date", "sex", "ethnicity", "personal_id", "height",
                    "weight", "blood_pressure", "pulse", "vision_right", "vision_left", "dental",
                    "spine", "health_class", "exam_date", "notes"],
    "adult-exam": ["full_name", "birth_date", "sex", "personal_id", "occupation", "exam_date",
                   "height", "weight", "waist", "pulse", "blood_pressure", "vision_right",
                   "vision_left", "cardiovascular", "respiratory", "digestive", "health_class",
                   "notes"],
    "immunization": ["full_name", "birth_date", "sex", "mother_name", "permanent_address",
                     "personal_id", "vaccine", "dose_number", "given_on", "facility", "reaction"],
    "registry": ["personal_id", "full_name", "birth_date", "sex", "ethnicity", "religion",
                 "nationality", "permanent_address", "current_address", "household_head",
                 "relation_to_head", "phone"],
    "insurance": ["full_name", "social_insurance_code", "birth_date", "sex", "id_document",
                  "insurance_card", "registered_facility", "permanent_address"],
}
DATE_FIELDS = {"birth_date", "exam_date", "given_on"}
CHOICES = {"sex": ["Nam", "Nữ"], "health_class": ["Loại I", "Loại II", "Loại III", "Loại IV",
                                                  "Loại V"]}
ROWS = 500
INSTRUCTIONS = [
    "Hướng dẫn nhập liệu / How to fill in this template",
    "",
    "1. Nhập mỗi người một dòng, bắt đầu từ dòng 2 của trang dữ liệu. Không đổi tên cột.",
    "   One person (or one dose) per row from row 2; do not rename the columns.",
    "2. Dùng phông Unicode (Times New Roman, Arial). Không dùng .VnTime (TCVN3) hay VNI-Times.",
    "   Type in a Unicode font; never the old .VnTime (TCVN3) or VNI fonts.",
    "3. Ngày: chọn ô và nhập dd/mm/yyyy. Nếu chỉ biết năm sinh, nhập năm (ví dụ 1962).",
    "   Dates as dd/mm/yyyy; when only the birth year is known, type the year alone.",
    "4. Giới tính và phân loại sức khỏe: chọn trong danh sách.",
    "   Sex and health class: pick from the dropdown.",
    "5. Mã định danh cá nhân: 12 chữ số, nhập dạng văn bản (giữ số 0 đầu).",
    "   Personal ID number: 12 digits, kept as text so the leading 0 survives.",
    "6. Chiều cao theo cm, cân nặng theo kg, huyết áp dạng 110/70, thị lực dạng 10/10.",
    "   Height in cm, weight in kg, blood pressure as 110/70, vision as 10/10.",
]


def write_template(kind: str, out: Path) -> Path:
    mappings = builtin_mappings()
    if kind not in TEMPLATE_FIELDS or kind not in mappings:
        raise UsageError(f"no template for {kind!r}; choose one of "
                         f"{', '.join(sorted(TEMPLATE_FIELDS))}")
    mapping = mappings[kind]
    fields = [f for f in TEMPLATE_FIELDS[kind] if f in mapping.fields]
    wb = Workbook()
    ws = wb.active
    ws.title = "Dữ liệu"
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for col, name in enumerate(fields, 1):
        cell = ws.cell(row=1, column=col, value=mapping.fields[name][0])
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        letter = cell.column_letter
        ws.column_dimensions[letter].width = max(12, len(mapping.fields[name][0]) + 4)
        span = f"{letter}2:{letter}{ROWS + 1}"
        if name in CHOICES:
            dv = DataValidation(type="list", formula1='"' + ",".join(CHOICES[name]) + '"',
                                allow_blank=True, showErrorMessage=True,
                                errorTitle="Giá trị không hợp lệ",
                                error="Chọn trong danh sách / pick from the list")
            ws.add_data_validation(dv)
            dv.add(span)
        elif name in DATE_FIELDS:
            for row in range(2, ROWS + 2):
                ws.cell(row=row, column=col).number_format = "DD/MM/YYYY"
        elif name in ("personal_id", "social_insurance_code", "insurance_card", "id_document"):
            for row in range(2, ROWS + 2):
                ws.cell(row=row, column=col).number_format = "@"
    ws.freeze_panes = "A2"
    guide = wb.create_sheet("Hướng dẫn")
    for line in INSTRUCTIONS:
        guide.append([line])
    guide.column_dimensions["A"].width = 100
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out
