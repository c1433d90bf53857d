"""Benchmark: which name+year pairs in two communes are true, by list and by birth date.

The name+year blocking keys pair namesakes born a year or two apart across a whole province.
Matching leaves some of those pairs out (``etl.match.engine._ListScope``): two rows of one list
in two communes, and two rows of two lists in two communes that give two different full birth
dates. This counts, against the generator's ground truth, every pair the first name+year key
makes before that scope, by class: one list or two, two communes or one, and the birth dates
(both full and equal, both full and different, one partial). Recall lost by the scope is the
true pairs of the classes it leaves out that no shared identifier joins.

    hssk samples -o district --people 1000000 --seed 2030 --province 38
    hssk extract auto district -o extracted && hssk transform extracted -o clean
    python benchmarks/bench_scope.py clean district/_truth/ground_truth.csv
"""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

import numpy as np
import pandas as pd

from etl.match import engine
from etl.match.decide import list_codes
from etl.stage import read_stage


def residents(records: pd.DataFrame, frame: pd.DataFrame, truth: Path) -> np.ndarray:
    """Each row of ``frame``: its resident's code in the ground truth (-1 where unknown)."""
    known = pd.read_csv(truth, dtype=str)
    of_key = pd.Series(records["source_file"].astype(str).to_numpy() + "|"
                       + records["locator"].astype(str).to_numpy(),
                       index=records["record_key"].to_numpy())
    resident = pd.Series(known["resident_id"].to_numpy(),
                         index=(known["source_file"] + "|" + known["locator"]).to_numpy())
    found = resident.reindex(of_key.reindex(frame["record_key"].to_numpy()).to_numpy())
    return pd.factorize(found.to_numpy(), use_na_sentinel=True)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clean", type=Path, help="a transformed stage folder")
    parser.add_argument("truth", type=Path, help="the generator's ground_truth.csv")
    args = parser.parse_args()
    records = read_stage(args.clean, "transform").records
    frame = engine.prepare(engine.batch_frame(records).assign(person_id=None))
    resident = residents(records, frame, args.truth)
    n = len(frame)
    is_new = np.ones(n, dtype=bool)
    lists = list_codes(frame)
    communes = pd.factorize(frame["commune_code"], use_na_sentinel=True)[0]
    keys = engine.blocking_keys(frame)
    dates = engine._key_codes(keys["birth date"])
    identified = np.sort(engine._pair_codes(
        engine.identifier_pairs(frame, is_new)[["i", "j"]].to_numpy(), n))
    key = keys[engine.NAME_YEAR_KEYS[0]]
    pairs, _ = engine._block_pairs(key, is_new, engine.MAX_BLOCK)
    i, j = pairs[:, 0], pairs[:, 1]
    true = (resident[i] >= 0) & (resident[i] == resident[j])
    joined = np.isin(engine._pair_codes(pairs, n), identified)
    one_list = (lists[i] >= 0) & (lists[i] == lists[j])
    apart = (communes[i] >= 0) & (communes[j] >= 0) & (communes[i] != communes[j])
    full = (dates[i] >= 0) & (dates[j] >= 0)
    classes = {}
    for lists_name, by_list in (("one list", one_list), ("two lists", ~one_list)):
        for place, by_place in (("two communes", apart), ("one commune or unknown", ~apart)):
            for date, by_date in (("same full date", full & (dates[i] == dates[j])),
                                  ("two full dates", full & (dates[i] != dates[j])),
                                  ("a date not full", ~full)):
                mask = by_list & by_place & by_date
                classes[f"{lists_name}, {place}, {date}"] = {
                    "pairs": int(mask.sum()), "true": int((mask & true).sum()),
                    "true_without_identifier": int((mask & true & ~joined).sum())}
    print(json.dumps({"records": n, "key": engine.NAME_YEAR_KEYS[0], "pairs": len(pairs),
                      "classes": classes,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024},
                     indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
