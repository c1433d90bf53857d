"""Shared fixtures: real SQLite files, a real PostgreSQL database, generated sample data.

PostgreSQL: one uniquely named database per test session (created and dropped here), and one
schema per test inside it. An unreachable server fails every PostgreSQL test: the same tests run
against both databases, and a silent skip would hide half of them. A developer without a server
opts out explicitly with HSSK_SKIP_POSTGRES=1 (never honoured in CI).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from etl.cli import cli
from etl.load.db import connect, migrate
from etl.synth import write_samples

PG_ADMIN_URL = os.environ.get("HSSK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
_TRUE = ("1", "true", "yes")
IN_CI = os.environ.get("CI", "").lower() in _TRUE
SKIP_PG = os.environ.get("HSSK_SKIP_POSTGRES", "").lower() in _TRUE and not IN_CI


@pytest.fixture(scope="session")
def pg_database() -> str:
    """URL of a fresh PostgreSQL database for this session, dropped afterwards."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"hssk_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        if SKIP_PG:
            pytest.skip("PostgreSQL not reachable and HSSK_SKIP_POSTGRES=1")
        pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL} (set HSSK_TEST_PG to point "
                    f"elsewhere, or HSSK_SKIP_POSTGRES=1 to skip its tests): {exc}",
                    pytrace=False)
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


@contextlib.contextmanager
def fresh_schema(base: str, prefix: str = "t") -> Iterator[str]:
    """A URL of the session's PostgreSQL database searching a new, empty schema (dropped after)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture(name="fresh_schema", scope="session")
def fresh_schema_fixture():
    """``fresh_schema`` for fixtures of other scopes (a module's shared database)."""
    return fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """An empty database of each kind: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hssk.db'}"
        return
    with fresh_schema(request.getfixturevalue("pg_database")) as url:
        yield url


@pytest.fixture
def other_db_url(request, db_url: str, tmp_path: Path) -> str:
    """A second empty database of the same kind as ``db_url`` (for comparing two runs)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    with fresh_schema(request.getfixturevalue("pg_database")) as url:
        yield url


def link_partition(engine) -> set[frozenset[str]]:  # type: ignore[no-untyped-def]
    """How a database groups source records into persons: one set of record keys per person.
    Two runs that link the same records together agree on it, whatever the person ids."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT person_id, record_key FROM source_records")).all()
    persons: dict[str, set[str]] = {}
    for person, key in rows:
        persons.setdefault(person, set()).add(key)
    return {frozenset(keys) for keys in persons.values()}


@pytest.fixture(name="link_partition")
def link_partition_fixture():
    """``link_partition`` for tests (conftest functions are not imported)."""
    return link_partition


@pytest.fixture
def db(db_url: str):
    """An engine on a migrated, empty database."""
    engine = connect(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> Path:
    """A small generated district (every source kind, with ground truth), shared read-only."""
    out = tmp_path_factory.mktemp("samples")
    write_samples(out, people=400, seed=7)
    return out


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def hssk(runner: CliRunner):
    """Invoke the CLI like a person would; returns the click Result."""

    def invoke(*args: str, db: str | None = None, input: str | None = None):
        argv = (["--db", db] if db else []) + [str(a) for a in args]
        return runner.invoke(cli, argv, input=input, catch_exceptions=False)

    return invoke
