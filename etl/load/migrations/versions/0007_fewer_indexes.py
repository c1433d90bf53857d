"""fewer indexes: only those the loads, the incremental match and the commands look up by

Nothing looks persons up by name key or birth year, or source records by personal ID or
social-insurance code (identifiers are found through ``person_identifiers``); each index was
one more random B-tree insert per row of every load — about a sixth of a first load's time
at 200,000 records on SQLite. An analyst who searches by them ad hoc can create them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 23:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROPPED = [("persons", "ix_persons_name_key", "name_key"),
            ("persons", "ix_persons_birth_year", "birth_year"),
            ("source_records", "ix_source_records_personal_id", "personal_id"),
            ("source_records", "ix_source_records_social_insurance_code",
             "social_insurance_code")]


def upgrade() -> None:
    for table, name, _ in _DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, column in _DROPPED:
        op.create_index(name, table, [column], unique=False)
