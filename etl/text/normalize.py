"""Vietnamese text clean-up: one Unicode form, one tone-placement style, one match key.

The same name arrives precomposed or decomposed, with the tone on either vowel of "oa/oe/uy"
(Hoà/Hòa), in upper case, with stray spaces. ``clean`` makes one canonical display form;
``fold`` makes the key used for comparison (no diacritics, Đ → D, lower case).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WS = re.compile(r"\s+")
_VOWELS = frozenset("aăâeêioôơuưy")
# Open syllables ending in these vowel pairs carry the tone on the first vowel in the style we
# normalise to (Hòa, Khỏe, Thủy), i.e. the style most registry exports use.
_SHIFT_PAIRS = {("o", "a"), ("o", "e"), ("u", "y")}
_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "D", "\u00ad": ""})
_WORD = re.compile(r"\w+", re.UNICODE)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def squash_spaces(text: str) -> str:
    """Collapse runs of whitespace (including non-breaking spaces) and trim."""
    return _WS.sub(" ", text.replace("\u00a0", " ")).strip()


def _split_tone(syllable_nfd: str) -> tuple[str, str | None]:
    tone = next((c for c in syllable_nfd if c in _TONE_MARKS), None)
    if tone is None:
        return syllable_nfd, None
    return syllable_nfd.replace(tone, "", 1), tone


@functools.lru_cache(maxsize=65536)  # a district's names and places share a few thousand words
def _retone_syllable(word: str) -> str:
    """Move the tone from the second to the first vowel of a final oa/oe/uy (Hoà → Hòa)."""
    nfd = unicodedata.normalize("NFD", word)
    bare, tone = _split_tone(nfd)
    if tone is None:
        return word
    letters = unicodedata.normalize("NFC", bare)
    lower = letters.lower()
    if len(lower) < 2 or (lower[-2], lower[-1]) not in _SHIFT_PAIRS:
        return word
    start = len(lower) - 2
    if lower[:start].endswith("q") or (lower[-2:] == "uy" and lower[:start].endswith("g")):
        return word  # "quý", "gùy": the u belongs to the onset, the tone stays on y
    if start > 0 and lower[start - 1] in _VOWELS:
        return word  # three-vowel cluster (e.g. "ngoé" is not this case), leave untouched
    first = unicodedata.normalize("NFC", unicodedata.normalize("NFD", letters[start]) + tone)
    return letters[:start] + first + letters[start + 1 :]


def normalize_tone_style(text: str) -> str:
    """Place tone marks in one style so "Hoà" and "Hòa", "Thuỷ" and "Thủy" compare equal."""
    return _WORD.sub(lambda m: _retone_syllable(m.group(0)), text)


def clean(text: str | None) -> str:
    """Canonical display form: NFC, one tone style, single spaces, soft hyphens removed."""
    if text is None:
        return ""
    return _clean(str(text))


@functools.lru_cache(maxsize=131072)
def _clean(text: str) -> str:
    # Names, villages and communes repeat all through a province's files: each distinct text
    # is cleaned once.
    return normalize_tone_style(squash_spaces(nfc(text).replace("\u00ad", "")))


def fold(text: str | None) -> str:
    """Match key: lower case, no diacritics, Đ → d, single spaces. "Giàng A Páo" → "giang a pao"."""
    if not text:
        return ""
    return _fold(str(text))


@functools.lru_cache(maxsize=262144)
def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_FOLD_EXTRA))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return squash_spaces(stripped).lower()


def title_name(text: str) -> str:
    """Upper-case the first letter of each syllable ("GIÀNG A PÁO" → "Giàng A Páo")."""
    return " ".join(part[:1].upper() + part[1:].lower() for part in text.split(" ") if part)


def has_diacritics(text: str) -> bool:
    return fold(text) != squash_spaces(text).lower()
