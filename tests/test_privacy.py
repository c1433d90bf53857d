"""Exports meant for people: masked ID numbers, no spreadsheet formulas."""

import csv

from etl.privacy import mask, safe_cell, write_csv


def test_mask_keeps_last_three():
    assert mask("038062001234") == "•••••••••234"
    assert mask("038062001234", show=True) == "038062001234"
    assert mask(None) is None


def test_formula_injection_neutralised(tmp_path):
    assert safe_cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert safe_cell("+84912") == "'+84912"
    assert safe_cell("Giàng A Páo") == "Giàng A Páo"
    out = tmp_path / "x.csv"
    write_csv(out, ["a"], [["=1+1"], ["@SUM(A1)"], [3]], bom=True)
    with open(out, encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["a"], ["'=1+1"], ["'@SUM(A1)"], ["3"]]
