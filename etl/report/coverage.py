"""Coverage of the HSSK plan: who has a record with health data in it, per commune and over time.

The plan (Decision 5349/QĐ-BYT; Thanh Hóa plan 236/KH-UBND) is judged by the share of residents
with an electronic health record — over 80 % by the end of the first year, 100 % after — and by
records kept up to date. What counts is declared here as data:

* residents (the denominator): :func:`residents_query`;
* a record "with health data": :data:`HEALTH_DATA`;
* "visited": an encounter (clinic visit, school or workplace exam) in the 12 months up to the
  report date; an encounter without a date is not counted;
* "complete administrative data": :data:`ADMIN_FIELDS`;
* the targets: :data:`PLAN_TARGETS`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl import reference
from etl.load import schema as s
from etl.load.db import require_current
from etl.report.charts import bar_chart, line_chart
from etl.report.html import Figure, render_page, write_page
from etl.report.places import places
from etl.report.tables import ReportTable, percent
from etl.report.workbook import write_workbook

UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class PlanTarget:
    """Coverage (percent of residents) the plan asks for up to and including ``until``."""

    pct: float
    until: dt.date | None
    label: str


# docs/domain.md#coverage-targets: over 80 % by the end of 2022 (the plan's first year), 100 % by the end of 2023.
PLAN_TARGETS: tuple[PlanTarget, ...] = (
    PlanTarget(80.0, dt.date(2022, 12, 31), "plan year one: 80 %"),
    PlanTarget(100.0, None, "after year one: 100 %"),
)

# Tables whose rows make a record hold health data, and what a row of each means.
HEALTH_DATA: dict[str, str] = {
    "encounters": "an exam or visit (clinic episode, school or workplace exam)",
    "immunizations": "an immunization dose",
    "observations": "a measurement (height, weight, blood pressure, pulse, vision…)",
    "lab_results": "a lab or imaging result",
}

# Identifier kinds that make the administrative part complete (a facility's own patient number
# does not: it identifies nobody outside that clinic).
ADMIN_IDENTIFIER_KINDS = ("personal_id", "cmnd", "passport", "social_insurance_code",
                          "insurance_card")

# "Complete administrative data": every one of these holds for the person.
ADMIN_FIELDS: dict[str, str] = {
    "full_name": "a full name",
    "sex": "a sex (male, female or undetermined)",
    "birth_date": "a birth date, at least the year",
    "ethnicity": "an ethnicity code",
    "commune": "a permanent-address commune code",
    "identifier": "a valid " + ", ".join(ADMIN_IDENTIFIER_KINDS).replace("_", " "),
}

# Age in whole years at the report date → group; the last group has no upper bound.
AGE_GROUPS: tuple[tuple[int, int | None, str], ...] = (
    (0, 5, "0-5"), (6, 17, "6-17"), (18, 59, "18-59"), (60, None, "60+"),
)

SEX_LABELS = {"M": "male", "F": "female", "U": "undetermined"}

MEASURES = ["residents", "with_health_data", "visited_12m", "complete_admin", "coverage_pct",
            "visited_12m_pct", "complete_admin_pct", "target_pct", "gap_people"]
COMMUNE_COLUMNS = ["commune_code", "commune", *MEASURES, "commune_code_2025", "commune_2025",
                   "district_code", "district", "province_code", "province"]

DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("residents", "persons with at least one current record from a population-registry source "
                  "(source kind 'registry', not retired by a newer snapshot); every other "
                  "measure counts residents only"),
    ("with_health_data", "residents whose record holds " + "; or ".join(HEALTH_DATA.values())),
    ("visited_12m", "residents with an exam or visit dated in the 12 months up to the report "
                    "date (undated exams are not counted)"),
    ("complete_admin", "residents whose administrative part has " + ", ".join(
        ADMIN_FIELDS.values())),
    ("coverage_pct", "with_health_data as a percentage of residents"),
    ("target_pct", "the plan's coverage target in force at the report date, or --target"),
    ("gap_people", "residents still to be given health data to reach the target"),
    ("commune", "the commune of the permanent address (pre-2025 code); persons without one "
                "are the row (unknown)"),
)


def target_for(as_of: dt.date, override: float | None = None) -> PlanTarget:
    """The target in force at ``as_of`` (or the operator's ``--target``)."""
    if override is not None:
        return PlanTarget(float(override), None, f"--target {override:g} %")
    for target in PLAN_TARGETS:
        if target.until is None or as_of <= target.until:
            return target
    return PLAN_TARGETS[-1]


def residents_query() -> sa.Select:
    """The denominator: persons with at least one current registry record (one a newer
    snapshot of its feed still holds), and the first batch that brought one (for the trend).
    The one place that says who is a resident."""
    sr = s.source_records
    return (sa.select(sr.c.person_id, sa.func.min(sr.c.created_batch_id).label("first_batch"))
            .where(sr.c.source_kind == "registry", sr.c.is_current.is_(True))
            .group_by(sr.c.person_id))


def _health_data_query(name: str) -> sa.Select:
    """(person_id, batch that first brought the row's source record) for one health table."""
    sr, p = s.source_records, s.persons
    table = s.metadata.tables[name]
    if "source_record_id" in table.c:
        join = table.outerjoin(sr, sr.c.id == table.c.source_record_id)
    else:
        e = s.encounters.alias(f"e_{name}")
        join = table.outerjoin(e, e.c.id == table.c.encounter_id).outerjoin(
            sr, sr.c.id == e.c.source_record_id)
    join = join.join(p, p.c.person_id == table.c.person_id)
    batch = sa.func.coalesce(sr.c.created_batch_id, p.c.created_batch_id)
    return (sa.select(table.c.person_id, sa.func.min(batch).label("batch"))
            .select_from(join).group_by(table.c.person_id))


def twelve_months_before(as_of: dt.date) -> dt.date:
    try:
        return as_of.replace(year=as_of.year - 1)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - 1, day=28)


def resident_frame(conn: Connection, as_of: dt.date) -> pd.DataFrame:
    """One row per resident with what the measures need (no names or ID numbers leave here)."""
    p = s.persons
    res = residents_query().subquery("residents")
    # The post-2025 code is a column once migration 0002 is in; until then the crosswalk.
    new_code = p.c.get("permanent_commune_code_2025")
    cols = [p.c.person_id, res.c.first_batch, p.c.permanent_commune_code.label("commune_code"),
            (new_code if new_code is not None else sa.null()).label("commune_code_2025"),
            p.c.sex, p.c.birth_year, p.c.birth_month, p.c.birth_day, p.c.ethnicity_code,
            (p.c.full_name.is_not(None) & (p.c.full_name != "")).label("has_name")]
    query = sa.select(*cols).select_from(p.join(res, res.c.person_id == p.c.person_id))
    frame = pd.DataFrame(conn.execute(query.order_by(p.c.person_id)).all(),
                         columns=[c.name for c in cols])
    frame = frame.set_index("person_id")

    health = pd.Series(pd.NA, index=frame.index, dtype="Float64")
    for name in HEALTH_DATA:
        got = dict(conn.execute(_health_data_query(name)).all())
        batch = frame.index.map(lambda pid, got=got: got.get(pid)).astype("Float64")
        health = health.where(health.notna() & (batch.isna() | (health <= batch)), batch)
    frame["health_batch"] = health
    frame["with_health_data"] = health.notna().to_numpy()

    e = s.encounters
    start = dt.datetime.combine(twelve_months_before(as_of), dt.time())
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    visited = set(conn.execute(sa.select(e.c.person_id).distinct().where(
        e.c.started_at >= start, e.c.started_at < end)).scalars())
    frame["visited_12m"] = frame.index.isin(visited)

    pi = s.person_identifiers
    identified = set(conn.execute(sa.select(pi.c.person_id).distinct().where(
        pi.c.kind.in_(ADMIN_IDENTIFIER_KINDS), pi.c.status == "valid")).scalars())
    checks: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
        "full_name": lambda f: f["has_name"].astype(bool),
        "sex": lambda f: f["sex"].notna(),
        "birth_date": lambda f: f["birth_year"].notna(),
        "ethnicity": lambda f: f["ethnicity_code"].notna() & (f["ethnicity_code"] != ""),
        "commune": lambda f: f["commune_code"].notna() & (f["commune_code"] != ""),
        "identifier": lambda f: pd.Series(f.index.isin(identified), index=f.index),
    }
    complete = pd.Series(True, index=frame.index)
    for name in ADMIN_FIELDS:
        complete &= checks[name](frame).fillna(False).astype(bool)
    frame["complete_admin"] = complete
    frame["age_group"] = [_age_group(as_of, y, m, d) for y, m, d in
                          zip(frame["birth_year"], frame["birth_month"], frame["birth_day"],
                              strict=True)]
    return frame


def _age_group(as_of: dt.date, year: object, month: object, day: object) -> str:
    if year is None or pd.isna(year):
        return UNKNOWN
    age = as_of.year - int(year)
    if month is not None and not pd.isna(month):
        birthday = (int(month), int(day) if day is not None and not pd.isna(day) else 1)
        if (as_of.month, as_of.day) < birthday:
            age -= 1
    for low, high, label in AGE_GROUPS:
        if age >= low and (high is None or age <= high):
            return label
    return UNKNOWN


def measures(group: pd.DataFrame, target: float) -> list[object]:
    """The measure columns (:data:`MEASURES`) of one group of residents."""
    n = len(group)
    health = int(group["with_health_data"].sum())
    visited = int(group["visited_12m"].sum())
    complete = int(group["complete_admin"].sum())
    gap = max(0, math.ceil(round(target * n / 100, 6)) - health)
    return [n, health, visited, complete, percent(health, n), percent(visited, n),
            percent(complete, n), target, gap]


@dataclass
class CoverageReport:
    as_of: dt.date
    target: PlanTarget
    places_source: str
    totals: dict[str, object]
    tables: list[ReportTable] = field(default_factory=list)

    def table(self, name: str) -> ReportTable:
        return next(t for t in self.tables if t.name == name)


def _grouped(frame: pd.DataFrame, by: pd.Series, target: float,
             describe: Callable[[str], list[object]], order: list[str] | None = None
             ) -> list[list[object]]:
    keys = by.fillna(UNKNOWN).replace("", UNKNOWN)
    rows = []
    present = set(keys)
    ordered = [k for k in (order or []) if k in present] + sorted(
        k for k in present if k not in (order or []) and k != UNKNOWN)
    if UNKNOWN in present and UNKNOWN not in ordered:
        ordered.append(UNKNOWN)
    for key in ordered:
        group = frame[(keys == key).to_numpy()]
        rows.append(describe(key) + measures(group, target))
    return rows


def coverage_report(engine: Engine, *, as_of: dt.date | None = None,
                    target: float | None = None) -> CoverageReport:
    """Coverage per commune (old and new units), district, province, age group, sex and
    ethnicity, plus cumulative coverage after each batch."""
    require_current(engine)
    as_of = as_of or dt.date.today()
    goal = target_for(as_of, target)
    pct = goal.pct
    place = places()
    with engine.connect() as conn:
        frame = resident_frame(conn, as_of)
        batches = conn.execute(
            sa.select(s.batches.c.id, s.batches.c.finished_at)
            .where(s.batches.c.status == "committed").order_by(s.batches.c.id)).all()
    _place_columns(frame, place)
    tables = [*_commune_tables(frame, place, pct), *_area_tables(frame, place, pct),
              *_people_tables(frame, pct), _trend_table(frame, batches, pct)]
    totals = dict(zip(MEASURES, measures(frame, pct), strict=True))
    return CoverageReport(as_of, goal, place.source, totals, tables)


def _place_columns(frame: pd.DataFrame, place) -> None:  # type: ignore[no-untyped-def]
    # The person's own post-2025 code where the resolver filled it, else the crosswalk default.
    frame["commune_code_2025"] = [
        own if isinstance(own, str) and own else
        (u.code_2025 if (u := place.commune(old)) else None)
        for old, own in zip(frame["commune_code"], frame["commune_code_2025"], strict=True)]
    frame["district_code"] = [u.district_code if (u := place.commune(c)) else None
                              for c in frame["commune_code"]]
    frame["province_code"] = [u.province_code if (u := place.commune(c)) else None
                              for c in frame["commune_code"]]


def _commune_tables(frame: pd.DataFrame, place, pct: float) -> list[ReportTable]:  # type: ignore[no-untyped-def]
    """Per commune, before and after the 2025 reform."""
    old_keys = frame["commune_code"].fillna(UNKNOWN).replace("", UNKNOWN)

    def commune_row(code: str) -> list[object]:
        u = place.commune(code)
        return [code, code if code == UNKNOWN else (u.name if u else None)]

    def commune_tail(code: str) -> list[object]:
        u = place.commune(code)
        news = sorted({c for c in frame.loc[(old_keys == code).to_numpy(), "commune_code_2025"]
                       if isinstance(c, str) and c})
        names = [n.name or "" if (n := place.commune_2025(c)) else "" for c in news]
        return ["|".join(news) or None, "|".join(names) or None,
                u.district_code if u else None, u.district if u else None,
                u.province_code if u else None, u.province if u else None]

    communes = ReportTable(
        "coverage", "Coverage per commune (units before 1 July 2025)", COMMUNE_COLUMNS,
        [r + commune_tail(r[0]) for r in _grouped(frame, frame["commune_code"], pct,
                                                  commune_row)],
        key="commune_code")

    def commune_2025_row(code: str) -> list[object]:
        u = place.commune_2025(code)
        return [code, code if code == UNKNOWN else (u.name if u else None),
                u.province_code if u else None, u.province if u else None]

    communes_2025 = ReportTable(
        "communes_2025", "Coverage per commune (units from 1 July 2025)",
        ["commune_code_2025", "commune_2025", "province_code_2025", "province_2025",
         *MEASURES],
        _grouped(frame, frame["commune_code_2025"], pct, commune_2025_row),
        key="commune_code_2025")
    return [communes, communes_2025]


def _area_tables(frame: pd.DataFrame, place, pct: float) -> list[ReportTable]:  # type: ignore[no-untyped-def]
    district_names = {u.district_code: u.district for u in place.communes.values()}
    districts = ReportTable(
        "districts", "Coverage per district (units before 1 July 2025)",
        ["district_code", "district", *MEASURES],
        _grouped(frame, frame["district_code"], pct,
                 lambda c: [c, c if c == UNKNOWN else district_names.get(c)]),
        key="district_code")
    province_names = {u.province_code: u.province for u in place.communes.values()}
    provinces = ReportTable(
        "provinces", "Coverage per province (units before 1 July 2025)",
        ["province_code", "province", *MEASURES],
        _grouped(frame, frame["province_code"], pct,
                 lambda c: [c, c if c == UNKNOWN else province_names.get(c)]),
        key="province_code")
    return [districts, provinces]


def _people_tables(frame: pd.DataFrame, pct: float) -> list[ReportTable]:
    ages = ReportTable(
        "age_groups", "Coverage by age group (age at the report date)",
        ["age_group", *MEASURES],
        _grouped(frame, frame["age_group"], pct, lambda g: [g],
                 order=[label for _, _, label in AGE_GROUPS]),
        key="age_group")
    sexes = ReportTable(
        "sex", "Coverage by sex", ["sex", "sex_label", *MEASURES],
        _grouped(frame, frame["sex"], pct, lambda c: [c, SEX_LABELS.get(c, UNKNOWN)],
                 order=list(SEX_LABELS)),
        key="sex")
    ethnic_names = {row["code"]: row["name"] for row in reference.ethnicities()}
    ethnicity = ReportTable(
        "ethnicity", "Coverage by ethnicity", ["ethnicity_code", "ethnicity", *MEASURES],
        _grouped(frame, frame["ethnicity_code"], pct,
                 lambda c: [c, c if c == UNKNOWN else ethnic_names.get(c)]),
        key="ethnicity_code")
    return [ages, sexes, ethnicity]


def _trend_table(frame: pd.DataFrame, batches, pct: float) -> ReportTable:  # type: ignore[no-untyped-def]
    trend_rows = []
    first = frame["first_batch"].astype("Float64")
    health = frame["health_batch"]
    for batch_id, finished_at in batches:
        residents = first <= batch_id
        covered = residents & (health <= batch_id).fillna(False)
        n, k = int(residents.sum()), int(covered.sum())
        trend_rows.append([int(batch_id), finished_at.date().isoformat() if finished_at else None,
                           n, k, percent(k, n), pct])
    return ReportTable(
        "trend", "Cumulative coverage after each batch",
        ["batch_id", "finished_on", "residents", "with_health_data", "coverage_pct",
         "target_pct"], trend_rows, key="batch_id",
        note="Residents and records with health data as they stood after each loaded batch.")


def render_coverage_html(report: CoverageReport) -> str:
    """The district's page: totals, the per-commune chart against the target, the trend over
    batches, then every table of the workbook."""
    communes = report.table("coverage")
    trend = report.table("trend")
    goal = report.target.pct
    labels = [f"{r[0]} {r[1]}" if r[1] and r[1] != r[0] else str(r[0]) for r in communes.rows]
    bars = Figure("chart-communes", "Coverage per commune against the target", bar_chart(
        labels, communes.column("coverage_pct"), goal,
        title="Residents with health data, percent, per commune"),
        note=f"Target {goal:g} % ({report.target.label}). Green bars meet it, orange fall short.")
    line = Figure("chart-trend", "Coverage after each batch", line_chart(
        [str(b) for b in trend.column("batch_id")], trend.column("coverage_pct"), goal,
        title="Cumulative coverage after each batch, percent"),
        note="Cumulative: residents and health data loaded up to and including each batch.")
    t = report.totals
    summary = ReportTable("summary", "All residents", ["scope", *MEASURES],
                          [["(total)", *[t[m] for m in MEASURES]]], key="scope")
    meta = [f"Report date {report.as_of.isoformat()}; target {goal:g} % "
            f"({report.target.label}).",
            f"{t['with_health_data']} of {t['residents']} residents have health data in their "
            f"record ({t['coverage_pct'] if t['coverage_pct'] is not None else '–'} %); "
            f"{t['gap_people']} more to reach the target.",
            f"Administrative units: {report.places_source}."]
    return render_page("HSSK coverage (độ bao phủ hồ sơ sức khỏe điện tử)", meta,
                       [summary, bars, line, *report.tables], definitions=DEFINITIONS,
                       short_col="gap_people")


def write_coverage(report: CoverageReport, out_dir: Path) -> dict[str, Path]:
    """``coverage.html`` and ``coverage.xlsx`` in ``out_dir`` (same data, same bytes)."""
    out_dir = Path(out_dir)
    definitions = ReportTable("definitions", "Definitions", ["term", "definition"],
                              [list(d) for d in DEFINITIONS] + [
                                  ["report_date", report.as_of.isoformat()],
                                  ["target", f"{report.target.pct:g} % ({report.target.label})"],
                                  ["administrative_units", report.places_source]])
    return {
        "html": write_page(out_dir / "coverage.html", render_coverage_html(report)),
        "xlsx": write_workbook(out_dir / "coverage.xlsx", [*report.tables, definitions],
                               stamp=report.as_of),
    }
