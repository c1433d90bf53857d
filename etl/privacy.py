"""What may leave the toolkit for people to read: masked ID numbers, formula-safe cells.

Logs and error messages never carry names or ID numbers at all; exports and screens meant for
people show ID numbers masked unless the operator asks otherwise.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path


def mask(value: object, show: bool = False) -> object:
    """Keep the last 3 characters of an ID number: enough to recognise, not to copy."""
    if value is None or show:
        return value
    text = str(value)
    return "•" * max(len(text) - 3, 0) + text[-3:]


def safe_cell(value: object) -> object:
    """Neutralise spreadsheet formula injection: text starting with = + - @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_csv(out: Path, header: list[str], rows: Iterable[Iterable[object]], *,
              bom: bool = False) -> int:
    """A CSV for people: every cell formula-safe; with a BOM when Excel will open it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(out, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([safe_cell(v) for v in row])
            n += 1
    return n
