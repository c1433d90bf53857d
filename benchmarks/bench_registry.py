"""Benchmark: `hssk run` of a generated registry extract, first run and re-run, per database.

Baseline in the same run: a naive load of the same files (pandas.read_csv → DataFrame.to_sql
into a fresh database of the same kind), so the figure is a ratio that survives noisy machines.

    python benchmarks/bench_registry.py --people 41000 --db sqlite
    python benchmarks/bench_registry.py --people 41000 --db postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

PG_ADMIN = os.environ.get("HSSK_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HSSK = [sys.executable, "-m", "etl.cli"]


def fresh_db(kind: str, work: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        path = work / f"{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: None
    name = f"hssk_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(False), drop


def timed(args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    try:
        return elapsed, json.loads(out.stdout)
    except json.JSONDecodeError:
        return elapsed, {}


def naive_load(url: str, files: list[Path]) -> float:
    start = time.perf_counter()
    engine = sa.create_engine(url)
    for n, path in enumerate(files):
        if path.suffix == ".csv":
            first = path.open(encoding="utf-8-sig").readline()
            sep = ";" if first.count(";") > first.count(",") else ","
            df = pd.read_csv(path, dtype=str, sep=sep, encoding="utf-8-sig")
        else:
            df = pd.read_excel(path, dtype=str, header=2)
        df.to_sql(f"naive_{n}", engine, index=False, chunksize=5000)
    engine.dispose()
    return time.perf_counter() - start


def count_lines(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for _ in fh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=41000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hssk-bench-"))
    try:
        data = work / "district"
        subprocess.run([*HSSK, "-q", "samples", "-o", str(data), "--people", str(args.people),
                        "--seed", str(args.seed), "--kind", "registry"], check=True)
        files = sorted(p for p in data.iterdir() if p.is_file())
        rows = count_lines(data / "_truth" / "ground_truth.csv") - 1

        url, drop = fresh_db(args.db, work)
        subprocess.run([*HSSK, "--db", url, "-q", "init"], check=True)
        first, summary = timed([*HSSK, "--db", url, "run", str(data), "--json"])
        second, again = timed([*HSSK, "--db", url, "run", str(data), "--json"])
        links = work / "links.csv"
        subprocess.run([*HSSK, "--db", url, "-q", "export", "links", "-o", str(links)], check=True)
        linked = count_lines(links) - 1
        drop()
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        base_url, base_drop = fresh_db(args.db, work)
        baseline = naive_load(base_url, files)
        base_drop()
        result = {
            "database": args.db, "rows": rows, "first_run_s": round(first, 2),
            "rerun_s": round(second, 2), "naive_load_s": round(baseline, 2),
            "ratio_first_run_to_naive": round(first / baseline, 2),
            "rows_per_s": round(rows / first), "peak_rss_mb": round(peak_mb),
            "persons_created": summary.get("persons_created"),
            "rerun_created": sum(f["created"] + f["updated"] for f in again.get("files", [])),
            "rerun_persons_created": again.get("persons_created"),
            "rejected": summary.get("rejected"), "linked": linked,
            "links_cover_all_rows": linked + (summary.get("rejected") or 0) == rows,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}",
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
