"""visit items: prescriptions (XML2) and services (XML3); post-2025 commune codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "prescriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("drug_code", sa.Text(), nullable=True),
        sa.Column("drug_name", sa.Text(), nullable=True),
        sa.Column("strength", sa.Text(), nullable=True),
        sa.Column("route", sa.Text(), nullable=True),
        sa.Column("dosage", sa.Text(), nullable=True),
        sa.Column("usage", sa.Text(), nullable=True),
        sa.Column("quantity_text", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("ordered_at", sa.DateTime(), nullable=True),
        sa.Column("doctor_code", sa.Text(), nullable=True),
        sa.Column("amount_text", sa.Text(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounters.id"],
            name=op.f("fk_prescriptions_encounter_id_encounters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescriptions")),
    )
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prescriptions_encounter_id"), ["encounter_id"], unique=False
        )

    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("service_code", sa.Text(), nullable=True),
        sa.Column("service_name", sa.Text(), nullable=True),
        sa.Column("supply_code", sa.Text(), nullable=True),
        sa.Column("supply_name", sa.Text(), nullable=True),
        sa.Column("group_code", sa.Text(), nullable=True),
        sa.Column("quantity_text", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("ordered_at", sa.DateTime(), nullable=True),
        sa.Column("performed_at", sa.DateTime(), nullable=True),
        sa.Column("result_at", sa.DateTime(), nullable=True),
        sa.Column("doctor_code", sa.Text(), nullable=True),
        sa.Column("performer", sa.Text(), nullable=True),
        sa.Column("amount_text", sa.Text(), nullable=True),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounters.id"],
            name=op.f("fk_services_encounter_id_encounters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_services_encounter_id"), ["encounter_id"], unique=False
        )

    # Post-2025 commune codes beside the old ones (filled by the commune resolver). Adding a
    # nullable column needs no table rebuild on SQLite, so batch mode only runs ALTER TABLE.
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permanent_commune_code_2025", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("current_commune_code_2025", sa.Text(), nullable=True))
    with op.batch_alter_table("source_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune_code_2025", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): batch mode would rebuild persons, which
    # SQLite refuses while other tables' rows refer to it.
    op.drop_column("source_records", "commune_code_2025")
    op.drop_column("persons", "current_commune_code_2025")
    op.drop_column("persons", "permanent_commune_code_2025")

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_encounter_id"))

    op.drop_table("services")
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prescriptions_encounter_id"))

    op.drop_table("prescriptions")
