"""Benchmark: time and peak memory of extracting one large registry CSV (a province's register).

The file is generated (never real data): N rows in the commune registry layout, 13 columns of
Vietnamese names, birth dates, sex, CCCD-like personal ID numbers, ethnic groups, household
heads, addresses and phone numbers, drawn vectorised from the simulated district's pools
(``etl.synth``), so a million rows take seconds. Extract alone is measured in a child process
(``iter_extract(..., chunk_records=25000)``, each chunk dropped as it comes): wall time and the
child's peak RSS. Baseline in the same run, also in its own child: ``pyarrow.csv.read_csv`` of
the same file, the floor of reading it into columns. The file is written by a child too: on
Linux a child's ru_maxrss starts from its parent's peak (exec keeps the high-water mark), so the
parent stays small.

    python benchmarks/bench_extract_csv.py                 # 1,000,000 rows (~250 MB)
    python benchmarks/bench_extract_csv.py --rows 100000   # memory should not grow with rows
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

import numpy as np
import pandas as pd

from etl.synth.population import COMMUNES, GROUPS
from etl.synth.sources import ETHNIC_NAMES, REGISTRY_HEADERS

RELATIONS = ["Chủ hộ", "Vợ", "Chồng", "Con", "Con", "Con", "Cháu", "Mẹ", "Bố", "Con dâu"]


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> pd.Series:
    return pd.Series(np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)])


def _names(rng: np.random.Generator, n: int, male: np.ndarray) -> pd.Series:
    """Full names from the ethnic groups' syllable pools, middle names by sex."""
    family = sorted({f for g in GROUPS.values() for f in g[1]})
    middles = [sorted({m for g in GROUPS.values() for m in g[k]} - {""}) for k in (2, 3)]
    givens = [sorted({m for g in GROUPS.values() for m in g[k]}) for k in (4, 5)]
    middle = _pick(rng, middles[0], n).where(male, _pick(rng, middles[1], n))
    given = _pick(rng, givens[0], n).where(male, _pick(rng, givens[1], n))
    return _pick(rng, family, n) + " " + middle + " " + given


def registry_frame(rows: int, seed: int) -> pd.DataFrame:
    """``rows`` synthetic registry rows (strings, as a clerk's export holds them)."""
    rng = np.random.default_rng(seed)
    male = pd.Series(rng.random(rows) < 0.5)
    born = pd.Timestamp("1930-01-01") + pd.to_timedelta(rng.integers(0, 33_000, rows), unit="D")
    born = pd.Series(born)
    century = np.where(born.dt.year >= 2000, 2, 0) + np.where(male, 0, 1)
    pid = (pd.Series(np.char.mod("038%d", century)) + born.dt.strftime("%y")
           + pd.Series(np.char.mod("%06d", rng.integers(0, 10**6, rows))))
    communes = list(COMMUNES.values())
    which = rng.integers(0, len(communes), rows)
    village = pd.Series([communes[c][2][v % len(communes[c][2])]
                         for c, v in zip(which, rng.integers(0, 5, rows), strict=True)])
    address = (village + ", xã " + pd.Series([communes[c][0] for c in which])
               + ", huyện Mường Lát, tỉnh Thanh Hóa")
    phone = pd.Series(np.char.mod("09%08d", rng.integers(0, 10**8, rows))).where(
        rng.random(rows) < 0.6, "")
    frame = pd.DataFrame({
        "STT": np.arange(1, rows + 1).astype(str), "pid": pid.where(rng.random(rows) < 0.97, ""),
        "name": _names(rng, rows, male), "born": born.dt.strftime("%d/%m/%Y"),
        "sex": np.where(male, "Nam", "Nữ"), "ethnicity": _pick(rng, list(ETHNIC_NAMES.values()), rows),
        "religion": "Không", "nationality": "Việt Nam", "permanent": address, "current": address,
        "head": _names(rng, rows, pd.Series(rng.random(rows) < 0.8)),
        "relation": _pick(rng, RELATIONS, rows), "phone": phone,
    })
    frame.columns = REGISTRY_HEADERS
    return frame


def write_registry(path: Path, rows: int, seed: int) -> None:
    """The register as UTF-8 CSV with a byte-order mark (what Excel's "CSV UTF-8" writes)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        for start in range(0, rows, 250_000):
            frame = registry_frame(min(250_000, rows - start), seed + start)
            frame["STT"] = np.arange(start + 1, start + len(frame) + 1).astype(str)
            frame.to_csv(fh, index=False, header=start == 0, lineterminator="\r\n")


def measure_extract(path: Path) -> dict[str, object]:
    from etl.extract import iter_extract

    start = time.perf_counter()
    records = rejects = chunks = 0
    for chunk in iter_extract([path], chunk_records=25_000):
        records += len(chunk.records)
        rejects += len(chunk.rejects)
        chunks += 1
        del chunk
    return {"seconds": time.perf_counter() - start, "records": records, "rejects": rejects,
            "chunks": chunks}


def measure_pyarrow(path: Path) -> dict[str, object]:
    import pyarrow.csv as pacsv

    start = time.perf_counter()
    table = pacsv.read_csv(path)
    return {"seconds": time.perf_counter() - start, "records": table.num_rows}


def child(what: str, path: Path, *args: str) -> dict[str, object]:
    """Run one step in a fresh interpreter; its time and peak RSS come back as JSON."""
    out = subprocess.run([sys.executable, __file__, "--child", what, str(path), *args],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_child(what: str, path: Path, args: list[str]) -> None:
    start = time.perf_counter()
    if what == "write":
        write_registry(path, int(args[0]), int(args[1]))
        result: dict[str, object] = {"seconds": time.perf_counter() - start}
    else:
        result = (measure_extract if what == "extract" else measure_pyarrow)(path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # WHAT PATH [ARGS]
    args = parser.parse_args()
    if args.child:
        run_child(args.child[0], Path(args.child[1]), args.child[2:])
        return
    work = Path(tempfile.mkdtemp(prefix="hssk-csv-"))
    try:
        path = work / "dan_cu_tinh.csv"
        written = child("write", path, str(args.rows), str(args.seed))["seconds"]
        size_mb = path.stat().st_size / 2**20
        extract = child("extract", path)
        arrow = child("pyarrow", path)
        print(json.dumps({
            "rows": args.rows, "file_mb": round(size_mb), "write_s": round(written, 1),
            "extract_s": round(extract["seconds"], 1),
            "extract_peak_rss_mb": round(extract["peak_rss_mb"]),
            "extract_records": extract["records"], "extract_rejects": extract["rejects"],
            "extract_chunks": extract["chunks"],
            "pyarrow_read_csv_s": round(arrow["seconds"], 2),
            "pyarrow_peak_rss_mb": round(arrow["peak_rss_mb"]),
            "ratio_extract_to_pyarrow_s": round(extract["seconds"] / arrow["seconds"], 1),
            "extract_rss_over_file_size": round(extract["peak_rss_mb"] / size_mb, 2),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}",
        }, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
