"""snapshot feeds: current / superseded source records, their versions, the run lock

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns and a plain-string default: on SQLite batch mode then only runs ALTER
    # TABLE … ADD COLUMN (a rebuild of source_records is refused while clinical rows refer to it).
    with op.batch_alter_table("source_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("is_current", sa.Boolean(), nullable=False,
                                      server_default="1"))
        batch_op.add_column(sa.Column("superseded_batch_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("person_values", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_source_records_feed"), ["feed"], unique=False)

    op.create_table(
        "source_record_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_record_id", sa.Integer(), nullable=False),
        sa.Column("record_hash", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("locator", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("replaced_batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"],
                                name=op.f("fk_source_record_versions_batch_id_batches")),
        sa.ForeignKeyConstraint(["replaced_batch_id"], ["batches.id"],
                                name=op.f("fk_source_record_versions_replaced_batch_id_batches")),
        sa.ForeignKeyConstraint(["source_file_id"], ["source_files.id"],
                                name=op.f("fk_source_record_versions_source_file_id_source_files")),
        sa.ForeignKeyConstraint(
            ["source_record_id"], ["source_records.id"],
            name=op.f("fk_source_record_versions_source_record_id_source_records")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_record_versions")),
    )
    with op.batch_alter_table("source_record_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_record_versions_source_record_id"),
                              ["source_record_id"], unique=False)

    op.create_table(
        "run_lock",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("holder_pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_run_lock")),
    )


def downgrade() -> None:
    op.drop_table("run_lock")
    with op.batch_alter_table("source_record_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_record_versions_source_record_id"))
    op.drop_table("source_record_versions")
    # Plain DROP INDEX / DROP COLUMN (SQLite 3.35+), as 0002 does: batch mode would rebuild
    # source_records, which SQLite refuses while clinical rows refer to it.
    op.drop_index("ix_source_records_feed", table_name="source_records")
    op.drop_column("source_records", "person_values")
    op.drop_column("source_records", "superseded_batch_id")
    op.drop_column("source_records", "is_current")
    op.drop_column("source_records", "feed")
