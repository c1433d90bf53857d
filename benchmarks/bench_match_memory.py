"""Where a run's match holds its memory: RSS at each step of matching a registry's records as a
first run (empty master index), sampled from outside the matching process.

``stage`` extracts and transforms a folder as ``hssk run`` does (chunks of 25,000 records) and
writes each chunk's identity frame (:func:`etl.match.engine.batch_frame`) as Parquet, once.
``match`` reads them back as a run holds them (each packed, then all unpacked at once, as
a run does, with the C heap trimmed after) and calls
:func:`etl.match.engine.match_records` in a child process; this process reads the child's RSS
from ``/proc`` every 5 ms (a sampler inside the child would wait for the interpreter lock
through long NumPy and pandas calls and miss their peaks) while the child marks the start and
end of each step. Each step's line gives the RSS when it started and ended and the highest RSS
seen while it ran; the result's persons are hashed, so two versions of the code can be shown
to link the same.

    hssk -q samples -o reg37 --people 3700000 --seed 2026 --kind registry --province 38
    python benchmarks/bench_match_memory.py stage reg37 frames37
    python benchmarks/bench_match_memory.py match frames37
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

PAGE = os.sysconf("SC_PAGE_SIZE")
# The steps of a match, as module attributes looked up when called (so wrapping them times
# each call): the stacking, the pairs, the model, the links and the persons.
STEPS = {
    "etl.match.engine": ["_stacked", "prepare", "identifier_pairs", "list_codes",
                         "candidate_pairs", "blocking_keys", "_block_pairs", "_block_codes",
                         "_merged", "unscored_pairs", "_ListScope", "columns", "estimate",
                         "Clusters", "_link_certain", "link_fuzzy", "link_analysts",
                         "assign_persons", "review_queue", "decide", "fit_calibration",
                         "identity_clash"],
    "etl.match.decide": ["_ambiguous", "PairFacts"],
}


def stage(folder: Path, out: Path) -> None:
    """Each chunk's identity frame of ``folder`` as ``out/<k>.parquet``, made by the run's own
    extract and transform (the transform in its helper process, as a run does)."""
    from etl.pipeline import Inputs, RunSummary, Staged, _Run

    class Frames(Staged):
        """The identity frames only: the clean chunks a run would spill are not needed."""

        def add(self, number: int, data: Any) -> None:
            from etl.match.engine import batch_frame
            batch_frame(data.records.reset_index(drop=True)).to_parquet(
                out / f"{len(self.items):05d}.parquet")
            self.items.append((number, Path()))

    out.mkdir(parents=True, exist_ok=True)
    from etl.executors import prepared
    state = _Run(RunSummary(command="run", database="-", dry_run=True), None, None, None)
    frames = Frames(out)
    state.prepare(0, Inputs([folder]), prepared([folder], chunk_records=25_000), frames, None,
                  policy=None)
    print(json.dumps({"chunks": len(frames.items), "seconds": state.summary.seconds}))


def _read(frames: Path) -> pd.DataFrame:
    """The staged frames as a run hands them to the match: each chunk packed as the run holds
    it (:func:`etl.stage.packed`), then all of them unpacked at once."""
    from etl.match.engine import release_freed_memory
    from etl.stage import REPEATED_TEXTS, packed, unpacked

    frame = unpacked([packed(pd.read_parquet(path))
                      for path in sorted(frames.glob("*.parquet"))], REPEATED_TEXTS)
    release_freed_memory()
    return frame


def child(frames: Path, marks: Path) -> None:
    """Match the staged frames, writing ``time step start|end`` lines to ``marks``."""
    import importlib

    sink = marks.open("w", buffering=1)

    def mark(step: str, edge: str) -> None:
        sink.write(f"{time.monotonic():.6f}\t{step}\t{edge}\n")

    def wrapped(name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            mark(name, "start")
            try:
                return fn(*args, **kwargs)
            finally:
                mark(name, "end")
        return call

    for module_name, names in STEPS.items():
        module = importlib.import_module(module_name)
        for name in names:
            if hasattr(module, name):
                setattr(module, name, wrapped(name, getattr(module, name)))
    from etl.load.master import empty_master
    from etl.match.decide import Thresholds
    from etl.match.engine import match_records

    mark("read", "start")
    batch = _read(frames)
    mark("read", "end")
    mark("match_records", "start")
    result, review, stats = match_records(batch, empty_master(), Thresholds(), None,
                                          consume=True)
    mark("match_records", "end")
    del batch
    persons = result["person_id"].sort_index()
    rules = result["match_rule"].reindex(persons.index).to_numpy()
    # (hashed a slice at a time: the text of every line at once was 200 MB over the match's
    # peak at 3.7 M)
    digest = hashlib.sha256()
    keys, ids = persons.index.to_numpy(), persons.to_numpy()
    for start in range(0, len(keys), 100_000):
        lines = "\n".join(f"{k}\t{p}\t{r}" for k, p, r in zip(
            keys[start:start + 100_000], ids[start:start + 100_000],
            rules[start:start + 100_000], strict=True))
        digest.update((("\n" if start else "") + lines).encode())
    print(json.dumps({"records": len(result), "persons": int(persons.nunique()),
                      "review_pairs": len(review), "scored_pairs": stats.get("scored_pairs"),
                      "links_sha": digest.hexdigest()[:16]}))


def match(frames: Path) -> None:
    with tempfile.TemporaryDirectory() as work:
        marks = Path(work) / "marks.tsv"
        proc = subprocess.Popen([sys.executable, __file__, "_child", str(frames), str(marks)],
                                stdout=subprocess.PIPE, text=True)
        samples: list[tuple[float, int]] = []
        statm = Path(f"/proc/{proc.pid}/statm")
        while proc.poll() is None:
            try:
                rss = int(statm.read_text().split()[1]) * PAGE
            except (OSError, IndexError):
                break
            samples.append((time.monotonic(), rss))
            time.sleep(0.005)
        out = proc.communicate()[0]
        if proc.returncode:
            raise SystemExit(f"the match failed (exit {proc.returncode})")
        lines = [line.split("\t") for line in marks.read_text().splitlines()]
    result = json.loads(out.strip().splitlines()[-1])
    stack: list[tuple[str, float]] = []
    rows = []
    times = [t for t, _ in samples]

    def rss_at(t: float) -> int:
        import bisect
        k = max(0, bisect.bisect_right(times, t) - 1)
        return samples[k][1] if samples else 0

    for t, step, edge in lines:
        at = float(t)
        if edge == "start":
            stack.append((step, at))
            continue
        name, began = stack.pop()
        inside = [r for s, r in samples if began <= s <= at]
        rows.append({"began": began, "step": "  " * len(stack) + name,
                     "seconds": round(at - began, 2),
                     "start_mb": rss_at(began) >> 20, "end_mb": rss_at(at) >> 20,
                     "peak_mb": (max(inside) if inside else rss_at(at)) >> 20})
    peak = max(r for _, r in samples) >> 20
    print(json.dumps({**result, "peak_rss_mb": peak}))
    for row in sorted(rows, key=lambda r: r["began"]):
        print(f"{row['step']:<28} {row['seconds']:>8.2f} s  start {row['start_mb']:>6} MB  "
              f"peak {row['peak_mb']:>6} MB  end {row['end_mb']:>6} MB")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stage")
    s.add_argument("folder", type=Path)
    s.add_argument("out", type=Path)
    m = sub.add_parser("match")
    m.add_argument("frames", type=Path)
    args = parser.parse_args()
    if args.command == "stage":
        stage(args.folder, args.out)
    else:
        match(args.frames)


if __name__ == "__main__":
    main()
