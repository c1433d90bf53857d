"""batch and source-file ids on the per-record tables are plain integers, not foreign keys

Each foreign key is checked row by row as a load writes: on PostgreSQL a trigger and a locking
lookup of the parent row per key per row. A million-resident registry spent 23 s of its 93–96 s
load on the batch and file keys of source records, persons and identifiers. Only the loader
writes these columns, in the transaction that writes the batch and the file rows, and batches
and files are never deleted. The keys that carry the health record (a record's person, a
clinical row's source record and encounter) stay enforced.

On SQLite dropping a foreign key rebuilds the table; :func:`etl.load.db.migrate` turns foreign
key enforcement off around the migration, as SQLite's procedure for such changes asks, and
checks every key afterwards.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table → (column, referred table) of each key dropped
_KEYS = {
    "source_records": [("created_batch_id", "batches"), ("updated_batch_id", "batches"),
                       ("source_file_id", "source_files")],
    "persons": [("created_batch_id", "batches"), ("updated_batch_id", "batches")],
    "person_identifiers": [("first_batch_id", "batches")],
    "match_reviews": [("batch_id", "batches")],
    "rejects": [("batch_id", "batches")],
    "source_record_versions": [("batch_id", "batches"), ("replaced_batch_id", "batches"),
                               ("source_file_id", "source_files")],
}


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    for table, keys in _KEYS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred in keys:
                batch_op.drop_constraint(_name(table, column, referred), type_="foreignkey")


def downgrade() -> None:
    for table, keys in _KEYS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred in keys:
                batch_op.create_foreign_key(_name(table, column, referred), referred, [column],
                                            ["id"])
