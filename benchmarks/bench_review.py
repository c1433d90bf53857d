"""Benchmark: the analysts' loop on a generated district, answered by a simulated analyst.

Generates a district, runs ``hssk run`` into a fresh SQLite database, exports the whole review
queue (``hssk review export``), answers every pair from the ground truth in the workbook as a
person would (``same`` / ``different`` in the ``decision`` column), imports it (``hssk review
import``) and scores the links before and after; then ``hssk match --full`` must change no link.
Reports the queue's size, its true-match share (and what the matcher expected), precision and
recall before and after, and the seconds each step took.

    python benchmarks/bench_review.py --people 40000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import pandas as pd

from etl.synth.evaluate import evaluate

HSSK = [sys.executable, "-m", "etl.cli"]


def hssk(url: str, *args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([*HSSK, "--db", url, *args], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise SystemExit(f"hssk {' '.join(args)} failed:\n{out.stderr}")
    return out


def answer(workbook: Path, truth: dict[tuple[str, str], str]) -> tuple[int, int]:
    """Fill every decision from the truth; returns (pairs, of which the same person)."""
    wb = openpyxl.load_workbook(workbook)
    ws = wb["review"]
    header = [c.value for c in ws[1]]
    col = {name: header.index(name) + 1 for name in ("record_a", "record_b", "decision")}
    pairs = same = 0
    for row in range(2, ws.max_row + 1):
        refs = [str(ws.cell(row, col[k]).value) for k in ("record_a", "record_b")]
        who = [truth.get(tuple(r.rsplit(":", 1))) for r in refs]
        is_same = who[0] is not None and who[0] == who[1]
        ws.cell(row, col["decision"]).value = "same" if is_same else "different"
        pairs += 1
        same += is_same
    wb.save(workbook)
    return pairs, same


def links_score(url: str, work: Path, name: str, data: Path) -> dict[str, float]:
    links = work / f"{name}.csv"
    hssk(url, "-q", "export", "links", "-o", str(links))
    overall = evaluate(links, data / "_truth" / "ground_truth.csv")["overall"]
    return {k: overall[k] for k in ("precision", "recall", "f1", "predicted_pairs")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=2027)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hssk-review-"))
    data = work / "district"
    subprocess.run([*HSSK, "-q", "samples", "-o", str(data), "--people", str(args.people),
                    "--seed", str(args.seed)], check=True)
    url = f"sqlite:///{work / 'hssk.db'}"
    hssk(url, "-q", "init")
    seconds = {}
    start = time.perf_counter()
    hssk(url, "-q", "run", str(data))
    seconds["run"] = round(time.perf_counter() - start, 1)
    before = links_score(url, work, "before", data)
    workbook = work / "review.xlsx"
    start = time.perf_counter()
    exported = hssk(url, "review", "export", "-o", str(workbook)).stdout.strip()
    seconds["review export"] = round(time.perf_counter() - start, 1)
    truth_frame = pd.read_csv(data / "_truth" / "ground_truth.csv", dtype=str)
    truth = {(f, loc): r for f, loc, r in truth_frame[["source_file", "locator",
                                                       "resident_id"]].itertuples(index=False)}
    pairs, same = answer(workbook, truth)
    start = time.perf_counter()
    imported = hssk(url, "review", "import", str(workbook), "--json").stdout
    seconds["review import"] = round(time.perf_counter() - start, 1)
    after = links_score(url, work, "after", data)
    start = time.perf_counter()
    relinked = json.loads(hssk(url, "match", "--full", "--json").stdout)
    seconds["match --full"] = round(time.perf_counter() - start, 1)
    relinked_score = links_score(url, work, "relinked", data)
    print(json.dumps({
        "people": args.people, "seed": args.seed, "queue_pairs": pairs,
        "queue_true_share": round(same / pairs, 3) if pairs else None,
        "export_says": exported, "before": before, "after_review": after,
        "import": {k: v if k not in ("changes", "refusals") else len(v)
                   for k, v in json.loads(imported).items()},
        "match_full_records_moved": relinked["records_moved"],
        "after_match_full": relinked_score, "seconds": seconds}, indent=2))


if __name__ == "__main__":
    main()
