"""The one shape every report renders from: named tables of plain values.

The HTML page and the workbook both draw the same :class:`ReportTable` objects, so the picture
and the spreadsheet can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReportTable:
    """One table: a sheet in the workbook, a ``<table>`` on the page.

    ``name`` is the sheet name and the HTML id; ``key`` names the column whose value tags each
    HTML row (``data-row``), so a browser test can find a row without parsing text.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    key: str | None = None
    note: str = ""

    def column(self, name: str) -> list[object]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def as_dicts(self) -> list[dict[str, object]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def percent(part: int, whole: int) -> float | None:
    """A share in percent with one decimal, or None when there is nobody to count."""
    return round(100.0 * part / whole, 1) if whole else None
