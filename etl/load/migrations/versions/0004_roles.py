"""database roles: hssk_loader writes everything, hssk_analyst reads pseudonymised views only

PostgreSQL only (SQLite has no roles: nothing to do there). Roles are cluster-wide, so they are
created only if missing (several HSSK databases of one cluster share them); both are NOLOGIN:
the DBA grants them to login users (``GRANT hssk_analyst TO alice``). Privileges are granted on
the schema the migration runs in.

* ``hssk_loader``: read and write every table and sequence of the schema (also those later
  migrations create, through default privileges), temporary tables for the COPY staging.
* ``hssk_analyst``: no privilege on any table; only the ``analyst_persons`` view: one row per
  person without name, ID numbers, address text, phone or relatives, and with ``person_key``,
  an MD5 of the person id, in place of the id (an opaque key, the same in every query, so counts
  can be grouped and joined across later analyst views; it is not a secret salt-keyed
  pseudonym, for that use ``hssk export persons --pseudonymize``). The view runs with its
  owner's rights, so the analyst reads it without any right on ``persons``;
  ``person_identifiers``, ``persons`` and ``source_records`` refuse the analyst.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("hssk_loader", "hssk_analyst")
ANALYST_VIEW = """
CREATE OR REPLACE VIEW analyst_persons AS
SELECT md5('hssk-person:' || person_id) AS person_key,
       sex, birth_year, birth_month, birth_date_precision, ethnicity_code, nationality,
       permanent_commune_code, permanent_commune_code_2025,
       current_commune_code, current_commune_code_2025,
       created_batch_id, updated_batch_id
FROM persons
"""


def _in_schema(statement: str) -> str:
    """``statement`` with ``%I`` as the current schema, run through EXECUTE."""
    return (f"DO $$ BEGIN EXECUTE format('{statement}', current_schema()); END $$")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for role in ROLES:
        # Two databases migrating at once may both find the role missing: the loser's CREATE
        # fails with duplicate_object (or unique_violation on the catalogue) and is ignored.
        op.execute(f"""
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
              END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$""")
    op.execute(_in_schema("GRANT USAGE ON SCHEMA %I TO hssk_loader, hssk_analyst"))
    op.execute(_in_schema(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO hssk_loader"))
    op.execute(_in_schema(
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO hssk_loader"))
    op.execute(_in_schema("ALTER DEFAULT PRIVILEGES IN SCHEMA %I "
                          "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hssk_loader"))
    op.execute(_in_schema("ALTER DEFAULT PRIVILEGES IN SCHEMA %I "
                          "GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO hssk_loader"))
    op.execute("DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO hssk_loader', "
               "current_database()); END $$")
    op.execute(ANALYST_VIEW)
    op.execute(_in_schema("REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM hssk_analyst"))
    op.execute("GRANT SELECT ON analyst_persons TO hssk_analyst, hssk_loader")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The roles stay: other databases of the cluster may use them.
    op.execute("DROP VIEW IF EXISTS analyst_persons")
    op.execute(_in_schema("ALTER DEFAULT PRIVILEGES IN SCHEMA %I "
                          "REVOKE ALL ON TABLES FROM hssk_loader"))
    op.execute(_in_schema("ALTER DEFAULT PRIVILEGES IN SCHEMA %I "
                          "REVOKE ALL ON SEQUENCES FROM hssk_loader"))
    op.execute(_in_schema("REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM hssk_loader, hssk_analyst"))
    op.execute(_in_schema(
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM hssk_loader, hssk_analyst"))
    op.execute(_in_schema("REVOKE USAGE ON SCHEMA %I FROM hssk_loader, hssk_analyst"))
