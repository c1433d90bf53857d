"""Pairwise precision, recall and F1 of a linking against the generator's ground truth.

A pair of source records is a true pair when the truth says one resident, a predicted pair when
the links give one person id. Rows that were rejected are left out of both. Scores are also
broken down by source pair (registry–insurance, clinic-xml–school-exam, …).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations_with_replacement
from pathlib import Path

import pandas as pd

KIND_OF_FILE = [("registry_", "registry"), ("bhxh_", "insurance"), ("khamsk_", "school-exam"),
                ("xml_", "clinic-xml"), ("tiemchung_", "immunization")]


@dataclass
class Scores:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "true_pairs": self.true_pairs,
                "predicted_pairs": self.predicted_pairs, "correct_pairs": self.correct_pairs}


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise(frame: pd.DataFrame) -> Scores:
    """``frame`` has one row per record with ``truth`` and ``person_id``."""
    return Scores(_pairs(frame.groupby("truth").size()),
                  _pairs(frame.groupby("person_id").size()),
                  _pairs(frame.groupby(["truth", "person_id"]).size()))


def _cross(frame: pd.DataFrame, a: str, b: str) -> Scores:
    """Pairs with one record of kind ``a`` and one of kind ``b`` (a ≠ b) or both of ``a``."""
    if a == b:
        return pairwise(frame[frame["kind"] == a])
    sub = frame[frame["kind"].isin([a, b])]

    def count(keys: list[str]) -> int:
        g = sub.groupby([*keys, "kind"]).size().unstack(fill_value=0)
        if a not in g or b not in g:
            return 0
        return int((g[a] * g[b]).sum())

    return Scores(count(["truth"]), count(["person_id"]), count(["truth", "person_id"]))


def kind_of(file_name: str) -> str:
    return next((k for prefix, k in KIND_OF_FILE if file_name.startswith(prefix)), "other")


def evaluate(links_csv: Path, truth_csv: Path) -> dict[str, object]:
    links = pd.read_csv(links_csv, dtype=str)
    truth = pd.read_csv(truth_csv, dtype=str).rename(columns={"resident_id": "truth"})
    frame = links.merge(truth, on=["source_file", "locator"], how="inner")
    frame["kind"] = frame["source_file"].map(kind_of)
    kinds = sorted(set(frame["kind"]))
    by_pair = {f"{a}~{b}": _cross(frame, a, b).as_dict()
               for a, b in combinations_with_replacement(kinds, 2)}
    return {"records": len(frame), "unmatched_links": len(links) - len(frame),
            "persons_predicted": frame["person_id"].nunique(),
            "residents_true": frame["truth"].nunique(),
            "overall": pairwise(frame).as_dict(), "by_source_pair": by_pair,
            "records_by_kind": dict(Counter(frame["kind"]))}
