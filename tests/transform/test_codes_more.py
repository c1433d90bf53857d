"""ICD-10, 831 value sets, the validation policy and per-column font detection."""

import pytest

from etl.errors import UsageError
from etl.extract.tabular import Sheet, convert_legacy_text
from etl.text.legacy import unicode_to_tcvn3, unicode_to_vni
from etl.transform.codes import resolve_value
from etl.transform.icd10 import normalize_icd10, parse_icd10_list
from etl.transform.validate import DEFAULT_POLICY, load_policy


@pytest.mark.parametrize("raw, code", [("E119", "E11.9"), ("e11.9 ", "E11.9"), ("I10", "I10"),
                                       ("J189", "J18.9"), ("E11.9.1", None), ("abc", None)])
def test_icd10_normalised(raw, code):
    assert normalize_icd10(raw) == code


def test_icd10_list_validated():
    codes, bad = parse_icd10_list("E119;I10, J18.9 Z99.99;???")
    assert [(c.code, c.valid) for c in codes] == [("E11.9", True), ("I10", True),
                                                  ("J18.9", True), ("Z99.99", False)]
    assert bad == ["???"]


@pytest.mark.parametrize("value_set, raw, code", [
    ("health_class", "Loại II", "II"), ("health_class", "loai 1", "I"),
    ("health_class", "IV", "IV"), ("blood_group_rh", "Rh+", "+"), ("blood_group_rh", "Rh-", "-"),
    ("relation_to_head", "Vợ", "spouse"), ("delivery_type", "Đẻ mổ", "caesarean"),
    ("health_class", "Loại IX", None),
])
def test_value_sets(value_set, raw, code):
    assert resolve_value(value_set, raw) == code


def test_policy_file(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("unknown-commune: reject\n", encoding="utf-8")
    policy = load_policy(path)
    assert policy["unknown-commune"] == "reject"
    assert policy["missing-name"] == DEFAULT_POLICY["missing-name"]
    path.write_text("no-such-finding: reject\n", encoding="utf-8")
    with pytest.raises(UsageError):
        load_policy(path)


def test_per_column_detection_keeps_unicode_headers():
    names = ["Lò Thị Hương", "Giàng A Páo", "Vàng Thị Mỷ", "Hà Văn Đức"]
    sheet = Sheet("1A", [["Họ và tên", "Giới tính", "Ghi chú"]] + [
        [unicode_to_tcvn3(n), unicode_to_tcvn3("Nữ"), "Khỏe"] for n in names])
    assert convert_legacy_text(sheet) == "tcvn3+unicode"
    assert sheet.rows[0] == ["Họ và tên", "Giới tính", "Ghi chú"]
    assert [r[0] for r in sheet.rows[1:]] == names
    assert {r[1] for r in sheet.rows[1:]} == {"Nữ"}


def test_forced_encoding_overrides_detection():
    sheet = Sheet("x", [["Họ và tên"], [unicode_to_vni("Giàng A Páo")]])
    assert convert_legacy_text(sheet, "vni") == "vni"
    assert sheet.rows[1] == ["Giàng A Páo"]
