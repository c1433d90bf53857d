"""address key: the permanent address as matching compares it, on every source record

Matching compares address text where no commune is known on both sides (an address the
commune resolver could not place, a foreign or free-text address); the master index needs it
for records loaded in earlier batches. Records loaded before this revision have none and are
compared as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("source_records", sa.Column("address_key", sa.Text(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite ≥ 3.35): a rebuild of source_records is refused while
    # clinical rows refer to it.
    op.drop_column("source_records", "address_key")
