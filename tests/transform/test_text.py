"""Text normalisation: one form for display, one key for comparison."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.text import clean, fold, title_name
from etl.text.legacy import VIETNAMESE_LETTERS

names = st.text(alphabet=st.sampled_from(VIETNAMESE_LETTERS + tuple("bcdghklmnpqrstvx  \t")),
                max_size=40)


@pytest.mark.parametrize("raw, expected", [
    ("Hoà", "Hòa"), ("Thuỷ", "Thủy"), ("Khoẻ", "Khỏe"), ("hoá", "hóa"),
    ("Quý", "Quý"), ("Hoàn", "Hoàn"), ("Huỳnh", "Huỳnh"), ("  Giàng   A\u00a0Páo ", "Giàng A Páo"),
    ("Lư\u00adơng", "Lương"),
])
def test_clean(raw, expected):
    assert clean(raw) == expected


@given(names)
def test_clean_is_idempotent(text):
    assert clean(clean(text)) == clean(text)


@given(names)
def test_fold_is_stable_under_normalisation(text):
    assert fold(text) == fold(clean(text)) == fold(unicodedata.normalize("NFD", text))
    assert fold(fold(text)) == fold(text)
    assert all(ord(c) < 128 for c in fold(text))


@pytest.mark.parametrize("variant", [
    "GIANG A PAO", "Giàng A Páo", "GIÀNG A PÁO", unicodedata.normalize("NFD", "Giàng A Páo"),
    "giàng  a páo",
])
def test_the_same_name_folds_to_one_key(variant):
    assert fold(variant) == "giang a pao"


def test_old_and_new_tone_style_compare_equal():
    assert clean("Lò Thị Thuỷ") == clean("Lò Thị Thủy")
    assert clean(unicodedata.normalize("NFD", "Hoà")) == "Hòa"


def test_d_with_stroke_folds_to_d():
    assert fold("Đỗ Đức") == "do duc"


def test_title_name():
    assert title_name("GIÀNG A PÁO") == "Giàng A Páo"
