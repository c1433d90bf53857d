"""Dates as clerks write them, read as (value, precision) and never with an invented day.

Many elderly and minority people know only their birth year; registries write that as "1955",
"00/00/1955" or the placeholder "01/01/1955"; the insurance XML writes "19550000". All of them
become year precision. Impossible dates are rejected with a reason, never guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

DAY, MONTH, YEAR = "day", "month", "year"
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_SEP = r"[/\-.\s]"
_DMY = re.compile(rf"^(\d{{1,2}}){_SEP}+(\d{{1,2}}){_SEP}+(\d{{2}}|\d{{4}})$")
_MY = re.compile(rf"^(\d{{1,2}}){_SEP}+(\d{{4}})$")
_YMD_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DIGITS = re.compile(r"^\d+$")
_DMY_TIME = re.compile(rf"^(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}})\s+\d{{1,2}}:\d{{2}}(?::\d{{2}})?$")
_YEAR_WORDS = re.compile(r"^(?:n[aă]m\s+)?(\d{4})$", re.IGNORECASE)


@dataclass(frozen=True)
class PartialDate:
    """A date known to day, month or year precision. ``ambiguous`` marks d/m that could swap."""

    year: int
    month: int | None = None
    day: int | None = None
    ambiguous: bool = False

    @property
    def precision(self) -> str:
        return DAY if self.day else MONTH if self.month else YEAR

    def iso(self) -> str:
        """ISO text at the known precision: 1962, 1962-05 or 1962-05-17."""
        if self.day and self.month:
            return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
        if self.month:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}"

    def as_date(self) -> dt.date | None:
        return dt.date(self.year, self.month, self.day) if self.day and self.month else None


class DateError(ValueError):
    """A value that cannot be a date; ``slug`` names the problem for the rejects table."""

    def __init__(self, slug: str, message: str) -> None:
        super().__init__(message)
        self.slug = slug


def _century(two_digits: int, pivot_year: int) -> int:
    """Two-digit years: the latest year not after ``pivot_year`` (births cannot be future)."""
    year = 2000 + two_digits
    return year if year <= pivot_year else year - 100


def _build(year: int, month: int, day: int, *, placeholder_ok: bool, ambiguous: bool = False) -> PartialDate:
    if not 1850 <= year <= 2100:
        raise DateError("invalid-date", f"year {year} is out of range")
    if month == 0 and day == 0:
        return PartialDate(year)
    if day == 0 and 1 <= month <= 12:
        return PartialDate(year, month)
    if placeholder_ok and month == 1 and day == 1:
        return PartialDate(year)  # 01/01/YYYY is how registries write "year only"
    try:
        dt.date(year, month, day)
    except ValueError as exc:
        raise DateError("invalid-date", f"no such day: {day:02d}/{month:02d}/{year}") from exc
    return PartialDate(year, month, day, ambiguous=ambiguous and day != month)


def from_excel_serial(serial: float) -> dt.date:
    """Excel's 1900 date system (with its fictional 29 Feb 1900 folded into the epoch)."""
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def parse_date(
    value: object,
    *,
    placeholder_year_only: bool = True,
    pivot_year: int | None = None,
    allow_serial: bool = False,
) -> PartialDate | None:
    """Parse what a clerk typed into a :class:`PartialDate`; ``None`` for an empty cell.

    ``placeholder_year_only`` reads 01/01/YYYY as year-only (right for birth dates, wrong for
    visit dates). ``allow_serial`` accepts bare numbers 10000–80000 as Excel serials (cells that
    lost their date format). Raises :class:`DateError` for anything that is not a date.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return _build(value.year, value.month, value.day, placeholder_ok=placeholder_year_only)
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and 1850 <= value <= 2100:
            return PartialDate(int(value))
        if allow_serial and 10000 <= value <= 80000:
            d = from_excel_serial(float(value))
            return _build(d.year, d.month, d.day, placeholder_ok=placeholder_year_only)
        value = str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    if not text or text.lower() in {"nan", "none", "null", "-", "--", "không rõ", "khong ro"}:
        return None
    pivot = pivot_year or dt.date.today().year
    if m := _YEAR_WORDS.match(text):
        return _build(int(m.group(1)), 0, 0, placeholder_ok=True)
    if _DIGITS.match(text):
        return _parse_compact(text, placeholder_year_only, allow_serial)
    if m := _YMD_ISO.match(text):
        return _build(int(m[1]), int(m[2]), int(m[3]), placeholder_ok=placeholder_year_only)
    if m := _DMY_TIME.match(text):
        return _build(int(m[3]), int(m[2]), int(m[1]), placeholder_ok=placeholder_year_only)
    if m := _DMY.match(text):
        day, month, year_text = int(m[1]), int(m[2]), m[3]
        year = int(year_text) if len(year_text) == 4 else _century(int(year_text), pivot)
        if month > 12 and day <= 12:
            raise DateError(
                "invalid-date", f"month {month} is impossible (day and month swapped?)"
            )
        return _build(
            year, month, day, placeholder_ok=placeholder_year_only,
            ambiguous=day <= 12 and month <= 12,
        )
    if m := _MY.match(text):
        return _build(int(m[2]), int(m[1]), 0, placeholder_ok=False)
    raise DateError("invalid-date", "not a recognisable date")


def _parse_compact(text: str, placeholder_ok: bool, allow_serial: bool) -> PartialDate:
    """yyyy, yyyymmdd, yyyy0000, yyyymmddHHMM (insurance XML), and Excel serials as text."""
    if len(text) == 4:
        return _build(int(text), 0, 0, placeholder_ok=True)
    if len(text) == 12:
        hour, minute = int(text[8:10]), int(text[10:12])
        if hour > 23 or minute > 59:
            raise DateError("invalid-date", "time part out of range")
        text = text[:8]
    if len(text) == 8:
        return _build(int(text[:4]), int(text[4:6]), int(text[6:8]), placeholder_ok=placeholder_ok)
    if allow_serial and len(text) == 5:
        d = from_excel_serial(int(text))
        return _build(d.year, d.month, d.day, placeholder_ok=placeholder_ok)
    raise DateError("invalid-date", f"{len(text)} digits is not a date layout")
