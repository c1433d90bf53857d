"""TCVN3, VNI and VIQR: exhaustive round-trips and detection that never harms Unicode."""

import re
import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from etl.text.legacy import (
    VIETNAMESE_LETTERS,
    VIETNAMESE_LOWER,
    detect_encoding,
    tcvn3_to_unicode,
    unicode_to_tcvn3,
    unicode_to_viqr,
    unicode_to_vni,
    viqr_to_unicode,
    vni_to_unicode,
)

vietnamese_text = st.text(
    alphabet=st.sampled_from(VIETNAMESE_LETTERS + tuple("bcdghklmnpqrstvx ")), min_size=1,
    max_size=40)


def test_every_letter_has_a_legacy_spelling():
    assert len(VIETNAMESE_LOWER) == 1 + 12 * 6  # đ + 12 vowels × (plain + 5 tones)
    for letter in VIETNAMESE_LOWER:
        assert tcvn3_to_unicode(unicode_to_tcvn3(letter)) == letter
        assert vni_to_unicode(unicode_to_vni(letter)) == letter
        assert vni_to_unicode(unicode_to_vni(letter.upper())) == letter.upper()
        assert viqr_to_unicode(unicode_to_viqr(letter.upper())) == letter.upper()


@given(vietnamese_text)
def test_tcvn3_round_trip_lower_case(text):
    lower = text.lower()
    assert tcvn3_to_unicode(unicode_to_tcvn3(lower)) == lower


@given(vietnamese_text)
def test_tcvn3_capitals_with_tone_come_back_lower_case(text):
    # The font has no toned capitals: what comes back equals the input up to that case change.
    back = tcvn3_to_unicode(unicode_to_tcvn3(text))
    assert back.lower() == text.lower()


@given(vietnamese_text)
def test_vni_round_trip(text):
    assert vni_to_unicode(unicode_to_vni(text)) == text


@given(vietnamese_text)
def test_viqr_round_trip(text):
    # VIQR spells đ as "dd", so "d" before "d"/"đ" is ambiguous by design (RFC 1456); no
    # Vietnamese syllable contains either sequence.
    assume(not re.search(r"d[dđ]", text, re.IGNORECASE))
    assert viqr_to_unicode(unicode_to_viqr(text)) == text


@pytest.mark.parametrize("legacy, expected", [
    ("NguyÔn V¨n Hïng", "Nguyễn Văn Hùng"),
    ("Thanh Hãa", "Thanh Hóa"),
    ("Lª ThÞ", "Lê Thị"),
])
def test_tcvn3_examples(legacy, expected):
    assert tcvn3_to_unicode(legacy) == expected


@pytest.mark.parametrize("legacy, expected", [
    ("Nguyeãn Vaên", "Nguyễn Văn"), ("Haø Noäi", "Hà Nội"), ("ñöôïc", "được"),
    ("Chæ thò", "Chỉ thị"), ("Töï do", "Tự do"),
])
def test_vni_examples(legacy, expected):
    assert vni_to_unicode(legacy) == expected


def test_detects_each_encoding_on_a_column_of_names():
    names = ["Giàng A Páo", "Lò Thị Hương", "Nguyễn Văn Hùng", "Vàng Thị Mỷ", "Hà Văn Đức"]
    assert detect_encoding(names).encoding == "unicode"
    assert detect_encoding([unicode_to_tcvn3(n) for n in names]).encoding == "tcvn3"
    assert detect_encoding([unicode_to_vni(n) for n in names]).encoding == "vni"
    assert detect_encoding([unicode_to_viqr(n) for n in names]).encoding == "viqr"


def test_short_tcvn3_sex_column_is_not_mistaken_for_vni():
    assert detect_encoding(["N÷", "Nam", "N÷", "Nam"]).encoding == "tcvn3"


@given(st.lists(vietnamese_text, min_size=1, max_size=10))
def test_unicode_is_never_converted(values):
    nfc = [unicodedata.normalize("NFC", v) for v in values]
    assert detect_encoding(nfc).encoding == "unicode"


def test_decomposed_unicode_is_not_legacy():
    decomposed = [unicodedata.normalize("NFD", "Giàng A Páo"), unicodedata.normalize("NFD", "Thủy")]
    assert detect_encoding(decomposed).encoding == "unicode"
