"""curation: analysts' match decisions, audited person changes, review queue priorities

* ``person_changes``: one row per merge, split, undo or review import, with who, when, why and
  the full rows before and after (JSON), so an undo restores them exactly.
* ``match_decisions``: "same" (must-link) or "different" (cannot-link) per record pair, one per
  pair, that later runs and ``hssk match --full`` honour.
* ``match_reviews``: nullable ``probability``, ``priority`` and ``group_key`` for the queue.

PostgreSQL: ``hssk_loader`` gets the same rights on the new tables and their sequences as on
every other table (0004's default privileges cover them only when the same user migrates);
``hssk_analyst`` gets none: ``person_changes`` holds names and ID numbers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_TABLES = ("person_changes", "match_decisions")


def upgrade() -> None:
    op.create_table(
        "person_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("persons", sa.Text(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("undone_by_change_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_changes")),
    )
    op.create_table(
        "match_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_key_a", sa.Text(), nullable=False),
        sa.Column("record_key_b", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("decision IN ('same', 'different')",
                           name="ck_match_decisions_decision"),
        sa.ForeignKeyConstraint(["change_id"], ["person_changes.id"],
                                name=op.f("fk_match_decisions_change_id_person_changes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_decisions")),
        sa.UniqueConstraint("record_key_a", "record_key_b",
                            name=op.f("uq_match_decisions_record_key_a_record_key_b")),
    )
    # Plain ADD COLUMN (nullable, no default): no table rebuild on SQLite.
    op.add_column("match_reviews", sa.Column("probability", sa.Float(), nullable=True))
    op.add_column("match_reviews", sa.Column("priority", sa.Float(), nullable=True))
    op.add_column("match_reviews", sa.Column("group_key", sa.Text(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        tables = ", ".join(NEW_TABLES)
        sequences = ", ".join(f"{t}_id_seq" for t in NEW_TABLES)
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO hssk_loader")
        op.execute(f"GRANT USAGE, SELECT, UPDATE ON SEQUENCE {sequences} TO hssk_loader")
        op.execute(f"REVOKE ALL ON {tables} FROM hssk_analyst")


def downgrade() -> None:
    op.drop_column("match_reviews", "group_key")
    op.drop_column("match_reviews", "priority")
    op.drop_column("match_reviews", "probability")
    op.drop_table("match_decisions")
    op.drop_table("person_changes")
