"""What a SQLite load costs the driver, and what SQLite itself needs: the floor under a run's
load stage, worked out on a database a run has loaded (session 16).

Each of the three large tables (persons, person identifiers, source records) is copied from
that database into a fresh one with the run's pragmas and the schema's indexes, in chunks of
25,000 rows, three ways:

1. ``executemany`` of the rows, a missing value bound as a NaN as the loader binds it
   (:data:`etl.load.bulk.SQLITE_NULL`): what a run's load pays, Python binding every cell;
2. ``INSERT … SELECT`` from the loaded database, attached: the same rows and indexes with no
   binding at all, SQLite's own work (the floor for any driver);
3. as 2., with the table's secondary indexes (not its keys) built after the rows instead of
   row by row.

Foreign keys are off in all three (a run checks them; ``bench_pg_writes.py`` times that cost
on PostgreSQL). Every copy must read back equal to the source table, or the script fails.

    python benchmarks/bench_sqlite_floor.py loaded.db [--tables persons source_records]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

TABLES = ("persons", "person_identifiers", "source_records")
PRAGMAS = ("page_size=16384", "journal_mode=WAL", "synchronous=NORMAL", "cache_size=-262144",
           "temp_store=MEMORY", "foreign_keys=OFF")
CHUNK = 25_000
NAN = float("nan")


def _fresh(path: Path, source: sqlite3.Connection, table: str, *, indexes: bool
           ) -> tuple[sqlite3.Connection, list[str]]:
    """A new database holding ``table``'s schema; with ``indexes=False`` its secondary indexes
    are returned to be built later."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    later = []
    for name, sql in source.execute(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY type DESC", (table,)):  # the table before its indexes
        if name.startswith("ix_") and not indexes:
            later.append(sql)
        else:
            conn.execute(sql)
    return conn, later


def _same(conn: sqlite3.Connection, table: str) -> bool:
    differ = conn.execute(f"SELECT count(*) FROM (SELECT * FROM main.{table} EXCEPT "
                          f"SELECT * FROM src.{table})").fetchone()[0]
    sizes = {conn.execute(f"SELECT count(*) FROM {db}.{table}").fetchone()[0]
             for db in ("main", "src")}
    return differ == 0 and len(sizes) == 1


def bench(loaded: Path, tables: list[str]) -> dict[str, dict[str, float]]:
    source = sqlite3.connect(loaded)
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="hssk-floor-") as work:
        for table in tables:
            rows = [tuple(NAN if v is None else v for v in r)
                    for r in source.execute(f"SELECT * FROM {table} ORDER BY rowid")]
            width = len(rows[0])
            figures: dict[str, float] = {"rows": len(rows)}
            for way in ("executemany", "insert_select", "indexes_after"):
                path = Path(work) / f"{table}-{way}.db"
                conn, later = _fresh(path, source, table, indexes=way != "indexes_after")
                conn.execute("ATTACH DATABASE ? AS src", (str(loaded),))
                started = time.perf_counter()
                conn.execute("BEGIN")
                if way == "executemany":
                    insert = f"INSERT INTO main.{table} VALUES ({', '.join('?' * width)})"
                    for start in range(0, len(rows), CHUNK):
                        conn.executemany(insert, rows[start:start + CHUNK])
                else:
                    last = conn.execute(f"SELECT max(rowid) FROM src.{table}").fetchone()[0]
                    for start in range(0, last or 0, CHUNK):
                        conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table} "
                                     "WHERE rowid > ? AND rowid <= ? ORDER BY rowid",
                                     (start, start + CHUNK))
                for sql in later:
                    conn.execute(sql)
                conn.execute("COMMIT")
                figures[way] = round(time.perf_counter() - started, 2)
                if not _same(conn, table):
                    raise SystemExit(f"{table}: the {way} copy differs from the loaded table")
                conn.close()
                path.unlink()
            figures["binding_share"] = round(1 - figures["insert_select"] / figures["executemany"],
                                             2)
            out[table] = figures
            print(json.dumps({table: figures}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("loaded", type=Path, help="a SQLite database `hssk run` has loaded")
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    args = parser.parse_args()
    figures = bench(args.loaded, args.tables)
    total = {way: round(sum(f[way] for f in figures.values()), 2)
             for way in ("executemany", "insert_select", "indexes_after")}
    print(json.dumps({"total": total}))


if __name__ == "__main__":
    main()
