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


def json_arrays(first: object, columns: Mapping[str, Sequence[object] | np.ndarray]) -> list[str]:
    """One compact JSON array per row: ``first``, then the row's value of each column in
    order, ``null`` where missing. Each distinct value of a column is encoded once, and no
    value carries its key: a million records' person values stored as JSON objects were 280
    bytes each of keys, a fifth of the bytes a first load writes."""
    pieces = []
    for values in columns.values():
        codes, uniques = pd.factorize(
            values if isinstance(values, np.ndarray) else pd.Series(values, dtype=object),
            use_na_sentinel=True)
        encoded = np.array([json.dumps(u, ensure_ascii=False) + "," for u in uniques]
                           + ["null,"], dtype=object)
        pieces.append(encoded[codes].tolist())  # code −1 (missing) takes the trailing null
    head = "[" + json.dumps(first) + ","
    return [f"{head}{items[:-1]}]" for items in map("".join, zip(*pieces, strict=True))]
