"""Union-find over records whose roots remember the facts that forbid a merge.

A cluster refuses to absorb another when together they would hold two valid personal ID
numbers, two existing persons, or — for fuzzy links — two sexes, two social-insurance codes
(more than a digit apart), two different exact birth dates (a day/month swap excepted), two
rows of one list that names each person once (unless the link is between those two rows itself:
a duplicate registration), two children of one mother or household under given names the two
sides never share (twins "Hiền" and "Diên" joined through a record that names no mother), or
two records an analyst declared different people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.match.decide import distinct_codes

_EMPTY: frozenset = frozenset()


class Clusters:
    def __init__(self, frame: pd.DataFrame, apart: pd.DataFrame | None = None,
                 lists: np.ndarray | None = None) -> None:
        """``lists`` holds each row's list of people (an integer, -1 for none): the file of a
        source kind that names each person once."""
        n = len(frame)
        self.list_of = lists if lists is not None else np.full(n, -1)
        # Each row's facts as a set, one shared empty set where a row has none: a province's
        # million rows mostly lack some of them, and seven sets a row were gigabytes. Sets are
        # never changed in place — a union builds the root's new set.
        self.lists: list[frozenset] = [_EMPTY if k < 0 else frozenset((int(k),))
                                       for k in self.list_of]
        # Per root, given names by mother and by household head ({("m", mother): {given}}),
        # only for rows that name either (None elsewhere: a province's rows stay small).
        self.kin: list[dict | None] = [None] * n
        for i, (given, mother, head) in enumerate(zip(
                frame["given_key"], frame["mother_key"], frame["head_other"], strict=True)):
            if not isinstance(given, str):
                continue
            kin = {(tag, v): {given} for tag, v in (("m", mother), ("h", head))
                   if isinstance(v, str)}
            if kin:
                self.kin[i] = kin
        self.parent = np.arange(n)
        self.pids: list[frozenset] = [
            frozenset((pid,)) if pid and status == "valid" else _EMPTY
            for pid, status in zip(frame["personal_id"], frame["personal_id_status"],
                                   strict=True)]
        self.insurance: list[frozenset] = [
            frozenset((c,)) if isinstance(c, str) and c else _EMPTY
            for c in frame["social_insurance_code"]]
        self.persons: list[frozenset] = [frozenset((p,)) if p else _EMPTY
                                         for p in frame["person_id"]]
        self.dates: list[frozenset] = [
            frozenset(((int(y), int(mo), int(d)),)) if d == d and mo == mo and y == y
            else _EMPTY
            for y, mo, d in zip(frame["birth_year"], frame["birth_month"], frame["birth_day"],
                                strict=True)]
        self.sexes: list[frozenset] = [frozenset((x,)) if x in ("M", "F") else _EMPTY
                                       for x in frame["sex_any"]]
        self.years: list[frozenset] = [_EMPTY if y != y else frozenset((int(y),))
                                       for y in frame["birth_year"]]
        # Rows an analyst declared different people, by row: never one cluster.
        self.apart: list[frozenset] = [_EMPTY] * n
        if apart is not None:
            for i, j in apart[["i", "j"]].itertuples(index=False):
                self.apart[int(i)] = self.apart[int(i)] | {int(j)}
                self.apart[int(j)] = self.apart[int(j)] | {int(i)}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def roots(self) -> np.ndarray:
        """Every row's root at once (pointer doubling over the parent array, not a find per
        row)."""
        root = self.parent.copy()
        while True:
            up = root[root]
            if np.array_equal(up, root):
                return root
            root = up

    def kept_apart(self, a: int, b: int) -> bool:
        """An analyst declared a record of ``a``'s cluster and one of ``b``'s different."""
        ra, rb = self.find(a), self.find(b)
        small, other = (ra, rb) if len(self.apart[ra]) <= len(self.apart[rb]) else (rb, ra)
        return any(self.find(x) == other for x in self.apart[small])

    def can_merge(self, a: int, b: int, fuzzy: bool, rows: tuple[int, int] | None = None
                  ) -> bool:
        """Whether roots ``a`` and ``b`` may become one; ``rows`` are the two records whose
        link asks for it."""
        if len(self.pids[a] | self.pids[b]) > 1 or len(self.persons[a] | self.persons[b]) > 1:
            return False
        if self.kept_apart(a, b):
            return False
        if not fuzzy:
            return True
        ka, kb = self.kin[a], self.kin[b]
        if ka and kb and any(not (ka[k] & kb[k]) for k in ka.keys() & kb.keys()):
            return False
        shared = self.lists[a] & self.lists[b]
        if shared and rows is not None and self.list_of[rows[0]] == self.list_of[rows[1]]:
            shared = shared - {int(self.list_of[rows[0]])}
        if shared:
            return False
        if len(self.sexes[a] | self.sexes[b]) > 1:
            return False
        if any(distinct_codes(x, y) for x in self.insurance[a] for y in self.insurance[b]):
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
        if not self.can_merge(ra, rb, fuzzy, (a, b)):
            return False
        self.parent[rb] = ra
        for attr in ("pids", "persons", "dates", "sexes", "years", "apart", "lists",
                     "insurance"):
            facts = getattr(self, attr)
            if facts[rb]:
                facts[ra] = facts[ra] | facts[rb]
                facts[rb] = _EMPTY
        if self.kin[rb]:
            kin = self.kin[ra] if self.kin[ra] is not None else {}
            for k, names in self.kin[rb].items():
                kin[k] = kin.get(k, set()) | names
            self.kin[ra], self.kin[rb] = kin, None
        return True
