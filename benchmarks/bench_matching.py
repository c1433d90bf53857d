"""Benchmark: accuracy, time and memory of identity resolution on a generated district.

Generates a district (every source kind, ground truth included), runs `hssk run` into a fresh
SQLite database, exports the links and scores them pairwise against the truth, overall and per
source pair. Baselines in the same run: linking on identifiers alone (`--link-threshold` set out
of reach), and — when the `splink` package is installed (benchmark-only dependency) — Splink
with a generic configuration on the same clean records.

    python benchmarks/bench_matching.py --people 40000
    python benchmarks/bench_matching.py --people 40000 --splink   # needs: pip install splink
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
from pathlib import Path

from etl.synth.evaluate import evaluate

HSSK = [sys.executable, "-m", "etl.cli"]


def hssk_run(data: Path, work: Path, name: str, *extra: str) -> dict[str, object]:
    url = f"sqlite:///{work / (name + '.db')}"
    subprocess.run([*HSSK, "--db", url, "-q", "init"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run([*HSSK, "--db", url, "run", str(data), "--json", *extra],
                         capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr)
    summary = json.loads(out.stdout)
    links = work / f"{name}.links.csv"
    subprocess.run([*HSSK, "--db", url, "-q", "export", "links", "-o", str(links)], check=True)
    scores = evaluate(links, data / "_truth" / "ground_truth.csv")
    return {"seconds": round(elapsed, 1), "seconds_by_stage": summary["seconds"],
            "peak_rss_mb": round(max(peak, before) / 1024), "records": summary["read"],
            "rejected": summary["rejected"], "persons": scores["persons_predicted"],
            "residents": scores["residents_true"], "overall": scores["overall"],
            "by_source_pair": scores["by_source_pair"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--splink", action="store_true", help="also run Splink (if installed)")
    parser.add_argument("--kind", action="append", dest="kinds",
                        help="source kinds to generate (default: the four of issue 6: registry, "
                             "insurance, school-exam, clinic-xml)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hssk-match-"))
    try:
        data = work / "district"
        kinds = args.kinds or ["registry", "insurance", "school-exam", "clinic-xml"]
        subprocess.run([*HSSK, "-q", "samples", "-o", str(data), "--people", str(args.people),
                        "--seed", str(args.seed), *[a for k in kinds for a in ("--kind", k)]],
                       check=True)
        result = {"people": args.people, "kinds": kinds, "hssk": hssk_run(data, work, "hssk"),
                  "ids_only": hssk_run(data, work, "ids", "--link-threshold", "1e9")}
        result["f1_gain_over_ids_only"] = round(
            result["hssk"]["overall"]["f1"] - result["ids_only"]["overall"]["f1"], 4)
        if args.splink:
            from splink_baseline import run_splink  # noqa: PLC0415 - optional dependency

            result["splink"] = run_splink(data, work)
        result["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, "
                             f"Python {platform.python_version()}")
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
