"""Stage frames joined column by column give what pandas' concat gives."""

import numpy as np
import pandas as pd

from etl.stage import stacked


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
