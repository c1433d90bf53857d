"""Connecting to the HSSK database and keeping its schema current (Alembic, run in-process)."""

from __future__ import annotations

import os
import re
from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from etl.errors import DatabaseError, SchemaOutOfDate

DEFAULT_URL = "sqlite:///hssk.db"


def database_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``HSSK_DB``, then a SQLite file in the working directory.

    A bare ``postgresql://`` URL is given the psycopg 3 driver, the one we install.
    """
    url = explicit or os.environ.get("HSSK_DB") or DEFAULT_URL
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported as such by the caller
        return "<unparseable database URL>"


_URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^\s:/@]*:)[^\s@/]+@")


def _reason(exc: BaseException) -> str:
    """The first line of a driver's error, with any URL password in it masked."""
    lines = str(exc).strip().splitlines()
    return _URL_PASSWORD.sub(r"\1***@", lines[0] if lines else type(exc).__name__)


SQLITE_BUSY_SECONDS = 60


def connect(url: str | None = None) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys and WAL, as the loader expects."""
    url = database_url(url)
    try:
        sqlite = sa.engine.make_url(url).get_backend_name() == "sqlite"
        # A writer waits this long for another's transaction before it gives up: a run holds
        # SQLite's write lock for a group of chunks (several seconds at a province's size;
        # etl.pipeline.Writer), and an analyst's decision made meanwhile should wait for it,
        # not fail after the driver's 5 s.
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}
                                  if sqlite else {})
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DatabaseError(f"cannot use database {redact(url)}: {_reason(exc)}") from exc
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            # Only a new file takes it: 16 KiB pages hold a whole source record (about 2 KB)
            # several times over; a million-resident load ran 57-62 s against 69-75 s on the
            # default 4 KiB, and the nightly's scattered updates took no longer.
            cur.execute("PRAGMA page_size=16384")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-262144")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()
    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("etl.load") / "migrations"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the schema to ``revision`` (the newest by default; an older one
    downgrades); returns (before, after)."""
    try:
        before = current_revision(engine)
        cfg = _alembic_config()
        step = command.upgrade if revision == "head" else command.downgrade
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                _sqlite_keys(conn, enforced=False)
            try:
                with conn.begin():
                    if sqlite:
                        # the driver begins a transaction only at a row change: the rebuilds'
                        # CREATE TABLE would commit on its own, and a failed upgrade leave it
                        conn.exec_driver_sql("BEGIN")
                    cfg.attributes["connection"] = conn
                    step(cfg, revision)
                    if sqlite and (MigrationContext.configure(conn).get_current_revision()
                                   != before):
                        _check_keys(conn)
            finally:
                if sqlite:
                    _sqlite_keys(conn, enforced=True)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot reach database {redact(str(engine.url))}: "
                            f"{_reason(exc.orig)}") from exc
    return before, head_revision() if revision == "head" else revision


def _sqlite_keys(conn: sa.Connection, *, enforced: bool) -> None:
    """Turn SQLite's foreign key enforcement on or off, outside any transaction (inside one
    the pragma does nothing). A migration that rebuilds a table others refer to (dropping a
    constraint does) runs with it off: the rebuild drops the old table, which enforcement
    refuses while rows refer to it — SQLite's own procedure for such changes."""
    conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
    conn.commit()


def _check_keys(conn: sa.Connection) -> None:
    """Refuse (and so roll back) a schema change after which a row refers to a missing one."""
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise DatabaseError(f"the schema change would leave {len(broken)} rows referring to "
                            f"missing rows (tables {', '.join(tables)}); nothing was changed")


def require_current(engine: Engine) -> None:
    """Refuse to load into a database whose schema is missing or older than this code."""
    try:
        revision = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"cannot reach database {redact(str(engine.url))}: "
                            f"{_reason(exc.orig)}") from exc
    if revision != head_revision():
        raise SchemaOutOfDate(
            f"database {redact(str(engine.url))} is at schema {revision or 'none'}, "
            f"this version needs {head_revision()}",
            hint="run `hssk init` to create or upgrade the schema",
        )
