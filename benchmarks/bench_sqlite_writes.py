"""How SQLite takes a run's rows: the two choices of session 13, each against its baseline in
the same run (ratios; this machine is noisy).

1. ``executemany`` fed a list of every row's tuple (the baseline) or the rows one at a time
   from ``zip`` (:func:`etl.load.bulk._driver_executemany`), into an in-memory table.
2. A commit per chunk (the baseline) or per group of chunks (:class:`etl.pipeline.Writer`),
   into a file with the run's pragmas and an index on a random key, as the person ids are:
   every chunk touches most of that index's pages, and every commit writes them again. Bytes
   written are the process's own (``/proc/self/io``), so the page cache does not hide them.
3. A missing value bound as ``None`` (the baseline) or as a NaN, which SQLite stores as NULL
   (:data:`etl.load.bulk.SQLITE_NULL`, session 15), for rows of 35 columns with ``--missing``
   of their cells empty, into an in-memory table; the rows read back must be equal.

    python benchmarks/bench_sqlite_writes.py [--chunks 40] [--rows 25000] [--group 4]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path

COLUMNS = 45


def _written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def _columns(rows: int) -> list[list[str]]:
    return [[secrets.token_hex(8) for _ in range(rows)] for _ in range(COLUMNS)]


def rows_handed_over(rows: int, repeats: int) -> dict[str, float]:
    columns = _columns(rows)
    sql = (f"INSERT INTO t ({', '.join(f'c{i}' for i in range(COLUMNS))}) "
           f"VALUES ({', '.join('?' * COLUMNS)})")
    out = {}
    for how in ("list", "zip", "list", "zip"):  # each twice, alternating
        conn = sqlite3.connect(":memory:")
        conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, "
                     f"{', '.join(f'c{i} TEXT' for i in range(COLUMNS))})")
        started = time.perf_counter()
        for _ in range(repeats):
            rows_of = zip(*columns, strict=True)
            conn.executemany(sql, list(rows_of) if how == "list" else rows_of)
        out[how] = min(out.get(how, float("inf")), time.perf_counter() - started)
        conn.close()
    out["ratio"] = out["zip"] / out["list"]
    return out


def commits(chunks: int, rows: int, group: int) -> dict[str, dict[str, float]]:
    out = {}
    for every in (1, group):
        with tempfile.TemporaryDirectory() as folder:
            conn = sqlite3.connect(Path(folder) / "bench.db", isolation_level=None)
            for pragma in ("page_size=16384", "journal_mode=WAL", "synchronous=NORMAL",
                           "cache_size=-262144"):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("CREATE TABLE persons (id INTEGER PRIMARY KEY, person_id TEXT UNIQUE, "
                         "name TEXT, raw TEXT)")
            before, started = _written(), time.perf_counter()
            for k in range(chunks):
                if k % every == 0:
                    conn.execute("BEGIN")
                batch = sorted(secrets.token_hex(8) for _ in range(rows))  # random person ids
                conn.executemany("INSERT INTO persons (person_id, name, raw) VALUES (?, ?, ?)",
                                 ((p, p * 2, p * 40) for p in batch))
                if k % every == every - 1 or k == chunks - 1:
                    conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            out[f"commit every {every}"] = {"seconds": time.perf_counter() - started,
                                            "gb_written": (_written() - before) / 1e9}
            conn.close()
    base, grouped = out["commit every 1"], out[f"commit every {group}"]
    out["ratio"] = {k: grouped[k] / base[k] for k in base}
    return out


def missing_values(rows: int, missing: float, repeats: int) -> dict[str, object]:
    """Seconds to insert rows whose empty cells are bound as None or as a NaN."""
    rng = random.Random(7)
    width = 35
    table = [tuple(None if rng.random() < missing else secrets.token_hex(6)
                   for _ in range(width)) for _ in range(rows)]
    nan = float("nan")
    as_nan = [tuple(nan if v is None else v for v in row) for row in table]
    sql = f"INSERT INTO t VALUES ({', '.join('?' * width)})"
    out: dict[str, object] = {}
    for how, data in (("none", table), ("nan", as_nan), ("none", table), ("nan", as_nan)):
        conn = sqlite3.connect(":memory:")
        conn.execute(f"CREATE TABLE t ({', '.join(f'c{i} TEXT' for i in range(width))})")
        started = time.perf_counter()
        for _ in range(repeats):
            conn.executemany(sql, data)
        seconds = time.perf_counter() - started
        out[how] = min(out.get(how, float("inf")), seconds)  # type: ignore[type-var]
        if how == "nan":
            out["same rows read back"] = conn.execute(
                "SELECT * FROM t LIMIT ?", (rows,)).fetchall() == table
        conn.close()
    out["ratio"] = out["nan"] / out["none"]  # type: ignore[operator]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--missing", type=float, default=0.3)
    args = parser.parse_args()
    print(json.dumps({"rows handed over": rows_handed_over(args.rows, 8),
                      "commits": commits(args.chunks, args.rows, args.group),
                      "missing values": missing_values(args.rows, args.missing, 8)}, indent=2))


if __name__ == "__main__":
    main()
