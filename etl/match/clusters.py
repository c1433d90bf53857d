"""Union-find over records whose roots remember the facts that forbid a merge.

A cluster refuses to absorb another when together they would hold two valid personal ID
numbers, two existing persons, or — for fuzzy links — two sexes, two different exact birth
dates (a day/month swap excepted), or two records an analyst declared different people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class Clusters:
    def __init__(self, frame: pd.DataFrame, apart: pd.DataFrame | None = None) -> None:
        n = len(frame)
        self.parent = np.arange(n)
        self.pids: list[set] = [set() for _ in range(n)]
        self.persons: list[set] = [set() for _ in range(n)]
        self.dates: list[set] = [set() for _ in range(n)]
        self.sexes: list[set] = [set() for _ in range(n)]
        self.years: list[set] = [set() if y != y else {int(y)} for y in frame["birth_year"]]
        # Rows an analyst declared different people, by row: never one cluster.
        self.apart: list[set] = [set() for _ in range(n)]
        rows = zip(frame["personal_id"], frame["personal_id_status"], frame["person_id"],
                   frame["birth_year"], frame["birth_month"], frame["birth_day"],
                   frame["sex_any"], strict=True)
        for i, (pid, status, person, y, mo, d, sex) in enumerate(rows):
            if pid and status == "valid":
                self.pids[i].add(pid)
            if person:
                self.persons[i].add(person)
            if d == d and mo == mo and y == y:
                self.dates[i].add((int(y), int(mo), int(d)))
            if sex in ("M", "F"):
                self.sexes[i].add(sex)
        if apart is not None:
            for i, j in apart[["i", "j"]].itertuples(index=False):
                self.apart[int(i)].add(int(j))
                self.apart[int(j)].add(int(i))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def kept_apart(self, a: int, b: int) -> bool:
        """An analyst declared a record of ``a``'s cluster and one of ``b``'s different."""
        ra, rb = self.find(a), self.find(b)
        small, other = (ra, rb) if len(self.apart[ra]) <= len(self.apart[rb]) else (rb, ra)
        return any(self.find(x) == other for x in self.apart[small])

    def can_merge(self, a: int, b: int, fuzzy: bool) -> bool:
        if len(self.pids[a] | self.pids[b]) > 1 or len(self.persons[a] | self.persons[b]) > 1:
            return False
        if self.kept_apart(a, b):
            return False
        if not fuzzy:
            return True
        if len(self.sexes[a] | self.sexes[b]) > 1:
            return False
        da, db = self.dates[a], self.dates[b]
        swapped = any((y, d, m) in db for y, m, d in da)
        return not (da and db and not (da & db) and not swapped)

    def identity_conflict(self, a: int, b: int) -> bool:
        """Two sexes, or birth years more than one apart: a facility's patient id (MA_BN) shared
        by such records is a re-used or mistyped id, not one person."""
        ra, rb = self.find(a), self.find(b)
        if len(self.sexes[ra] | self.sexes[rb]) > 1:
            return True
        ya, yb = self.years[ra], self.years[rb]
        return bool(ya and yb) and all(abs(x - y) > 1 for x in ya for y in yb)

    def union(self, a: int, b: int, fuzzy: bool) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not self.can_merge(ra, rb, fuzzy):
            return False
        self.parent[rb] = ra
        for attr in ("pids", "persons", "dates", "sexes", "years", "apart"):
            getattr(self, attr)[ra] |= getattr(self, attr)[rb]
            getattr(self, attr)[rb] = set()
        return True
