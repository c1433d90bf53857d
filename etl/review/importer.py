"""Reading a filled review workbook back: validate every row, then apply the decisions.

Nothing is applied unless every row is valid: key cells as exported (the hidden check), a
known decision word, records that exist. Then each group of pairs (the ``group`` column; a pair
without one is its own group) is applied in one transaction: ``same`` merges the two records'
persons (an audited merge, origin "review"; a refused merge — two valid ID numbers, or records
the same workbook marks as different people — is reported and leaves the pair undecided),
``different`` records a cannot-link decision and closes the review pair (one
audited "review-import" change per group). Pairs already decided as the row says are left
alone, so importing the same workbook twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.errors import UsageError
from etl.extract.tabular import read_xlsx
from etl.load import schema as s
from etl.load.curation import (
    REVIEW_IMPORT,
    MergeRefused,
    Scope,
    audited,
    check_merge,
    lookup_records,
    merge_in,
    os_user,
    records_of,
)
from etl.load.db import require_current
from etl.load.decisions import DIFFERENT, SAME, ordered, record_decisions
from etl.load.lock import RunLock
from etl.review.workbook import CHECK, DECISION_WORDS, SHEET, check_value, unescape

log = logging.getLogger(__name__)
REQUIRED = ("record_a", "record_b", "decision", CHECK)
_SHOWN = 10


@dataclass
class Decision:
    """One filled row: its Excel row number, the two records and what the analyst said."""

    row: int
    ref_a: str
    ref_b: str
    decision: str  # same / different / skip
    note: str | None
    group: str | None
    key_a: str = ""
    key_b: str = ""


@dataclass
class ImportReport:
    """What an import did, pair by pair counted once: merged, kept apart (cannot-link
    recorded), confirmed (already one person; the decision recorded), unchanged (already
    decided so), skipped (no decision), refused (a merge that cannot be made)."""

    rows: int = 0
    merged: int = 0
    kept_apart: int = 0
    confirmed: int = 0
    unchanged: int = 0
    skipped: int = 0
    refused: int = 0
    refusals: list[tuple[int, str]] = field(default_factory=list)
    conflicts: list[tuple[int, str]] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in (
            "rows", "merged", "kept_apart", "confirmed", "unchanged", "skipped", "refused",
            "refusals", "conflicts", "changes")}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def read_decisions_sheet(path: Path) -> list[Decision]:
    """The rows of the workbook's ``review`` sheet; refuses (exit 2) every row whose key cells
    were edited or whose decision is not a known word, naming the rows."""
    book = read_xlsx(Path(path))
    sheet = next((sh for sh in book.sheets if sh.name == SHEET), None)
    if sheet is None or not sheet.rows:
        raise UsageError(f"{Path(path).name} has no {SHEET!r} sheet",
                         hint="import the workbook `hssk review export` wrote")
    header = [_text(h) for h in sheet.rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UsageError(f"the {SHEET!r} sheet of {Path(path).name} lacks the column(s) "
                         f"{', '.join(missing)}",
                         hint="keep the header row as `hssk review export` wrote it")
    col = {name: header.index(name) for name in header if name}
    rows, problems = [], []
    for offset, cells in enumerate(sheet.rows[1:], start=1):
        number = sheet.first_row + offset

        def cell(name: str, cells: list[object] = cells) -> object:
            i = col.get(name)
            return cells[i] if i is not None and i < len(cells) else None

        if all(_text(v) is None for v in cells):
            continue
        ref_a, ref_b = unescape(cell("record_a")), unescape(cell("record_b"))
        word = (_text(cell("decision")) or "skip").lower()
        if not ref_a or not ref_b or _text(cell(CHECK)) != check_value(ref_a, ref_b):
            problems.append(f"row {number}: record_a or record_b was edited (or the row added)")
            continue
        if word not in DECISION_WORDS:
            problems.append(f"row {number}: decision {word[:20]!r} is not "
                            f"{', '.join(DECISION_WORDS)} or empty")
            continue
        rows.append(Decision(number, ref_a, ref_b, word, _text(cell("note")),
                             _text(cell("group"))))
    _refuse(problems)
    return rows


def _refuse(problems: list[str]) -> None:
    if problems:
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        raise UsageError("; ".join(problems[:_SHOWN]) + more,
                         hint="nothing was applied: restore those cells (or export the queue "
                              "again) and import again")


def import_workbook(engine: Engine, path: Path, *, by: str | None = None) -> ImportReport:
    """Validate every row of a filled review workbook, then apply its decisions group by group
    (see the module docstring); returns what changed."""
    require_current(engine)
    by = by or os_user()
    decisions = read_decisions_sheet(path)
    with engine.connect() as conn:
        found, unknown = lookup_records(conn, [r for d in decisions if d.decision != "skip"
                                               for r in (d.ref_a, d.ref_b)])
    _refuse([f"row {d.row}: {unknown[r]}" for d in decisions for r in (d.ref_a, d.ref_b)
             if r in unknown])
    report = ImportReport(rows=len(decisions))
    groups: dict[object, list[Decision]] = {}
    for d in decisions:
        if d.decision == "skip":
            report.skipped += 1
            continue
        d.key_a, d.key_b = found[d.ref_a], found[d.ref_b]
        if d.key_a == d.key_b:
            report.refusals.append((d.row, "record_a and record_b are the same record"))
            report.refused += 1
            continue
        groups.setdefault(d.group or ("row", d.row), []).append(d)
    reason = f"review import of {Path(path).name}"
    # Every "different" of the workbook binds all its rows: a "same" that would put two such
    # records into one person (through other merges) is refused, whatever the row order.
    apart: dict[str, set[str]] = {}
    for group in groups.values():
        for d in group:
            if d.decision == DIFFERENT:
                apart.setdefault(d.key_a, set()).add(d.key_b)
                apart.setdefault(d.key_b, set()).add(d.key_a)
    with RunLock(engine, command="review import"):
        for group in groups.values():
            with engine.begin() as conn:
                _apply_group(conn, group, by, reason, report, apart)
    log.info("review import", extra={k: v for k, v in report.as_dict().items()
                                     if isinstance(v, int)})
    return report


def _person(conn: Connection, key: str) -> str:
    return conn.execute(sa.select(s.source_records.c.person_id)
                        .where(s.source_records.c.record_key == key)).scalar_one()


def _decided(conn: Connection, key_a: str, key_b: str) -> str | None:
    a, b = ordered(key_a, key_b)
    d = s.match_decisions.c
    return conn.execute(sa.select(d.decision).where(d.record_key_a == a, d.record_key_b == b)
                        ).scalar()


def _review_status(conn: Connection, key_a: str, key_b: str) -> list[str]:
    mr = s.match_reviews.c
    return list(conn.execute(sa.select(mr.status).where(sa.or_(
        sa.and_(mr.record_key_a == key_a, mr.record_key_b == key_b),
        sa.and_(mr.record_key_a == key_b, mr.record_key_b == key_a)))).scalars())


def _joins_apart(conn: Connection, person_a: str, person_b: str,
                 apart: dict[str, set[str]]) -> bool:
    """Would merging the two persons join two records the workbook marks different?"""
    if not apart:
        return False
    records_a = records_of(conn, person_a)
    if not any(k in apart for k in records_a):
        return False
    records_b = set(records_of(conn, person_b))
    return any(apart[k] & records_b for k in records_a if k in apart)


def _apply_group(conn: Connection, group: list[Decision], by: str, reason: str,
                 report: ImportReport, apart: dict[str, set[str]]) -> None:
    pending: list[Decision] = []  # decisions to record without a merge
    for d in group:
        if d.decision != SAME:
            continue
        person_a, person_b = _person(conn, d.key_a), _person(conn, d.key_b)
        if person_a == person_b:
            if _decided(conn, d.key_a, d.key_b) == SAME:
                report.unchanged += 1
            else:
                pending.append(d)
                report.confirmed += 1
            continue
        if _joins_apart(conn, person_a, person_b, apart):
            report.refused += 1
            report.refusals.append((d.row, "the merge would make one person of two records "
                                           "this workbook marks as different people"))
            continue
        try:
            check_merge(conn, person_a, person_b)
        except MergeRefused as exc:
            report.refused += 1
            report.refusals.append((d.row, str(exc)))
            continue
        change = merge_in(conn, person_a, person_b, reason=d.note or reason, by=by,
                          records=(d.key_a, d.key_b), origin="review")
        report.merged += 1
        report.changes.append(change.change_id)
    for d in group:
        if d.decision != DIFFERENT:
            continue
        if (_decided(conn, d.key_a, d.key_b) == DIFFERENT
                and set(_review_status(conn, d.key_a, d.key_b)) <= {DIFFERENT}):
            report.unchanged += 1
            continue
        pending.append(d)
        report.kept_apart += 1
        if _person(conn, d.key_a) == _person(conn, d.key_b):
            report.conflicts.append((d.row, "marked different but the two records are one "
                                             "person now: split them with `hssk person split`"))
    if not pending:
        return
    persons = sorted({_person(conn, k) for d in pending for k in (d.key_a, d.key_b)})
    scope = Scope(pairs={ordered(d.key_a, d.key_b) for d in pending})
    with audited(conn, REVIEW_IMPORT, by=by, reason=reason, scope=scope) as change:
        mr = s.match_reviews
        for d in pending:
            record_decisions(conn, [(d.key_a, d.key_b, d.decision)], by, d.note or reason,
                             "review", change.change_id)
            conn.execute(mr.update().where(sa.or_(
                sa.and_(mr.c.record_key_a == d.key_a, mr.c.record_key_b == d.key_b),
                sa.and_(mr.c.record_key_a == d.key_b, mr.c.record_key_b == d.key_a)),
                mr.c.status != d.decision).values(status=d.decision))
        change.summary.update(pairs=len(pending), persons=persons,
                              same=sum(d.decision == SAME for d in pending),
                              different=sum(d.decision == DIFFERENT for d in pending))
    report.changes.append(change.change_id)
