"""The frame a match works on: the master index and the batch one under the other in
record-key order, each row's derived columns as the row alone gives them."""

import numpy as np
import pandas as pd
import pytest

from etl.match.engine import _stacked, prepare


def _frame(keys: list[str], **columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"record_key": pd.Series(keys, dtype=object),
                         **{c: pd.Series(v, dtype=object) for c, v in columns.items()}})


def test_parts_interleave_in_record_key_order_with_their_rows_only():
    master = _frame(["r:1", "r:3", "r:5", "r:7"], person_id=["p1", "p3", "p5", "p7"],
                    birth_year=[1990.0, np.nan, 1985.0, 2001.0])
    batch = _frame(["r:6", "r:2", "r:3", "r:0"], family_key=["lo", "vi", None, "ha"],
                   birth_year=[np.nan, 1970, 1960, 2010])
    known = np.array([False, False, True, False])  # r:3 is the master's already
    out = _stacked([(master, np.ones(4, dtype=bool), False), (batch, ~known, True)])
    assert out["record_key"].tolist() == ["r:0", "r:1", "r:2", "r:3", "r:5", "r:6", "r:7"]
    assert out["_new"].tolist() == [True, False, True, False, False, True, False]
    assert out["person_id"].tolist() == [None, "p1", None, "p3", "p5", None, "p7"]
    assert out["family_key"].tolist() == ["ha", None, "vi", None, None, "lo", None]
    # missing is None whatever the part held (NaN, a float column)
    assert out["birth_year"].tolist() == [2010, 1990.0, 1970, None, 1985.0, None, 2001.0]
    assert all(out[c].dtype == object for c in out.columns)


def test_derived_columns_are_worked_out_per_row():
    """The household head, the marked name parts and the locality are computed once per
    distinct value; each row must still get its own."""
    rows = [  # full_name, family, middle, given, head, address, commune
        ("Giàng A Páo", "giang", "a", "pao", "giang a pao", "ban tung - x pu nhi", "15799"),
        ("Giàng A Páo", "giang", "a", "pao", "giang seo lu", "ban tung - x pu nhi", "15799"),
        ("GIANG A PAO", "giang", "a", "pao", "giang seo lu", "ban tung - x pu nhi", "15800"),
        ("Lường Văn Hùng", "luong", "van", "hung", None, "ban ha", "15799"),
        ("Lương Văn Hùng", "luong", "van", "hung", "luong van hung", None, "15799"),
        ("Hùng", None, None, "hung", "hung", "ban ha", None),
    ]
    frame = pd.DataFrame(rows, columns=["full_name", "family_key", "middle_key", "given_key",
                                        "household_head_key", "address_key", "commune_code"],
                         dtype=object)
    frame = frame.assign(record_key=[f"r:{k}" for k in range(len(rows))], sex=None,
                         personal_id=None, personal_id_status=None, birth_year=None,
                         birth_month=None, birth_day=None).astype(object)
    frame = frame.where(frame.notna(), None)
    out = prepare(frame)
    assert out["head_other"].tolist() == [None, "giang seo lu", "giang seo lu", None, None,
                                          None]
    assert out["given_marked"].tolist() == ["páo", "páo", None, "hùng", "hùng", "hùng"]
    assert out["family_marked"].tolist() == ["giàng", "giàng", None, "lường", "lương", None]
    assert out["locality"].tolist()[3:] == ["ban ha", None, None]
    assert out["locality"][0] == out["locality"][1]


def test_blocks_are_the_same_whatever_the_key_values():
    """A key's blocks depend on which rows share a value: integer codes (as the combined keys
    hold them, with gaps), other numbers and texts of the same partition pair the same rows."""
    from etl.match.engine import _block_pairs

    rng = np.random.default_rng(5)
    codes = rng.integers(0, 40, 500).astype(float)
    codes[rng.random(500) < 0.2] = np.nan
    codes[codes == 7] = np.nan  # a gap, as a combined key leaves one
    new = rng.random(500) < 0.3
    as_text = pd.Series([None if np.isnan(c) else f"k{int(c)}" for c in codes], dtype=object)
    far = pd.Series(np.where(np.isnan(codes), np.nan, codes * 1e12 - 5))  # huge, negative
    expected, skipped = _block_pairs(as_text, new, 12)
    assert len(expected) > 100 and skipped > 0
    for keys in (pd.Series(codes), far):
        pairs, skipped_too = _block_pairs(keys, new, 12)
        assert skipped_too == skipped
        assert sorted(map(tuple, pairs.tolist())) == sorted(map(tuple, expected.tolist()))


@pytest.mark.parametrize("step", [1 << 20, 1, 7, 256])
def test_each_keys_pairs_merge_into_the_sorted_distinct_set(monkeypatch, step):
    """Candidate pairs are merged key by key (:func:`etl.match.engine._merged`): after any
    sequence of keys — pairs proposed twice within a key or by two keys, a key with none — the
    set is every pair proposed, once each, in order, however many codes are moved at a time
    to make room for the new ones."""
    import etl.match.engine as engine
    from etl.match.engine import _merged

    monkeypatch.setattr(engine, "MERGE_STEP", step)
    rng = np.random.default_rng(11)
    distinct = np.empty(0, dtype=np.int64)
    proposed: set[int] = set()
    for size in [0, 300, 1, 0, 800, 5, 2000, 0, 64]:
        codes = rng.integers(0, 3000, size).astype(np.int64)
        distinct = _merged(distinct, codes)
        proposed |= set(codes.tolist())
        assert distinct.tolist() == sorted(proposed)
    assert len(proposed) > 1000


def test_a_parked_frame_is_put_back_as_it_was():
    """While its candidate pairs are made, a handed-over frame's columns of objects are set
    aside (:class:`etl.match.engine._Parked`) and put back: the same values in the same
    places, the same objects for the coded columns, ``None`` where a value was missing."""
    from etl.match.engine import _Parked

    given = ["pao", "mung", None, "pao", "dinh"]
    frame = pd.DataFrame({
        "record_key": [f"registry:f:row={i}" for i in range(5)],
        "given_key": pd.Series(given, dtype=object),
        "birth_year": [1990.0, np.nan, 2001.0, 1990.0, 1980.0],
        "personal_id": pd.Series(["038090000001", None, "038090000003", None, "x"],
                                 dtype=object),
        "phone": pd.Series([None, 912345678, "0912345678", None, None], dtype=object),
        "_new": pd.Series([True, False, True, True, False], dtype=object)})
    expected = frame.copy()
    objects = frame["given_key"].tolist()
    parked = _Parked(frame)
    assert list(frame.columns) == ["record_key", "birth_year"]
    assert set(parked.texts) == {"personal_id"} and "phone" in parked.coded  # (a number)
    parked.restore(frame)
    pd.testing.assert_frame_equal(frame, expected)
    assert all(a is b for a, b in zip(frame["given_key"], objects, strict=True))
    assert frame["personal_id"][1] is None and frame["phone"][0] is None
