"""no separate (kind, value) index on person identifiers: the unique (kind, value, person_id)
index already serves every lookup by kind and value (its leading columns)

The second index was one more B-tree of random keys written by every load — a sixth of the
rows a first load inserts into indexes, and its share of every commit's pages.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 05:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_person_identifiers_lookup", table_name="person_identifiers")


def downgrade() -> None:
    op.create_index("ix_person_identifiers_lookup", "person_identifiers", ["kind", "value"],
                    unique=False)
