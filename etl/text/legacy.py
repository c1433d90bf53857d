"""Legacy Vietnamese encodings: TCVN3 (ABC), VNI and VIQR, detected and converted to Unicode.

Schools and communes still type in the old .VnTime (TCVN3) and VNI-Times fonts. Inside an .xlsx
or a CSV the text is then stored as Latin-1 look-alikes ("NguyÔn V¨n Hïng"). The tables here are
derived from Unicode itself (base letter x tone), so every Vietnamese letter round-trips, and
detection works on character statistics so Unicode text is never "converted" by mistake.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Tone marks in the order used by both tables below.
_TONES = ("\u0300", "\u0309", "\u0303", "\u0301", "\u0323")  # grave hook tilde acute dot
_BASES = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")

# TCVN3 byte for each base letter with tones grave, hook, tilde, acute, dot (TCVN 5712:1993 VN3).
_TCVN3_TONED = {
    "a": (0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_PLAIN = {
    "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7,
    "ă": 0xA8, "â": 0xA9, "ê": 0xAA, "ô": 0xAB, "ơ": 0xAC, "ư": 0xAD, "đ": 0xAE,
}


def _compose(base: str, tone: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", base) + tone)


def _build_tcvn3() -> dict[str, str]:
    table = {chr(code): letter for letter, code in _TCVN3_PLAIN.items()}
    for base, codes in _TCVN3_TONED.items():
        for tone, code in zip(_TONES, codes, strict=True):
            table[chr(code)] = _compose(base, tone)
    return table


TCVN3_TO_UNICODE: dict[str, str] = _build_tcvn3()
UNICODE_TO_TCVN3: dict[str, str] = {v: k for k, v in TCVN3_TO_UNICODE.items()}

# VNI: base letter + one mark character. Lower-case marks; capitals use the upper-case marks.
_VNI_TONE = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï"}
_VNI_CIRC_TONE = {"": "â", "\u0301": "á", "\u0300": "à", "\u0309": "å", "\u0303": "ã", "\u0323": "ä"}
_VNI_BREVE_TONE = {"": "ê", "\u0301": "é", "\u0300": "è", "\u0309": "ú", "\u0303": "ü", "\u0323": "ë"}
_VNI_I = {"\u0301": "í", "\u0300": "ì", "\u0309": "æ", "\u0303": "ó", "\u0323": "ò"}


def _vni_sequence(letter: str) -> str | None:
    """VNI spelling of one lower-case Vietnamese letter, or None when it is plain ASCII."""
    if letter == "đ":
        return "ñ"
    decomposed = unicodedata.normalize("NFD", letter)
    base, marks = decomposed[0], decomposed[1:]
    tone = next((m for m in marks if m in _TONES), "")
    shape = marks.replace(tone, "") if tone else marks
    if base == "i":
        return _VNI_I[tone] if tone else None
    if shape == "\u0302":  # circumflex: â ê ô
        return base + _VNI_CIRC_TONE[tone]
    if shape == "\u0306":  # breve: ă
        return base + _VNI_BREVE_TONE[tone]
    if shape == "\u031b":  # horn: ơ ư are single characters, then a plain tone mark
        single = {"o": "ô", "u": "ö"}[base]
        return single + (_VNI_TONE[tone] if tone else "")
    if tone:
        return base + _VNI_TONE[tone]
    return None


def _all_letters() -> list[str]:
    letters = ["đ"]
    for base in _BASES:
        letters.append(base)
        letters.extend(_compose(base, tone) for tone in _TONES)
    return letters


VIETNAMESE_LOWER: tuple[str, ...] = tuple(_all_letters())
VIETNAMESE_LETTERS: tuple[str, ...] = VIETNAMESE_LOWER + tuple(c.upper() for c in VIETNAMESE_LOWER)


def _build_vni() -> dict[str, str]:
    table: dict[str, str] = {}
    for letter in VIETNAMESE_LOWER:
        seq = _vni_sequence(letter)
        if seq is None or seq == letter:
            continue
        table[letter] = seq
        table[letter.upper()] = seq.upper()
    return table


UNICODE_TO_VNI: dict[str, str] = _build_vni()
VNI_TO_UNICODE: dict[str, str] = {v: k for k, v in UNICODE_TO_VNI.items()}
_VNI_PATTERN = re.compile(
    "|".join(re.escape(s) for s in sorted(VNI_TO_UNICODE, key=len, reverse=True))
)

# VIQR (RFC 1456): ASCII marks after the letter.
_VIQR_SHAPE = {"\u0306": "(", "\u0302": "^", "\u031b": "+"}
_VIQR_TONE = {"\u0301": "'", "\u0300": "`", "\u0309": "?", "\u0303": "~", "\u0323": "."}


def _viqr_sequence(letter: str) -> str | None:
    if letter == "đ":
        return "dd"
    decomposed = unicodedata.normalize("NFD", letter)
    base, marks = decomposed[0], decomposed[1:]
    if not marks:
        return None
    out = base
    for mark in marks:
        out += _VIQR_SHAPE.get(mark, "") + _VIQR_TONE.get(mark, "")
    return out


def _build_viqr() -> dict[str, str]:
    table: dict[str, str] = {}
    for letter in VIETNAMESE_LOWER:
        seq = _viqr_sequence(letter)
        if seq is None:
            continue
        table[letter] = seq
        table[letter.upper()] = seq[0].upper() + seq[1:] if letter != "đ" else "DD"
    return table


UNICODE_TO_VIQR: dict[str, str] = _build_viqr()
VIQR_TO_UNICODE: dict[str, str] = {v: k for k, v in UNICODE_TO_VIQR.items()}
VIQR_TO_UNICODE["Dd"] = "Đ"
_VIQR_PATTERN = re.compile(
    "|".join(re.escape(s) for s in sorted(VIQR_TO_UNICODE, key=len, reverse=True))
)


def tcvn3_to_unicode(text: str) -> str:
    """Decode TCVN3 text seen as Latin-1 characters. Capitals with a tone do not exist in
    the font, so such letters come out lower case (docs/domain.md#legacy-encodings)."""
    return "".join(TCVN3_TO_UNICODE.get(ch, ch) for ch in text)


def unicode_to_tcvn3(text: str) -> str:
    """Encode to TCVN3 (for tests and fixtures); capitals with a tone are written lower case."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in UNICODE_TO_TCVN3:
            out.append(UNICODE_TO_TCVN3[ch])
        elif ch.lower() in UNICODE_TO_TCVN3 and ch.lower() != ch:
            out.append(UNICODE_TO_TCVN3[ch.lower()])
        else:
            out.append(ch)
    return "".join(out)


def vni_to_unicode(text: str) -> str:
    """Decode VNI text (base letter followed by a Latin-1 mark character)."""
    return _VNI_PATTERN.sub(lambda m: VNI_TO_UNICODE[m.group(0)], text)


def unicode_to_vni(text: str) -> str:
    return "".join(UNICODE_TO_VNI.get(ch, ch) for ch in unicodedata.normalize("NFC", text))


def viqr_to_unicode(text: str) -> str:
    return _VIQR_PATTERN.sub(lambda m: VIQR_TO_UNICODE[m.group(0)], text)


def unicode_to_viqr(text: str) -> str:
    return "".join(UNICODE_TO_VIQR.get(ch, ch) for ch in unicodedata.normalize("NFC", text))


DECODERS = {
    "unicode": lambda s: s,
    "tcvn3": tcvn3_to_unicode,
    "vni": vni_to_unicode,
    "viqr": viqr_to_unicode,
}
ENCODINGS = tuple(DECODERS)

# Latin-1 letters that are also Vietnamese letters in Unicode; every other Latin-1 character
# in a name is evidence of a legacy font.
LATIN1_VIETNAMESE = frozenset("ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúý")
LATIN1_FOREIGN = frozenset(
    chr(c) for c in range(0xA1, 0x100) if chr(c) not in LATIN1_VIETNAMESE
) - frozenset("°±²³´")
# Bytes only TCVN3 uses (0xA1–0xBE less punctuation it leaves alone): ă â ê ô ơ ư đ à ả ã á ạ …
_TCVN3_ONLY = frozenset(chr(c) for c in range(0xA1, 0xBF)) - frozenset("°±²³´")
_VIQR_MARK = re.compile(r"[aeiouyAEIOUY](?:[\(\^\+][`'?~.]?|[`'?~])(?=[a-zA-Z ]|$)|\b[dD][dD]")


@dataclass(frozen=True)
class Detection:
    """What a column (or file) looks like: its encoding and the evidence behind it."""

    encoding: str
    vietnamese_unicode: int
    legacy_marks: int
    confidence: float


def detect_encoding(values: Iterable[str]) -> Detection:
    """Guess the legacy encoding of a column of text from character statistics.

    Unicode Vietnamese uses letters above U+0100 (ă đ ơ ư, U+1EA0–U+1EF9) that no legacy font
    produces; legacy fonts produce Latin-1 characters that are not Vietnamese letters. TCVN3
    uses 0xA1–0xBE heavily, VNI almost never. Anything unclear stays Unicode.
    """
    values_list = [v for v in values if isinstance(v, str)]
    viet = foreign = tcvn3_only = viqr = 0
    for value in values_list:
        if not value:
            continue
        for ch in value:
            o = ord(ch)
            if o < 0x80:
                continue
            if 0x100 <= o <= 0x1EF9:
                viet += 1
            elif ch in LATIN1_FOREIGN:
                foreign += 1
                if ch in _TCVN3_ONLY:
                    tcvn3_only += 1
        if "^" in value or "+" in value or "(" in value or "~" in value or "`" in value:
            viqr += len(_VIQR_MARK.findall(value))
    if foreign == 0 or viet >= foreign:
        if viet == 0 and foreign == 0 and viqr >= 3:
            return Detection("viqr", 0, viqr, min(1.0, viqr / 10))
        return Detection("unicode", viet, foreign, 1.0 if viet else 0.5)
    # Legacy: the decoding that leaves the fewest non-Vietnamese characters wins; on a tie,
    # TCVN3's private range (ă â ê ô ơ ư đ à á …) decides.
    sample = [v for v in values_list if v]
    leftovers = {enc: _foreign_count(DECODERS[enc](v) for v in sample) for enc in ("tcvn3", "vni")}
    if leftovers["tcvn3"] != leftovers["vni"]:
        encoding = min(leftovers, key=leftovers.__getitem__)
    else:
        encoding = "tcvn3" if tcvn3_only >= 0.15 * foreign else "vni"
    resolved = 1 - leftovers[encoding] / foreign
    return Detection(encoding, viet, foreign, round(max(0.0, resolved), 3))


def _foreign_count(values: Iterable[str]) -> int:
    return sum(1 for v in values for ch in v if ch in LATIN1_FOREIGN)


def decode(text: str, encoding: str) -> str:
    """Convert text in ``encoding`` (unicode, tcvn3, vni, viqr) to Unicode."""
    try:
        return DECODERS[encoding](text)
    except KeyError as exc:
        raise ValueError(f"unknown text encoding {encoding!r}; choose one of {ENCODINGS}") from exc
