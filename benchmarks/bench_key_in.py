"""Which rows of a column hold one of a chunk's record keys (:func:`etl.stage.key_in`), as a
run asks it once per chunk of its review pairs (session 16): pandas' ``isin`` (the baseline),
which hashes every key into a table of its own on each call, against looking each value up in
the set the keys are already in. Both must give the same rows.

    python benchmarks/bench_key_in.py [--chunks 40] [--keys 25000] [--pairs 4193]
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
import pandas as pd

from etl.stage import key_in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--keys", type=int, default=25_000)
    parser.add_argument("--pairs", type=int, default=4_193)
    args = parser.parse_args()
    rng = random.Random(16)
    chunks = [{f"registry:{c}:row={r}" for r in range(args.keys)} for c in range(args.chunks)]
    every = [key for keys in chunks for key in keys]
    a = pd.Series(rng.sample(every, args.pairs), dtype=object)
    b = pd.Series(rng.sample(every, args.pairs), dtype=object)

    started = time.perf_counter()
    baseline = [(a.isin(keys) | b.isin(keys)).to_numpy() for keys in chunks]
    isin = time.perf_counter() - started
    started = time.perf_counter()
    looked_up = [(key_in(a, keys) | key_in(b, keys)).to_numpy() for keys in chunks]
    lookups = time.perf_counter() - started
    if not all(np.array_equal(x, y) for x, y in zip(baseline, looked_up, strict=True)):
        raise SystemExit("key_in and isin found different rows")
    print(json.dumps({"chunks": args.chunks, "keys": args.keys, "pairs": args.pairs,
                      "isin_s": round(isin, 3), "key_in_s": round(lookups, 3),
                      "ratio": round(lookups / isin, 3)}))


if __name__ == "__main__":
    main()
