"""Roles (migration 0004, PostgreSQL): hssk_analyst reads only the pseudonymised view,
hssk_loader writes; both NOLOGIN, created once per cluster, the migration repeatable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from etl.load.db import connect, head_revision, migrate

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _load(db, samples, hssk, db_url) -> None:
    registry = next(samples.glob("registry_*.csv"))
    assert hssk("run", str(registry), db=db_url).exit_code in (0, 1)


def test_analyst_sees_only_the_view(db, db_url, samples, hssk) -> None:
    _load(db, samples, hssk, db_url)
    with db.connect() as conn:
        persons = conn.execute(sa.text("SELECT count(*) FROM persons")).scalar()
        conn.execute(sa.text("SET ROLE hssk_analyst"))
        rows = conn.execute(sa.text("SELECT * FROM analyst_persons")).mappings().all()
        assert len(rows) == persons > 0
        assert not {"person_id", "full_name", "given_name", "phone", "permanent_address"} & set(
            rows[0])
        assert len(rows[0]["person_key"]) == 32
        conn.execute(sa.text("RESET ROLE"))
        conn.commit()
    for table in ("person_identifiers", "persons", "source_records"):
        with db.connect() as conn:
            conn.execute(sa.text("SET ROLE hssk_analyst"))
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                conn.execute(sa.text(f"SELECT * FROM {table} LIMIT 1"))
            conn.rollback()


def test_loader_writes_and_roles_cannot_log_in(db, db_url, samples, hssk) -> None:
    _load(db, samples, hssk, db_url)
    with db.connect() as conn:
        flags = dict(conn.execute(sa.text(
            "SELECT rolname, rolcanlogin FROM pg_roles "
            "WHERE rolname IN ('hssk_loader', 'hssk_analyst')")).all())
        assert flags == {"hssk_loader": False, "hssk_analyst": False}
        conn.execute(sa.text("SET ROLE hssk_loader"))
        before = conn.execute(sa.text("SELECT count(*) FROM person_identifiers")).scalar()
        conn.execute(sa.text("UPDATE persons SET phone = phone"))
        conn.execute(sa.text("DELETE FROM match_reviews"))
        assert conn.execute(sa.text("SELECT count(*) FROM person_identifiers")).scalar() == before
        conn.rollback()


def test_roles_migration_is_idempotent(db_url) -> None:
    engine = connect(db_url)
    before, head = migrate(engine)
    assert head == head_revision()
    assert migrate(engine) == (head, head)  # roles exist already: nothing fails
    engine.dispose()
