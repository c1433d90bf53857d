"""The one summary object every run returns.

The console table, ``--json`` and the batch row in the database all render this object, so the
morning report and the audit trail can never disagree. Counts reconcile per file:
``read == created + updated + unchanged + rejected``; rows of form structure (section headings,
sub-totals, column numbers, formula-only rows) are counted apart, as ``structure``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field


@dataclass
class FileCounts:
    source_file: str
    kind: str
    read: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows or episodes that did not load
    problems: int = 0  # parts of loaded rows, or whole/partial files, that could not be read
    structure: int = 0  # form structure skipped (sections, sub-totals, formula rows): not people
    # outside the reconciliation: what matching did with the rows written, and records of a
    # snapshot feed its newer extract no longer holds (counted on the feed's newest file)
    linked: int = 0  # rows written that joined a person the database already had
    new_persons: int = 0  # persons created by this file's rows
    review: int = 0  # rows in a pair sent to the review queue
    gone: int = 0  # records of the file's snapshot feed marked no longer current

    @property
    def reconciles(self) -> bool:
        return self.created + self.updated + self.unchanged + self.rejected == self.read


def reject_counts(rejects, file_sha256: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rejected rows and other problems of one file, from a rejects table."""
    mine = rejects[rejects["file_sha256"] == file_sha256]
    record = int((mine["scope"] == "record").sum())
    return {"rejected": record, "problems": len(mine) - record}


@dataclass
class LoadCounts:
    batch_id: int | None = None
    files: list[FileCounts] = field(default_factory=list)
    persons_created: int = 0
    persons_updated: int = 0
    identifiers_added: int = 0
    rejects_added: int = 0
    clinical_rows: dict[str, int] = field(default_factory=dict)
    reviews_added: int = 0
    gone: int = 0  # records marked no longer current (a snapshot feed's retirement batch)
    feed: str | None = None
    finished_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class RunSummary:
    """What a run did, per source file and per table, plus timings and findings by slug."""

    command: str
    database: str | None = None
    files: list[FileCounts] = field(default_factory=list)
    persons_created: int = 0
    persons_updated: int = 0
    identifiers_added: int = 0
    rejects_added: int = 0
    clinical_rows: dict[str, int] = field(default_factory=dict)
    reviews_added: int = 0
    batch_id: int | None = None  # the run's last batch
    batches: list[int] = field(default_factory=list)  # every batch the run committed
    seconds: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: int | None = None
    issues: dict[str, int] = field(default_factory=dict)
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def gone(self) -> int:
        return sum(f.gone for f in self.files)

    @property
    def reconciles(self) -> bool:
        return all(f.reconciles for f in self.files)

    def absorb(self, load: LoadCounts) -> None:
        self.files = load.files
        self.persons_created = load.persons_created
        self.persons_updated = load.persons_updated
        self.identifiers_added = load.identifiers_added
        self.rejects_added = load.rejects_added
        self.clinical_rows = load.clinical_rows
        self.reviews_added = load.reviews_added
        self.batch_id = load.batch_id
        self.batches = [load.batch_id] if load.batch_id is not None else []

    def count_findings(self, issues, rejects) -> None:  # type: ignore[no-untyped-def]
        if issues is not None and len(issues):
            self.issues = dict(Counter(issues["slug"]).most_common())
        if rejects is not None and len(rejects):
            self.rejects_by_reason = dict(Counter(rejects["slug"]).most_common())

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(read=self.read, rejected=self.rejected, gone=self.gone,
                    reconciles=self.reconciles)
        return data


# --- past runs and their rejects (``hssk batches``, ``hssk rejects``) ------------------------

HISTORY_COLUMNS = ["id", "started", "finished", "status", "command", "files", "read", "created",
                   "updated", "unchanged", "gone", "rejected"]
ID_FIELDS = frozenset({"personal_id", "cmnd", "passport", "id_document", "insurance_card",
                       "social_insurance_code"})
# Values shaped like an ID number, masked whatever their column: 9- or 12-digit CMND/CCCD, the
# 10-digit social-insurance code (phones start with 0), a 15-character insurance card.
_ID_SHAPED = re.compile(r"^(?:\d{9}|\d{12}|[1-9]\d{9}|[A-Z]{2}\d{13})$")


def batch_history(engine) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Every batch, oldest first, with its file counts added up from its stored summary."""
    import sqlalchemy as sa

    from etl.load import schema as s
    from etl.load.db import require_current

    require_current(engine)
    b = s.batches.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(b.id, b.started_at, b.finished_at, b.status, b.command,
                                      b.summary).order_by(b.id)).all()
    out = []
    for row in rows:
        data = json.loads(row.summary) if row.summary else {}
        files = data.get("files") if isinstance(data.get("files"), list) else []
        total = {name: sum(int(f.get(name, 0) or 0) for f in files)
                 for name in HISTORY_COLUMNS[6:]}
        total["gone"] += int(data.get("gone", 0) or 0)
        out.append({"id": row.id, "started": _when(row.started_at),
                    "finished": _when(row.finished_at), "status": row.status,
                    "command": row.command, "files": len(files), **total})
    return out


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def batch_rejects(engine, batch_id: int, *,  # type: ignore[no-untyped-def]
                  show_ids: bool = False) -> tuple[list[str], list[list[object]]]:
    """The rejected rows of one batch: file, position, stage, scope, reason, field, message,
    then the row's original columns (from the stored raw JSON, in the order first seen). ID
    numbers are masked unless ``show_ids``: columns a mapping names as an identifier, and any
    value shaped like one."""
    import sqlalchemy as sa

    from etl.errors import UsageError
    from etl.extract.mapping import builtin_mappings
    from etl.load import schema as s
    from etl.load.db import require_current
    from etl.privacy import mask

    require_current(engine)
    r = s.rejects.c
    with engine.connect() as conn:
        if conn.execute(sa.select(s.batches.c.id).where(s.batches.c.id == batch_id)).first() \
                is None:
            raise UsageError(f"no batch {batch_id}", hint="`hssk batches` lists them")
        rows = conn.execute(sa.select(r.source_file, r.locator, r.stage, r.scope, r.slug,
                                      r.field, r.message, r.raw)
                            .where(r.batch_id == batch_id).order_by(r.id)).all()
    mappings = list(builtin_mappings().values())
    raws = [json.loads(row.raw) if row.raw else {} for row in rows]
    originals: list[str] = []
    for raw in raws:
        originals += [k for k in (raw if isinstance(raw, dict) else {}) if k not in originals]
    id_columns = {h for h in originals if any(m.field_for(h) in ID_FIELDS for m in mappings)}

    def cell(header: str, value: object) -> object:
        if value is None or show_ids:
            return value
        if header in id_columns or _ID_SHAPED.match(str(value).strip()):
            return mask(str(value).strip())
        return value

    header = ["source_file", "locator", "stage", "scope", "reason", "field", "message",
              *originals]
    body = [[row.source_file, row.locator, row.stage, row.scope, row.slug, row.field,
             row.message, *(cell(h, raw.get(h)) if isinstance(raw, dict) else None
                            for h in originals)]
            for row, raw in zip(rows, raws, strict=True)]
    return header, body


def write_batch_rejects(engine, batch_id: int, out, *,  # type: ignore[no-untyped-def]
                        show_ids: bool = False) -> int:
    """Write :func:`batch_rejects` as CSV (Excel-friendly, with a BOM) or XLSX, by extension;
    every cell formula-safe. Returns the rows written."""
    from pathlib import Path

    from etl.errors import UsageError
    from etl.privacy import write_csv

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise UsageError(f"{out.name}: write rejects to a .csv or .xlsx file")
    header, body = batch_rejects(engine, batch_id, show_ids=show_ids)
    if suffix == ".csv":
        return write_csv(out, header, body, bom=True)
    from etl.report.workbook import write_rows

    return write_rows(out, "rejects", header, body)


def write_summary(summary: RunSummary, folder) -> object:  # type: ignore[no-untyped-def]
    """Write the run summary as ``batch-<id>.json`` into ``folder`` (created if missing); a run
    that committed no batch writes ``run-<time>.json``. Returns the file's path."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = (f"batch-{summary.batch_id}.json" if summary.batch_id is not None
            else f"run-{dt.datetime.now():%Y%m%d-%H%M%S}.json")
    path = folder / name
    path.write_text(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str),
                    encoding="utf-8")
    return path
