"""Plain-word explanations of review pairs, in English and Vietnamese: the matcher's own
(:func:`etl.explain.explain_pairs` — one model estimate for all the pairs)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from etl.explain import explain_pairs


def explanations(engine: Engine, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(English, Vietnamese) plain words for each pair of record keys, in order."""
    return [(e.text_en, e.text_vi) for e in explain_pairs(engine, list(pairs))]
