"""Clinic exports for insurance assessment (GIAMDINHHS XML, QĐ 4210 and QĐ 130 layouts).

One file per facility and month. Newer software writes the 130 layout with base64 inner tables;
older software the 4210 layout, some with plain (escaped) inner XML. Names are often upper case
without diacritics ("GIANG A PAO"), birth dates of year-only people come as yyyy0000.

That default output is this project's own plain style and does not change. Real hospital
systems write more ways, chosen with an :class:`ExportStyle` (``style=`` of :func:`episode`
and :func:`write_clinic`; "random" picks one per file):

* ``compact``: no BOM, inner tables on one line without ``<?xml?>``, empty elements
  self-closing, inner XML1/XML2 declaring ``xmlns:xsi`` with a malformed URI (a space where
  the hyphen belongs), MA_BN like ``PC0226…``;
* ``file-name``: one episode per file named ``QD130_<CSKCB>_<YYYYMM>_<stamp>_<MA_BN>.xml``,
  an outer UTF-8 BOM, inner XML1/XML4/XML5 with ``<?xml?>`` and one element per line, XML2
  and XML3 indented with CRLF, free text in CDATA (empty ones as ``<![CDATA[]]>``), MA_BN
  like ``PC-0226…``.

Both write births as 12 digits ``yyyymmdd0000`` and year-only births as ``yyyy01010000``,
addresses with an empty segment (``,,``), ``;`` lists (MA_BENH_KT, MA_BAC_SI,
NGUOI_THUC_HIEN), a multi-line CHAN_DOAN_RV, XML4 names with leading spaces, money as
``410000`` and ``252300.00``, full XML2 drug and XML3 service/supply rows, and with
``post_2025`` the two-level codes of July 2025 (MATINH/MAXA new, MAHUYEN empty).
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from etl import reference
from etl.synth.noise import name_variant, strip_marks
from etl.synth.population import Resident, place

FACILITIES = {  # code: (name, layout, inner encoding, communes served)
    "38150": ("Trung tâm Y tế huyện Mường Lát", "130", "base64", None),
    "38151": ("Trạm Y tế xã Pù Nhi", "4210", "plain", {"14863", "14864"}),
    "38152": ("Trạm Y tế xã Trung Lý", "130", "base64", {"14857", "14854"}),
    "38153": ("Trạm Y tế xã Mường Chanh", "4210", "base64", {"14866", "14860", "14848"}),
}
DIAGNOSES = [("J06.9", "Nhiễm trùng hô hấp trên cấp"), ("K29.7", "Viêm dạ dày"),
             ("I10", "Tăng huyết áp vô căn"), ("E11.9", "Đái tháo đường týp 2"),
             ("A09", "Tiêu chảy"), ("J18.9", "Viêm phổi"), ("M54.5", "Đau thắt lưng"),
             ("B54", "Sốt rét"), ("O80", "Đẻ thường"), ("Z00.0", "Khám sức khỏe")]
LABS = [("GLU", "Glucose", "mmol/L", (4.0, 9.0)), ("HGB", "Hemoglobin", "g/L", (100, 150)),
        ("WBC", "Bạch cầu", "G/L", (4.0, 12.0)), ("CRE", "Creatinin", "µmol/L", (50, 120))]


BAD_XSI = ('xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema instance"')  # sic: a space, not "-"
ENVELOPE_NS = ('xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
               'xmlns:xsd="http://www.w3.org/2001/XMLSchema"')
DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


@dataclass(frozen=True)
class ExportStyle:
    """How one hospital system writes its export (see the module docstring)."""

    name: str
    bom: bool = False  # UTF-8 byte-order mark before the envelope
    cdata: bool = False  # free text in CDATA, empty free text as <![CDATA[]]>
    self_closing: bool = False  # empty elements as <TAG/>
    malformed_xsi: tuple[str, ...] = ()  # inner tables whose root declares BAD_XSI
    declared: tuple[str, ...] = ()  # inner tables starting with <?xml?>, one element per line
    crlf_indented: tuple[str, ...] = ()  # inner tables indented two spaces, CRLF line ends
    patient_prefix: str = "PC"  # MA_BN = prefix + the digits of the facility's patient number
    one_file_per_episode: bool = False


STYLES = {
    "compact": ExportStyle("compact", self_closing=True, malformed_xsi=("XML1", "XML2"),
                           patient_prefix="PC"),
    "file-name": ExportStyle("file-name", bom=True, cdata=True,
                             declared=("XML1", "XML4", "XML5"), crlf_indented=("XML2", "XML3"),
                             patient_prefix="PC-", one_file_per_episode=True),
}
# Free-text fields: written in CDATA by the file-name style.
TEXT_FIELDS = {"HO_TEN", "DIA_CHI", "LY_DO_VV", "PP_DIEU_TRI", "GHI_CHU", "TEN_THUOC",
               "HAM_LUONG", "LIEU_DUNG", "CACH_DUNG", "TEN_DICH_VU", "TEN_VAT_TU", "MO_TA",
               "KET_LUAN", "DIEN_BIEN_LS", "HOI_CHAN", "PHAU_THUAT"}
# Synthetic catalogues (codes shaped like the national lists, not taken from any export).
DRUGS = [  # code, name, strength, unit, route, unit price (đồng), dosage per day
    ("40.17", "Paracetamol", "500mg", "Viên", "1.01", 500, 3),
    ("40.155", "Amoxicilin", "500mg", "Viên", "1.01", 1200, 2),
    ("40.591", "Metformin", "850mg", "Viên", "1.01", 950, 2),
    ("40.489", "Amlodipin", "5mg", "Viên", "1.01", 420, 1),
    ("40.677", "Omeprazol", "20mg", "Viên", "1.01", 610, 1),
    ("40.999", "Oresol", "27,9g", "Gói", "1.01", 2300, 2),
    ("40.1023", "Vitamin B1", "100mg", "Viên", "1.01", 150, 1),
    ("40.88", "Natri clorid 0,9%", "500ml", "Chai", "2.15", 9800, 1),
]
SERVICES = [  # code, name, cost group (MA_NHOM), unit, price (đồng), has a result
    ("02.1896", "Khám Nội", "13", "Lần", 38700, False),
    ("22.0120.1370", "Tổng phân tích tế bào máu ngoại vi", "1", "Lần", 46200, True),
    ("23.0075.1494", "Định lượng Glucose [Máu]", "1", "Lần", 21500, True),
    ("23.0051.1494", "Định lượng Creatinin (máu)", "1", "Lần", 21500, True),
    ("18.0015.0001", "Siêu âm ổ bụng", "2", "Lần", 43900, True),
    ("21.0014.1778", "Điện tim thường", "3", "Lần", 32800, True),
]
BED = ("K01.NO1", "Giường Nội khoa loại 1", "15", "Ngày", 245000)
SUPPLIES = [("N03.02.070", "Bơm tiêm nhựa 5ml", "Cái", 900),
            ("N03.05.010", "Kim luồn tĩnh mạch", "Cái", 9500)]


def _el(tag: str, value: object) -> str:
    return f"<{tag}>{escape('' if value is None else str(value))}</{tag}>"


def _birth(r: Resident, layout: str) -> str:
    b = r.birth
    core = f"{b.year}0000" if r.year_only else b.strftime("%Y%m%d")
    return core + ("0000" if layout == "130" else "")


def xml1(r: Resident, ma_lk: str, facility: str, layout: str, visit: dt.datetime,
         rng: random.Random, card: str | None) -> str:
    fields = _xml1_fields(r, ma_lk, facility, layout, visit, rng, card)
    return "<TONG_HOP>" + "".join(_el(k, v) for k, v in fields) + "</TONG_HOP>"


def _xml1_fields(r: Resident, ma_lk: str, facility: str, layout: str, visit: dt.datetime,
                 rng: random.Random, card: str | None) -> list[tuple[str, object]]:
    name = name_variant(rng, r, typo_rate=0.03, drop_middle_rate=0.1)
    name = strip_marks(name) if rng.random() < 0.6 else name.upper()
    icd, label = rng.choice(DIAGNOSES)
    extra = rng.sample([d[0] for d in DIAGNOSES if d[0] != icd], rng.randint(0, 2))
    out_day = visit + dt.timedelta(days=rng.randint(0, 5), hours=rng.randint(1, 8))
    when, until = visit.strftime("%Y%m%d%H%M"), out_day.strftime("%Y%m%d%H%M")
    fields = [("MA_LK", ma_lk), ("STT", 1), ("MA_BN", r.facility_ids[facility]),
              ("HO_TEN", name)]
    if layout == "130":
        pid = r.personal_id if r.personal_id and rng.random() < 0.5 else ""
        fields += [("SO_CCCD", pid), ("NGAY_SINH", _birth(r, layout)),
                   ("GIOI_TINH", 1 if r.sex == "M" else 2), ("MA_QUOCTICH", "000"),
                   ("MA_DANTOC", r.ethnicity), ("MA_NGHE_NGHIEP", "00000"),
                   ("DIA_CHI", f"{r.village}, {place(r.commune).name}, Mường Lát"),
                   ("MATINH_CU_TRU", "38"), ("MAHUYEN_CU_TRU", "384"),
                   ("MAXA_CU_TRU", r.commune), ("DIEN_THOAI", r.phone or ""),
                   ("MA_THE_BHYT", card or ""), ("MA_DKBD", facility),
                   ("GT_THE_TU", "20250101"), ("GT_THE_DEN", "20251231"),
                   ("CHAN_DOAN_VAO", label), ("CHAN_DOAN_RV", label),
                   ("MA_BENH_CHINH", icd.replace(".", "") if rng.random() < 0.5 else icd),
                   ("MA_BENH_KT", ";".join(extra))]
    else:
        fields += [("NGAY_SINH", _birth(r, layout)), ("GIOI_TINH", 1 if r.sex == "M" else 2),
                   ("DIA_CHI", f"{r.village}, {place(r.commune).name}"),
                   ("MA_THE", card or ""), ("MA_DKBD", facility),
                   ("GT_THE_TU", "20250101"), ("GT_THE_DEN", "20251231"),
                   ("TEN_BENH", label), ("MA_BENH", icd.replace(".", "")),
                   ("MA_BENHKHAC", ";".join(e.replace(".", "") for e in extra))]
    weight = round(max(3.0, 8 + min(r.age(visit.date()), 20) * 2.2 + rng.gauss(0, 4)), 1)
    fields += [("MA_DOITUONG_KCB", "1.1"), ("NGAY_VAO", when), ("NGAY_RA", until),
               ("SO_NGAY_DTRI", (out_day.date() - visit.date()).days),
               ("KET_QUA_DTRI", 1), ("MA_LOAI_RV", 1),
               ("MA_LOAI_KCB", rng.choice(["01", "01", "03"])), ("MA_KHOA", "K01"),
               ("MA_CSKCB", facility), ("CAN_NANG", weight if rng.random() < 0.8 else "")]
    return fields


def xml4(ma_lk: str, visit: dt.datetime, rng: random.Random) -> str:
    rows = []
    for n, (code, label, unit, (low, high)) in enumerate(rng.sample(LABS, rng.randint(1, 3)), 1):
        value = round(rng.uniform(low * 0.8, high * 1.3), 1)
        rows.append("<CHI_TIET_CLS>" + "".join(_el(k, v) for k, v in [
            ("MA_LK", ma_lk), ("STT", n), ("MA_DICH_VU", f"23.{n:04d}"), ("MA_CHI_SO", code),
            ("TEN_CHI_SO", label), ("GIA_TRI", value), ("DON_VI_DO", unit), ("MO_TA", ""),
            ("KET_LUAN", "Bình thường" if low <= value <= high else "Bất thường"),
            ("NGAY_KQ", visit.strftime("%Y%m%d%H%M")), ("MA_BS_DOC_KQ", "BS001")]) +
            "</CHI_TIET_CLS>")
    return ("<CHITIEU_CHITIET_DICHVUCANLAMSANG><DSACH_CHI_TIET_CLS>" + "".join(rows) +
            "</DSACH_CHI_TIET_CLS></CHITIEU_CHITIET_DICHVUCANLAMSANG>")


def xml5(ma_lk: str, visit: dt.datetime, rng: random.Random) -> str:
    systolic = rng.randint(95, 165)
    text = rng.choice([
        f"Mạch: {rng.randint(60, 110)} lần/phút, Nhiệt độ {rng.choice([36.5, 37, 37.5, 38.2])}°C, "
        f"Huyết áp {systolic}/{systolic - rng.randint(30, 50)} mmHg",
        f"Bệnh nhân tỉnh. M: {rng.randint(60, 110)} l/p; HA: {systolic}/{systolic - 40} mmHg; "
        f"NĐ: {rng.choice(['36,8', '37,2', '39'])} độ C; Nhịp thở {rng.randint(16, 24)} lần/phút",
    ])
    return ("<CHITIEU_CHITIET_DIENBIENLAMSANG><DSACH_CHI_TIET_DIEN_BIEN_BENH>"
            "<CHI_TIET_DIEN_BIEN_BENH>" + "".join(_el(k, v) for k, v in [
                ("MA_LK", ma_lk), ("STT", 1), ("DIEN_BIEN_LS", text), ("GIAI_DOAN_BENH", ""),
                ("HOI_CHAN", ""), ("PHAU_THUAT", ""),
                ("THOI_DIEM_DBLS", visit.strftime("%Y%m%d%H%M")), ("NGUOI_THUC_HIEN", "BS001")])
            + "</CHI_TIET_DIEN_BIEN_BENH></DSACH_CHI_TIET_DIEN_BIEN_BENH>"
              "</CHITIEU_CHITIET_DIENBIENLAMSANG>")


def xml2(ma_lk: str, rng: random.Random, drugs: int) -> str:
    rows = "".join(
        "<CHI_TIET_THUOC>" + _el("MA_LK", ma_lk) + _el("STT", n) + _el("MA_THUOC", f"40.{n}")
        + _el("TEN_THUOC", "Paracetamol 500mg") + _el("SO_LUONG", rng.randint(5, 30))
        + _el("DON_GIA", 500) + "</CHI_TIET_THUOC>" for n in range(1, drugs + 1))
    return ("<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC>" + rows +
            "</DSACH_CHI_TIET_THUOC></CHITIEU_CHITIET_THUOC>")


def filehoso(kind: str, inner: str, encoding: str) -> str:
    if encoding == "base64":
        content = base64.b64encode(inner.encode("utf-8")).decode("ascii")
    else:
        content = escape(inner)
    return f"<FILEHOSO><LOAIHOSO>{kind}</LOAIHOSO><NOIDUNGFILE>{content}</NOIDUNGFILE></FILEHOSO>"


def episode(r: Resident, ma_lk: str, facility: str, visit: dt.datetime, rng: random.Random,
            drugs: int = 3, style: ExportStyle | str | None = None,
            post_2025: bool = False) -> str:
    """One HOSO. ``style`` (an :class:`ExportStyle` or a name in ``STYLES``) writes it as that
    hospital system would, with full drug and service rows; ``None`` is the plain default."""
    _, layout, encoding, _ = FACILITIES[facility]
    card = f"{r.card_group}{r.card_level}38{r.social_insurance_code}" \
        if r.social_insurance_code else None
    if style is not None:
        style = STYLES[style] if isinstance(style, str) else style
        return _styled_episode(r, ma_lk, facility, layout, encoding, visit, rng, card, drugs,
                               style, post_2025)
    parts = [filehoso("XML1", xml1(r, ma_lk, facility, layout, visit, rng, card), encoding),
             filehoso("XML2", xml2(ma_lk, rng, drugs), encoding)]
    if rng.random() < 0.5:
        parts.append(filehoso("XML4", xml4(ma_lk, visit, rng), encoding))
    if rng.random() < 0.7:
        parts.append(filehoso("XML5", xml5(ma_lk, visit, rng), encoding))
    return "<HOSO>" + "".join(parts) + "</HOSO>"


# --- real export styles ---------------------------------------------------------------------

def _node(tag: str, value: object, style: ExportStyle) -> str:
    text = "" if value is None else str(value)
    if style.cdata and tag in TEXT_FIELDS:
        return f"<{tag}><![CDATA[{text}]]></{tag}>"
    if not text and style.self_closing:
        return f"<{tag}/>"
    return f"<{tag}>{escape(text)}</{tag}>"


def inner_table(kind: str, style: ExportStyle, root: str, *,
                fields: list[tuple[str, object]] | None = None, list_tag: str = "",
                row_tag: str = "", rows: list[list[tuple[str, object]]] | None = None) -> str:
    """An inner table as ``style`` lays it out: XML1's fields, or a list of rows."""
    attrs = f" {BAD_XSI}" if kind in style.malformed_xsi else ""
    if kind in style.crlf_indented:
        nl, step = "\r\n", "  "
    elif kind in style.declared:
        nl, step = "\n", ""
    else:
        nl, step = "", ""

    def leaves(pairs: list[tuple[str, object]], depth: int) -> str:
        return "".join(step * depth + _node(k, v, style) + nl for k, v in pairs)

    out = [DECLARATION + "\n" if kind in style.declared else "", f"<{root}{attrs}>{nl}"]
    if fields is not None:
        out.append(leaves(fields, 1))
    else:
        out.append(f"{step}<{list_tag}>{nl}")
        for row in rows or []:
            out.append(f"{step * 2}<{row_tag}>{nl}{leaves(row, 3)}{step * 2}</{row_tag}>{nl}")
        out.append(f"{step}</{list_tag}>{nl}")
    out.append(f"</{root}>")
    return "".join(out)


def patient_number(r: Resident, facility: str, style: ExportStyle) -> str:
    """MA_BN as the style writes it: the same digits behind "PC-" or "PC"."""
    return style.patient_prefix + "".join(c for c in r.facility_ids[facility] if c.isdigit())


def _practitioner(rng: random.Random) -> str:
    return f"{rng.randint(1, 999999):06d}/TH-CCHN"


def _money(rng: random.Random, amount: float) -> str:
    """Money as exports write it: "410000" or "252300.00"."""
    return f"{amount:.2f}" if rng.random() < 0.5 else str(round(amount))


def _real_xml1(fields: list[tuple[str, object]], r: Resident, facility: str, layout: str,
               rng: random.Random, style: ExportStyle, post_2025: bool) -> list[tuple[str, object]]:
    values = dict(fields)
    commune = next(c for c in reference.communes() if c["code"] == r.commune)
    province = reference.provinces()[commune["province_code"]]
    values["MA_BN"] = patient_number(r, facility, style)
    b = r.birth
    values["NGAY_SINH"] = (f"{b.year}0101" if r.year_only else b.strftime("%Y%m%d")) + \
        ("0000" if layout == "130" else "")
    if post_2025:  # two-level units from July 2025: no district, new province and commune codes
        values["DIA_CHI"] = (f"{r.village},{commune['type_2025'].capitalize()} "
                             f"{commune['name_2025']},,Tỉnh {province['name_2025']}")
    else:
        values["DIA_CHI"] = (f"{r.village},{commune['type'].capitalize()} {commune['name']},"
                             f"Huyện {commune['district_name']},Tỉnh {province['name']}")
    if layout == "130":
        if post_2025:
            values.update(MATINH_CU_TRU=province["code_2025"], MAHUYEN_CU_TRU="",
                          MAXA_CU_TRU=commune["code_2025"])
        labels = dict(DIAGNOSES)
        codes = [values["MA_BENH_CHINH"], *filter(None, str(values["MA_BENH_KT"]).split(";"))]
        named = [(c, next((v for k, v in labels.items() if k.replace(".", "") ==
                           str(c).replace(".", "")), "Bệnh khác")) for c in codes]
        values["CHAN_DOAN_VAO"] = "; ".join(f"({c}) {label}" for c, label in named)
        values["CHAN_DOAN_RV"] = "".join(f"-{label.upper()}.\n" for _, label in named)
    out = [(k, values[k]) for k, _ in fields]
    if layout == "130":
        at = [k for k, _ in out].index("GIOI_TINH") + 1
        out[at:at] = [("NHOM_MAU", "")]
    out += [("LY_DO_VV", rng.choice(["Sốt", "Ho, sổ mũi", "Đau bụng", "Khám định kỳ"])),
            ("PP_DIEU_TRI", ""), ("GHI_CHU", ""), ("MA_KHUVUC", ""),
            ("MA_TTDV", _practitioner(rng))]
    return out


def _drug_rows(ma_lk: str, layout: str, visit: dt.datetime, rng: random.Random,
               drugs: int) -> list[list[tuple[str, object]]]:
    rows = []
    doctor = _practitioner(rng)
    for n in range(1, drugs + 1):
        code, name, strength, unit, route, price, per_day = rng.choice(DRUGS)
        days = rng.choice([3, 5, 7, 14])
        quantity = per_day * days
        ordered = visit + dt.timedelta(minutes=rng.randint(10, 90))
        amount = _money(rng, price * quantity)
        dosage = f"Ngày dùng {per_day} lần, mỗi lần 1 {unit.lower()}"
        if layout == "130":
            rows.append([
                ("MA_LK", ma_lk), ("STT", n), ("MA_THUOC", code), ("MA_PP_CHEBIEN", ""),
                ("MA_CSKCB_THUOC", ""), ("MA_NHOM", 4), ("TEN_THUOC", name),
                ("DON_VI_TINH", unit), ("HAM_LUONG", strength), ("DUONG_DUNG", route),
                ("DANG_BAO_CHE", ""), ("LIEU_DUNG", dosage),
                ("CACH_DUNG", rng.choice(["", " Sáng: 1, Chiều: 1 (sau ăn)", "Uống sau ăn"])),
                ("SO_DANG_KY", f"VD-{rng.randint(10000, 99999)}-{rng.randint(15, 24)}"),
                ("PHAM_VI", 1), ("TYLE_TT_BH", 100),
                ("SO_LUONG", rng.choice([str(quantity), f"{quantity}.000"])),
                ("DON_GIA", price), ("THANH_TIEN_BV", amount), ("THANH_TIEN_BH", amount),
                ("MUC_HUONG", 80), ("MA_KHOA", "K01"), ("MA_BAC_SI", doctor),
                ("MA_DICH_VU", ""), ("NGAY_YL", ordered.strftime("%Y%m%d%H%M")),
                ("NGAY_TH_YL", (ordered + dt.timedelta(minutes=15)).strftime("%Y%m%d%H%M")),
                ("MA_PTTT", 1), ("NGUON_CTRA", 1), ("DU_PHONG", "")])
        else:
            rows.append([
                ("MA_LK", ma_lk), ("STT", n), ("MA_THUOC", code), ("MA_NHOM", 4),
                ("TEN_THUOC", name), ("DON_VI_TINH", unit), ("HAM_LUONG", strength),
                ("DUONG_DUNG", route), ("LIEU_DUNG", dosage), ("SO_DANG_KY", ""),
                ("TT_THAU", ""), ("PHAM_VI", 1), ("TYLE_TT", 100), ("SO_LUONG", quantity),
                ("DON_GIA", price), ("THANH_TIEN", amount), ("MUC_HUONG", 80),
                ("MA_KHOA", "K01"), ("MA_BAC_SI", doctor), ("MA_BENH", ""),
                ("NGAY_YL", ordered.strftime("%Y%m%d%H%M")), ("MA_PTTT", 1)])
    return rows


def _service_rows(ma_lk: str, layout: str, visit: dt.datetime, rng: random.Random,
                  days: int) -> list[list[tuple[str, object]]]:
    chosen = [SERVICES[0], *rng.sample(SERVICES[1:], rng.randint(0, 3))]
    doctors = [_practitioner(rng) for _ in range(2)]
    items: list[tuple[str, str, str, str, str, float, dt.datetime, dt.datetime | None]] = []
    for code, name, group, unit, price, result in chosen:
        ordered = visit + dt.timedelta(minutes=rng.randint(0, 60))
        done = ordered + dt.timedelta(minutes=rng.randint(5, 40)) if result else None
        items.append((code, name, group, unit, "", price, ordered, done))
    for day in range(days):  # inpatient bed days
        code, name, group, unit, price = BED
        start = visit.replace(hour=8, minute=0) + dt.timedelta(days=day)
        items.append((code, name, group, unit, "", price, start, start + dt.timedelta(days=1)))
    if rng.random() < 0.4:
        code, name, unit, price = rng.choice(SUPPLIES)
        items.append((code, name, "10", unit, "supply", price, visit, None))
    rows = []
    for n, (code, name, group, unit, kind, price, ordered, done) in enumerate(items, 1):
        quantity = rng.randint(1, 3) if kind else 1
        amount = _money(rng, price * quantity)
        team = ";".join(doctors) if group in ("1", "2") else doctors[0]
        service = [("MA_DICH_VU", ""), ("TEN_DICH_VU", "")] if kind else \
            [("MA_DICH_VU", code), ("TEN_DICH_VU", name)]
        supply = [("MA_VAT_TU", code), ("TEN_VAT_TU", name)] if kind else \
            [("MA_VAT_TU", ""), ("TEN_VAT_TU", "")]
        when = ordered.strftime("%Y%m%d%H%M")
        result = done.strftime("%Y%m%d%H%M") if done else ""
        if layout == "130":
            rows.append([
                ("MA_LK", ma_lk), ("STT", n), service[0], service[1], supply[0], supply[1],
                ("MA_NHOM", group), ("GOI_VTYT", ""), ("DON_VI_TINH", unit), ("PHAM_VI", 1),
                ("SO_LUONG", quantity), ("DON_GIA_BV", price), ("DON_GIA_BH", price),
                ("TYLE_TT_DV", 100), ("TYLE_TT_BH", 100), ("THANH_TIEN_BV", amount),
                ("THANH_TIEN_BH", amount), ("MUC_HUONG", 80), ("MA_KHOA", "K01"),
                ("MA_GIUONG", "H001" if group == "15" else ""), ("MA_BAC_SI", team),
                ("NGUOI_THUC_HIEN", team if not kind else ""), ("MA_BENH", ""),
                ("NGAY_YL", when), ("NGAY_TH_YL", when if not kind else ""),
                ("NGAY_KQ", result), ("MA_PTTT", 1), ("PP_VO_CAM", ""), ("MA_MAY", ""),
                ("DU_PHONG", "")])
        else:
            rows.append([
                ("MA_LK", ma_lk), ("STT", n), service[0], supply[0], ("MA_NHOM", group),
                ("GOI_VTYT", ""), supply[1], service[1], ("DON_VI_TINH", unit),
                ("PHAM_VI", 1), ("SO_LUONG", quantity), ("DON_GIA", price), ("TT_THAU", ""),
                ("TYLE_TT", 100), ("THANH_TIEN", amount), ("MUC_HUONG", 80),
                ("MA_KHOA", "K01"), ("MA_GIUONG", "H001" if group == "15" else ""),
                ("MA_BAC_SI", team), ("MA_BENH", ""), ("NGAY_YL", when), ("NGAY_KQ", result),
                ("MA_PTTT", 1)])
    return rows


def _lab_rows(ma_lk: str, visit: dt.datetime, rng: random.Random) -> list[list[tuple[str, object]]]:
    rows = []
    for n, (code, label, unit, (low, high)) in enumerate(rng.sample(LABS, rng.randint(1, 3)), 1):
        value = round(rng.uniform(low * 0.8, high * 1.3), 1)
        rows.append([
            ("MA_LK", ma_lk), ("STT", n), ("MA_DICH_VU", f"23.{n:04d}"), ("MA_CHI_SO", code),
            ("TEN_CHI_SO", "  " + label), ("GIA_TRI", value), ("DON_VI_DO", unit),
            ("MO_TA", ""), ("KET_LUAN", "Bình thường" if low <= value <= high else "Bất thường"),
            ("NGAY_KQ", visit.strftime("%Y%m%d%H%M")), ("MA_BS_DOC_KQ", _practitioner(rng))])
    return rows


def _styled_episode(r: Resident, ma_lk: str, facility: str, layout: str, encoding: str,
                    visit: dt.datetime, rng: random.Random, card: str | None, drugs: int,
                    style: ExportStyle, post_2025: bool) -> str:
    fields = _real_xml1(_xml1_fields(r, ma_lk, facility, layout, visit, rng, card), r,
                        facility, layout, rng, style, post_2025)
    days = int(dict(fields)["SO_NGAY_DTRI"]) if dict(fields)["MA_LOAI_KCB"] == "03" else 0
    tables = [
        ("XML1", inner_table("XML1", style, "TONG_HOP", fields=fields)),
        ("XML2", inner_table("XML2", style, "CHITIEU_CHITIET_THUOC",
                             list_tag="DSACH_CHI_TIET_THUOC", row_tag="CHI_TIET_THUOC",
                             rows=_drug_rows(ma_lk, layout, visit, rng, drugs))),
        ("XML3", inner_table("XML3", style, "CHITIEU_CHITIET_DVKT_VTYT",
                             list_tag="DSACH_CHI_TIET_DVKT", row_tag="CHI_TIET_DVKT",
                             rows=_service_rows(ma_lk, layout, visit, rng, days)))]
    if rng.random() < 0.5:
        tables.append(("XML4", inner_table(
            "XML4", style, "CHITIEU_CHITIET_DICHVUCANLAMSANG", list_tag="DSACH_CHI_TIET_CLS",
            row_tag="CHI_TIET_CLS", rows=_lab_rows(ma_lk, visit, rng))))
    if rng.random() < 0.7:
        note = xml5(ma_lk, visit, rng)
        text = note.split("<DIEN_BIEN_LS>")[1].split("</DIEN_BIEN_LS>")[0]
        tables.append(("XML5", inner_table(
            "XML5", style, "CHITIEU_CHITIET_DIENBIENLAMSANG",
            list_tag="DSACH_CHI_TIET_DIEN_BIEN_BENH", row_tag="CHI_TIET_DIEN_BIEN_BENH",
            rows=[[("MA_LK", ma_lk), ("STT", 1), ("DIEN_BIEN_LS", _unescape(text)),
                   ("GIAI_DOAN_BENH", ""), ("HOI_CHAN", ""), ("PHAU_THUAT", ""),
                   ("THOI_DIEM_DBLS", visit.strftime("%Y%m%d%H%M")),
                   ("NGUOI_THUC_HIEN", _practitioner(rng))]])))
    return "<HOSO>" + "".join(filehoso(kind, inner, encoding) for kind, inner in tables) + \
        "</HOSO>"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def envelope(facility: str, episodes: list[str], style: ExportStyle | str | None = None,
             made: str = "20250630") -> bytes:
    """A whole GIAMDINHHS file as bytes: the outer envelope around ``episodes`` (HOSO)."""
    style = STYLES[style] if isinstance(style, str) else style
    bom = b"\xef\xbb\xbf" if style and style.bom else b""
    ns = f" {ENVELOPE_NS}" if style else ""
    text = (f"{DECLARATION}<GIAMDINHHS{ns}><THONGTINDONVI><MACSKCB>{facility}</MACSKCB>"
            f"</THONGTINDONVI><THONGTINHOSO><NGAYLAP>{made}</NGAYLAP>"
            f"<SOLUONGHOSO>{len(episodes)}</SOLUONGHOSO><DANHSACHHOSO>{''.join(episodes)}"
            "</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>")
    return bom + text.encode("utf-8")


def write_clinic(out: Path, residents: list[Resident], rng: random.Random,
                 month: tuple[int, int] = (2025, 6), style: str | None = None,
                 post_2025: bool | None = None) -> tuple[dict, list[tuple[str, str, str]]]:
    """A month of exports per facility; about 15 % of residents visit, a few twice.

    ``style`` None writes the plain default; "compact", "file-name" or "random" (one of the two
    per facility) write real export styles, with ``post_2025`` codes forced on or off or, when
    ``None``, drawn per file."""
    written, truth = {}, []
    year, mon = month
    visits: dict[str, list[tuple[Resident, dt.datetime]]] = {f: [] for f in FACILITIES}
    for r in residents:
        if rng.random() >= 0.15:
            continue
        for _ in range(1 if rng.random() < 0.85 else 2):
            local = [f for f, v in FACILITIES.items() if v[3] and r.commune in v[3]]
            facility = rng.choice(local + ["38150"]) if local else "38150"
            # A facility numbers its patients once each: MA_BN never repeats within it.
            r.facility_ids.setdefault(facility, f"BN{int(r.resident_id[1:]):06d}{facility[-2:]}")
            visit = dt.datetime(year, mon, rng.randint(1, 28), rng.randint(7, 16),
                                rng.choice([0, 15, 30, 45]))
            visits[facility].append((r, visit))
    for facility, items in visits.items():
        if not items:
            continue
        if style is not None:
            written_here = _write_styled(out, facility, sorted(items, key=lambda x: x[1]), rng,
                                         month, style, post_2025, truth)
            written.update(written_here)
            continue
        path = out / f"xml_{facility}_{year}{mon:02d}.xml"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="utf-8"?>\n<GIAMDINHHS>')
            fh.write(f"<THONGTINDONVI><MACSKCB>{facility}</MACSKCB></THONGTINDONVI>")
            fh.write(f"<THONGTINHOSO><NGAYLAP>{year}{mon:02d}28</NGAYLAP>"
                     f"<SOLUONGHOSO>{len(items)}</SOLUONGHOSO><DANHSACHHOSO>")
            for n, (r, visit) in enumerate(sorted(items, key=lambda x: x[1]), 1):
                ma_lk = f"{facility}{year}{mon:02d}{n:05d}"
                fh.write(episode(r, ma_lk, facility, visit, rng))
                truth.append((path.name, ma_lk, r.resident_id))
            fh.write("</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>\n")
        written[path.name] = len(items)
    return written, truth


def _write_styled(out: Path, facility: str, items: list[tuple[Resident, dt.datetime]],
                  rng: random.Random, month: tuple[int, int], style: str,
                  post_2025: bool | None, truth: list[tuple[str, str, str]]) -> dict[str, int]:
    year, mon = month
    chosen = STYLES[rng.choice(sorted(STYLES))] if style == "random" else STYLES[style]
    post = rng.random() < 0.5 if post_2025 is None else post_2025
    made = f"{year}{mon:02d}28"
    episodes = []
    for n, (r, visit) in enumerate(items, 1):
        ma_lk = f"{facility}{year}{mon:02d}{n:05d}"
        episodes.append((r, visit, ma_lk, episode(r, ma_lk, facility, visit, rng,
                                                  style=chosen, post_2025=post)))
    written: dict[str, int] = {}
    if chosen.one_file_per_episode:
        for n, (r, visit, ma_lk, hoso) in enumerate(episodes, 1):
            number = patient_number(r, facility, chosen)
            stamp = f"{visit:%Y%m%d%H%M}{n % 60:02d}"  # seconds keep two visits apart
            path = out / f"QD130_{facility}_{year}{mon:02d}_{stamp}_{number}.xml"
            path.write_bytes(envelope(facility, [hoso], chosen, made))
            truth.append((path.name, ma_lk, r.resident_id))
            written[path.name] = 1
        return written
    path = out / f"xml_{facility}_{year}{mon:02d}.xml"
    path.write_bytes(envelope(facility, [e[3] for e in episodes], chosen, made))
    truth += [(path.name, ma_lk, r.resident_id) for r, _, ma_lk, _ in episodes]
    written[path.name] = len(episodes)
    return written
