"""Why two records are (or are not) one person, in plain words (``hssk explain``).

The model is re-estimated from the database the same way a run estimates it, the pair is
compared level by level, and each level's weight, the total, any hard rule that vetoes the link
and the decision are returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.errors import UsageError
from etl.load import schema as s
from etl.match.compare import COMPARISONS, DIFFERENT, TONE_DIFFERS, columns, compare, take
from etl.match.engine import (
    ONE_ROW_PER_PERSON,
    SAME_LIST_PENALTY,
    Thresholds,
    identifier_pairs,
    prepare,
    read_master,
)
from etl.match.model import estimate

LABELS = {"given": "given name", "family": "family name", "middle": "middle name",
          "birth": "birth date", "sex": "sex", "commune": "commune", "household": "household head",
          "mother": "mother", "phone": "phone"}


@dataclass
class Explanation:
    a: dict[str, object]
    b: dict[str, object]
    rows: list[tuple[str, str, float]]
    total: float
    shared_identifiers: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    vetoes: list[str] = field(default_factory=list)
    decision: str = ""
    same_person_now: bool = False


def find_record(engine: Engine, reference: str) -> str:
    """A record key from a record key or "FILE:LOCATOR" (as ``hssk export links`` writes)."""
    with engine.connect() as conn:
        key = conn.execute(sa.select(s.source_records.c.record_key)
                           .where(s.source_records.c.record_key == reference)).scalar()
        if key is None and ":" in reference:
            name, locator = reference.rsplit(":", 1)
            key = conn.execute(
                sa.select(s.source_records.c.record_key).join(s.source_files)
                .where(s.source_files.c.file_name == name, s.source_records.c.locator == locator)
            ).scalar()
    if key is None:
        raise UsageError(f"no loaded record {reference!r}",
                         hint="give a record key, or FILE:LOCATOR as in `hssk export links`")
    return key


def person_records(engine: Engine, person_id: str) -> list[str]:
    with engine.connect() as conn:
        keys = conn.execute(sa.select(s.source_records.c.record_key)
                            .where(s.source_records.c.person_id == person_id)
                            .order_by(s.source_records.c.id)).scalars().all()
    if not keys:
        raise UsageError(f"no person {person_id!r}")
    return list(keys)


def explain_pair(engine: Engine, key_a: str, key_b: str,
                 thresholds: Thresholds | None = None) -> Explanation:
    thresholds = thresholds or Thresholds()
    master = read_master(engine)
    frame = prepare(master)
    ids = identifier_pairs(frame, np.ones(len(frame), dtype=bool))
    model = estimate(frame, ids)
    pos = {k: i for i, k in enumerate(frame["record_key"])}
    cols = columns(frame)
    left = take(cols, np.array([pos[key_a]]))
    levels = compare(left, take(cols, np.array([pos[key_b]])))
    a, b = frame.iloc[pos[key_a]].to_dict(), frame.iloc[pos[key_b]].to_dict()
    rows = [(LABELS[n], level, w) for n, level, w in model.explain(
        {n: int(levels.at[0, n]) for n in COMPARISONS}, a)]
    total = round(float(model.score(levels, left)[0]), 2)
    same_list = a["source_kind"] in ONE_ROW_PER_PERSON and a["file_key"] == b["file_key"]
    if same_list:
        rows.append(("same list", "both rows of one list of people", -SAME_LIST_PENALTY))
        total = round(total - SAME_LIST_PENALTY, 2)
    out = Explanation(a, b, rows, total, same_person_now=a["person_id"] == b["person_id"])
    for kind, label in (("personal_id", "personal ID number"),
                        ("social_insurance_code", "social-insurance code")):
        va, vb = a.get(kind), b.get(kind)
        if isinstance(va, str) and isinstance(vb, str):
            valid = kind != "personal_id" or (a["personal_id_status"] == "valid" ==
                                              b["personal_id_status"])
            if va == vb and valid:
                out.shared_identifiers.append(label)
            elif va != vb and valid and kind == "personal_id":
                out.conflicts.append(f"two different valid {label}s")
    lv = {n: int(levels.at[0, n]) for n in COMPARISONS}
    if 0 < lv["given"] <= TONE_DIFFERS:
        out.vetoes.append("the given names differ")
    if lv["family"] == DIFFERENT:
        out.vetoes.append("the family names differ")
    if lv["birth"] == 1:
        out.vetoes.append("the birth years are more than one year apart")
    if lv["sex"] == 1:
        out.vetoes.append("the sexes differ")
    if lv["commune"] == 1 and lv["birth"] not in (4, 7):
        out.vetoes.append("different communes without an exact birth date")
    if out.conflicts:
        out.decision = "never the same person: " + "; ".join(out.conflicts)
    elif out.shared_identifiers:
        out.decision = "linked by " + " and ".join(out.shared_identifiers)
    elif out.vetoes:
        out.decision = "not linked without an identifier: " + "; ".join(out.vetoes)
    elif total >= thresholds.link:
        out.decision = f"link: {total:+.1f} bits ≥ link threshold {thresholds.link:g}"
    elif total >= thresholds.review:
        out.decision = (f"review: {total:+.1f} bits is between the review ({thresholds.review:g})"
                        f" and link ({thresholds.link:g}) thresholds")
    else:
        out.decision = f"different people: {total:+.1f} bits < review threshold {thresholds.review:g}"
    return out

