"""How long a run's main process spends in Python's cycle collector (session 16): ``hssk run``
of a folder into a fresh SQLite database, in this process, every collection timed by
``gc.callbacks``. ``--python-thresholds`` runs with Python's own thresholds (700, 10, 10)
instead of the run's (:data:`etl.pipeline.RUN_GC_THRESHOLD`), the baseline. The transform
helper's collections happen in its own process and are not counted.

    python benchmarks/bench_gc.py reg1m [--python-thresholds]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import etl.pipeline
from etl.load.db import connect, migrate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--python-thresholds", action="store_true")
    args = parser.parse_args()
    if args.python_thresholds:
        etl.pipeline.RUN_GC_THRESHOLD = gc.get_threshold()
    spent = {0: 0.0, 1: 0.0, 2: 0.0}
    count = {0: 0, 1: 0, 2: 0}
    began = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            spent[info["generation"]] += time.perf_counter() - began[0]
            count[info["generation"]] += 1

    with tempfile.TemporaryDirectory(prefix="hssk-gc-") as work:
        engine = connect(f"sqlite:///{Path(work) / 'gc.db'}")
        migrate(engine)
        gc.callbacks.append(timed)
        started = time.perf_counter()
        summary = etl.pipeline.run([args.folder], engine)
        seconds = time.perf_counter() - started
        gc.callbacks.remove(timed)
        engine.dispose()
    print(json.dumps({
        "thresholds": list(etl.pipeline.RUN_GC_THRESHOLD), "run_seconds": round(seconds, 1),
        "stages": summary.seconds, "reconciles": summary.reconciles,
        "collections": count, "collector_seconds": {g: round(s, 2) for g, s in spent.items()},
        "collector_total": round(sum(spent.values()), 2)}))


if __name__ == "__main__":
    main()
