"""Vietnamese text kit shared by every stage: one Unicode form and tone style, the folded match
key (:mod:`etl.text.normalize`), and the legacy TCVN3/VNI/VIQR encodings
(:mod:`etl.text.legacy`). It imports nothing else of the project, so extract and transform can
both use it without knowing each other."""

from etl.text.normalize import (
    clean,
    fold,
    has_diacritics,
    nfc,
    normalize_tone_style,
    squash_spaces,
    title_name,
)

__all__ = ["clean", "fold", "has_diacritics", "nfc", "normalize_tone_style", "squash_spaces",
           "title_name"]
