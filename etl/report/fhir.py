"""FHIR R4 bulk export: one NDJSON file per resource type (Patient, Encounter, Observation,
Condition, Immunization), one Patient per person, every other resource pointing at its Patient.

No national FHIR guide exists for HSSK (docs/domain.md#record), so the naming systems of Vietnamese
identifiers and code lists are local URNs declared in :data:`SYSTEMS` — change them there when
the Ministry publishes official ones. Resource ids are derived from business keys (the person id,
an encounter's key), not database row ids, so a re-export or a ``--since`` delta gives the same
resource the same id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from etl.export import partial_date
from etl.load import schema as s
from etl.load.db import require_current

RESOURCE_TYPES = ("Patient", "Encounter", "Observation", "Condition", "Immunization")
TIMEZONE = "+07:00"  # database times are local (Indochina Time); FHIR wants an offset

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"

# Local naming systems (unverified: no national FHIR naming system exists yet).
SYSTEMS = {
    "personal_id": "urn:hssk:sid:personal-id",  # số định danh cá nhân (CCCD), 12 digits
    "cmnd": "urn:hssk:sid:cmnd",  # old 9-digit ID card
    "passport": "urn:hssk:sid:passport",
    "social_insurance_code": "urn:hssk:sid:social-insurance-code",  # mã số BHXH, 10 digits
    "insurance_card": "urn:hssk:sid:health-insurance-card",  # mã thẻ BHYT, 15 characters
    "facility_patient_id": "urn:hssk:sid:facility-patient-id:",  # + the 5-char facility code
    "encounter": "urn:hssk:sid:encounter-key",
    "commune": "urn:hssk:cs:commune-2024",  # GSO commune codes before 1 July 2025
    "commune_2025": "urn:hssk:cs:commune-2025",
    "ethnicity": "urn:hssk:cs:ethnicity-gso",  # GSO list 121-TCTK
    "observation": "urn:hssk:cs:observation",
    "lab_indicator": "urn:hssk:cs:lab-indicator",  # national indicator codes (QĐ 7603)
    "vaccine": "urn:hssk:cs:vaccine-epi",
    "encounter_kind": "urn:hssk:cs:encounter-kind",
}
EXTENSIONS = {
    "commune": "urn:hssk:extension:address-commune",
    "commune_2025": "urn:hssk:extension:address-commune-2025",
    "ethnicity": "urn:hssk:extension:ethnicity",
}

# Vital signs with an obvious LOINC code: observation code → (LOINC, display, UCUM unit).
VITAL_SIGNS = {
    "height": ("8302-2", "Body height", "cm"),
    "weight": ("29463-7", "Body weight", "kg"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
    "systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    "diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
    "pulse": ("8867-4", "Heart rate", "/min"),
    "temperature": ("8310-5", "Body temperature", "Cel"),
    "respiratory_rate": ("9279-1", "Respiratory rate", "/min"),
}
# Units as written in the sources → UCUM; a unit not listed is sent as text without a code.
UCUM_UNITS = {
    "cm": "cm", "kg": "kg", "kg/m2": "kg/m2", "mmHg": "mm[Hg]", "/min": "/min", "°C": "Cel",
    "µmol/L": "umol/L", "μmol/L": "umol/L", "umol/L": "umol/L", "mmol/L": "mmol/L",
    "g/L": "g/L", "G/L": "10*9/L", "T/L": "10*12/L", "mg/dL": "mg/dL", "g/dL": "g/dL",
    "U/L": "U/L", "%": "%", "fL": "fL", "pg": "pg",
}
# MA_LOAI_KCB → FHIR encounter class (01 exam and 02 outpatient treatment are ambulatory;
# 03 inpatient and 04 day inpatient are inpatient). Unverified beyond docs/domain.md#source-clinic-xml.
ENCOUNTER_CLASS = {"03": ("IMP", "inpatient encounter"), "04": ("IMP", "inpatient encounter")}
AMBULATORY = ("AMB", "ambulatory")
GENDER = {"M": "male", "F": "female", "U": "unknown"}


def resource_id(*parts: object) -> str:
    """A stable FHIR id from business-key parts (64 hex characters would be allowed; 32 do)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _datetime(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(microsecond=0).isoformat() + TIMEZONE


def _ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def _clean(obj: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in obj.items() if v not in (None, "", [], {})}


class _Selection:
    """Which rows go out: everything, or what batches after ``since`` touched."""

    def __init__(self, since: int | None) -> None:
        self.since = since

    def touched_persons(self) -> sa.Select | None:
        if self.since is None:
            return None
        p, sr = s.persons, s.source_records
        return sa.union(
            sa.select(p.c.person_id).where(sa.or_(p.c.created_batch_id > self.since,
                                                  p.c.updated_batch_id > self.since)),
            sa.select(sr.c.person_id).where(sr.c.updated_batch_id > self.since))

    def records(self, record_id: sa.ColumnElement) -> sa.ColumnElement[bool]:
        if self.since is None:
            return sa.true()
        sr = s.source_records
        return record_id.in_(sa.select(sr.c.id).where(sr.c.updated_batch_id > self.since))


def _encounters(conn: Connection, sel: _Selection) -> list[dict[str, object]]:
    e = s.encounters
    rows = conn.execute(sa.select(e.c.id, e.c.person_id, e.c.encounter_key, e.c.kind,
                                  e.c.visit_type, e.c.started_at, e.c.ended_at, e.c.reason)
                        .where(sel.records(e.c.source_record_id))
                        .order_by(e.c.encounter_key)).mappings().all()
    return [dict(r) for r in rows]


def _children(conn: Connection, table: sa.Table, encounter_ids: set[int], cols: list[str]
              ) -> dict[int, list[dict[str, object]]]:
    """Rows of ``table`` for the exported encounters, grouped by encounter, in row order."""
    out: dict[int, list[dict[str, object]]] = defaultdict(list)
    query = (sa.select(table.c.id, table.c.encounter_id, *[table.c[c] for c in cols])
             .where(table.c.encounter_id.is_not(None)).order_by(table.c.id))
    for row in conn.execute(query).mappings():
        if row["encounter_id"] in encounter_ids:
            out[row["encounter_id"]].append(dict(row))
    return out


def _ordinal(rows: Iterable[dict[str, object]], *key: str) -> list[tuple[int, dict]]:
    """Each row with its rank among rows of the same ``key`` (row order), for stable ids."""
    seen: dict[tuple[object, ...], int] = defaultdict(int)
    out = []
    for row in rows:
        k = tuple(row[c] for c in key)
        out.append((seen[k], row))
        seen[k] += 1
    return out


def patient_resource(person: dict[str, object],
                     identifiers: list[tuple[str, str]]) -> dict[str, object]:
    """The Patient of one person (name parts, sex, birth date by precision, address codes)."""
    ids = []
    for kind, value in identifiers:
        if kind == "facility_patient_id":
            facility, _, local = value.partition(":")
            ids.append({"system": SYSTEMS[kind] + facility, "value": local or value})
        elif kind in SYSTEMS:
            ids.append({"system": SYSTEMS[kind], "value": value})
    given = [str(person[c]) for c in ("middle_name", "given_name") if person.get(c)]
    name = _clean({"use": "official", "text": person.get("full_name"),
                   "family": person.get("family_name"), "given": given})
    commune_ext = []
    if person.get("permanent_commune_code"):
        commune_ext.append({"url": EXTENSIONS["commune"], "valueCoding": {
            "system": SYSTEMS["commune"], "code": person["permanent_commune_code"]}})
    if person.get("permanent_commune_code_2025"):
        commune_ext.append({"url": EXTENSIONS["commune_2025"], "valueCoding": {
            "system": SYSTEMS["commune_2025"], "code": person["permanent_commune_code_2025"]}})
    address = _clean({"use": "home", "type": "physical", "text": person.get("permanent_address"),
                      "extension": commune_ext})
    extension = []
    if person.get("ethnicity_code"):
        extension.append({"url": EXTENSIONS["ethnicity"], "valueCoding": {
            "system": SYSTEMS["ethnicity"], "code": person["ethnicity_code"]}})
    return _clean({
        "resourceType": "Patient", "id": person["person_id"], "extension": extension,
        "identifier": ids, "name": [name] if len(name) > 1 else [],
        "gender": GENDER.get(str(person.get("sex"))) if person.get("sex") else None,
        "birthDate": partial_date(person.get("birth_year"), person.get("birth_month"),
                                   person.get("birth_day"), person.get("birth_date_precision")),
        "address": [address] if len(address) > 2 else [],
    })


def encounter_resource(enc: dict[str, object], diagnoses: list[tuple[str, str]]
                       ) -> dict[str, object]:
    code, display = ENCOUNTER_CLASS.get(str(enc.get("visit_type") or ""), AMBULATORY)
    return _clean({
        "resourceType": "Encounter", "id": resource_id("Encounter", enc["encounter_key"]),
        "identifier": [{"system": SYSTEMS["encounter"], "value": enc["encounter_key"]}],
        "status": "finished",
        "class": {"system": ACT_CODE, "code": code, "display": display},
        "type": [{"coding": [{"system": SYSTEMS["encounter_kind"], "code": enc["kind"]}],
                  "text": enc["kind"]}],
        "subject": _ref("Patient", str(enc["person_id"])),
        "period": _clean({"start": _datetime(enc.get("started_at")),
                          "end": _datetime(enc.get("ended_at"))}),
        "reasonCode": [{"text": enc["reason"]}] if enc.get("reason") else [],
        "diagnosis": [{"condition": _ref("Condition", cid), "rank": 1 if role == "primary"
                       else 2} for cid, role in diagnoses],
    })


def _quantity(value: float, unit: str | None, ucum: str | None = None) -> dict[str, object]:
    code = ucum or UCUM_UNITS.get(unit or "")
    if code:
        return {"value": value, "unit": unit or code, "system": UCUM, "code": code}
    return _clean({"value": value, "unit": unit})


def observation_resource(obs: dict[str, object], enc: dict[str, object], n: int
                         ) -> dict[str, object]:
    code = str(obs["code"])
    vital = VITAL_SIGNS.get(code)
    coding = [{"system": SYSTEMS["observation"], "code": code}]
    if vital:
        coding.insert(0, {"system": LOINC, "code": vital[0], "display": vital[1]})
    category = "vital-signs" if vital else "exam"
    value: dict[str, object]
    if obs.get("value_num") is not None:
        value = {"valueQuantity": _quantity(float(obs["value_num"]), obs.get("unit"),
                                            vital[2] if vital else None)}
    elif obs.get("value_text"):
        value = {"valueString": str(obs["value_text"])}
    else:
        value = {"dataAbsentReason": {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}}
    return _clean({
        "resourceType": "Observation",
        "id": resource_id("Observation", enc["encounter_key"], code, n),
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
        "code": {"coding": coding, "text": vital[1] if vital else code},
        "subject": _ref("Patient", str(enc["person_id"])),
        "encounter": _ref("Encounter", resource_id("Encounter", enc["encounter_key"])),
        "effectiveDateTime": _datetime(obs.get("observed_at") or enc.get("started_at")),
        **value,
        "note": [{"text": f"flag: {obs['flag']}"}] if obs.get("flag") else [],
    })


def lab_resource(lab: dict[str, object], enc: dict[str, object], n: int) -> dict[str, object]:
    name = lab.get("name") or lab.get("indicator_code") or lab.get("service_code")
    coding = [_clean({"system": SYSTEMS["lab_indicator"], "code": lab.get("indicator_code")
                      or lab.get("service_code"), "display": lab.get("name")})]
    value: dict[str, object]
    if lab.get("value_num") is not None:
        value = {"valueQuantity": _quantity(float(lab["value_num"]), lab.get("unit"))}
    elif lab.get("value_text"):
        value = {"valueString": str(lab["value_text"])}
    else:
        value = {"dataAbsentReason": {"coding": [{"system": DATA_ABSENT, "code": "unknown"}]}}
    notes = [{"text": str(lab[c])} for c in ("description", "conclusion") if lab.get(c)]
    return _clean({
        "resourceType": "Observation",
        "id": resource_id("Lab", enc["encounter_key"], lab.get("service_code"),
                          lab.get("indicator_code"), n),
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
        "code": _clean({"coding": [c for c in coding if "code" in c], "text": name}),
        "subject": _ref("Patient", str(enc["person_id"])),
        "encounter": _ref("Encounter", resource_id("Encounter", enc["encounter_key"])),
        "effectiveDateTime": _datetime(lab.get("result_at") or enc.get("started_at")),
        **value, "note": notes,
    })


def condition_id(enc: dict[str, object], cond: dict[str, object], n: int) -> str:
    return resource_id("Condition", enc["encounter_key"], cond["icd10"], cond["role"], n)


def condition_resource(cond: dict[str, object], enc: dict[str, object], n: int
                       ) -> dict[str, object]:
    if cond.get("icd10_valid") is False:
        code: dict[str, object] = {"text": " ".join(str(v) for v in (cond["icd10"],
                                                                     cond.get("name")) if v)}
    else:
        code = _clean({"coding": [_clean({"system": ICD10, "code": cond["icd10"],
                                          "display": cond.get("name")})],
                       "text": cond.get("name")})
    return _clean({
        "resourceType": "Condition", "id": condition_id(enc, cond, n),
        "category": [{"coding": [{"system": CONDITION_CATEGORY,
                                  "code": "encounter-diagnosis"}]}],
        "code": code,
        "subject": _ref("Patient", str(enc["person_id"])),
        "encounter": _ref("Encounter", resource_id("Encounter", enc["encounter_key"])),
        "recordedDate": _datetime(enc.get("started_at")),
    })


def immunization_resource(dose: dict[str, object], n: int) -> dict[str, object]:
    given = dose.get("given_on")
    occurrence: dict[str, object]
    if isinstance(given, dt.date):
        occurrence = {"occurrenceDateTime": partial_date(
            given.year, given.month, given.day, dose.get("given_precision") or "day")}
    else:
        occurrence = {"occurrenceString": "unknown"}
    dose_number = dose.get("dose_number")
    return _clean({
        "resourceType": "Immunization",
        "id": resource_id("Immunization", dose["record_key"], dose["vaccine_code"],
                          dose_number, n),
        "status": "completed",
        "vaccineCode": _clean({"coding": [_clean({
            "system": SYSTEMS["vaccine"], "code": dose["vaccine_code"],
            "display": dose.get("vaccine_name")})], "text": dose.get("vaccine_name")}),
        "patient": _ref("Patient", str(dose["person_id"])),
        **occurrence,
        "primarySource": True,
        "protocolApplied": [{"doseNumberPositiveInt": int(dose_number)}]
        if isinstance(dose_number, int) and dose_number > 0 else [],
    })


def export_fhir(engine: Engine, out_dir: Path, *, since: int | None = None) -> dict[str, int]:
    """Write ``<Type>.ndjson`` for each of :data:`RESOURCE_TYPES` into ``out_dir``; returns the
    number of resources per type. ``since``: only persons and resources that batches after
    that one created or changed (plus the Patients they point at)."""
    require_current(engine)
    sel = _Selection(since)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {t: [] for t in RESOURCE_TYPES}

    def emit(resource: dict[str, object]) -> None:
        lines[str(resource["resourceType"])].append(
            json.dumps(resource, ensure_ascii=False, separators=(",", ":")))

    with engine.connect() as conn:
        encounters = _encounters(conn, sel)
        by_id = {int(e["id"]): e for e in encounters}
        ids = set(by_id)
        conditions = _children(conn, s.conditions, ids, ["icd10", "icd10_valid", "name", "role"])
        observations = _children(conn, s.observations, ids, ["code", "value_num", "value_text",
                                                              "unit", "observed_at", "flag"])
        labs = _children(conn, s.lab_results, ids, [
            "service_code", "indicator_code", "name", "value_text", "value_num", "unit",
            "description", "conclusion", "result_at"])
        im, sr = s.immunizations, s.source_records
        doses = [dict(r) for r in conn.execute(
            sa.select(im.c.id, im.c.person_id, sr.c.record_key, im.c.vaccine_code,
                      im.c.vaccine_name, im.c.dose_number, im.c.given_on, im.c.given_precision)
            .join(sr, sr.c.id == im.c.source_record_id)
            .where(sel.records(im.c.source_record_id))
            .order_by(sr.c.record_key, im.c.id)).mappings()]

        for enc in encounters:
            eid = int(enc["id"])
            conds = _ordinal(conditions.get(eid, []), "icd10", "role")
            emit(encounter_resource(enc, [(condition_id(enc, c, n), str(c["role"]))
                                          for n, c in conds]))
            for n, cond in conds:
                emit(condition_resource(cond, enc, n))
            for n, obs in _ordinal(observations.get(eid, []), "code"):
                emit(observation_resource(obs, enc, n))
            for n, lab in _ordinal(labs.get(eid, []), "service_code", "indicator_code"):
                emit(lab_resource(lab, enc, n))
        for n, dose in _ordinal(doses, "record_key", "vaccine_code", "dose_number"):
            emit(immunization_resource(dose, n))

        wanted = {str(e["person_id"]) for e in encounters} | {str(d["person_id"])
                                                               for d in doses}
        touched = sel.touched_persons()
        if touched is not None:
            wanted |= set(conn.execute(touched).scalars())
        p = s.persons
        cols = [c for c in p.c if c.name in (
            "person_id", "full_name", "family_name", "middle_name", "given_name", "sex",
            "birth_year", "birth_month", "birth_day", "birth_date_precision", "ethnicity_code",
            "permanent_address", "permanent_commune_code", "permanent_commune_code_2025")]
        pi = s.person_identifiers
        identifiers: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for person_id, kind, value in conn.execute(
                sa.select(pi.c.person_id, pi.c.kind, pi.c.value).where(pi.c.status == "valid")
                .order_by(pi.c.person_id, pi.c.kind, pi.c.value)):
            identifiers[person_id].append((kind, value))
        for person in conn.execute(sa.select(*cols).order_by(p.c.person_id)).mappings():
            if since is None or person["person_id"] in wanted:
                emit(patient_resource(dict(person), identifiers.get(person["person_id"], [])))

    counts = {}
    for kind in RESOURCE_TYPES:
        text = "".join(line + "\n" for line in lines[kind])
        (out_dir / f"{kind}.ndjson").write_text(text, encoding="utf-8", newline="\n")
        counts[kind] = len(lines[kind])
    return counts
