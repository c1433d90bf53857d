"""Synthetic, realistic source files with ground truth, for tests, samples and benchmarks.

``write_samples`` simulates a district (households, year-only births, twins) and writes every
source kind from it with the noise real clerks add, plus ``ground_truth.csv`` mapping each
written row (file, locator) to the simulated resident it describes.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from etl.synth.clinic import write_clinic
from etl.synth.population import Resident, Simulator, province_communes
from etl.synth.sources import (
    write_immunization,
    write_insurance,
    write_registry,
    write_school,
)

WRITERS = {"registry": write_registry, "insurance": write_insurance, "school-exam": write_school,
           "clinic-xml": write_clinic, "immunization": write_immunization}
TRUTH_FILE = Path("_truth") / "ground_truth.csv"


def write_samples(out: Path, *, people: int = 1000, seed: int = 831,
                  kinds: list[str] | None = None, province: str | None = None
                  ) -> dict[str, int]:
    """Write sample files into ``out``; returns rows written per file (and the truth file).
    ``province`` (a GSO code, "38") spreads the residents over every commune of that province
    and writes its registry as one CSV, as a provincial data centre receives it."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    residents = simulate(people, seed, province)
    written: dict[str, int] = {}
    truth: list[tuple[str, str, str]] = []
    for kind in kinds or list(WRITERS):
        # Each kind draws from its own stream, so asking for fewer kinds changes no file.
        rng = random.Random(f"{seed}:{kind}")
        if kind == "registry" and province is not None:
            files, rows = write_registry(out, residents, rng,
                                         one_file=f"registry_{province}.csv")
        else:
            files, rows = WRITERS[kind](out, residents, rng)
        written.update(files)
        truth.extend(rows)
    (out / TRUTH_FILE).parent.mkdir(exist_ok=True)
    with open(out / TRUTH_FILE, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source_file", "locator", "resident_id"])
        writer.writerows(truth)
    written[str(TRUTH_FILE)] = len(truth)
    return written


def simulate(people: int, seed: int, province: str | None = None) -> list[Resident]:
    """Residents of Mường Lát, or of every commune of ``province``."""
    communes = province_communes(province) if province is not None else None
    return Simulator(people, seed, communes=communes).build()
