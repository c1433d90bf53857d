"""Column-wise row building for the loads: what is written must read back as the row was."""

import json

import numpy as np
import pandas as pd

from etl.load.columns import column_rows, int_values, json_arrays, plain_values


def test_json_arrays_read_back_as_the_rows_with_null_where_missing():
    columns = {"full_name": ["Giàng A Páo", "Lò Thị Hải", None, "Giàng A Páo"],
               "birth_year": [1990, None, 2001, 1990],
               "note": np.array(['say "hi"\n', "a/b", "x", None], dtype=object)}
    written = json_arrays(7, columns)
    assert [json.loads(w) for w in written] == [
        [7, "Giàng A Páo", 1990, 'say "hi"\n'],
        [7, "Lò Thị Hải", None, "a/b"],
        [7, None, 2001, "x"],
        [7, "Giàng A Páo", 1990, None],
    ]
    assert "Giàng" in written[0]  # stored readable, not \u-escaped


def test_plain_values_turn_every_missing_marker_into_none_and_numbers_into_python_ones():
    frame = pd.DataFrame({"name": pd.Series(["a", None, "c"], dtype="str"),
                          "year": pd.array([1990, None, 2001], dtype="Int64"),
                          "score": [1.5, np.nan, 2.0]})
    columns = {name: plain_values(frame[name]).tolist() for name in frame.columns}
    assert columns == {"name": ["a", None, "c"], "year": [1990, None, 2001],
                       "score": [1.5, None, 2.0]}
    assert type(columns["year"][0]) is int
    assert int_values([1996.0, None, 5]) == [1996, None, 5]
    assert [type(v) for v in int_values([1996.0, np.int64(5)])] == [int, int]
    assert column_rows({"a": [1, 2], "b": ["x", None]}) == [{"a": 1, "b": "x"},
                                                           {"a": 2, "b": None}]


def test_clinical_cells_become_driver_values_a_column_at_a_time():
    """Each cell as the row-by-row conversion gave it: timestamps as ``datetime``, NumPy
    scalars as Python values, every missing marker (and a missing column) as ``None``."""
    import datetime as dt

    from etl.load.clinical import _db_values

    frame = pd.DataFrame({
        "at": pd.to_datetime(["2025-07-01 08:30:00.123456", None]),
        "at_utc": pd.to_datetime(["2025-07-01 08:30", None]).tz_localize("UTC"),
        "value": [36.5, np.nan], "line": [1, 2], "valid": [True, False],
        "code": ["J00", None], "mixed": pd.Series([np.int64(3), pd.Timestamp("2025-07-02")],
                                                  dtype=object)})
    assert _db_values(frame, "at") == [dt.datetime(2025, 7, 1, 8, 30, 0, 123456), None]
    assert _db_values(frame, "at_utc") == [dt.datetime(2025, 7, 1, 8, 30, tzinfo=dt.UTC),
                                          None]
    assert _db_values(frame, "value") == [36.5, None]
    assert _db_values(frame, "code") == ["J00", None]
    assert _db_values(frame, "absent") == [None, None]
    for name, want in (("at", dt.datetime), ("line", int), ("valid", bool),
                       ("mixed", int)):
        assert type(_db_values(frame, name)[0]) is want
    assert type(_db_values(frame, "mixed")[1]) is dt.datetime


def test_person_values_are_stored_by_layout_and_read_back_in_either_form():
    """Stored texts outlive the code that wrote them: layout 1's fields are fixed, a text of
    layout 1 reads back as the values it was written from (missing ones left out), and a text
    written before layouts (a JSON object) reads as it is."""
    from etl.load.loader import (
        PERSON_VALUE_LAYOUTS,
        person_value_texts,
        stored_person_values,
    )

    assert PERSON_VALUE_LAYOUTS[1] == (
        "full_name", "family_name", "middle_name", "given_name", "name_key", "sex",
        "birth_year", "birth_month", "birth_day", "birth_date_precision", "ethnicity_code",
        "religion", "nationality", "occupation", "household_code", "household_head_name",
        "relation_to_head", "permanent_address", "permanent_commune_code", "current_address",
        "current_commune_code", "phone", "email", "father_name", "mother_name",
        "permanent_commune_code_2025", "current_commune_code_2025")
    rows = [{"full_name": "Giàng A Páo", "sex": "M", "birth_year": 1990, "phone": "0912"},
            {"full_name": "Lò Thị Hải", "birth_month": 9, "mother_name": "Lò Thị Xuân"}]
    columns = {f: np.array([r.get(f) for r in rows], dtype=object)
               for f in PERSON_VALUE_LAYOUTS[1]}
    texts = person_value_texts(columns)
    assert json.loads(texts[0])[0] == 1
    assert [stored_person_values(t) for t in texts] == rows
    legacy = '{"full_name": "Giàng A Páo", "birth_year": 1990}'
    assert stored_person_values(legacy) == {"full_name": "Giàng A Páo", "birth_year": 1990}
