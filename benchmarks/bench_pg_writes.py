"""How PostgreSQL takes a run's identifiers: by value (the baseline) or person by person
(:func:`etl.load.loader.insert_identifiers`, session 15), and what the foreign key to
``persons`` costs either way, and the source records' too. Each runs ``INSERT … SELECT`` of a
loaded database's table into a fresh copy of it (its indexes, with or without the foreign
key), in a transaction, alternating; ratios against the baseline in the same run.

    python benchmarks/bench_pg_writes.py hssk_p1m   # a database a 1 M registry was loaded into
"""

from __future__ import annotations

import argparse
import json
import time

import psycopg

ORDERS = {"by value": "kind, value, person_id", "by person": "person_id, kind, value"}


def insert_seconds(conn: psycopg.Connection, order: str, foreign_key: bool,
                   table: str = "person_identifiers") -> float:
    conn.execute("DROP TABLE IF EXISTS _bench_copy")
    conn.execute(f"CREATE TABLE _bench_copy (LIKE {table} INCLUDING ALL)")
    if foreign_key:
        conn.execute("ALTER TABLE _bench_copy ADD FOREIGN KEY (person_id) "
                     "REFERENCES persons (person_id)")
    conn.commit()
    started = time.perf_counter()
    conn.execute(f"INSERT INTO _bench_copy SELECT * FROM {table} ORDER BY {order}")
    conn.commit()
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE _bench_copy")
    conn.commit()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    args = parser.parse_args()
    out: dict[str, object] = {}
    with psycopg.connect(host=args.host, user=args.user, dbname=args.database) as conn:
        out["identifiers"] = conn.execute("SELECT count(*) FROM person_identifiers").fetchone()[0]
        for _ in range(2):
            for name, order in ORDERS.items():
                for fk in (True, False):
                    key = f"{name}, {'with' if fk else 'without'} foreign key"
                    seconds = insert_seconds(conn, order, fk)
                    out[key] = min(out.get(key, float("inf")), seconds)  # type: ignore[type-var]
            for fk in (True, False):
                key = f"source records, {'with' if fk else 'without'} foreign key"
                seconds = insert_seconds(conn, "id", fk, "source_records")
                out[key] = min(out.get(key, float("inf")), seconds)  # type: ignore[type-var]
    out["ratio by person / by value, with foreign key"] = (
        out["by person, with foreign key"] / out["by value, with foreign key"])  # type: ignore[operator]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
