"""Clinical payload: encounters, vitals, lab results, diagnoses, notes, and the drugs and
services of a visit, parsed and checked.

Values arrive as text ("36,8", "32 kg", "<0.5", "120/80 mmHg", "E119;I10", "202506021045",
"14.000", "252300.00") and vitals hide inside free text ("Mạch: 80 lần/phút, Nhiệt độ 37.5°C").
Everything keeps its text form; numbers, codes and times are added beside it, with a flag when a
vital sign is outside plausible bounds (docs/domain.md#vitals).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable

import pandas as pd

from etl import reference
from etl.stage import as_objects, map_distinct
from etl.text import fold
from etl.transform.codes import resolve_value
from etl.transform.dates import DateError, parse_date
from etl.transform.icd10 import parse_icd10_list

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
_STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?$")
_DECIMAL = re.compile(r"[-+]?\d+(?:\.\d+)?|\d+,\d{1,2}")
# Vitals in free text, matched on folded text: "Mạch: 80 lần/phút" → "mach: 80 lan/phut".
_VITALS = [
    ("pulse", "/min", re.compile(r"\b(?:mach|m|nhip tim)\s*[:=]?\s*(\d{2,3})\b")),
    ("temperature", "°C", re.compile(r"\b(?:nhiet do|nd|t|to)\s*[:=]?\s*(\d{2}(?:[.,]\d)?)\s*(?:°|do|oc|c\b)")),
    ("blood_pressure", "mmHg", re.compile(r"\b(?:huyet ap|ha)\s*[:=]?\s*(\d{2,3})\s*/\s*(\d{2,3})")),
    ("respiratory_rate", "/min", re.compile(r"\b(?:nhip tho|nt)\s*[:=]?\s*(\d{1,2})\b")),
    ("weight", "kg", re.compile(r"\b(?:can nang|cn)\s*[:=]?\s*(\d{1,3}(?:[.,]\d)?)\s*kg")),
    ("height", "cm", re.compile(r"\b(?:chieu cao|cc)\s*[:=]?\s*(\d{2,3}(?:[.,]\d)?)\s*cm")),
]


def parse_number(text: object) -> float | None:
    """The number in "36,8", "32 kg", "<0.5" or "1.5"; ``None`` when there is none."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    m = _NUMBER.search(str(text))
    return float(m.group(0).replace(",", ".")) if m else None


def parse_amount(text: object) -> float | None:
    """Money in đồng. Exports write a dot decimal ("410000", "252300.00", "2289.998"); people
    type groups ("1.250.000" or "1,250,000.50") and a decimal comma ("1.250,5"). ``None`` when
    it is not a number."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    raw = re.sub(r"\s+", "", str(text))
    if _DECIMAL.fullmatch(raw):
        return float(raw.replace(",", "."))
    for group, decimal in ((".", ","), (",", ".")):
        m = re.fullmatch(rf"(\d{{1,3}}(?:\{group}\d{{3}})+)(?:\{decimal}(\d+))?", raw)
        if m:
            return float(m[1].replace(group, "") + ("." + m[2] if m[2] else ""))
    return None


def parse_timestamp(text: object) -> dt.datetime | None:
    """yyyymmddHHMM / yyyymmdd (insurance XML), or any date :func:`parse_date` reads."""
    if text is None:
        return None
    raw = str(text).strip()
    m = _STAMP.match(raw)
    if m:
        year, month, day, hour, minute = (int(g) if g else 0 for g in m.groups())
        try:
            return dt.datetime(year, month, day, hour, minute)
        except ValueError:
            return None
    try:
        parsed = parse_date(raw, placeholder_year_only=False)
    except DateError:
        return None
    return dt.datetime.combine(parsed.as_date(), dt.time()) if parsed and parsed.as_date() else None


def vitals_in_text(text: object) -> list[tuple[str, float, str]]:
    """(code, value, unit) for each vital sign written in a progress note."""
    if not text:
        return []
    folded = fold(str(text))
    found: list[tuple[str, float, str]] = []
    for code, unit, pattern in _VITALS:
        m = pattern.search(folded)
        if not m:
            continue
        if code == "blood_pressure":
            found.append(("systolic", float(m.group(1)), unit))
            found.append(("diastolic", float(m.group(2)), unit))
        else:
            found.append((code, float(m.group(1).replace(",", ".")), unit))
    return found


def plausibility(code: str, value: float | None, *, child: bool = False) -> str | None:
    """``implausible`` when a vital sign is outside the bounds of vitals.yaml."""
    bounds = reference.vital_bounds().get(code)
    if value is None or not isinstance(bounds, dict):
        return None
    low = bounds.get("min_child", bounds["min"]) if child else bounds["min"]
    return None if low <= value <= bounds["max"] else "implausible"


Finding = Callable[[str, str, str, object, str], None]  # record_key, field, slug, value, message


def transform_tables(tables: dict[str, pd.DataFrame], records: pd.DataFrame,
                     finding: Finding) -> dict[str, pd.DataFrame]:
    """Parse the staged side tables and derive exam tables from school/adult exam records."""
    out: dict[str, list[dict[str, object]]] = {
        "encounters": [], "observations": [], "conditions": [], "lab_results": [],
        "clinical_notes": [], "exam_findings": [], "prescriptions": [], "services": []}

    def rows(name: str) -> list[dict[str, object]]:
        df = tables.get(name)
        if df is None or df.empty:
            return []
        return df.astype(object).where(df.notna(), None).to_dict("records")

    for e in rows("encounters"):
        out["encounters"].append({
            **{k: e.get(k) for k in ("record_key", "kind", "facility_code", "visit_type",
                                     "reason", "outcome", "notes")},
            "encounter_key": e["record_key"], "started_at": parse_timestamp(e.get("started_at")),
            "ended_at": parse_timestamp(e.get("ended_at")), "health_class": None,
            "examiner": None, "advice": None})
    for c in rows("conditions"):
        codes, bad = parse_icd10_list(c.get("icd10"))
        for piece in bad:
            finding(c["record_key"], "icd10", "invalid-icd10", piece, "not shaped like ICD-10")
        for code in codes:
            if not code.valid:
                finding(c["record_key"], "icd10", "unknown-icd10", code.code,
                        "not in the WHO ICD-10 list")
            out["conditions"].append({"record_key": c["record_key"], "encounter_key":
                                      c["record_key"], "icd10": code.code,
                                      "icd10_valid": code.valid, "name": c.get("name"),
                                      "role": c.get("role")})
    for o in rows("observations"):
        value = parse_number(o.get("value_text"))
        flag = plausibility(o["code"], value)
        if flag:
            finding(o["record_key"], o["code"], "implausible-vital", o.get("value_text"),
                    f"{o['code']} outside plausible bounds")
        out["observations"].append({"record_key": o["record_key"],
                                    "encounter_key": o["record_key"], "code": o["code"],
                                    "value_num": value, "value_text": o.get("value_text"),
                                    "unit": o.get("unit"),
                                    "observed_at": parse_timestamp(o.get("observed_at")),
                                    "flag": flag})
    for lab in rows("lab_results"):
        out["lab_results"].append({**lab, "encounter_key": lab["record_key"],
                                   "value_num": parse_number(lab.get("value_text")),
                                   "result_at": parse_timestamp(lab.get("result_at"))})
    for note in rows("clinical_notes"):
        noted = parse_timestamp(note.get("noted_at"))
        out["clinical_notes"].append({"record_key": note["record_key"],
                                      "encounter_key": note["record_key"], "noted_at": noted,
                                      "text": note.get("text")})
        for code, value, unit in vitals_in_text(note.get("text")):
            flag = plausibility(code, value)
            if flag:
                finding(note["record_key"], code, "implausible-vital", value,
                        f"{code} in the progress note outside plausible bounds")
            out["observations"].append({"record_key": note["record_key"],
                                        "encounter_key": note["record_key"], "code": code,
                                        "value_num": value, "value_text": str(value),
                                        "unit": unit, "observed_at": noted, "flag": flag})
    _exam_records(records, out, finding)
    out["immunizations"] = immunization_rows(records, finding)
    result = {name: pd.DataFrame(rows_) for name, rows_ in out.items() if rows_}
    for name, times in VISIT_ITEM_TIMES.items():
        staged = tables.get(name)
        if staged is not None and not staged.empty:
            result[name] = visit_items(staged, times, finding)
    return result


# The time columns of each visit-item table (XML2 drugs, XML3 services and supplies).
VISIT_ITEM_TIMES = {"prescriptions": ("ordered_at",),
                    "services": ("ordered_at", "performed_at", "result_at")}


def visit_items(staged: pd.DataFrame, times: tuple[str, ...],
                finding: Finding) -> pd.DataFrame:
    """Drug or service rows with line number, quantity, amount and times parsed beside the
    text (once per distinct value: a month repeats the same few); an unreadable time is
    reported (``invalid-date``) and left empty."""
    out = as_objects(staged)
    out["encounter_key"] = out["record_key"]
    out["line"] = map_distinct(out["line"], _line_number)
    out["quantity"] = map_distinct(out["quantity_text"], parse_number)
    out["amount"] = map_distinct(out["amount_text"], parse_amount)
    for column in times:
        parsed = map_distinct(out[column], parse_timestamp)
        bad = out[column].notna() & parsed.isna()
        for key, text in zip(out.loc[bad, "record_key"], out.loc[bad, column], strict=True):
            finding(key, column, "invalid-date", text, f"{column} is not a date and time")
        out[column] = parsed
    return out


def _line_number(text: object) -> int | None:
    line = str(text).strip() if text is not None else ""
    return int(line) if line.isdigit() else None


EXAM_KINDS = {"school-exam", "adult-exam"}
_VITAL_FIELDS = {"height": ("height", "cm"), "weight": ("weight", "kg"), "pulse": ("pulse", "/min"),
                 "waist": ("waist", "cm"), "temperature": ("temperature", "°C")}
_FINDING_FIELDS = ("dental", "spine", "eye", "ent", "skin", "cardiovascular", "respiratory",
                   "digestive", "musculoskeletal", "neurological", "mental", "nutrition")


def _exam_records(records: pd.DataFrame, out: dict[str, list[dict[str, object]]],
                  finding: Finding) -> None:
    """A school or workplace exam row is an encounter with vitals and findings."""
    if records.empty or "source_kind" not in records:
        return
    exams = records[records["source_kind"].isin(EXAM_KINDS)]
    for rec in exams.astype(object).where(exams.notna(), None).to_dict("records"):
        extra = json.loads(rec["extra"]) if rec.get("extra") else {}
        key = rec["record_key"]
        when = parse_timestamp(extra.get("exam_date"))
        child = rec["source_kind"] == "school-exam"
        health_class = resolve_value("health_class", extra.get("health_class"))
        if extra.get("health_class") and health_class is None:
            finding(key, "health_class", "unknown-health-class", extra["health_class"],
                    "health class not in I–V")
        out["encounters"].append({
            "record_key": key, "encounter_key": key, "kind": rec["source_kind"],
            "facility_code": None, "started_at": when, "ended_at": None, "visit_type": None,
            "reason": None, "outcome": None, "health_class": health_class, "examiner": None,
            "advice": None, "notes": extra.get("notes")})
        values: dict[str, float] = {}
        for field_name, (code, unit) in _VITAL_FIELDS.items():
            if extra.get(field_name) is None:
                continue
            value = parse_number(extra[field_name])
            _vital(out, finding, key, code, value, extra[field_name], unit, when, child)
            if value is not None:
                values[code] = value
        if extra.get("blood_pressure"):
            m = re.search(r"(\d{2,3})\s*/\s*(\d{2,3})", str(extra["blood_pressure"]))
            if m:
                _vital(out, finding, key, "systolic", float(m[1]), m[1], "mmHg", when, child)
                _vital(out, finding, key, "diastolic", float(m[2]), m[2], "mmHg", when, child)
        for side in ("right", "left"):
            text = extra.get(f"vision_{side}")
            if text:
                m = re.match(r"^\s*(\d{1,2})\s*/\s*10\s*$", str(text))
                out["observations"].append({
                    "record_key": key, "encounter_key": key, "code": f"vision_{side}",
                    "value_num": int(m[1]) / 10 if m else None, "value_text": str(text),
                    "unit": "x/10", "observed_at": when, "flag": None if m else "unparsed"})
        if "height" in values and "weight" in values and values["height"] > 0:
            bmi = round(values["weight"] / (values["height"] / 100) ** 2, 1)
            stated = parse_number(extra.get("bmi"))
            flag = None
            tolerance = reference.vital_bounds()["bmi"].get("tolerance", 0.6)
            if stated is not None and abs(stated - bmi) > tolerance:
                flag = "recomputed-mismatch"
                finding(key, "bmi", "bmi-mismatch", extra.get("bmi"),
                        "the BMI written differs from weight / height²")
            out["observations"].append({"record_key": key, "encounter_key": key, "code": "bmi",
                                        "value_num": bmi, "value_text": extra.get("bmi"),
                                        "unit": "kg/m2", "observed_at": when, "flag": flag})
        for system in _FINDING_FIELDS:
            if extra.get(system):
                out["exam_findings"].append({"record_key": key, "encounter_key": key,
                                             "system": system, "finding": extra[system]})


def _vital(out, finding, key, code, value, text, unit, when, child) -> None:  # type: ignore[no-untyped-def]
    flag = plausibility(code, value, child=child) if value is not None else "unparsed"
    if flag:
        finding(key, code, "implausible-vital" if flag == "implausible" else "unparsed-vital",
                text, f"{code} {'outside plausible bounds' if value is not None else 'unreadable'}")
    out["observations"].append({"record_key": key, "encounter_key": key, "code": code,
                                "value_num": value, "value_text": str(text), "unit": unit,
                                "observed_at": when, "flag": flag})


@functools.cache
def _vaccine_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for row in reference.vaccines():
        for alias in [row["code"], row["name"], *filter(None, row["aliases"].split("|"))]:
            index[re.sub(r"[^a-z0-9]", "", fold(alias))] = row["code"]
    return index


def resolve_vaccine(value: object) -> str | None:
    """EPI vaccine code from what a register says ("5 trong 1", "Sởi - Rubella", "VGB sơ sinh")."""
    if value is None:
        return None
    return _vaccine_index().get(re.sub(r"[^a-z0-9]", "", fold(str(value))))


def immunization_rows(records: pd.DataFrame, finding: Finding) -> list[dict[str, object]]:
    """One immunization per immunization-list row: vaccine code, dose, date given."""
    rows: list[dict[str, object]] = []
    if records.empty or "source_kind" not in records:
        return rows
    doses = records[records["source_kind"] == "immunization"]
    in_programme = {v["code"]: v["programme"] == "EPI" for v in reference.vaccines()}
    for rec in doses.astype(object).where(doses.notna(), None).to_dict("records"):
        extra = json.loads(rec["extra"]) if rec.get("extra") else {}
        key = rec["record_key"]
        code = resolve_vaccine(extra.get("vaccine"))
        if code is None:
            finding(key, "vaccine", "unknown-vaccine", extra.get("vaccine"),
                    "vaccine not in the EPI list; kept as written")
        dose = parse_number(extra.get("dose_number"))
        given = None
        precision = None
        try:
            parsed = parse_date(extra.get("given_on"), placeholder_year_only=False,
                                allow_serial=True)
        except DateError as exc:
            finding(key, "given_on", "invalid-date", extra.get("given_on"), str(exc))
            parsed = None
        if parsed is not None:
            given, precision = parsed.as_date(), parsed.precision
        rows.append({"record_key": key, "vaccine_code": code or "OTHER",
                     "vaccine_name": extra.get("vaccine"),
                     "dose_number": int(dose) if dose is not None else None,
                     "given_on": given, "given_precision": precision,
                     "in_programme": in_programme.get(code, False) if code else False,
                     "reaction": extra.get("reaction"), "facility_code": extra.get("facility"),
                     "pregnancy_month": None})
    return rows
