"""The HSSK database: the four parts of the Decision 831/QĐ-BYT record plus the pipeline's own
bookkeeping (batches, source files, source records with provenance, rejects).

SQLAlchemy Core tables, identical on SQLite and PostgreSQL. Alembic owns changes: after editing
this module, add a migration under ``etl/load/migrations/versions``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _person() -> sa.Column:
    return sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False,
                     index=True)


# Rows written once per source record (source records, persons, identifiers, rejects, review
# pairs, record versions) name their batch and source file by plain integers, not foreign keys:
# only the loader writes them, in the transaction that writes the batch and file rows, and
# neither is ever deleted. On PostgreSQL each such key was a trigger and a locking lookup per
# row — 23 s of a million-resident load (70.7 s without against 93–96 s with) — while the
# keys that carry the health record (person, source record, encounter) stay enforced.


def _source_record() -> sa.Column:
    return sa.Column("source_record_id", sa.Integer, sa.ForeignKey("source_records.id"),
                     index=True)


# --- pipeline bookkeeping ----------------------------------------------------------------

batches = sa.Table(
    "batches", metadata,
    _id(),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.Text, nullable=False),  # running / committed / failed
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("tool_version", sa.Text, nullable=False),
    sa.Column("summary", sa.Text),  # the run summary as JSON
)

source_files = sa.Table(
    "source_files", metadata,
    _id(),
    sa.Column("sha256", sa.Text, nullable=False, unique=True),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("encoding", sa.Text),  # byte encoding (utf-8, cp1258…) for text files
    sa.Column("text_encoding", sa.Text),  # unicode / tcvn3 / vni / viqr, as detected or forced
    sa.Column("reader", sa.Text),  # csv, calamine, openpyxl, xml
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
)

persons = sa.Table(
    "persons", metadata,
    sa.Column("person_id", sa.Text, primary_key=True),
    # Part 1: administrative (hành chính)
    sa.Column("full_name", sa.Text),
    sa.Column("family_name", sa.Text),
    sa.Column("middle_name", sa.Text),
    sa.Column("given_name", sa.Text),
    sa.Column("name_key", sa.Text),
    sa.Column("sex", sa.Text),  # M / F / U
    sa.Column("birth_date", sa.Date),  # only when known to the day
    sa.Column("birth_year", sa.Integer),
    sa.Column("birth_month", sa.Integer),
    sa.Column("birth_day", sa.Integer),
    sa.Column("birth_date_precision", sa.Text),  # day / month / year
    sa.Column("blood_group_abo", sa.Text),
    sa.Column("blood_group_rh", sa.Text),
    sa.Column("ethnicity_code", sa.Text),
    sa.Column("religion", sa.Text),
    sa.Column("nationality", sa.Text),
    sa.Column("occupation", sa.Text),
    sa.Column("household_code", sa.Text),
    sa.Column("household_head_name", sa.Text),
    sa.Column("relation_to_head", sa.Text),
    sa.Column("permanent_address", sa.Text),
    sa.Column("permanent_commune_code", sa.Text),
    sa.Column("current_address", sa.Text),
    sa.Column("current_commune_code", sa.Text),
    # the same communes in the post-2025 two-level code list (filled by the commune resolver)
    sa.Column("permanent_commune_code_2025", sa.Text),
    sa.Column("current_commune_code_2025", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("father_name", sa.Text),
    sa.Column("mother_name", sa.Text),
    sa.Column("guardian_name", sa.Text),
    sa.Column("emergency_contact", sa.Text),
    sa.Column("created_batch_id", sa.Integer, nullable=False),
    sa.Column("updated_batch_id", sa.Integer, nullable=False),
)

source_records = sa.Table(
    "source_records", metadata,
    _id(),
    sa.Column("record_key", sa.Text, nullable=False, unique=True),  # kind:file:locator or kind:facility:MA_LK
    sa.Column("source_kind", sa.Text, nullable=False),
    sa.Column("source_file_id", sa.Integer, nullable=False, index=True),
    sa.Column("locator", sa.Text, nullable=False),
    sa.Column("record_hash", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), nullable=False,
              index=True),
    sa.Column("match_rule", sa.Text),  # identifier / fuzzy / new / known-record
    sa.Column("match_score", sa.Float),  # Fellegi–Sunter weight of the link that joined it
    sa.Column("created_batch_id", sa.Integer, nullable=False),
    sa.Column("updated_batch_id", sa.Integer, nullable=False),
    # identity as this source presented it: the master index that matching reads
    sa.Column("full_name", sa.Text),
    sa.Column("name_key", sa.Text),
    sa.Column("family_key", sa.Text),
    sa.Column("middle_key", sa.Text),
    sa.Column("given_key", sa.Text),
    sa.Column("sex", sa.Text),
    sa.Column("birth_year", sa.Integer),
    sa.Column("birth_month", sa.Integer),
    sa.Column("birth_day", sa.Integer),
    sa.Column("birth_date_precision", sa.Text),
    sa.Column("personal_id", sa.Text),
    sa.Column("personal_id_status", sa.Text),
    sa.Column("cmnd", sa.Text),
    sa.Column("passport", sa.Text),
    sa.Column("insurance_cards", sa.Text),  # ";"-joined, as valid cards were read
    sa.Column("social_insurance_code", sa.Text),
    sa.Column("commune_code", sa.Text),
    sa.Column("commune_code_2025", sa.Text),  # post-2025 code (filled by the commune resolver)
    sa.Column("facility_code", sa.Text),
    sa.Column("facility_patient_id", sa.Text),
    sa.Column("household_head_key", sa.Text),
    sa.Column("mother_key", sa.Text),
    sa.Column("phone", sa.Text),
    sa.Column("address_key", sa.Text),  # the address as matching compares it (folded)
    sa.Column("raw", sa.Text),  # the source row as JSON, for audit and re-processing
    # snapshot feeds (``hssk run --config``): the feed a record belongs to; a record its feed's
    # newer extract no longer holds stays, no longer current, with the batch that retired it
    sa.Column("feed", sa.Text, index=True),
    sa.Column("is_current", sa.Boolean, nullable=False, server_default="1"),
    sa.Column("superseded_batch_id", sa.Integer),  # a batches.id; no FK, so SQLite can drop it
    # the person fields this record gives (JSON), which survivorship recomputes persons from
    sa.Column("person_values", sa.Text),
)

# The join of a source record to its file (no foreign key names it: see the note above).
RECORD_FILE = source_files.c.id == source_records.c.source_file_id

person_identifiers = sa.Table(
    "person_identifiers", metadata,
    _id(),
    _person(),
    sa.Column("kind", sa.Text, nullable=False),  # personal_id, cmnd, passport, insurance_card, social_insurance_code, facility_patient_id
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # valid / inconsistent
    sa.Column("first_batch_id", sa.Integer, nullable=False),
    # also the index of every lookup by (kind, value): its leading columns
    sa.UniqueConstraint("kind", "value", "person_id"),
)

match_reviews = sa.Table(
    "match_reviews", metadata,
    _id(),
    sa.Column("record_key_a", sa.Text, nullable=False),
    sa.Column("record_key_b", sa.Text, nullable=False),
    sa.Column("person_a", sa.Text, nullable=False),
    sa.Column("person_b", sa.Text, nullable=False),
    sa.Column("score", sa.Float, nullable=False),  # bits of evidence, between the thresholds
    sa.Column("status", sa.Text, nullable=False),  # open / same / different (analyst's verdict)
    sa.Column("batch_id", sa.Integer, nullable=False),
    # filled by the matcher where it knows them: the pair's match probability, its place in
    # the queue (higher first) and the group of pairs an analyst decides together
    sa.Column("probability", sa.Float),
    sa.Column("priority", sa.Float),
    sa.Column("group_key", sa.Text),
    sa.UniqueConstraint("record_key_a", "record_key_b"),
)

# --- curation: the analysts' decisions and every change made to persons by hand ------------

# One row per audited change (etl/load/curation.py): a merge, a split, an undo or the
# cannot-link decisions of a review import. ``before`` and ``after`` are JSON: the full rows of
# every table the change touched, so an undo restores them exactly.
person_changes = sa.Table(
    "person_changes", metadata,
    _id(),
    sa.Column("kind", sa.Text, nullable=False),  # merge / split / undo / review-import
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("persons", sa.Text),  # " "-joined person ids the change touched, for history
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("undone_by_change_id", sa.Integer),  # the undo's person_changes.id
)

# Analysts' decisions about two records: "same" is a must-link, "different" a cannot-link that
# every later run and `hssk match --full` honour. One decision per pair, a newer one replacing
# the older; record_key_a < record_key_b by code point, as Python orders them (the code orders
# them, not a constraint: PostgreSQL collations order text otherwise).
match_decisions = sa.Table(
    "match_decisions", metadata,
    _id(),
    sa.Column("record_key_a", sa.Text, nullable=False),
    sa.Column("record_key_b", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),  # same / different
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("origin", sa.Text, nullable=False),  # review / merge / split / undo
    sa.Column("change_id", sa.Integer, sa.ForeignKey("person_changes.id")),
    sa.UniqueConstraint("record_key_a", "record_key_b"),
    sa.CheckConstraint("decision IN ('same', 'different')", name="ck_match_decisions_decision"),
)

rejects = sa.Table(
    "rejects", metadata,
    _id(),
    sa.Column("batch_id", sa.Integer, nullable=False),
    sa.Column("source_file", sa.Text, nullable=False),
    sa.Column("file_sha256", sa.Text, nullable=False),
    sa.Column("locator", sa.Text, nullable=False),
    sa.Column("stage", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),  # record / part / file
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("field", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),
    sa.UniqueConstraint("file_sha256", "locator", "slug", "field"),
)

# A source record's previous versions: what a snapshot feed's newer extract replaced.
source_record_versions = sa.Table(
    "source_record_versions", metadata,
    _id(),
    sa.Column("source_record_id", sa.Integer, sa.ForeignKey("source_records.id"),
              nullable=False, index=True),
    sa.Column("record_hash", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),
    sa.Column("source_file_id", sa.Integer, nullable=False),
    sa.Column("locator", sa.Text, nullable=False),
    sa.Column("batch_id", sa.Integer, nullable=False),  # loaded it
    sa.Column("replaced_batch_id", sa.Integer, nullable=False),
)

# One run at a time (etl/load/lock.py): at most one row per lock name, inserted if absent.
run_lock = sa.Table(
    "run_lock", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("token", sa.Text, nullable=False),  # the holder's own random token
    sa.Column("holder_pid", sa.Integer, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("command", sa.Text),
    sa.Column("batch_id", sa.Integer),  # the holder's latest committed batch, if any
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat", sa.DateTime, nullable=False),
)

# --- Part 2: history and risk factors (tiền sử, yếu tố nguy cơ) ---------------------------

birth_conditions = sa.Table(
    "birth_conditions", metadata,
    sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), primary_key=True),
    sa.Column("delivery_type", sa.Text),  # normal / caesarean / unknown
    sa.Column("premature", sa.Boolean),
    sa.Column("asphyxia", sa.Boolean),
    sa.Column("birth_weight_g", sa.Integer),
    sa.Column("birth_length_cm", sa.Float),
    sa.Column("congenital_defects", sa.Text),
    _source_record(),
)

risk_factors = sa.Table(
    "risk_factors", metadata,
    _id(), _person(),
    sa.Column("factor", sa.Text, nullable=False),  # smoking, alcohol, drugs, physical_activity, exposure, toilet
    sa.Column("status", sa.Text),
    sa.Column("detail", sa.Text),
    sa.Column("amount", sa.Text),
    sa.Column("quit", sa.Boolean),
    sa.Column("duration_years", sa.Float),
    _source_record(),
)

allergies = sa.Table(
    "allergies", metadata,
    _id(), _person(),
    sa.Column("category", sa.Text, nullable=False),  # drug, chemical, food, other
    sa.Column("agent", sa.Text),
    sa.Column("reaction", sa.Text),
    _source_record(),
)

disease_history = sa.Table(
    "disease_history", metadata,
    _id(), _person(),
    sa.Column("scope", sa.Text, nullable=False),  # personal / family
    sa.Column("condition", sa.Text, nullable=False),
    sa.Column("icd10", sa.Text),
    sa.Column("relative", sa.Text),
    sa.Column("note", sa.Text),
    _source_record(),
)

disabilities = sa.Table(
    "disabilities", metadata,
    _id(), _person(),
    sa.Column("kind", sa.Text, nullable=False),  # hearing, sight, hands, legs, spine, cleft, other
    sa.Column("detail", sa.Text),
    _source_record(),
)

surgeries = sa.Table(
    "surgeries", metadata,
    _id(), _person(),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("year", sa.Integer),
    _source_record(),
)

reproductive_history = sa.Table(
    "reproductive_history", metadata,
    sa.Column("person_id", sa.Text, sa.ForeignKey("persons.person_id"), primary_key=True),
    sa.Column("contraception", sa.Text),
    sa.Column("last_pregnancy_year", sa.Integer),
    sa.Column("pregnancies", sa.Integer),
    sa.Column("miscarriages", sa.Integer),
    sa.Column("abortions", sa.Integer),
    sa.Column("births", sa.Integer),
    sa.Column("normal_births", sa.Integer),
    sa.Column("caesarean_births", sa.Integer),
    sa.Column("difficult_births", sa.Integer),
    sa.Column("term_births", sa.Integer),
    sa.Column("preterm_births", sa.Integer),
    sa.Column("living_children", sa.Integer),
    sa.Column("gynaecological_disease", sa.Text),
    _source_record(),
)

# --- Part 3: immunization (tiêm chủng) ----------------------------------------------------

immunizations = sa.Table(
    "immunizations", metadata,
    _id(), _person(), _source_record(),
    sa.Column("vaccine_code", sa.Text, nullable=False),
    sa.Column("vaccine_name", sa.Text),
    sa.Column("dose_number", sa.Integer),
    sa.Column("given_on", sa.Date),
    sa.Column("given_precision", sa.Text),
    sa.Column("in_programme", sa.Boolean),
    sa.Column("reaction", sa.Text),
    sa.Column("facility_code", sa.Text),
    sa.Column("pregnancy_month", sa.Integer),
    sa.UniqueConstraint("source_record_id", "vaccine_code", "dose_number"),
)

# --- Part 4: clinical and paraclinical exams (khám lâm sàng, cận lâm sàng) ------------------

encounters = sa.Table(
    "encounters", metadata,
    _id(), _person(), _source_record(),
    sa.Column("encounter_key", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False),  # clinic, school-exam, adult-exam
    sa.Column("facility_code", sa.Text),
    sa.Column("started_at", sa.DateTime),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("visit_type", sa.Text),
    sa.Column("reason", sa.Text),
    sa.Column("examiner", sa.Text),
    sa.Column("outcome", sa.Text),
    sa.Column("health_class", sa.Text),
    sa.Column("advice", sa.Text),
    sa.Column("notes", sa.Text),
)

observations = sa.Table(
    "observations", metadata,
    _id(), _person(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), index=True),
    sa.Column("code", sa.Text, nullable=False),  # pulse, temperature, systolic, … vision_right
    sa.Column("value_num", sa.Float),
    sa.Column("value_text", sa.Text),
    sa.Column("unit", sa.Text),
    sa.Column("observed_at", sa.DateTime),
    sa.Column("flag", sa.Text),  # implausible / recomputed-mismatch …
)

exam_findings = sa.Table(
    "exam_findings", metadata,
    _id(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), nullable=False,
              index=True),
    sa.Column("system", sa.Text, nullable=False),  # cardiovascular, dental, spine, eye …
    sa.Column("finding", sa.Text),
)

lab_results = sa.Table(
    "lab_results", metadata,
    _id(), _person(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), index=True),
    sa.Column("service_code", sa.Text),
    sa.Column("indicator_code", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("value_text", sa.Text),
    sa.Column("value_num", sa.Float),
    sa.Column("unit", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("conclusion", sa.Text),
    sa.Column("result_at", sa.DateTime),
)

conditions = sa.Table(
    "conditions", metadata,
    _id(), _person(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), index=True),
    sa.Column("icd10", sa.Text, nullable=False),
    sa.Column("icd10_valid", sa.Boolean),
    sa.Column("name", sa.Text),
    sa.Column("role", sa.Text, nullable=False),  # primary / secondary
)

clinical_notes = sa.Table(
    "clinical_notes", metadata,
    _id(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), nullable=False,
              index=True),
    sa.Column("noted_at", sa.DateTime),
    sa.Column("text", sa.Text),
)

# The drugs and the services (with supplies) of a clinic visit: QĐ 130 XML2 and XML3 rows.
# Keyed to the encounter like clinical notes; the person is the encounter's. Amounts and
# quantities keep their text beside the number; fields without a column stay in ``extra``.

prescriptions = sa.Table(
    "prescriptions", metadata,
    _id(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), nullable=False,
              index=True),
    sa.Column("line", sa.Integer),  # STT
    sa.Column("drug_code", sa.Text),  # MA_THUOC
    sa.Column("drug_name", sa.Text),  # TEN_THUOC
    sa.Column("strength", sa.Text),  # HAM_LUONG
    sa.Column("route", sa.Text),  # DUONG_DUNG (code, 1.01 = oral)
    sa.Column("dosage", sa.Text),  # LIEU_DUNG
    sa.Column("usage", sa.Text),  # CACH_DUNG
    sa.Column("quantity_text", sa.Text),  # SO_LUONG as written ("14.000")
    sa.Column("quantity", sa.Float),
    sa.Column("unit", sa.Text),  # DON_VI_TINH
    sa.Column("ordered_at", sa.DateTime),  # NGAY_YL
    sa.Column("doctor_code", sa.Text),  # MA_BAC_SI (";" between several)
    sa.Column("amount_text", sa.Text),  # THANH_TIEN_BV (130) / THANH_TIEN (4210), đồng
    sa.Column("amount", sa.Float),
    sa.Column("extra", sa.Text),  # the row's other non-empty fields as JSON
)

services = sa.Table(
    "services", metadata,
    _id(),
    sa.Column("encounter_id", sa.Integer, sa.ForeignKey("encounters.id"), nullable=False,
              index=True),
    sa.Column("line", sa.Integer),  # STT
    sa.Column("service_code", sa.Text),  # MA_DICH_VU
    sa.Column("service_name", sa.Text),  # TEN_DICH_VU
    sa.Column("supply_code", sa.Text),  # MA_VAT_TU
    sa.Column("supply_name", sa.Text),  # TEN_VAT_TU
    sa.Column("group_code", sa.Text),  # MA_NHOM (cost group: 1 tests, 2 imaging, 13 exam …)
    sa.Column("quantity_text", sa.Text),  # SO_LUONG as written
    sa.Column("quantity", sa.Float),
    sa.Column("unit", sa.Text),  # DON_VI_TINH
    sa.Column("ordered_at", sa.DateTime),  # NGAY_YL
    sa.Column("performed_at", sa.DateTime),  # NGAY_TH_YL
    sa.Column("result_at", sa.DateTime),  # NGAY_KQ
    sa.Column("doctor_code", sa.Text),  # MA_BAC_SI (";" between several)
    sa.Column("performer", sa.Text),  # NGUOI_THUC_HIEN (";" between several)
    sa.Column("amount_text", sa.Text),  # THANH_TIEN_BV (130) / THANH_TIEN (4210), đồng
    sa.Column("amount", sa.Float),
    sa.Column("extra", sa.Text),  # the row's other non-empty fields as JSON
)
