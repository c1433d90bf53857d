"""A facility's patient id (MA_BN) links records, unless they disagree on sex or on the birth
year by more than one: then the id was re-used or mistyped, and the pair goes to review."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
import sqlalchemy as sa

from etl.synth import simulate
from etl.synth.clinic import episode

VISIT = dt.datetime(2025, 6, 2, 9, 30)


def _month(tmp_path, residents) -> None:
    rng = random.Random(1)
    eps = [episode(r, f"38150LK{i:04d}", "38150", VISIT + dt.timedelta(days=i), rng)
           for i, r in enumerate(residents)]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "xml_38150_202506.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><GIAMDINHHS><THONGTINDONVI><MACSKCB>38150'
        "</MACSKCB></THONGTINDONVI><THONGTINHOSO><SOLUONGHOSO>2</SOLUONGHOSO><DANHSACHHOSO>"
        f"{''.join(eps)}</DANHSACHHOSO></THONGTINHOSO></GIAMDINHHS>", encoding="utf-8")


def _two(sex_b: str | None, years_apart: int):
    """Two different adults sharing patient id BN7777 and no other identifier."""
    people = [r for r in simulate(300, seed=5) if r.birth.year < 1990 and not r.year_only]
    a = people[0]
    b = next(r for r in people if r.given != a.given and r.family != a.family
             and r.sex == (sex_b or a.sex))
    strip = {"personal_id": None, "social_insurance_code": None,
             "facility_ids": {"38150": "BN7777"}}
    a = dataclasses.replace(a, **strip)
    b = dataclasses.replace(b, **strip, birth=a.birth.replace(year=a.birth.year + years_apart))
    return a, b


@pytest.mark.parametrize(("other_sex", "years_apart", "persons", "reviews"), [
    (True, 0, 2, 1),  # different sex: two persons, one review pair
    (False, 3, 2, 1),  # birth years three apart
    (False, 1, 1, 0),  # same sex, years one apart: one person (a typo in the year)
    (False, 0, 1, 0),  # same sex and birth year: merged by the patient id
])
def test_patient_id_guard(db, db_url, hssk, tmp_path, other_sex, years_apart, persons,
                          reviews) -> None:
    a, _ = _two(None, 0)
    a, b = _two(("F" if a.sex == "M" else "M") if other_sex else None, years_apart)
    _month(tmp_path, [a, b])
    result = hssk("run", str(tmp_path / "in"), db=db_url)
    assert result.exit_code == 0, result.output
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT person_id, match_rule FROM source_records")).all()
        queued = conn.execute(sa.text(
            "SELECT person_a, person_b, score FROM match_reviews")).all()
    assert len(rows) == 2
    assert len({r.person_id for r in rows}) == persons
    assert len(queued) == reviews
    if reviews:
        assert {queued[0].person_a, queued[0].person_b} == {r.person_id for r in rows}
    else:
        assert {r.match_rule for r in rows} == {"identifier"}
