"""The rows a load writes, built column by column.

A district's first load writes tens of thousands of source records and a province's a million;
building a dictionary and a JSON document per row in Python was most of the load's time. Here
every column is converted once (a list of plain Python values) and each distinct value is
encoded once — names, communes, addresses and dates repeat a great deal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

Columns = dict[str, list[object]]


def plain_values(column: pd.Series) -> np.ndarray:
    """A column as plain Python values, ``None`` where a cell is missing (NaN, ``pd.NA``,
    ``NaT``) — what the database drivers expect: typed columns become Python values; object
    columns are passed as they hold them (stage tables read back from Parquet hold Python
    values). The cells of :func:`etl.stage.as_objects` without building a frame, as an object
    array for the NumPy and pandas work that follows (``tolist()`` for a driver)."""
    values = column.to_numpy(object)
    missing = column.isna().to_numpy()
    if missing.any():
        values = values.copy()  # an object column hands out its own array
        values[missing] = None
    return values


def int_values(values: Sequence[object]) -> list[object]:
    """Whole numbers as ``int`` (a year read as 1996.0 is stored as 1996), ``None`` kept."""
    return [None if v is None else int(v) for v in values]  # type: ignore[call-overload]


def column_rows(columns: Mapping[str, Sequence[object]]) -> list[dict[str, object]]:
    """The rows of ``columns`` as dictionaries (for the few paths that need them)."""
    names = list(columns)
    return [dict(zip(names, row, strict=True))
            for row in zip(*(columns[n] for n in names), strict=True)]


def json_objects(columns: Mapping[str, Sequence[object] | np.ndarray]) -> list[str]:
    """One compact JSON object per row, keys in column order, missing values left out (read
    back with ``dict.get`` they are ``None``, as before). Values must be JSON-serialisable
    plain values; each distinct value of a column is encoded once. Columns may be lists or
    object arrays (taken as they are)."""
    pieces = []
    for name, values in columns.items():
        codes, uniques = pd.factorize(
            values if isinstance(values, np.ndarray) else pd.Series(values, dtype=object),
            use_na_sentinel=True)
        head = json.dumps(name, ensure_ascii=False) + ":"
        # Each member with its comma, a missing one empty: a row is then one plain join.
        encoded = np.array([head + json.dumps(u, ensure_ascii=False) + "," for u in uniques]
                           + [""], dtype=object)
        pieces.append(encoded[codes].tolist())  # code −1 (missing) takes the trailing ""
    return [f"{{{members[:-1]}}}" for members in map("".join, zip(*pieces, strict=True))]
