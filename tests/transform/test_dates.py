"""Dates as (value, precision): never an invented day."""

import datetime as dt

import pytest

from etl.transform.dates import DateError, parse_date


@pytest.mark.parametrize("raw, iso, precision", [
    ("05/09/2015", "2015-09-05", "day"),
    ("5/9/2015", "2015-09-05", "day"),
    ("05-09-2015", "2015-09-05", "day"),
    ("20150905", "2015-09-05", "day"),
    ("201509050830", "2015-09-05", "day"),
    ("2015-09-05", "2015-09-05", "day"),
    (dt.date(2015, 9, 5), "2015-09-05", "day"),
    (dt.datetime(2015, 9, 5, 7, 30), "2015-09-05", "day"),
    ("1955", "1955", "year"),
    (1955, "1955", "year"),
    ("00/00/1955", "1955", "year"),
    ("01/01/1955", "1955", "year"),
    ("19550000", "1955", "year"),
    ("195500000000", "1955", "year"),
    ("00/03/1955", "1955-03", "month"),
    ("3/1955", "1955-03", "month"),
    ("năm 1960", "1960", "year"),
    ("15/9/15", "2015-09-15", "day"),
    ("15/9/62", "1962-09-15", "day"),
])
def test_parse(raw, iso, precision):
    parsed = parse_date(raw, pivot_year=2025)
    assert (parsed.iso(), parsed.precision) == (iso, precision)


def test_excel_serial_only_when_allowed():
    assert parse_date(42252.0, allow_serial=True).iso() == "2015-09-05"
    with pytest.raises(DateError):
        parse_date("42252")


def test_placeholder_kept_for_visit_dates():
    assert parse_date("01/01/2024", placeholder_year_only=False).precision == "day"


@pytest.mark.parametrize("raw", ["31/02/2010", "13/13/2010", "12/25/2010", "abc", "1/2/3/4",
                                 "201513", "1700"])
def test_impossible_dates_are_rejected_with_a_reason(raw):
    with pytest.raises(DateError) as exc:
        parse_date(raw)
    assert exc.value.slug == "invalid-date"
    assert str(exc.value)


def test_ambiguous_day_month_is_noted():
    assert parse_date("05/09/2015").ambiguous
    assert not parse_date("25/09/2015").ambiguous
    assert not parse_date("05/05/2015").ambiguous


@pytest.mark.parametrize("raw", [None, "", "  ", float("nan"), "-"])
def test_empty_is_none(raw):
    assert parse_date(raw) is None


def test_a_broken_date_keeps_its_year_as_a_year_only_birth():
    """"92/11/1955" has no such day; the person loads born in 1955, with the finding."""
    import datetime as dt

    from etl.transform.dates import PartialDate
    from etl.transform.records import _parse_birth

    today = dt.date(2026, 11, 26)
    assert _parse_birth("92/11/1955", today) == (
        "year-kept", (PartialDate(1955), "no such day: 92/11/1955; the year is kept"))
    assert _parse_birth("19551192", today)[0] == "year-kept"
    assert _parse_birth("31/02/65", today) == ("invalid", "no such day: 31/02/1965")
    assert _parse_birth("45/45/2031", today)[0] == "invalid"  # a year still to come
