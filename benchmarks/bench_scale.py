"""Benchmark: district to province scale — `hssk run` end to end and stage by stage, peak memory
and accuracy, with the raw-copy floor in the same run, and a nightly increment.

Generates a population of ``--people`` residents (`etl.synth`, ground truth included) with
their commune registry extracts, school workbooks and a clinic month (proportional to the
population), then `hssk init` and `hssk run` into a fresh database (SQLite file or a new
PostgreSQL database), `hssk export links` and pairwise precision / recall against the truth.
Baselines in the same run: reading the registry CSVs with pyarrow (the floor for extract) and,
on PostgreSQL, `psql \\copy` of the same CSVs into a plain table (the floor for the load).
``--nightly N`` then writes the next month's clinic exports for about N episodes of the same
residents and times `hssk run` of them against the loaded database.

    python benchmarks/bench_scale.py --people 40000 --db sqlite --nightly 20000
    python benchmarks/bench_scale.py --people 1000000 --kind registry --province 38

``--province 38`` spreads the residents over Thanh Hóa's 559 pre-2025 communes and writes the
registry as one CSV (a provincial data centre's extract); without it, everyone lives in Mường
Lát's eight communes (25,000 a commune at 200,000 residents: a density test).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from etl.synth import simulate
from etl.synth.clinic import write_clinic
from etl.synth.evaluate import evaluate

HSSK = [sys.executable, "-m", "etl.cli"]
KINDS = ["registry", "insurance", "school-exam", "clinic-xml"]  # the held-out district's
VISIT_SHARE = 0.17  # episodes per resident in a generated clinic month (15 % visit, some twice)


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess, int]:
    """Run a command; its wall time, output and own peak RSS in MB (``/usr/bin/time``: a
    child's ``ru_maxrss`` seen from here would start at this process's peak)."""
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "peak-kb=%M", *args], capture_output=True,
                         text=True)
    elapsed = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args[:4])} … failed:\n{out.stderr[-3000:]}")
    peak = [line for line in out.stderr.splitlines() if line.startswith("peak-kb=")]
    return round(elapsed, 1), out, round(int(peak[-1].split("=")[1]) / 1024) if peak else 0


def database(kind: str, work: Path) -> tuple[str, str | None]:
    """A fresh database URL (and the PostgreSQL database name to drop afterwards)."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'hssk.db'}", None
    name = f"hssk_bench_{os.getpid()}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1/{name}", name


def drop(name: str | None) -> None:
    if name is None:
        return
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


def arrow_read_seconds(files: list[Path]) -> float:
    """The floor for reading: pyarrow's CSV reader over the same registry files."""
    code = ("import sys, pyarrow.csv as c\n"
            "for f in sys.argv[1:]:\n"
            "    c.read_csv(f, parse_options=c.ParseOptions(delimiter=(';' if open(f, "
            "encoding='utf-8', errors='replace').readline().count(';') > 1 else ',')))\n")
    seconds, _, _ = timed(sys.executable, "-c", code, *map(str, files))
    return seconds


def psql_copy_seconds(files: list[Path], name: str) -> float:
    """The floor for loading: ``psql \\copy`` of the same files into plain text tables."""
    total = 0.0
    for n, path in enumerate(files):
        with open(path, encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
        delimiter = ";" if header.count(";") > header.count(",") else ","
        width = len(next(csv.reader([header], delimiter=delimiter)))
        table = f"raw_copy_{n}"
        columns = ", ".join(f"c{k} text" for k in range(width))
        script = (f"CREATE TABLE {table} ({columns});\n"
                  f"\\copy {table} FROM '{path}' WITH (FORMAT csv, HEADER true, "
                  f"DELIMITER '{delimiter}')\n")
        seconds, _, _ = timed("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", name,
                           "-v", "ON_ERROR_STOP=1", "-c", script.splitlines()[0],
                           "-c", script.splitlines()[1])
        total += seconds
    return round(total, 1)


def score(url: str, work: Path, truth: Path, name: str) -> dict[str, object]:
    links = work / f"{name}.links.csv"
    timed(*HSSK, "--db", url, "-q", "export", "links", "-o", str(links))
    overall = evaluate(links, truth)["overall"]
    return {k: overall[k] for k in ("precision", "recall", "f1")}


def write_nightly(data: Path, work: Path, people: int, seed: int, episodes: int,
                  province: str | None = None) -> None:
    """Next month's clinic exports for about ``episodes`` episodes of the same residents (in
    ``work/nightly``), and the truth of everything loaded (the first run's plus these)."""
    residents = simulate(people, seed, province)
    rng = random.Random(f"{seed}:nightly")
    chosen = rng.sample(residents, min(len(residents), round(episodes / VISIT_SHARE)))
    out = work / "nightly"
    out.mkdir()
    rows: list[tuple[str, str, str]] = []
    month = 7
    while len(rows) < episodes * 0.95 and month <= 12:  # a small district: several months
        rows += write_clinic(out, chosen, rng, month=(2025, month))[1]
        month += 1
    truth = work / "truth_all.csv"
    shutil.copy(data / "_truth" / "ground_truth.csv", truth)
    with open(truth, "a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=2030)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--kind", action="append", dest="kinds",
                        help=f"source kinds to generate (default: {', '.join(KINDS)})")
    parser.add_argument("--province", help="GSO province code: residents in all its communes")
    parser.add_argument("--nightly", type=int, default=0,
                        help="clinic episodes of the next month to load afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--write-nightly", nargs=2, metavar=("DATA", "WORK"),
                        help=argparse.SUPPRESS)  # the nightly files, written in a child
    args = parser.parse_args()
    if args.write_nightly:
        write_nightly(Path(args.write_nightly[0]), Path(args.write_nightly[1]), args.people,
                      args.seed, args.nightly, args.province)
        return
    work = Path(tempfile.mkdtemp(prefix="hssk-scale-"))
    data = work / "district"
    kinds = args.kinds or KINDS
    # Generated in a child, so this process stays small.
    generated, _, _ = timed(*HSSK, "-q", "samples", "-o", str(data), "--people",
                            str(args.people), "--seed", str(args.seed),
                            *[a for k in kinds for a in ("--kind", k)],
                            *(("--province", args.province) if args.province else ()))
    result: dict[str, object] = {"people": args.people, "kinds": kinds, "db": args.db,
                                 "province": args.province,
                                 "generated_seconds": generated}
    registry = sorted(data.glob("registry_*.csv"))
    url, name = database(args.db, work)
    try:
        timed(*HSSK, "--db", url, "-q", "init")
        seconds, out, peak = timed(*HSSK, "--db", url, "run", str(data), "--json")
        summary = json.loads(out.stdout)
        result["run"] = {"seconds": seconds, "stages": summary["seconds"],
                         "records": summary["read"], "rejected": summary["rejected"],
                         "peak_rss_mb": peak,
                         **score(url, work, data / "_truth" / "ground_truth.csv", "run")}
        result["floor"] = {"registry_csv_files": len(registry),
                           "registry_csv_mb": round(sum(p.stat().st_size for p in registry)
                                                    / 2**20, 1),
                           "pyarrow_read_seconds": arrow_read_seconds(registry)}
        if name is not None:
            copy = psql_copy_seconds(registry, name)
            result["floor"]["psql_copy_seconds"] = copy
        if args.nightly:
            timed(sys.executable, __file__, "--people", str(args.people), "--seed",
                  str(args.seed), "--nightly", str(args.nightly), "--write-nightly", str(data),
                  str(work), *(("--province", args.province) if args.province else ()))
            seconds, out, peak = timed(*HSSK, "--db", url, "run", str(work / "nightly"),
                                       "--json")
            summary = json.loads(out.stdout)
            result["nightly"] = {"seconds": seconds, "stages": summary["seconds"],
                                 "records": summary["read"], "peak_rss_mb": peak,
                                 **score(url, work, work / "truth_all.csv", "nightly")}
    finally:
        drop(name)
    result["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, "
                         f"Python {platform.python_version()}")
    result["work"] = str(work) if args.keep else None
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
