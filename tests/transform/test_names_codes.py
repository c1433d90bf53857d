"""Names split the Vietnamese way; code lists resolved through aliases."""

import pytest

from etl.transform.codes import normalize_sex, resolve_commune, resolve_ethnicity
from etl.transform.names import looks_given_first, parse_name


@pytest.mark.parametrize("raw, family, middle, given", [
    ("Giàng A Páo", "Giàng", "A", "Páo"),
    ("GIÀNG A PÁO", "Giàng", "A", "Páo"),
    ("Nguyễn Thị Thuỷ", "Nguyễn", "Thị", "Thủy"),
    ("Lò Văn", "Lò", "", "Văn"),
    ("Páo", "", "", "Páo"),
    ("Tôn Nữ Thị Hoa", "Tôn", "Nữ Thị", "Hoa"),
])
def test_parse_name(raw, family, middle, given):
    name = parse_name(raw)
    assert (name.family, name.middle, name.given) == (family, middle, given)
    assert name.original == raw


def test_given_first_only_on_strong_column_evidence():
    column = ["Páo A Giàng", "Mỷ Thị Vàng", "Chứ A Thào"] * 10
    assert looks_given_first(column)
    assert not looks_given_first(["Chá Pó", "Xồng Vàng", "Triệu Lở"] * 10)
    assert parse_name("Páo A Giàng", given_first=True).full == "Giàng A Páo"


@pytest.mark.parametrize("raw, sex", [("Nam", "M"), ("Nữ", "F"), ("NU", "F"), ("1", "M"),
                                      ("2", "F"), ("3", "U"), ("x", None), (None, None)])
def test_sex(raw, sex):
    assert normalize_sex(raw) == sex


@pytest.mark.parametrize("raw, code", [
    ("Mông", "08"), ("H'Mông", "08"), ("HMông", "08"), ("Mèo", "08"), ("Thái", "03"),
    ("Khơ Mú", "29"), ("08", "08"), ("Dân tộc Kinh", "01"), ("Martian", None),
])
def test_ethnicity(raw, code):
    assert resolve_ethnicity(raw) == code


def test_ethnicity_population_order_codes():
    assert resolve_ethnicity("04", code_system="population") == "06"  # Mường


@pytest.mark.parametrize("address, code", [
    ("B. Pù Toong - X. Pù Nhi - H. Mường Lát", "14863"),
    ("Xa Pu Nhi", "14863"),
    ("Bản Sài Khao, xã Mường Lý, huyện Mường Lát, tỉnh Thanh Hóa", "14854"),
    ("Khu 2, Thị trấn Mường Lát", "14845"),
    ("Khu 2, TT Mường Lát, Mường Lát, Thanh Hóa", "14845"),
    ("Bản Cang, Pù Nhi, Mường Lát", "14863"),
    ("Hà Nội", None),
])
def test_commune_from_free_text(address, code):
    assert resolve_commune(address) == code


def test_commune_crosswalk_2025():
    from etl.transform.codes import commune_2025

    assert commune_2025("14863") == "14863"  # Pù Nhi kept its code
    assert commune_2025("99999") is None
