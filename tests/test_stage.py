"""Stage frames joined column by column give what pandas' concat gives."""

import numpy as np
import pandas as pd
import pyarrow as pa

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


def test_packed_frames_unpack_to_what_stacking_the_frames_gives():
    """A run holds each chunk's identity frame packed (Arrow texts) and unpacks them all at
    once for the match: the result is the frames stacked — texts as objects with ``None``
    for missing, a column of objects that are not all texts as it was, nullable integers as
    such — with one object per distinct text in the shared columns."""
    from etl.stage import packed, unpacked

    rng = np.random.default_rng(8)
    frames = []
    for k in range(4):
        n = 30 + k
        frames.append(pd.DataFrame(
            {"record_key": [f"registry:f{k}:row={i}" for i in range(n)],
             "family_key": np.where(rng.random(n) < 0.3, None,
                                    rng.choice(["giang", "lo", "vu"], n)).astype(object),
             "empty": [None] * n if k == 1 else ["x y"] * n,
             "mixed": [(7, "a " + str(i % 2), None)[i % 3] for i in range(n)] if k == 2
             else [None] * n,
             "birth_year": pd.array(np.where(rng.random(n) < 0.2, None,
                                             rng.integers(1950, 2020, n)), dtype="Int64")},
            index=np.arange(n) + 100 * k))
    expected = stacked([f.copy() for f in frames])
    parts = [packed(f) for f in frames]
    assert isinstance(parts[0].columns["record_key"], pa.Array)
    assert not isinstance(parts[2].columns["mixed"], pa.Array)
    joined = unpacked(parts, shared_columns=("family_key", "empty", "mixed"))
    pd.testing.assert_frame_equal(joined, expected)
    assert joined["family_key"].dtype == object and joined["empty"].iloc[30] is None
    for column in ("family_key", "empty", "mixed"):
        values = joined[column].dropna()
        assert len({id(v) for v in values}) == values.nunique()
    assert all(not p.columns for p in parts)  # each column let go as it was made
    assert unpacked([packed(frames[0].iloc[:0])]).shape == (0, 5)
