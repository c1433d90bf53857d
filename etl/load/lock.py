"""One run at a time: a lock row in the database itself, so it holds across hosts.

The lock is the ``run_lock`` row named ``run``, taken by an insert that does nothing when the
row exists (``INSERT … ON CONFLICT DO NOTHING``: atomic on SQLite and PostgreSQL alike, so of
two runs starting together exactly one inserts it). The holder records its pid, host, start,
its latest committed batch and a heartbeat it refreshes between stages. A second run waits up
to ``wait`` seconds for the row to go, then stops with :class:`RunLocked` (exit code 3) naming
the holder. A lock left by a dead run is stale and cleared with a warning: on the same host
when its pid no longer exists, on any host when its heartbeat is older than ``stale_minutes``.
Clearing and releasing delete only the row carrying the token they saw, so a run never removes
a lock another run has just taken.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from etl.errors import EXIT_FAILED, HsskError
from etl.load import schema as s

log = logging.getLogger(__name__)
STALE_MINUTES = 30.0
# A heartbeat that names no new batch is written at most this often: a run beats between
# stages, a million-record registry some fifty times in its first minute, each a transaction of
# its own (2.3 s of the run on SQLite). Minutes are what staleness is judged on.
BEAT_SECONDS = 10.0
LOCK_NAME = "run"


class RunLocked(HsskError):
    """Another run holds the database (exit code 3)."""

    exit_code = EXIT_FAILED


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """``with RunLock(engine, command="run", wait=60) as lock: … lock.beat(batch_id)``."""

    def __init__(self, engine: Engine, *, command: str = "run", wait: float = 0.0,
                 stale_minutes: float = STALE_MINUTES, poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.command = command
        self.wait = wait
        self.stale = dt.timedelta(minutes=stale_minutes)
        self.poll = poll_seconds
        self.token = uuid.uuid4().hex
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self.held = False
        self.beaten: tuple[float, int | None] = (-BEAT_SECONDS, None)  # last write: when, batch

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            if self._insert():
                self.held = True
                self.beaten = (time.monotonic(), None)
                return
            holder = self.holder()
            if holder is None:  # released between our insert and our look
                time.sleep(0.05)
                continue
            if self._is_stale(holder):
                self._clear(holder)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                batch = holder["batch_id"] or "none committed yet"
                raise RunLocked(
                    f"another run holds the database: pid {holder['holder_pid']} on "
                    f"{holder['host']} ({holder['command'] or 'run'}, batch {batch}), "
                    f"started {holder['started_at']:%Y-%m-%d %H:%M:%S}",
                    hint="wait for it (--wait SECONDS); a lock of a run that died is cleared "
                         f"by itself after {self.stale.total_seconds() / 60:g} minutes "
                         "without a heartbeat")
            time.sleep(min(self.poll, remaining))

    def _insert(self) -> bool:
        now = dt.datetime.now()
        row = {"name": LOCK_NAME, "token": self.token, "holder_pid": self.pid,
               "host": self.host, "command": self.command, "batch_id": None,
               "started_at": now, "heartbeat": now}
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        # RETURNING, not rowcount: the row comes back only if this insert made it (psycopg
        # reports no rowcount here).
        stmt = dialect.insert(s.run_lock).values(row).on_conflict_do_nothing(
            index_elements=["name"]).returning(s.run_lock.c.token)
        try:
            with self.engine.begin() as conn:
                return conn.execute(stmt).first() is not None
        except sa.exc.OperationalError:  # SQLite busy: another run is writing; look again
            return False

    def holder(self) -> dict[str, object] | None:
        """The lock row as it stands, or None when no run holds the database."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s.run_lock).where(s.run_lock.c.name == LOCK_NAME)).first()
        return dict(row._mapping) if row is not None else None

    def _is_stale(self, holder: dict[str, object]) -> bool:
        if holder["host"] == self.host and not _pid_alive(int(holder["holder_pid"])):  # type: ignore[arg-type]
            return True
        return dt.datetime.now() - holder["heartbeat"] > self.stale  # type: ignore[operator]

    def _clear(self, holder: dict[str, object]) -> None:
        with self.engine.begin() as conn:
            gone = conn.execute(s.run_lock.delete().where(
                s.run_lock.c.name == LOCK_NAME, s.run_lock.c.token == holder["token"])
                .returning(s.run_lock.c.token)).first()
        if gone:
            log.warning(f"cleared a stale run lock: pid {holder['holder_pid']} on "
                        f"{holder['host']} (batch {holder['batch_id'] or 'none committed'}) "
                        f"last gave a sign of life at {holder['heartbeat']:%Y-%m-%d %H:%M:%S}")

    def beat(self, batch_id: int | None = None) -> None:
        """Refresh the heartbeat (and the latest committed batch); best effort. Without a new
        batch, only once ``BEAT_SECONDS`` have passed since the last write."""
        if not self.held:
            return
        now = time.monotonic()
        if batch_id in (None, self.beaten[1]) and now - self.beaten[0] < BEAT_SECONDS:
            return
        self.beaten = (now, self.beaten[1] if batch_id is None else batch_id)
        values: dict[str, object] = {"heartbeat": dt.datetime.now()}
        if batch_id is not None:
            values["batch_id"] = batch_id
        try:
            with self.engine.begin() as conn:
                conn.execute(s.run_lock.update().where(
                    s.run_lock.c.name == LOCK_NAME, s.run_lock.c.token == self.token)
                    .values(values))
        except sa.exc.OperationalError:
            log.debug("heartbeat skipped: database busy")

    def release(self) -> None:
        if not self.held:
            return
        with self.engine.begin() as conn:
            conn.execute(s.run_lock.delete().where(
                s.run_lock.c.name == LOCK_NAME, s.run_lock.c.token == self.token))
        self.held = False
