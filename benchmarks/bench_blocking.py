"""Benchmark: recall of the blocking keys, alone and united, on a generated district.

Every true pair of records (same resident in the ground truth) should be a candidate pair of at
least one blocking key or share an identifier; this measures how many are, per key and for the
union, and how many candidate pairs that costs. Baseline in the same run: the number of all
pairs (what comparing everything would cost).

    python benchmarks/bench_blocking.py --people 40000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from etl.extract import extract_files
from etl.match import engine
from etl.transform import transform_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="hssk-block-")) / "district"
    subprocess.run([sys.executable, "-m", "etl.cli", "-q", "samples", "-o", str(data),
                    "--people", str(args.people), "--seed", str(args.seed), "--kind", "registry",
                    "--kind", "insurance", "--kind", "school-exam", "--kind", "clinic-xml"],
                   check=True)
    clean = transform_stage(extract_files([data]).data).records
    truth = pd.read_csv(data / "_truth" / "ground_truth.csv", dtype=str)
    clean = clean.merge(truth, on=["source_file", "locator"], how="left")
    frame = engine.prepare(engine.batch_frame(clean).assign(person_id=None))
    resident = clean["resident_id"].to_numpy(object)
    n = len(frame)
    is_new = np.ones(n, dtype=bool)
    groups = pd.Series(np.arange(n)).groupby(resident).apply(list)
    true_pairs = {(min(a, b), max(a, b)) for members in groups for i, a in enumerate(members)
                  for b in members[i + 1:]}
    ids = engine.identifier_pairs(frame, is_new)
    id_set = set(map(tuple, ids.to_numpy()))
    cands, stats = engine.candidate_pairs(frame, is_new)
    union = set(map(tuple, cands.to_numpy())) | id_set
    covered = len(true_pairs & union)
    print(json.dumps({
        "records": n, "true_pairs": len(true_pairs), "all_pairs": n * (n - 1) // 2,
        "identifier_pairs": len(id_set), "candidate_pairs": len(cands), "per_key": stats,
        "recall_identifiers_only": round(len(true_pairs & id_set) / len(true_pairs), 4),
        "recall_union": round(covered / len(true_pairs), 4),
        "pairs_compared_share_of_all": round(len(union) / (n * (n - 1) // 2), 6),
    }, indent=2))


if __name__ == "__main__":
    main()
