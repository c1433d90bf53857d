"""Clinic exports for insurance assessment (GIAMDINHHS XML, QĐ 4210 and QĐ 130 layouts).

One file per facility and month. Newer software writes the 130 layout with base64 inner tables;
older software the 4210 layout, some with plain (escaped) inner XML. Names are often upper case
without diacritics ("GIANG A PAO"), birth dates of year-only people come as yyyy0000.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
from pathlib import Path
from xml.sax.saxutils import escape

from etl.synth.noise import name_variant, strip_marks
from etl.synth.population import COMMUNES, Resident

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


def _el(tag: str, value: object) -> str:
    return f"<{tag}>{escape('' if value is None else str(value))}</{tag}>"


def _birth(r: Resident, layout: str) -> str:
    b = r.birth
    core = f"{b.year}0000" if r.year_only else b.strftime("%Y%m%d")
    return core + ("0000" if layout == "130" else "")


def xml1(r: Resident, ma_lk: str, facility: str, layout: str, visit: dt.datetime,
         rng: random.Random, card: str | None) -> str:
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
                   ("DIA_CHI", f"{r.village}, {COMMUNES[r.commune][0]}, Mường Lát"),
                   ("MATINH_CU_TRU", "38"), ("MAHUYEN_CU_TRU", "384"),
                   ("MAXA_CU_TRU", r.commune), ("DIEN_THOAI", r.phone or ""),
                   ("MA_THE_BHYT", card or ""), ("MA_DKBD", facility),
                   ("GT_THE_TU", "20250101"), ("GT_THE_DEN", "20251231"),
                   ("CHAN_DOAN_VAO", label), ("CHAN_DOAN_RV", label),
                   ("MA_BENH_CHINH", icd.replace(".", "") if rng.random() < 0.5 else icd),
                   ("MA_BENH_KT", ";".join(extra))]
    else:
        fields += [("NGAY_SINH", _birth(r, layout)), ("GIOI_TINH", 1 if r.sex == "M" else 2),
                   ("DIA_CHI", f"{r.village}, {COMMUNES[r.commune][0]}"),
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
    return "<TONG_HOP>" + "".join(_el(k, v) for k, v in fields) + "</TONG_HOP>"


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
            drugs: int = 3) -> str:
    _, layout, encoding, _ = FACILITIES[facility]
    card = f"{r.card_group}{r.card_level}38{r.social_insurance_code}" \
        if r.social_insurance_code else None
    parts = [filehoso("XML1", xml1(r, ma_lk, facility, layout, visit, rng, card), encoding),
             filehoso("XML2", xml2(ma_lk, rng, drugs), encoding)]
    if rng.random() < 0.5:
        parts.append(filehoso("XML4", xml4(ma_lk, visit, rng), encoding))
    if rng.random() < 0.7:
        parts.append(filehoso("XML5", xml5(ma_lk, visit, rng), encoding))
    return "<HOSO>" + "".join(parts) + "</HOSO>"


def write_clinic(out: Path, residents: list[Resident], rng: random.Random,
                 month: tuple[int, int] = (2025, 6)) -> tuple[dict, list[tuple[str, str, str]]]:
    """A month of exports per facility; about 15 % of residents visit, a few twice."""
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
