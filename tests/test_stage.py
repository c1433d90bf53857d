"""Stage frames joined column by column give what pandas' concat gives."""

import numpy as np
import pandas as pd

from etl.stage import key_in, stacked


def test_stacked_frames_equal_pandas_concat_whatever_each_frame_holds():
    rng = np.random.default_rng(3)
    frames = []
    for k in range(5):
        n = 50 + k
        frames.append(pd.DataFrame(
            {"key": [f"k{k}:{i}" for i in range(n)],
             "row": np.arange(n, dtype=np.int64),
             "text": np.where(rng.random(n) < 0.5, None, "Giàng").astype(object),
             "year": rng.integers(1950, 2020, n) if k % 2 else rng.random(n) * 100,
             "month": pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(1, 13, n)),
                               dtype="Int64"),
             "empty": [None] * n if k == 1 else ["x"] * n},
            index=np.arange(n) + 10 * k))
    joined = stacked(frames)
    pd.testing.assert_frame_equal(joined, pd.concat(frames, ignore_index=True))
    assert joined["year"].dtype == np.float64 and str(joined["month"].dtype) == "Int64"
    assert joined["row"].dtype == np.int64
    pd.testing.assert_frame_equal(stacked(frames[:1]), pd.concat(frames[:1], ignore_index=True))


def test_key_in_gives_isin_whatever_holds_the_keys():
    series = pd.Series(["a:1", "b:2", "a:1", "c:3", "d:4"], index=[10, 11, 12, 13, 14],
                       dtype="string")
    expected = pd.Series([True, False, True, True, False], index=series.index)
    for keys in ({"a:1", "c:3", "z:9"}, frozenset({"a:1", "c:3"}),
                 {"a:1": (1, "p"), "c:3": (2, "q")}, ["a:1", "c:3"], pd.Index(["c:3", "a:1"])):
        found = key_in(series, keys)
        assert found.dtype == bool
        pd.testing.assert_series_equal(found, expected, check_names=False)
    assert key_in(series.iloc[:0], {"a:1"}).tolist() == []
