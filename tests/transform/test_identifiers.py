"""Identifier structures (docs/domain.md#identifiers), and their agreement with the record."""

import pytest

from etl.transform import identifiers as ids


@pytest.mark.parametrize("number, year, sex, status, slug", [
    ("038062001234", 1962, "M", "valid", ""),
    ("038162001234", 1962, "F", "valid", ""),
    ("038215001234", 2015, "M", "valid", ""),
    ("038315001234", 2015, "F", "valid", ""),
    ("038062001234", 1962, "F", "inconsistent", "cccd-sex-mismatch"),
    ("038062001234", 1963, "M", "inconsistent", "cccd-year-mismatch"),
    ("038262001234", 1962, "M", "inconsistent", "cccd-year-mismatch"),
    ("003062001234", 1962, "M", "invalid", "invalid-personal-id"),  # no province 03
    ("138062001234", None, None, "invalid", "invalid-personal-id"),
    ("03806200123", None, None, "invalid", "invalid-personal-id"),
    ("038 062 001 234", 1962, "M", "valid", ""),
])
def test_personal_id(number, year, sex, status, slug):
    check = ids.check_personal_id(number, birth_year=year, sex=sex)
    assert (check.status, check.slug) == (status, slug)
    assert check.usable == (status == "valid")


def test_implied_year_and_sex():
    assert ids.implied_by_personal_id("038315001234") == (2015, "F")


@pytest.mark.parametrize("value, kind", [
    ("123456789", "cmnd"), ("B1234567", "passport"), ("038062001234", "personal_id"),
])
def test_document_column_tells_documents_apart(value, kind):
    assert ids.classify_document_number(value).kind == kind


def test_insurance_cards():
    cards, problems = ids.parse_insurance_cards("DT2383812345678; TE1383800000001;XX")
    assert [c.social_insurance_code for c in cards] == ["3812345678", "3800000001"]
    assert cards[0].group == "DT" and cards[0].level == 2 and cards[0].province == "38"
    assert [p.slug for p in problems] == ["invalid-insurance-card"]


def test_social_insurance_code_and_facility():
    assert ids.check_social_insurance_code("3812345678").usable
    assert not ids.check_social_insurance_code("381234567").usable
    assert ids.check_facility_code("38150").usable
    assert not ids.check_facility_code("99150").usable


def test_excel_float_loses_its_point_zero():
    assert ids.compact("3812345678.0") == "3812345678"


@pytest.mark.parametrize("written, normalized", [
    ("PC-0226001234", "PC0226001234"),  # two export styles of one hospital system
    ("PC0226001234", "PC0226001234"),
    (" pc-0226.001234 ", "PC0226001234"),
    ("BN/2025/0042", "BN20250042"),
    ("0042", "0042"),  # leading zeros are part of the number
    ("", None),
    (None, None),
    ("--", None),
])
def test_facility_patient_id_ignores_separators_and_case(written, normalized):
    assert ids.normalize_facility_patient_id(written) == normalized
