"""The review workbook: the open queue as an XLSX analysts fill in, and reading it back.

Sheet ``review``, one row per pair: ``record_a`` and ``record_b`` (FILE:LOCATOR, as `hssk
explain` takes them), ``decision`` (a dropdown: same / different / skip), ``note``, the pair's
probability, score and group, then each field of both records side by side (differing cells
filled), the explanation in English and Vietnamese, and a hidden ``check`` column: a hash of
the two key cells, so an import refuses a row whose keys were edited. ID numbers are masked
unless asked otherwise; every text cell is safe from formula injection.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy.engine import Engine

from etl.errors import UsageError
from etl.load.db import require_current
from etl.privacy import mask, safe_cell
from etl.report.workbook import save_deterministic
from etl.review.explain import explanations
from etl.review.queue import FIELDS, ID_FIELDS, Pair, open_pairs

SHEET = "review"
DECISION_WORDS = ("same", "different", "skip")
KEY_COLUMNS = ["record_a", "record_b", "decision", "note"]
PAIR_COLUMNS = ["probability", "score", "group"]
SIDE_COLUMNS = [f"{f}_{side}" for f in FIELDS for side in ("a", "b")]
TEXT_COLUMNS = ["explanation_en", "explanation_vi"]
CHECK = "check"
COLUMNS = [*KEY_COLUMNS, *PAIR_COLUMNS, *SIDE_COLUMNS, *TEXT_COLUMNS, CHECK]
DIFFERS = PatternFill("solid", fgColor="FFE699")
FORMULA_MARKS = ("=", "+", "-", "@", "\t", "\r")

HELP = [
    ("Cách dùng / How to use", ""),
    ("decision", "same = cùng một người / the same person; different = hai người khác nhau / "
                 "two people; skip hoặc để trống / or empty = chưa quyết định / undecided"),
    ("note", "Ghi chú, lưu cùng quyết định / a note, kept with the decision"),
    ("record_a, record_b", "Không sửa: tệp và vị trí của hai bản ghi / do not edit: each "
                           "record's file and position (as `hssk explain` takes them)"),
    ("ô tô màu / filled cells", "Hai bản ghi khác nhau ở trường này / the records differ here"),
    ("explanation_en, explanation_vi", "Vì sao cặp này cần xem lại / why the pair is queued"),
    ("Nhập lại / import", "hssk review import FILE.xlsx"),
]


def check_value(ref_a: str, ref_b: str) -> str:
    """The hidden check of a row: a hash of its two key cells."""
    return "h" + hashlib.sha256(f"{ref_a}|{ref_b}".encode()).hexdigest()[:16]


def unescape(value: object) -> str:
    """A key cell as written before :func:`etl.privacy.safe_cell` quoted it."""
    text = "" if value is None else str(value).strip()
    if text.startswith("'") and text[1:2] in FORMULA_MARKS:
        return text[1:]
    return text


@dataclass
class ExportResult:
    path: Path
    pairs: int
    groups: int
    # the mean of the pairs' probabilities: how many answers should come back "same"
    expected_same_share: float | None = None


def export_workbook(engine: Engine, out: Path, *, limit: int | None = None,
                    commune: str | None = None, show_ids: bool = False) -> ExportResult:
    """Write the open review queue to ``out`` (see the module docstring); returns how many
    pairs and groups it holds."""
    if limit is not None and limit < 0:
        raise UsageError("--limit must be 0 or more")
    require_current(engine)
    with engine.connect() as conn:
        pairs = open_pairs(conn, commune=commune, limit=limit)
    words = explanations(engine, [(p.key_a, p.key_b) for p in pairs])
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(COLUMNS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for p, (en, vi) in zip(pairs, words, strict=True):
        ws.append([safe_cell(v) for v in _row(p, en, vi, show_ids)])
        row = ws.max_row
        for f in FIELDS:
            if f != "source_file" and _differs(p.a.get(f), p.b.get(f)):
                for side in ("a", "b"):
                    ws.cell(row, COLUMNS.index(f"{f}_{side}") + 1).fill = DIFFERS
    _decorate(ws, len(pairs))
    help_sheet = wb.create_sheet("help")
    for line in HELP:
        help_sheet.append(list(line))
    help_sheet.column_dimensions["A"].width = 32
    help_sheet.column_dimensions["B"].width = 110
    save_deterministic(wb, out)
    known = [float(p.probability) for p in pairs if p.probability is not None]
    share = round(sum(known) / len(known), 3) if known else None
    return ExportResult(Path(out), len(pairs), len({p.group_key for p in pairs} - {None}),
                        share)


def _row(p: Pair, en: str, vi: str, show_ids: bool) -> list[object]:
    sides = []
    for f in FIELDS:
        for record in (p.a, p.b):
            value = record.get(f)
            sides.append(mask(value, show_ids) if f in ID_FIELDS else value)
    probability = None if p.probability is None else round(float(p.probability), 4)
    return [p.ref_a, p.ref_b, None, None, probability, round(p.score, 2), p.group_key,
            *sides, en, vi, check_value(p.ref_a, p.ref_b)]


def _differs(a: object, b: object) -> bool:
    return (a is not None or b is not None) and str(a or "").strip() != str(b or "").strip()


def _decorate(ws, rows: int) -> None:  # type: ignore[no-untyped-def]
    decision = get_column_letter(COLUMNS.index("decision") + 1)
    dv = DataValidation(type="list", formula1=f'"{",".join(DECISION_WORDS)}"', allow_blank=True,
                        showErrorMessage=True, errorTitle="decision",
                        error="same, different, skip (or empty)")
    dv.add(f"{decision}2:{decision}{max(rows + 1, 2)}")
    ws.add_data_validation(dv)
    ws.freeze_panes = "C2"
    widths = {"record_a": 34, "record_b": 34, "decision": 11, "note": 24,
              "explanation_en": 70, "explanation_vi": 70}
    for i, name in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = widths.get(name, max(len(name) + 2, 14))
        if name in TEXT_COLUMNS:
            for cell in ws[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions[get_column_letter(COLUMNS.index(CHECK) + 1)].hidden = True
