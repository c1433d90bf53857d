"""Reports as XLSX workbooks that are byte-identical for the same data.

openpyxl stamps the save time into ``docProps/core.xml`` and into every zip entry; both are
replaced by a fixed instant (the report's own date), so re-running a report on an unchanged
database gives the same bytes and a changed file means changed numbers.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from etl.privacy import safe_cell
from etl.report.tables import ReportTable

_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_MAX_SHEET_NAME = 31


def write_workbook(out: Path, tables: Sequence[ReportTable], *,
                   stamp: dt.date | None = None) -> Path:
    """Write ``tables`` as sheets (the first table first), header rows bold and frozen."""
    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        _add_sheet(wb, table.name, table.columns, table.rows)
    return save_deterministic(wb, out, stamp=stamp)


def write_rows(out: Path, sheet: str, header: list[str], rows: Iterable[Iterable[object]], *,
               stamp: dt.date | None = None) -> int:
    """One sheet of ``rows`` under ``header`` (cells formula-safe); returns the row count."""
    wb = Workbook()
    wb.remove(wb.active)
    n = _add_sheet(wb, sheet, header, rows)
    save_deterministic(wb, out, stamp=stamp)
    return n


def _add_sheet(wb: Workbook, name: str, header: list[str],
               rows: Iterable[Iterable[object]]) -> int:
    ws = wb.create_sheet(name[:_MAX_SHEET_NAME])
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    widths = [len(str(h)) for h in header]
    n = 0
    for row in rows:
        values = [safe_cell(v) for v in row]
        ws.append(values)
        for i, v in enumerate(values[:len(widths)]):
            widths[i] = max(widths[i], min(len(str(v)) if v is not None else 0, 40))
        n += 1
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width + 2
    return n


def save_deterministic(wb: Workbook, out: Path, *, stamp: dt.date | None = None) -> Path:
    """Save ``wb`` with fixed document timestamps and zip entry dates."""
    when = dt.datetime.combine(stamp or dt.date(2000, 1, 1), dt.time())
    wb.properties.creator = "hssk"
    wb.properties.lastModifiedBy = "hssk"
    buffer = io.BytesIO()
    wb.save(buffer)
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _STAMP.sub(rb"\g<1>" + iso + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, data)
    return out
