"""Data quality per source file and batch, so the centre can go back to the school or clinic
that sent bad data.

Counts only: no names, ID numbers, birth dates or reject messages leave the database here. The
findings the transform stage writes (``issues.parquet``) are not kept in the database, so the
identifier and missing-field measures are read back from what was loaded: a record whose source
gave an ID number but none was kept had an invalid one (:data:`ID_CHECKS`), one kept with status
``inconsistent`` disagreed with the record's sex or birth year.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.extract.mapping import builtin_mappings
from etl.load import schema as s
from etl.load.db import require_current
from etl.report.html import render_page, write_page
from etl.report.tables import ReportTable
from etl.report.workbook import write_workbook

# XML1 tags of the clinic export that carry identifiers (its reader does not use a mapping file).
CLINIC_XML_FIELDS = {"SO_CCCD": "id_document", "MA_THE_BHYT": "insurance_card",
                     "MA_THE": "insurance_card"}

# measure → (staged fields that carry the identifier in the source, loaded columns that keep it
# when valid). A source value with nothing kept is an invalid identifier.
ID_CHECKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "id_number_invalid": (("personal_id", "id_document", "cmnd", "passport"),
                          ("personal_id", "cmnd", "passport")),
    "insurance_card_invalid": (("insurance_card",), ("insurance_cards",)),
    "social_insurance_code_invalid": (("social_insurance_code",), ("social_insurance_code",)),
}

# measure → what a loaded record lacks.
MISSING_FIELDS: dict[str, str] = {
    "missing_name": "no full name",
    "missing_sex": "no sex",
    "missing_birth_date": "no birth date at all",
    "year_only_birth": "a birth year only (no day and month)",
    "missing_commune": "no commune code",
    "no_identifier": "no identifier of any kind (ID number, card, social-insurance code, "
                     "facility patient id)",
}

FILE_COLUMNS = [
    "source_file", "kind", "batch_id", "text_encoding", "legacy_font", "rows_read",
    "records_loaded", "rejected", "problems", "reject_reasons", "id_number_invalid",
    "id_number_inconsistent", "insurance_card_invalid", "social_insurance_code_invalid",
    *MISSING_FIELDS, "sent_to_review", "open_review_pairs",
]

DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("rows_read", "rows (or clinic episodes) read from the file"),
    ("records_loaded", "records of the file in the database"),
    ("rejected", "rows that did not load (rejects of scope record)"),
    ("problems", "parts of loaded rows, or whole or partial files, that could not be read"),
    ("legacy_font", "text typed in a legacy Vietnamese font (TCVN3, VNI, VIQR) and repaired"),
    ("id_number_invalid", "records whose personal ID, CMND or passport number was given but "
                          "not valid, so not kept"),
    ("id_number_inconsistent", "records whose personal ID number disagrees with their sex or "
                               "birth year"),
    ("insurance_card_invalid", "records with an insurance card number given but not valid"),
    ("social_insurance_code_invalid", "records with a social-insurance code given but not "
                                      "valid"),
    *((name, "records with " + text) for name, text in MISSING_FIELDS.items()),
    ("sent_to_review", "records of the file in a pair sent to the analysts' review queue"),
    ("open_review_pairs", "review pairs with a record of the file still open: likely "
                          "duplicates left"),
)


@dataclass
class QualityReport:
    tables: list[ReportTable] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)

    def table(self, name: str) -> ReportTable:
        return next(t for t in self.tables if t.name == name)


def _id_flags(kind: str, raw: str | None, row: dict[str, object],
              cache: dict[tuple[str, str], str | None]) -> dict[str, bool]:
    """Which identifiers the source gave but were not kept (see :data:`ID_CHECKS`)."""
    given: set[str] = set()
    if raw:
        try:
            data = json.loads(raw)
        except ValueError:
            data = {}
        mapping = builtin_mappings().get(kind)
        for key, value in (data.items() if isinstance(data, dict) else ()):
            if value in (None, "") or not str(value).strip():
                continue
            if kind == "clinic-xml":
                name = CLINIC_XML_FIELDS.get(key)
            else:
                if (kind, key) not in cache:
                    cache[(kind, key)] = mapping.field_for(key) if mapping else None
                name = cache[(kind, key)]
            if name:
                given.add(name)
    return {measure: bool(given & set(fields)) and not any(row.get(c) for c in kept)
            for measure, (fields, kept) in ID_CHECKS.items()}


def _records(conn: Connection) -> pd.DataFrame:
    sr = s.source_records
    cols = [sr.c.source_file_id, sr.c.source_kind, sr.c.record_key, sr.c.full_name, sr.c.sex,
            sr.c.birth_year, sr.c.birth_date_precision, sr.c.commune_code, sr.c.personal_id,
            sr.c.personal_id_status, sr.c.cmnd, sr.c.passport, sr.c.insurance_cards,
            sr.c.social_insurance_code, sr.c.facility_patient_id, sr.c.raw]
    rows, cache = [], {}
    for r in conn.execute(sa.select(*cols).order_by(sr.c.id)).mappings():
        row = dict(r)
        flags = _id_flags(row["source_kind"], row.pop("raw"), row, cache)
        row.update(flags)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[c.name for c in cols if c.name != "raw"]
                         + list(ID_CHECKS))
    blank = {c: frame[c].isna() | (frame[c].astype("string") == "") for c in (
        "full_name", "sex", "birth_year", "commune_code", "personal_id", "cmnd", "passport",
        "insurance_cards", "social_insurance_code", "facility_patient_id")}
    frame["id_number_inconsistent"] = frame["personal_id_status"] == "inconsistent"
    frame["missing_name"] = blank["full_name"]
    frame["missing_sex"] = blank["sex"]
    frame["missing_birth_date"] = blank["birth_year"]
    frame["year_only_birth"] = frame["birth_date_precision"] == "year"
    frame["missing_commune"] = blank["commune_code"]
    frame["no_identifier"] = (blank["personal_id"] & blank["cmnd"] & blank["passport"]
                              & blank["insurance_cards"] & blank["social_insurance_code"]
                              & blank["facility_patient_id"])
    return frame


def quality_report(engine: Engine) -> QualityReport:
    """Per source file: rows read, rejects by reason, identifier and missing-field problems,
    legacy-font repairs and review-queue pairs; per batch the same, summed."""
    require_current(engine)
    sf, rj, mr, b = s.source_files, s.rejects, s.match_reviews, s.batches
    with engine.connect() as conn:
        files = conn.execute(sa.select(sf.c.id, sf.c.sha256, sf.c.file_name, sf.c.kind,
                                       sf.c.batch_id, sf.c.text_encoding, sf.c.rows)
                             .order_by(sf.c.file_name, sf.c.sha256)).all()
        records = _records(conn)
        rejects = conn.execute(
            sa.select(rj.c.file_sha256, rj.c.source_file, rj.c.batch_id, rj.c.stage,
                      rj.c.scope, rj.c.slug, rj.c.field, sa.func.count().label("n"))
            .group_by(rj.c.file_sha256, rj.c.source_file, rj.c.batch_id, rj.c.stage,
                      rj.c.scope, rj.c.slug, rj.c.field)).all()
        reviews = conn.execute(sa.select(mr.c.record_key_a, mr.c.record_key_b, mr.c.status,
                                         mr.c.batch_id)).all()
        batches = conn.execute(sa.select(b.c.id, b.c.started_at, b.c.finished_at, b.c.command,
                                         b.c.status).order_by(b.c.id)).all()
        persons_created = dict(conn.execute(
            sa.select(s.persons.c.created_batch_id, sa.func.count())
            .group_by(s.persons.c.created_batch_id)).all())

    reviewed, open_pairs = _review_counts(records, reviews)

    by_sha: dict[str, list] = defaultdict(list)
    for r in rejects:
        by_sha[r.file_sha256].append(r)
    measures = [*ID_CHECKS, "id_number_inconsistent", *MISSING_FIELDS]
    per_file = records.groupby("source_file_id")[measures].sum() if len(records) else None
    loaded = records.groupby("source_file_id").size() if len(records) else None

    def file_row(name: str, kind: str | None, batch_id: int | None, encoding: str | None,
                 rows: int | None, fid: int | None, sha: str) -> list[object]:
        mine = by_sha.get(sha, [])
        reasons: Counter[str] = Counter()
        for r in mine:
            reasons[r.slug] += r.n
        row = {"source_file": name, "kind": kind, "batch_id": batch_id,
               "text_encoding": encoding, "legacy_font": bool(encoding) and encoding != "unicode",
               "rows_read": rows,
               "records_loaded": int(loaded.loc[fid]) if loaded is not None
               and fid in loaded.index else 0,
               "rejected": sum(r.n for r in mine if r.scope == "record"),
               "problems": sum(r.n for r in mine if r.scope != "record"),
               "reject_reasons": "; ".join(f"{slug} {n}" for slug, n in sorted(
                   reasons.items(), key=lambda x: (-x[1], x[0]))),
               "sent_to_review": len(reviewed.get(fid, ())),
               "open_review_pairs": open_pairs.get(fid, 0)}
        for m in measures:
            row[m] = (int(per_file.loc[fid, m])
                      if per_file is not None and fid in per_file.index else 0)
        return [row[c] for c in FILE_COLUMNS]

    file_rows = [file_row(f.file_name, f.kind, f.batch_id, f.text_encoding, f.rows, f.id,
                          f.sha256) for f in files]
    known = {f.sha256 for f in files}
    for sha in sorted(set(by_sha) - known):  # files that never loaded a row
        first = by_sha[sha][0]
        file_rows.append(file_row(first.source_file, None, first.batch_id, None, None, None, sha))
    per_file_table = ReportTable("quality", "Data quality per source file", FILE_COLUMNS,
                                 file_rows, key="source_file")

    reasons_table = _reasons_table(rejects)
    batches_table = _batches_table(batches, file_rows, rejects, reviews, persons_created,
                                   measures)
    totals = {c: sum(int(r[FILE_COLUMNS.index(c)] or 0) for r in file_rows)
              for c in ("rows_read", "records_loaded", "rejected", "problems", *measures,
                        "open_review_pairs")}
    totals["files"] = len(file_rows)
    totals["legacy_font_files"] = sum(1 for r in file_rows if r[4])
    totals["open_review_pairs"] = sum(1 for r in reviews if r.status == "open")
    return QualityReport([per_file_table, batches_table, reasons_table], totals)


def _review_counts(records: pd.DataFrame, reviews: list
                   ) -> tuple[dict[int, set[str]], Counter[int]]:
    """Per file: its records in a review pair, and its open pairs."""
    file_of_record = dict(zip(records["record_key"], records["source_file_id"], strict=True))
    reviewed: dict[int, set[str]] = defaultdict(set)
    open_pairs: Counter[int] = Counter()
    for key_a, key_b, status, _ in reviews:
        for fid in {file_of_record.get(key_a), file_of_record.get(key_b)} - {None}:
            if status == "open":
                open_pairs[fid] += 1
        for key in (key_a, key_b):
            if key in file_of_record:
                reviewed[file_of_record[key]].add(key)
    return reviewed, open_pairs


def _reasons_table(rejects: list) -> ReportTable:
    reason_rows = sorted(
        ([r.source_file, r.batch_id, r.stage, r.scope, r.slug, r.field, int(r.n)]
         for r in rejects), key=lambda x: (x[0], x[1], x[2], x[3], x[4], x[5]))
    return ReportTable(
        "rejects_by_reason", "Rejects by reason",
        ["source_file", "batch_id", "stage", "scope", "slug", "field", "count"], reason_rows,
        note="Scope record: the row did not load; part: it loaded without a broken part; "
             "file: the file or its unreadable tail.")


def _batches_table(batches: list, file_rows: list[list[object]], rejects: list, reviews: list,
                   persons_created: dict, measures: list[str]) -> ReportTable:
    batch_rows = []
    sum_cols = ["rows_read", "records_loaded", *measures]
    for batch in batches:
        mine = [dict(zip(FILE_COLUMNS, r, strict=True)) for r in file_rows
                if r[2] == batch.id]
        added_rejects = sum(int(r.n) for r in rejects if r.batch_id == batch.id)
        pairs = [r for r in reviews if r.batch_id == batch.id]
        batch_rows.append([
            batch.id, _iso(batch.started_at), _iso(batch.finished_at), batch.command,
            batch.status, len(mine), *[sum(int(m[c] or 0) for m in mine) for c in sum_cols],
            sum(1 for m in mine if m["legacy_font"]), added_rejects,
            int(persons_created.get(batch.id, 0)), len(pairs),
            sum(1 for r in pairs if r.status == "open")])
    return ReportTable(
        "batches", "Per batch (the files a batch first loaded)",
        ["batch_id", "started_at", "finished_at", "command", "status", "files", *sum_cols,
         "legacy_font_files", "rejects_added", "persons_created", "review_pairs_added",
         "review_pairs_open"], batch_rows, key="batch_id")


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat(sep=" ") if value else None


def render_quality_html(report: QualityReport) -> str:
    t = report.totals
    meta = [f"{t['files']} source files, {t['rows_read']} rows read, {t['rejected']} rejected, "
            f"{t['problems']} other problems; {t['legacy_font_files']} files repaired from a "
            f"legacy font; {t['open_review_pairs']} review pairs still open.",
            "Counts only: no names or ID numbers. Send each school or clinic its row."]
    return render_page("HSSK data quality (chất lượng dữ liệu)", meta, report.tables,
                       definitions=DEFINITIONS)


def write_quality(report: QualityReport, out_dir: Path, *,
                  stamp: dt.date | None = None) -> dict[str, Path]:
    """``quality.html`` and ``quality.xlsx`` (first sheet ``quality``) in ``out_dir``."""
    out_dir = Path(out_dir)
    definitions = ReportTable("definitions", "Definitions", ["term", "definition"],
                              [list(d) for d in DEFINITIONS])
    return {
        "html": write_page(out_dir / "quality.html", render_quality_html(report)),
        "xlsx": write_workbook(out_dir / "quality.xlsx", [*report.tables, definitions],
                               stamp=stamp),
    }
