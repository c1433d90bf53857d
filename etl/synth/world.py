"""Places beyond Mường Lát: registry extracts of any district of Vietnam, written the way city
police and commune clerks write addresses.

The Mường Lát samples name eight communes in three tidy styles. A city's registry names wards
(phường) before the 2025 reform, after streets and house numbers that often share a ward's name,
with the usual abbreviations (P., TP., Tp, TX., Q.), old tone placement (Thanh Hoá), no diacritics
at all, reversed order, missing levels and the odd typo. Each row's true commune is returned, so
the resolution rate of any address resolver can be measured on a district it was never tuned on.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from etl import reference
from etl.synth.noise import strip_marks, typo
from etl.synth.population import GROUPS, personal_id_for

STREETS = ["Lê Lợi", "Trần Phú", "Quang Trung", "Bà Triệu", "Hàm Nghi", "Lê Lai", "Nguyễn Trãi",
           "Hai Bà Trưng", "Lý Thường Kiệt", "Phan Chu Trinh", "Điện Biên Phủ", "Trường Thi",
           "Lam Sơn", "Ba Đình", "Đông Hương", "Ngọc Trạo", "Nguyễn Du", "Tô Hiến Thành",
           "Hạc Thành", "Phú Sơn", "Cao Thắng", "Đội Cung", "Triệu Quốc Đạt", "Bến Ngự"]
_OLD_TONES = {"oá": "óa", "oà": "òa", "oả": "ỏa", "oã": "õa", "oạ": "ọa", "uỷ": "ủy", "uý": "úy"}
HEADERS = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Dân tộc",
           "Địa chỉ thường trú"]


def _old_tone(text: str) -> str:
    """"Thanh Hóa" → "Thanh Hoá": the tone placement older keyboards produce."""
    for old, new in _OLD_TONES.items():
        text = text.replace(new, old)
    return text


def district_units(district_code: str) -> list[dict[str, str]]:
    """The communes of one pre-2025 district, from the nationwide reference list."""
    units = [u for u in reference.admin_units_2024()
             if u["district_code"] == district_code and u["commune_code"]]
    if not units:
        raise ValueError(f"no commune of district {district_code} in the reference list")
    return units


def address(rng: random.Random, unit: dict[str, str]) -> str:
    """One address of ``unit`` in one of the styles seen in city registry extracts."""
    ward, district, province = unit["commune"], unit["district"], unit["province"]
    ward_type = unit["commune_type"]
    district_type = unit["district_type"]
    short = {"Phường": "P.", "Xã": "X.", "Thị trấn": "TT."}.get(ward_type, "")
    d_short = {"Thành phố": "TP.", "Quận": "Q.", "Thị xã": "TX.", "Huyện": "H."}.get(
        district_type, "")
    house = f"Số {rng.randint(1, 250)} {rng.choice(STREETS)}"
    block = rng.choice([f"Tổ dân phố {rng.randint(1, 20)}", f"Khu phố {rng.randint(1, 9)}",
                        f"Thôn {rng.randint(1, 12)}", house, house])
    style = rng.randrange(8)
    if style == 0:
        text = f"{house}, {ward_type} {ward}, {district_type} {district}, tỉnh {province}"
    elif style == 1:
        text = f"{block} - {short} {ward} - {d_short} {district}"
    elif style == 2:
        text = f"{block}, {short}{ward}, {d_short}{district}, {province}"
    elif style == 3:
        text = strip_marks(f"{ward_type} {ward} {district_type} {district}").lower()
    elif style == 4:
        text = f"{province} - {district_type} {district} - {ward_type} {ward}"
    elif style == 5:
        text = f"{block},, {ward_type} {ward}, {province}"
    elif style == 6:
        text = f"{house} {ward_type.lower()} {ward}, {district_type.lower()} {district}"
    else:
        text = f"{block}, {ward_type} {typo(rng, ward) if len(ward) >= 7 else ward}, " \
               f"{district_type} {district}, {province}"
    return _old_tone(text) if rng.random() < 0.3 else text


def write_city_registry(path: Path, district_code: str, people: int,
                        seed: int) -> list[tuple[str, str]]:
    """A registry extract of ``people`` residents of one district as a UTF-8 CSV; returns each
    row's (locator, true commune code)."""
    rng = random.Random(f"{seed}:{district_code}")
    units = district_units(district_code)
    _, families, male_mid, female_mid, male_given, female_given = GROUPS["01"]
    truth: list[tuple[str, str]] = []
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADERS)
        for n in range(1, people + 1):
            unit = rng.choice(units)
            sex = rng.choice("MF")
            middle = rng.choice(male_mid if sex == "M" else female_mid)
            given = rng.choice(male_given if sex == "M" else female_given)
            birth = dt.date(rng.randint(1935, 2024), rng.randint(1, 12), rng.randint(1, 28))
            pid = personal_id_for(rng, birth.year, sex)
            writer.writerow([n, f"{rng.choice(families)} {middle} {given}",
                             birth.strftime("%d/%m/%Y"), "Nam" if sex == "M" else "Nữ", pid,
                             "Kinh", address(rng, unit)])
            truth.append((f"row={n}", unit["commune_code"]))
    return truth
