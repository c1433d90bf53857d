"""One run at a time, on SQLite and PostgreSQL: the lock row, waiting, stale locks, and two real
processes started together."""

from __future__ import annotations

import csv
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.export import export_links
from etl.load import schema as s
from etl.load.db import connect, migrate
from etl.load.lock import BEAT_SECONDS, RunLock, RunLocked

HOST = socket.gethostname()


def hold(engine, *, pid: int, host: str = HOST, batch: int | None = None,
         heartbeat: dt.datetime | None = None) -> None:
    """A lock row as another run would have left it."""
    when = dt.datetime(2025, 1, 1, 2, 0, 0)
    with engine.begin() as conn:
        conn.execute(s.run_lock.insert().values(
            name="run", token="other", holder_pid=pid, host=host, command="run", batch_id=batch,
            started_at=when, heartbeat=heartbeat or dt.datetime.now()))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def lock_rows(engine) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(s.run_lock.c.holder_pid, s.run_lock.c.host, s.run_lock.c.batch_id))]


def test_second_run_exits_3_naming_the_holder(db, db_url, hssk, samples):
    hold(db, pid=os.getppid(), batch=7)
    result = hssk("run", str(samples / "tiemchung_muong_lat.csv"), db=db_url)
    assert result.exit_code == 3
    assert result.output.splitlines() == [
        f"error: another run holds the database: pid {os.getppid()} on {HOST} (run, batch 7), "
        "started 2025-01-01 02:00:00",
        "hint: wait for it (--wait SECONDS); a lock of a run that died is cleared by itself "
        "after 30 minutes without a heartbeat"]
    assert lock_rows(db) == [(os.getppid(), HOST, 7)]
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.batches)).scalar() == 0


def test_a_waiting_run_goes_once_the_lock_is_released(db, db_url, hssk, samples):
    hold(db, pid=os.getppid())

    def release() -> None:
        time.sleep(1.5)
        with db.begin() as conn:
            conn.execute(s.run_lock.delete())

    threading.Thread(target=release).start()
    result = hssk("run", "--wait", "30", str(samples / "tiemchung_muong_lat.csv"), db=db_url)
    assert result.exit_code == 0, result.output
    assert lock_rows(db) == []


@pytest.mark.parametrize("stale", ["dead pid on this host", "no heartbeat for an hour"])
def test_a_stale_lock_is_cleared_with_a_warning(db, db_url, hssk, samples, stale):
    if stale == "dead pid on this host":
        pid = dead_pid()
        hold(db, pid=pid, batch=3)
        last = dt.datetime.now()
    else:
        pid, last = 4242, dt.datetime.now() - dt.timedelta(hours=1)
        hold(db, pid=pid, host="other-host", batch=3, heartbeat=last)
    result = hssk("run", str(samples / "tiemchung_muong_lat.csv"), db=db_url)
    assert result.exit_code == 0, result.output
    host = HOST if stale == "dead pid on this host" else "other-host"
    assert (f"WARNING cleared a stale run lock: pid {pid} on {host} (batch 3) last gave a sign "
            f"of life at {last:%Y-%m-%d %H:%M:%S}") in result.output.splitlines()
    assert lock_rows(db) == []


def test_lock_is_released_when_the_run_fails(db):
    with pytest.raises(RuntimeError), RunLock(db) as lock:
        lock.beat(5)
        assert lock_rows(db) == [(os.getpid(), HOST, 5)]
        raise RuntimeError("disk full")
    assert lock_rows(db) == []
    with RunLock(db), pytest.raises(RunLocked):  # not re-entrant: a second holder is refused
        RunLock(db).acquire()


def _hssk(db_url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "HSSK_DB": db_url}
    return subprocess.Popen([sys.executable, "-m", "etl.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _links(engine, out: Path) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    export_links(engine, out)
    with open(out, encoding="utf-8") as fh:
        return sorted(csv.DictReader(fh), key=lambda r: (r["source_file"], r["locator"]))


def test_two_runs_at_once_end_with_one_runs_links(db_url, tmp_path, samples):
    engine = connect(db_url)
    migrate(engine)
    job = tmp_path / "job.yaml"
    job.write_text(f"sources:\n  - path: {samples}/registry_*\n    kind: registry\n"
                   "    feed: registry\n    snapshot: true\n"
                   f"  - path: {samples}/bhxh_muong_lat.xlsx\n"
                   f"  - path: {samples}/tiemchung_muong_lat.csv\n", encoding="utf-8")
    first = _hssk(db_url, "-q", "run", "--config", str(job), "--wait", "300")
    second = _hssk(db_url, "-q", "run", "--config", str(job), "--wait", "300")
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert lock_rows(engine) == []

    alone = connect(f"sqlite:///{tmp_path / 'alone.db'}")
    migrate(alone)
    once = _hssk(f"sqlite:///{tmp_path / 'alone.db'}", "-q", "run", "--config", str(job))
    assert once.wait(timeout=600) == 0
    assert _links(engine, tmp_path / "a.csv") == _links(alone, tmp_path / "b.csv")
    with engine.connect() as conn:
        persons = conn.execute(sa.select(sa.func.count()).select_from(s.persons)).scalar()
    with alone.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.persons)).scalar() == persons
    engine.dispose()
    alone.dispose()


def test_a_run_started_while_another_holds_the_database_exits_3(db_url, samples):
    """Two real processes: one holds the lock until the test lets it go (a run that finished
    first would make the second run's refusal a race), the other, `hssk run`, is refused
    naming the holder; once the holder lets go, the same run goes through."""
    engine = connect(db_url)
    migrate(engine)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\n"
         "from etl.load.db import connect\n"
         "from etl.load.lock import RunLock\n"
         "with RunLock(connect(sys.argv[1]), command='run'):\n"
         "    print('held', flush=True)\n"
         "    sys.stdin.readline()\n", db_url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    second = _hssk(db_url, "-q", "run", str(samples))
    out, err = second.communicate(timeout=600)
    assert second.returncode == 3, (out, err)
    assert err.startswith(f"error: another run holds the database: pid {holder.pid} on {HOST}")
    holder.communicate("go\n", timeout=60)
    assert holder.returncode == 0 and lock_rows(engine) == []
    third = _hssk(db_url, "-q", "run", str(samples))
    third.communicate(timeout=600)
    assert third.returncode == 0
    engine.dispose()


def test_a_sqlite_writer_waits_out_a_run_holding_the_write_lock_past_five_seconds(tmp_path):
    """A run holds SQLite's write lock for a group of chunks, several seconds at a province's
    size: a decision written meanwhile waits for the commit instead of failing with "database
    is locked" after the driver's default five seconds."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    migrate(connect(url))
    holding, held = threading.Event(), 6.0

    def run_holding_the_lock() -> None:
        engine = connect(url)
        with engine.begin() as conn:
            conn.execute(s.batches.insert().values(started_at=dt.datetime.now(),
                                                   status="running", command="run",
                                                   tool_version="test"))
            holding.set()
            time.sleep(held)
        engine.dispose()

    writer = threading.Thread(target=run_holding_the_lock)
    writer.start()
    assert holding.wait(30)
    started = time.monotonic()
    engine = connect(url)
    with engine.begin() as conn:  # an analyst's write, while the run's transaction is open
        conn.execute(s.batches.insert().values(started_at=dt.datetime.now(),
                                               status="committed", command="review",
                                               tool_version="test"))
    waited = time.monotonic() - started
    writer.join()
    with engine.connect() as conn:
        commands = conn.execute(sa.select(s.batches.c.command).order_by(s.batches.c.id)
                                ).scalars().all()
    engine.dispose()
    assert commands == ["run", "review"] and waited > 5


def test_a_heartbeat_with_nothing_new_is_written_at_most_every_few_seconds(db):
    """Between stages a run beats often; the row is written when a batch is new, or once
    ``BEAT_SECONDS`` have passed since the last write."""
    def heartbeat() -> dt.datetime:
        with db.connect() as conn:
            return conn.execute(sa.select(s.run_lock.c.heartbeat)).scalar_one()

    with RunLock(db) as lock:
        taken = heartbeat()
        lock.beat()
        assert heartbeat() == taken
        lock.beat(5)
        assert lock_rows(db) == [(os.getpid(), HOST, 5)]
        committed = heartbeat()
        assert committed > taken
        lock.beat()
        lock.beat(5)
        assert heartbeat() == committed
        lock.beaten = (lock.beaten[0] - BEAT_SECONDS, 5)  # as if that long had passed
        lock.beat()
        assert heartbeat() > committed
        assert lock_rows(db) == [(os.getpid(), HOST, 5)]
