"""Exports from the HSSK database for people and other tools."""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl import reference
from etl.errors import UsageError
from etl.load import schema as s
from etl.load.db import require_current
from etl.privacy import mask, write_csv

LINK_COLUMNS = ["source_file", "locator", "person_id"]


def export_links(engine: Engine, out: Path) -> int:
    """One row per source record: file name, locator and the person it is linked to.

    The contract other tools rely on: CSV locators are ``row=N`` (1-based data row), XLSX
    ``SHEET!R`` (Excel row), clinic XML the episode's ``MA_LK``.
    """
    require_current(engine)
    query = (
        sa.select(s.source_files.c.file_name, s.source_records.c.locator,
                  s.source_records.c.person_id)
        .join(s.source_files, s.source_files.c.id == s.source_records.c.source_file_id)
        .order_by(s.source_files.c.file_name, s.source_records.c.id)
    )
    with engine.connect() as conn:
        return write_csv(out, LINK_COLUMNS, conn.execute(query))


REVIEW_COLUMNS = ["score", "person_a", "source_file_a", "locator_a", "name_a", "birth_a",
                  "personal_id_a", "person_b", "source_file_b", "locator_b", "name_b", "birth_b",
                  "personal_id_b", "status"]


def export_review(engine: Engine, out: Path, *, show_ids: bool = False) -> int:
    """The analysts' queue: pairs scored between the review and link thresholds, strongest
    first, with what a person needs to decide (names, birth dates, masked ID numbers)."""
    require_current(engine)
    a, b = s.source_records.alias("a"), s.source_records.alias("b")
    fa, fb = s.source_files.alias("fa"), s.source_files.alias("fb")
    query = (
        sa.select(s.match_reviews.c.score, s.match_reviews.c.person_a, fa.c.file_name,
                  a.c.locator, a.c.full_name, a.c.birth_year, a.c.birth_month, a.c.birth_day,
                  a.c.personal_id, s.match_reviews.c.person_b, fb.c.file_name, b.c.locator,
                  b.c.full_name, b.c.birth_year, b.c.birth_month, b.c.birth_day,
                  b.c.personal_id, s.match_reviews.c.status)
        .join(a, a.c.record_key == s.match_reviews.c.record_key_a)
        .join(b, b.c.record_key == s.match_reviews.c.record_key_b)
        .join(fa, fa.c.id == a.c.source_file_id).join(fb, fb.c.id == b.c.source_file_id)
        .where(s.match_reviews.c.status == "open")
        .order_by(s.match_reviews.c.score.desc())
    )

    def birth(y: object, m: object, d: object) -> str:
        return "-".join(f"{int(v):02d}" if i else str(v)
                        for i, v in enumerate((y, m, d)) if v is not None)

    with engine.connect() as conn:
        rows = ([round(r[0], 2), r[1], r[2], r[3], r[4], birth(r[5], r[6], r[7]),
                 mask(r[8], show_ids), r[9], r[10], r[11], r[12], birth(r[13], r[14], r[15]),
                 mask(r[16], show_ids), r[17]] for r in conn.execute(query))
        return write_csv(out, REVIEW_COLUMNS, rows, bom=True)


def partial_date(year: object, month: object, day: object, precision: object) -> str | None:
    """A birth date as far as it is known: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``."""
    if year is None:
        return None
    if precision == "day" and month and day:
        return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    if precision in ("day", "month") and month:
        return f"{int(year):04d}-{int(month):02d}"
    return f"{int(year):04d}"


def pseudonym(person_id: str, salt: str) -> str:
    """HMAC-SHA256 of the person id under ``salt``: stable for one salt, unlinkable without it."""
    return hmac.new(salt.encode("utf-8"), person_id.encode("utf-8"), hashlib.sha256).hexdigest()


PERSON_NAME_COLUMNS = ["full_name", "family_name", "middle_name", "given_name"]
PERSON_ID_COLUMNS = ["personal_id", "cmnd", "passport", "social_insurance_code",
                     "insurance_card"]
PERSON_FORMATS = ("csv", "xlsx", "parquet")


def person_columns(*, pseudonymize: bool = False) -> list[str]:
    """The persons export's header: names and identifiers unless pseudonymised; the post-2025
    commune code once the database has it."""
    first = ["pseudonym"] if pseudonymize else ["person_id", *PERSON_NAME_COLUMNS]
    communes = ["commune_code"]
    if "permanent_commune_code_2025" in s.persons.c:
        communes.append("commune_code_2025")
    return [*first, "sex", "birth_date", "birth_date_precision", "ethnicity_code", "ethnicity",
            *communes, *([] if pseudonymize else PERSON_ID_COLUMNS)]


def _person_rows(engine: Engine, columns: list[str], *, show_ids: bool,
                 salt: str | None) -> Iterator[list[object]]:
    p, pi = s.persons, s.person_identifiers
    ethnic_names = {row["code"]: row["name"] for row in reference.ethnicities()}
    with engine.connect() as conn:
        ids: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        if salt is None:
            for person_id, kind, value in conn.execute(
                    sa.select(pi.c.person_id, pi.c.kind, pi.c.value)
                    .where(pi.c.kind.in_(PERSON_ID_COLUMNS))
                    .order_by(pi.c.person_id, pi.c.kind, pi.c.value)):
                ids[person_id][kind].append(str(mask(value, show_ids)))
        for row in conn.execute(sa.select(p).order_by(p.c.person_id)).mappings():
            values = {
                "pseudonym": pseudonym(row["person_id"], salt) if salt is not None else None,
                "person_id": row["person_id"],
                **{c: row[c] for c in PERSON_NAME_COLUMNS},
                "sex": row["sex"],
                "birth_date": partial_date(row["birth_year"], row["birth_month"],
                                           row["birth_day"], row["birth_date_precision"]),
                "birth_date_precision": row["birth_date_precision"],
                "ethnicity_code": row["ethnicity_code"],
                "ethnicity": ethnic_names.get(row["ethnicity_code"]),
                "commune_code": row["permanent_commune_code"],
                "commune_code_2025": row.get("permanent_commune_code_2025"),
                **{c: ";".join(ids[row["person_id"]].get(c, [])) or None
                   for c in PERSON_ID_COLUMNS},
            }
            yield [values[c] for c in columns]


def export_persons(engine: Engine, out: Path, *, fmt: str | None = None, show_ids: bool = False,
                   pseudonymize: bool = False, salt: str | None = None) -> int:
    """One row per person: name, sex, birth date as far as known, ethnicity, commune codes and
    identifiers (masked unless ``show_ids``). ``pseudonymize`` replaces the person id with a
    salted HMAC-SHA256 pseudonym and leaves names and identifiers out, for analysts outside
    the health centre; the salt is required and never defaulted.

    CSV and XLSX cells are formula-safe; Parquet keeps values as they are, for tools.
    """
    out = Path(out)
    fmt = fmt or {".xlsx": "xlsx", ".parquet": "parquet"}.get(out.suffix.lower(), "csv")
    if fmt not in PERSON_FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of {', '.join(PERSON_FORMATS)}")
    if pseudonymize and not salt:
        raise UsageError("--pseudonymize needs a secret salt",
                         hint="pass --salt or set HSSK_PSEUDONYM_SALT; keep it secret and keep "
                              "it the same to get the same pseudonyms")
    if pseudonymize and show_ids:
        raise UsageError("--show-ids and --pseudonymize contradict each other")
    require_current(engine)
    columns = person_columns(pseudonymize=pseudonymize)
    rows = _person_rows(engine, columns, show_ids=show_ids, salt=salt if pseudonymize else None)
    if fmt == "csv":
        return write_csv(out, columns, rows, bom=True)
    if fmt == "xlsx":
        from etl.report.workbook import write_rows

        return write_rows(out, "persons", columns, rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = list(rows)
    table = pa.table({c: pa.array([r[i] for r in data], type=pa.string())
                      for i, c in enumerate(columns)})
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    return len(data)
