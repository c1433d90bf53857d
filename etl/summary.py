"""The one summary object every run returns.

The console table, ``--json`` and the batch row in the database all render this object, so the
morning report and the audit trail can never disagree. Counts reconcile per file:
``read == created + updated + unchanged + rejected``; rows of form structure (section headings,
sub-totals, column numbers, formula-only rows) are counted apart, as ``structure``.
"""

from __future__ import annotations

import datetime as dt
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
    batch_id: int | None = None
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

    def count_findings(self, issues, rejects) -> None:  # type: ignore[no-untyped-def]
        if issues is not None and len(issues):
            self.issues = dict(Counter(issues["slug"]).most_common())
        if rejects is not None and len(rejects):
            self.rejects_by_reason = dict(Counter(rejects["slug"]).most_common())

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.update(read=self.read, rejected=self.rejected, reconciles=self.reconciles)
        return data
