"""Column-wise row building for the loads: what is written must read back as the row was."""

import json

import numpy as np
import pandas as pd

from etl.load.columns import column_rows, int_values, json_objects, plain_columns


def test_json_objects_read_back_as_the_rows_without_their_missing_values():
    columns = {"full_name": ["Giàng A Páo", "Lò Thị Hải", None, "Giàng A Páo"],
               "birth_year": [1990, None, 2001, 1990],
               "note": ['say "hi"\n', "a/b", "x", None]}
    written = json_objects(columns)
    assert [json.loads(w) for w in written] == [
        {"full_name": "Giàng A Páo", "birth_year": 1990, "note": 'say "hi"\n'},
        {"full_name": "Lò Thị Hải", "note": "a/b"},
        {"birth_year": 2001, "note": "x"},
        {"full_name": "Giàng A Páo", "birth_year": 1990},
    ]
    assert "Giàng" in written[0]  # stored readable, not \u-escaped


def test_plain_columns_turn_every_missing_marker_into_none_and_numbers_into_python_ones():
    frame = pd.DataFrame({"name": pd.Series(["a", None, "c"], dtype="str"),
                          "year": pd.array([1990, None, 2001], dtype="Int64"),
                          "score": [1.5, np.nan, 2.0]})
    columns = plain_columns(frame)
    assert columns == {"name": ["a", None, "c"], "year": [1990, None, 2001],
                       "score": [1.5, None, 2.0]}
    assert type(columns["year"][0]) is int
    assert int_values([1996.0, None, 5]) == [1996, None, 5]
    assert [type(v) for v in int_values([1996.0, np.int64(5)])] == [int, int]
    assert column_rows({"a": [1, 2], "b": ["x", None]}) == [{"a": 1, "b": "x"},
                                                           {"a": 2, "b": None}]
