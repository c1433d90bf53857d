"""initial schema: 831 record and pipeline tables

Revision ID: 0001
Revises:
Create Date: 2026-11-25 22:03:07.594121
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("tool_version", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_table(
        "match_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_key_a", sa.Text(), nullable=False),
        sa.Column("record_key_b", sa.Text(), nullable=False),
        sa.Column("person_a", sa.Text(), nullable=False),
        sa.Column("person_b", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_match_reviews_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_reviews")),
        sa.UniqueConstraint(
            "record_key_a", "record_key_b", name=op.f("uq_match_reviews_record_key_a_record_key_b")
        ),
    )
    op.create_table(
        "persons",
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=True),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("given_name", sa.Text(), nullable=True),
        sa.Column("name_key", sa.Text(), nullable=True),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("birth_month", sa.Integer(), nullable=True),
        sa.Column("birth_day", sa.Integer(), nullable=True),
        sa.Column("birth_date_precision", sa.Text(), nullable=True),
        sa.Column("blood_group_abo", sa.Text(), nullable=True),
        sa.Column("blood_group_rh", sa.Text(), nullable=True),
        sa.Column("ethnicity_code", sa.Text(), nullable=True),
        sa.Column("religion", sa.Text(), nullable=True),
        sa.Column("nationality", sa.Text(), nullable=True),
        sa.Column("occupation", sa.Text(), nullable=True),
        sa.Column("household_code", sa.Text(), nullable=True),
        sa.Column("household_head_name", sa.Text(), nullable=True),
        sa.Column("relation_to_head", sa.Text(), nullable=True),
        sa.Column("permanent_address", sa.Text(), nullable=True),
        sa.Column("permanent_commune_code", sa.Text(), nullable=True),
        sa.Column("current_address", sa.Text(), nullable=True),
        sa.Column("current_commune_code", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("father_name", sa.Text(), nullable=True),
        sa.Column("mother_name", sa.Text(), nullable=True),
        sa.Column("guardian_name", sa.Text(), nullable=True),
        sa.Column("emergency_contact", sa.Text(), nullable=True),
        sa.Column("created_batch_id", sa.Integer(), nullable=False),
        sa.Column("updated_batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_batch_id"], ["batches.id"], name=op.f("fk_persons_created_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["updated_batch_id"], ["batches.id"], name=op.f("fk_persons_updated_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_persons")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_birth_year"), ["birth_year"], unique=False)
        batch_op.create_index(batch_op.f("ix_persons_name_key"), ["name_key"], unique=False)

    op.create_table(
        "rejects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.Text(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_rejects_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejects")),
        sa.UniqueConstraint(
            "file_sha256",
            "locator",
            "slug",
            "field",
            name=op.f("uq_rejects_file_sha256_locator_slug_field"),
        ),
    )
    op.create_table(
        "source_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("encoding", sa.Text(), nullable=True),
        sa.Column("text_encoding", sa.Text(), nullable=True),
        sa.Column("reader", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_source_files_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_source_files_sha256")),
    )
    op.create_table(
        "person_identifiers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("first_batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["first_batch_id"],
            ["batches.id"],
            name=op.f("fk_person_identifiers_first_batch_id_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_person_identifiers_person_id_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_identifiers")),
        sa.UniqueConstraint(
            "kind", "value", "person_id", name=op.f("uq_person_identifiers_kind_value_person_id")
        ),
    )
    with op.batch_alter_table("person_identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_person_identifiers_lookup", ["kind", "value"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_person_identifiers_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "source_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.Text(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("match_rule", sa.Text(), nullable=True),
        sa.Column("match_score", sa.Float(), nullable=True),
        sa.Column("created_batch_id", sa.Integer(), nullable=False),
        sa.Column("updated_batch_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=True),
        sa.Column("name_key", sa.Text(), nullable=True),
        sa.Column("family_key", sa.Text(), nullable=True),
        sa.Column("middle_key", sa.Text(), nullable=True),
        sa.Column("given_key", sa.Text(), nullable=True),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("birth_month", sa.Integer(), nullable=True),
        sa.Column("birth_day", sa.Integer(), nullable=True),
        sa.Column("birth_date_precision", sa.Text(), nullable=True),
        sa.Column("personal_id", sa.Text(), nullable=True),
        sa.Column("personal_id_status", sa.Text(), nullable=True),
        sa.Column("cmnd", sa.Text(), nullable=True),
        sa.Column("passport", sa.Text(), nullable=True),
        sa.Column("insurance_cards", sa.Text(), nullable=True),
        sa.Column("social_insurance_code", sa.Text(), nullable=True),
        sa.Column("commune_code", sa.Text(), nullable=True),
        sa.Column("facility_code", sa.Text(), nullable=True),
        sa.Column("facility_patient_id", sa.Text(), nullable=True),
        sa.Column("household_head_key", sa.Text(), nullable=True),
        sa.Column("mother_key", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_batch_id"],
            ["batches.id"],
            name=op.f("fk_source_records_created_batch_id_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_source_records_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_file_id"],
            ["source_files.id"],
            name=op.f("fk_source_records_source_file_id_source_files"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_batch_id"],
            ["batches.id"],
            name=op.f("fk_source_records_updated_batch_id_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_records")),
        sa.UniqueConstraint("record_key", name=op.f("uq_source_records_record_key")),
    )
    with op.batch_alter_table("source_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_source_records_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_source_records_personal_id"), ["personal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_source_records_social_insurance_code"),
            ["social_insurance_code"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_source_records_source_file_id"), ["source_file_id"], unique=False
        )

    op.create_table(
        "allergies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=True),
        sa.Column("reaction", sa.Text(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_allergies_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_allergies_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allergies")),
    )
    with op.batch_alter_table("allergies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_allergies_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_allergies_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "birth_conditions",
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("delivery_type", sa.Text(), nullable=True),
        sa.Column("premature", sa.Boolean(), nullable=True),
        sa.Column("asphyxia", sa.Boolean(), nullable=True),
        sa.Column("birth_weight_g", sa.Integer(), nullable=True),
        sa.Column("birth_length_cm", sa.Float(), nullable=True),
        sa.Column("congenital_defects", sa.Text(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_birth_conditions_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_birth_conditions_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_birth_conditions")),
    )
    with op.batch_alter_table("birth_conditions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_birth_conditions_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "disabilities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_disabilities_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_disabilities_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disabilities")),
    )
    with op.batch_alter_table("disabilities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disabilities_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_disabilities_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "disease_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("icd10", sa.Text(), nullable=True),
        sa.Column("relative", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_disease_history_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_disease_history_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disease_history")),
    )
    with op.batch_alter_table("disease_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disease_history_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disease_history_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "encounters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.Column("encounter_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("facility_code", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("visit_type", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("examiner", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("health_class", sa.Text(), nullable=True),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_encounters_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_encounters_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounters")),
        sa.UniqueConstraint("encounter_key", name=op.f("uq_encounters_encounter_key")),
    )
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encounters_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_encounters_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "immunizations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.Column("vaccine_code", sa.Text(), nullable=False),
        sa.Column("vaccine_name", sa.Text(), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=True),
        sa.Column("given_on", sa.Date(), nullable=True),
        sa.Column("given_precision", sa.Text(), nullable=True),
        sa.Column("in_programme", sa.Boolean(), nullable=True),
        sa.Column("reaction", sa.Text(), nullable=True),
        sa.Column("facility_code", sa.Text(), nullable=True),
        sa.Column("pregnancy_month", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_immunizations_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_immunizations_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunizations")),
        sa.UniqueConstraint(
            "source_record_id",
            "vaccine_code",
            "dose_number",
            name=op.f("uq_immunizations_source_record_id_vaccine_code_dose_number"),
        ),
    )
    with op.batch_alter_table("immunizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_immunizations_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_immunizations_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "reproductive_history",
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("contraception", sa.Text(), nullable=True),
        sa.Column("last_pregnancy_year", sa.Integer(), nullable=True),
        sa.Column("pregnancies", sa.Integer(), nullable=True),
        sa.Column("miscarriages", sa.Integer(), nullable=True),
        sa.Column("abortions", sa.Integer(), nullable=True),
        sa.Column("births", sa.Integer(), nullable=True),
        sa.Column("normal_births", sa.Integer(), nullable=True),
        sa.Column("caesarean_births", sa.Integer(), nullable=True),
        sa.Column("difficult_births", sa.Integer(), nullable=True),
        sa.Column("term_births", sa.Integer(), nullable=True),
        sa.Column("preterm_births", sa.Integer(), nullable=True),
        sa.Column("living_children", sa.Integer(), nullable=True),
        sa.Column("gynaecological_disease", sa.Text(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.person_id"],
            name=op.f("fk_reproductive_history_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_reproductive_history_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_reproductive_history")),
    )
    with op.batch_alter_table("reproductive_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reproductive_history_source_record_id"),
            ["source_record_id"],
            unique=False,
        )

    op.create_table(
        "risk_factors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("factor", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("amount", sa.Text(), nullable=True),
        sa.Column("quit", sa.Boolean(), nullable=True),
        sa.Column("duration_years", sa.Float(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_risk_factors_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_risk_factors_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_factors")),
    )
    with op.batch_alter_table("risk_factors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_factors_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_risk_factors_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "surgeries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("source_record_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_surgeries_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["source_record_id"],
            ["source_records.id"],
            name=op.f("fk_surgeries_source_record_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surgeries")),
    )
    with op.batch_alter_table("surgeries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_surgeries_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_surgeries_source_record_id"), ["source_record_id"], unique=False
        )

    op.create_table(
        "clinical_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=False),
        sa.Column("noted_at", sa.DateTime(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounters.id"],
            name=op.f("fk_clinical_notes_encounter_id_encounters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinical_notes")),
    )
    with op.batch_alter_table("clinical_notes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clinical_notes_encounter_id"), ["encounter_id"], unique=False
        )

    op.create_table(
        "conditions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("icd10", sa.Text(), nullable=False),
        sa.Column("icd10_valid", sa.Boolean(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name=op.f("fk_conditions_encounter_id_encounters")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_conditions_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conditions")),
    )
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conditions_encounter_id"), ["encounter_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_conditions_person_id"), ["person_id"], unique=False)

    op.create_table(
        "exam_findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.Text(), nullable=False),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounters.id"],
            name=op.f("fk_exam_findings_encounter_id_encounters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_findings")),
    )
    with op.batch_alter_table("exam_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exam_findings_encounter_id"), ["encounter_id"], unique=False
        )

    op.create_table(
        "lab_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("service_code", sa.Text(), nullable=True),
        sa.Column("indicator_code", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("result_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name=op.f("fk_lab_results_encounter_id_encounters")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_lab_results_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_results")),
    )
    with op.batch_alter_table("lab_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lab_results_encounter_id"), ["encounter_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lab_results_person_id"), ["person_id"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("person_id", sa.Text(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=True),
        sa.Column("flag", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounters.id"],
            name=op.f("fk_observations_encounter_id_encounters"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.person_id"], name=op.f("fk_observations_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observations_encounter_id"), ["encounter_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_observations_person_id"), ["person_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_person_id"))
        batch_op.drop_index(batch_op.f("ix_observations_encounter_id"))

    op.drop_table("observations")
    with op.batch_alter_table("lab_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_results_person_id"))
        batch_op.drop_index(batch_op.f("ix_lab_results_encounter_id"))

    op.drop_table("lab_results")
    with op.batch_alter_table("exam_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_findings_encounter_id"))

    op.drop_table("exam_findings")
    with op.batch_alter_table("conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conditions_person_id"))
        batch_op.drop_index(batch_op.f("ix_conditions_encounter_id"))

    op.drop_table("conditions")
    with op.batch_alter_table("clinical_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinical_notes_encounter_id"))

    op.drop_table("clinical_notes")
    with op.batch_alter_table("surgeries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surgeries_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_surgeries_person_id"))

    op.drop_table("surgeries")
    with op.batch_alter_table("risk_factors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_factors_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_risk_factors_person_id"))

    op.drop_table("risk_factors")
    with op.batch_alter_table("reproductive_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reproductive_history_source_record_id"))

    op.drop_table("reproductive_history")
    with op.batch_alter_table("immunizations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_immunizations_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_immunizations_person_id"))

    op.drop_table("immunizations")
    with op.batch_alter_table("encounters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encounters_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_encounters_person_id"))

    op.drop_table("encounters")
    with op.batch_alter_table("disease_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disease_history_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_disease_history_person_id"))

    op.drop_table("disease_history")
    with op.batch_alter_table("disabilities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disabilities_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_disabilities_person_id"))

    op.drop_table("disabilities")
    with op.batch_alter_table("birth_conditions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_birth_conditions_source_record_id"))

    op.drop_table("birth_conditions")
    with op.batch_alter_table("allergies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_allergies_source_record_id"))
        batch_op.drop_index(batch_op.f("ix_allergies_person_id"))

    op.drop_table("allergies")
    with op.batch_alter_table("source_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_records_source_file_id"))
        batch_op.drop_index(batch_op.f("ix_source_records_social_insurance_code"))
        batch_op.drop_index(batch_op.f("ix_source_records_personal_id"))
        batch_op.drop_index(batch_op.f("ix_source_records_person_id"))

    op.drop_table("source_records")
    with op.batch_alter_table("person_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_identifiers_person_id"))
        batch_op.drop_index("ix_person_identifiers_lookup")

    op.drop_table("person_identifiers")
    op.drop_table("source_files")
    op.drop_table("rejects")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_name_key"))
        batch_op.drop_index(batch_op.f("ix_persons_birth_year"))

    op.drop_table("persons")
    op.drop_table("match_reviews")
    op.drop_table("batches")
