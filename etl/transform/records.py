"""Turn staged records (text as typed) into clean, comparable identity columns plus findings.

Work is done once per distinct value (names, dates and addresses repeat a lot in a district),
which keeps a 100,000-row batch to seconds without leaving plain Python.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re

import pandas as pd

from etl.stage import REJECT_COLUMNS, StageData, as_objects, empty, key_in, map_distinct
from etl.text import clean, fold
from etl.transform import codes, identifiers, places
from etl.transform.clinical import transform_tables
from etl.transform.dates import DateError, PartialDate, parse_date
from etl.transform.names import PersonName, looks_given_first, parse_name
from etl.transform.validate import ISSUE_COLUMNS, REJECT, Issue, severity

CLEAN_COLUMNS = [
    "full_name", "family_name", "middle_name", "given_name", "name_key", "family_key",
    "middle_key", "given_key",
    "birth_year", "birth_month", "birth_day", "birth_date_precision", "birth_date_ambiguous",
    "sex", "personal_id", "personal_id_status", "cmnd", "passport", "insurance_cards",
    "social_insurance_code", "ethnicity_code", "religion", "nationality", "occupation",
    "permanent_address", "permanent_commune_code", "permanent_commune_code_2025",
    "current_address", "current_commune_code", "current_commune_code_2025",
    "household_code", "household_head", "household_head_key", "relation_to_head",
    "father_name", "mother_name", "phone", "email", "facility_code", "facility_patient_id",
]
_PHONE = re.compile(r"^(?:\+?84|0)(\d{9})$")


def _text(v: object) -> str | None:
    t = clean(v) if v is not None else ""
    return t or None


def _phone(v: object) -> str | None:
    digits = re.sub(r"[^\d+]", "", str(v)) if v is not None else ""
    m = _PHONE.match(digits)
    return "0" + m.group(1) if m else None


class _Findings:
    def __init__(self, records: pd.DataFrame, policy: dict[str, str] | None) -> None:
        self.files = records["source_file"].tolist()
        self.shas = records["file_sha256"].tolist()
        self.locators = records["locator"].tolist()
        self.policy = policy
        self.rows: list[dict[str, object]] = []
        self.rejected: dict[int, Issue] = {}

    def add(self, pos: int, field: str, slug: str, value: object, message: str) -> None:
        issue = Issue(self.files[pos], self.shas[pos], self.locators[pos], field, slug,
                      severity(slug, self.policy), None if value is None else str(value), message)
        self.rows.append(issue.as_row())
        if issue.severity == REJECT and pos not in self.rejected:
            self.rejected[pos] = issue


# A province's registry repeats its births across chunks (about 36,000 days a century for a
# million records): each is parsed once per process, not once per chunk. What comes back is
# immutable (a state and a frozen PartialDate or a message), so records may share it.
@functools.lru_cache(maxsize=1 << 17, typed=True)  # 1 and 1.0 are read apart
def _parse_birth(value: object, today: dt.date):
    if value is None:
        return ("missing", None)
    try:
        parsed = parse_date(value, placeholder_year_only=True, pivot_year=today.year,
                            allow_serial=True)
    except DateError as exc:
        # "92/11/1955": no such day, but the year is the clerk's and in this population a
        # year-only birth is ordinary — the person loads with the year, the finding says why.
        year = _year_of(value, today)
        return ("year-kept", (PartialDate(year), f"{exc}; the year is kept")) if year else (
            "invalid", str(exc))
    if parsed is None:
        return ("missing", None)
    if parsed.year > today.year or (parsed.as_date() or dt.date(parsed.year, 1, 1)) > today:
        return ("future", "birth date is in the future")
    return ("ok", parsed)


def transform_stage(data: StageData, *, policy: dict[str, str] | None = None,
                    today: dt.date | None = None) -> StageData:
    """Parse names, dates, sex, identifiers and codes; return the clean stage.

    Records with a finding the policy marks ``reject`` move to rejects (with the finding's
    slug and message); all findings are kept in the issues table.
    """
    today = today or dt.date.today()
    rec = as_objects(data.records.reset_index(drop=True))
    out = pd.DataFrame(index=rec.index)
    findings = _Findings(rec, policy)
    _names(rec, out, findings)
    _births(rec, out, findings, today)
    sexes = map_distinct(rec["sex"], codes.normalize_sex)
    for i, (raw, sx) in enumerate(zip(rec["sex"], sexes, strict=True)):
        if raw is not None and sx is None:
            findings.add(i, "sex", "unknown-sex", raw, "sex value not recognised")
    out["sex"] = sexes
    _identifiers(rec, out, findings)
    _person_details(rec, out, findings)
    _commune_from_title(rec)
    _places(rec, out, findings)
    _relatives_and_contact(rec, out, findings)
    position = {key: i for i, key in enumerate(rec["record_key"])}
    tables = transform_tables(
        data.tables, rec,
        lambda key, field, slug, value, message: findings.add(position[key], field, slug, value,
                                                              message))
    return _clean_stage(data, rec, out, tables, findings)


def _names(rec: pd.DataFrame, out: pd.DataFrame, findings: _Findings) -> None:
    """Full name split into family, middle and given name (and their folded keys). A file
    whose names mostly read given-name-first is reordered as a whole."""
    reversed_files = {
        sha for sha, group in rec.groupby("file_sha256", sort=False)["full_name"]
        if looks_given_first([v for v in group if v])
    }
    parsed: dict[tuple[object, bool], PersonName | None] = {}  # once per distinct name
    names = []
    for v, sha in zip(rec["full_name"], rec["file_sha256"], strict=True):
        key = (v, sha in reversed_files)
        if key not in parsed:
            parsed[key] = parse_name(v, given_first=key[1])
        names.append(parsed[key])
    for part in ("full", "family", "middle", "given"):
        values = [getattr(p, part) if p else None for p in names]
        out["full_name" if part == "full" else f"{part}_name"] = values
        out["name_key" if part == "full" else f"{part}_key"] = [
            fold(v) if p else None for p, v in zip(names, values, strict=True)]
    for i, p in enumerate(names):
        if p is None:
            findings.add(i, "full_name", "missing-name", None, "the record has no name")
        elif p.reordered:
            findings.add(i, "full_name", "name-order-reversed", None,
                         "the file writes names given-name-first; reordered")


_BIRTH_SLUGS = {"missing": "missing-birth-date", "invalid": "invalid-birth-date",
                "future": "future-birth-date", "year-kept": "birth-date-year-kept"}
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)|^(1[89]\d\d|20\d\d)\d{4}$")


def _year_of(value: object, today: dt.date) -> int | None:
    """The one four-digit year a broken date holds (yyyymmdd or with separators), if plausible."""
    text = str(value).strip()
    found = {int(a or b) for a, b in _YEAR.findall(text)}
    if len(found) != 1:
        return None
    year = found.pop()
    return year if 1850 <= year <= today.year else None


def _births(rec: pd.DataFrame, out: pd.DataFrame, findings: _Findings, today: dt.date) -> None:
    """Birth date as year, month, day and precision (a year alone is never given a day)."""
    births = map_distinct(rec["birth_date"], lambda v: _parse_birth(v, today))
    birth_raw = rec["birth_date"].tolist()
    years, months, days, precisions, ambiguous = [], [], [], [], []
    for i, (state, value) in enumerate(births):
        if state == "year-kept":
            value, message = value
            findings.add(i, "birth_date", _BIRTH_SLUGS[state], birth_raw[i], message)
            state = "ok"
        ok = state == "ok"
        years.append(value.year if ok else None)
        months.append(value.month if ok else None)
        days.append(value.day if ok else None)
        precisions.append(value.precision if ok else None)
        ambiguous.append(value.ambiguous if ok else False)
        if not ok:
            findings.add(i, "birth_date", _BIRTH_SLUGS[state], birth_raw[i],
                         value or "no birth date")
        elif value.ambiguous:
            findings.add(i, "birth_date", "ambiguous-birth-date", birth_raw[i],
                         "day and month are both 12 or less; read as day/month")
    out["birth_year"] = pd.array(years, dtype="Int64")
    out["birth_month"] = pd.array(months, dtype="Int64")
    out["birth_day"] = pd.array(days, dtype="Int64")
    out["birth_date_precision"] = precisions
    out["birth_date_ambiguous"] = ambiguous


def _person_details(rec: pd.DataFrame, out: pd.DataFrame, findings: _Findings) -> None:
    """Ethnicity code, the free-text attributes, facility patient id and address text."""
    code_system = "gso"
    out["ethnicity_code"] = map_distinct(
        rec["ethnicity"], lambda v: codes.resolve_ethnicity(v, code_system=code_system))
    for i, (raw, code) in enumerate(zip(rec["ethnicity"], out["ethnicity_code"], strict=True)):
        if raw is not None and code is None:
            findings.add(i, "ethnicity", "unknown-ethnicity", raw, "ethnicity not in the code list")
    for col in ("religion", "nationality", "occupation", "household_code", "relation_to_head",
                "email", "facility_code"):
        out[col] = map_distinct(rec[col], _text)
    out["facility_patient_id"] = map_distinct(rec["facility_patient_id"],
                                              identifiers.normalize_facility_patient_id)
    out["permanent_address"] = map_distinct(rec["permanent_address"], _text)
    out["current_address"] = map_distinct(rec["current_address"], _text)


def _relatives_and_contact(rec: pd.DataFrame, out: pd.DataFrame, findings: _Findings) -> None:
    """Household head and parents as parsed names, and the phone number."""
    for col in ("household_head", "father_name", "mother_name"):
        parsed = map_distinct(rec[col], parse_name)
        out[col] = [p.full if p else None for p in parsed]
    out["household_head_key"] = map_distinct(out["household_head"], lambda v: fold(v) or None)
    out["phone"] = map_distinct(rec["phone"], _phone)
    for i, (raw, ph) in enumerate(zip(rec["phone"], out["phone"], strict=True)):
        if raw is not None and ph is None:
            findings.add(i, "phone", "invalid-phone", None, "not a Vietnamese phone number")


def _clean_stage(data: StageData, rec: pd.DataFrame, out: pd.DataFrame,
                 tables: dict[str, pd.DataFrame], findings: _Findings) -> StageData:
    """Provenance plus clean columns; records (and their clinical rows) with a rejecting
    finding move to rejects."""
    provenance = [c for c in rec.columns if c not in out.columns and c not in _STAGED_ONLY]
    clean_records = pd.concat([rec[provenance], out[CLEAN_COLUMNS]], axis=1)
    rejected_pos = sorted(findings.rejected)
    reject_rows = [
        {"source_file": rec.at[p, "source_file"], "file_sha256": rec.at[p, "file_sha256"],
         "locator": rec.at[p, "locator"], "stage": "transform", "scope": "record",
         "slug": findings.rejected[p].slug, "field": findings.rejected[p].field,
         "message": findings.rejected[p].message, "raw": rec.at[p, "raw"]}
        for p in rejected_pos
    ]
    rejects = pd.concat([data.rejects, pd.DataFrame(reject_rows, columns=REJECT_COLUMNS)],
                        ignore_index=True) if reject_rows else data.rejects
    keep = clean_records.drop(index=rejected_pos).reset_index(drop=True)
    kept_keys = set(keep["record_key"])
    tables = {name: df[key_in(df["record_key"], kept_keys)].reset_index(drop=True)
              for name, df in tables.items()}
    issues = pd.DataFrame(findings.rows, columns=ISSUE_COLUMNS) if findings.rows \
        else empty(ISSUE_COLUMNS)
    meta = dict(data.meta)
    meta["transformed"] = len(rec)
    return StageData("transform", data.files, keep, rejects, tables, issues, meta)


_STAGED_ONLY = {"birth_date", "id_document", "insurance_card", "ethnicity", "commune_code",
                "district_code", "province_code", "village", "sheet_title"}
_PLACE_FINDINGS = {
    "unknown-commune": "no known commune in the address or codes",
    "ambiguous-commune": "the commune's name fits several communes and nothing says which",
    "commune-code-mismatch": "the commune code and the address name different communes; the "
                             "unambiguous one is kept",
}


def _commune_from_title(rec: pd.DataFrame) -> None:
    """Rows that give neither a commune code nor an address take the commune their sheet's
    title rows name (``sheet_title``: "TRƯỜNG PTDTBT TH&THCS PÙ NHI" above a class list)."""
    if "sheet_title" not in rec.columns:  # a stage folder written before the column existed
        return
    untold = rec["commune_code"].isna() & rec["permanent_address"].isna() \
        & rec["sheet_title"].notna()
    if untold.any():
        rec.loc[untold, "commune_code"] = map_distinct(rec.loc[untold, "sheet_title"],
                                                       codes.commune_in_title)


def _places(rec: pd.DataFrame, out: pd.DataFrame, findings: _Findings) -> None:
    """Permanent and current commune, pre- and post-2025 codes, from codes and address text.

    Resolved per source file, so a name shared by several communes is read in the file's own
    district or province (inferred from its unambiguous rows); what stays ambiguous is read in
    the home district of this deployment (``codes.home_context``) before it is called
    ambiguous. The permanent commune also takes the record's MAXA/MAHUYEN/MATINH-style codes.
    """
    home = codes.home_context()
    for address_col, prefix, with_codes in (("permanent_address", "permanent", True),
                                            ("current_address", "current", False)):
        parts = []
        for _, group in rec.groupby("source_file", sort=False, dropna=False):
            kwargs = {"commune_codes": group["commune_code"],
                      "district_codes": group["district_code"],
                      "province_codes": group["province_code"]} if with_codes else {}
            found = places.resolve_places(group[address_col], **kwargs)
            unsure = found["finding"] == "ambiguous-commune"
            if unsure.any():
                again = places.resolve_places(
                    group.loc[unsure, address_col], prefer=home,
                    **{k: v[unsure] for k, v in kwargs.items()})
                found.loc[unsure] = again
            parts.append(found)
        found = pd.concat(parts).reindex(rec.index) if parts else pd.DataFrame(
            columns=places.PLACE_COLUMNS, index=rec.index)
        out[f"{prefix}_commune_code"] = found["commune_code"].where(
            found["commune_code"].notna(), found["commune_code_2025"])
        out[f"{prefix}_commune_code_2025"] = found["commune_code_2025"]
        if not with_codes:
            continue
        typed = rec[address_col].notna() | rec["commune_code"].notna()
        for i, (was_typed, finding) in enumerate(zip(typed, found["finding"], strict=True)):
            if was_typed and finding in _PLACE_FINDINGS:
                findings.add(i, address_col, finding, None, _PLACE_FINDINGS[finding])


def _identifiers(rec: pd.DataFrame, out: pd.DataFrame, findings: _Findings) -> None:
    """Personal ID (from its own column or a mixed document column), CMND, passport, cards."""
    pids, statuses, cmnds, passports, cards_out, bhxh = [], [], [], [], [], []
    cols = {c: rec[c].tolist() for c in ("personal_id", "id_document", "cmnd", "passport",
                                         "insurance_card", "social_insurance_code")}
    birth_years = [None if pd.isna(y) else int(y) for y in out["birth_year"]]
    sexes = out["sex"].tolist()
    for i in range(len(rec)):
        year = birth_years[i]
        sex = sexes[i] if sexes[i] in ("M", "F") else None
        pid = pid_status = cmnd = passport = None
        for column in ("personal_id", "id_document", "cmnd", "passport"):
            raw = cols[column][i]
            if raw is None:
                continue
            number = identifiers.compact(raw)
            if column == "personal_id" and len(number) == 11 and number.isdigit():
                number = "0" + number  # Excel dropped the leading zero
                findings.add(i, column, "leading-zero-restored", None,
                             "11-digit number read as a personal ID with its leading 0 restored")
            if column in ("personal_id", "id_document"):
                check = identifiers.classify_document_number(number, birth_year=year, sex=sex)
            elif column == "cmnd":
                check = identifiers.check_cmnd(number)
            else:
                check = identifiers.check_passport(number)
            if check.status == identifiers.INVALID:
                findings.add(i, column, check.slug, None, check.reason)
                continue
            if check.kind == "personal_id":
                if check.status != identifiers.VALID:
                    findings.add(i, column, check.slug, None, check.reason)
                if pid is None or (pid_status != identifiers.VALID and check.usable):
                    pid, pid_status = check.value, check.status
            elif check.kind == "cmnd":
                cmnd = cmnd or check.value
            else:
                passport = passport or check.value
        pids.append(pid)
        statuses.append(pid_status)
        cmnds.append(cmnd)
        passports.append(passport)

        cards, problems = identifiers.parse_insurance_cards(cols["insurance_card"][i])
        for problem in problems:
            findings.add(i, "insurance_card", problem.slug, None, problem.reason)
        cards_out.append(";".join(c.number for c in cards) or None)
        code = None
        raw_code = cols["social_insurance_code"][i]
        if raw_code is not None:
            check = identifiers.check_social_insurance_code(raw_code)
            if check.usable:
                code = check.value
            else:
                findings.add(i, "social_insurance_code", check.slug, None, check.reason)
        card_codes = {c.social_insurance_code for c in cards}
        if code and card_codes and code not in card_codes:
            findings.add(i, "insurance_card", "card-code-mismatch", None,
                         "the card's last 10 digits differ from the social-insurance code")
        if code is None and len(card_codes) == 1:
            code = card_codes.pop()
        bhxh.append(code)
    out["personal_id"] = pids
    out["personal_id_status"] = statuses
    out["cmnd"] = cmnds
    out["passport"] = passports
    out["insurance_cards"] = cards_out
    out["social_insurance_code"] = bhxh


def extras(record: pd.Series) -> dict[str, str]:
    """The mapped fields a source carries beyond the identity columns."""
    return json.loads(record["extra"]) if record.get("extra") else {}
