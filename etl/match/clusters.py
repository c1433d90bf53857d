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

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from etl.match.decide import distinct_codes
from etl.stage import shared

_EMPTY: frozenset = frozenset()


class _Facts:
    """One kind of fact per root: what each row says (``single``: one value, or ``None``)
    until the row's cluster absorbs another, then the union (``merged``). Rows are read
    lazily: a province's million rows mostly stay alone, and a set built per row per fact
    took seconds and gigabytes. Sets are never changed in place — a union builds the root's
    new set."""

    __slots__ = ("single", "merged", "make")

    def __init__(self, single: list, make: Callable[[Any], Any] | None = None) -> None:
        self.single, self.merged, self.make = single, {}, make

    def __getitem__(self, root: int) -> frozenset:
        merged = self.merged.get(root)
        if merged is not None:
            return merged
        value = self.single[root]
        if value is None:
            return _EMPTY
        return frozenset((value if self.make is None else self.make(value),))

    def __setitem__(self, root: int, facts: frozenset) -> None:
        self.merged[root] = facts

    def absorb(self, root: int, other: int) -> None:
        """``root``'s cluster takes ``other``'s facts; ``other`` (no longer a root) keeps none.
        Nothing is written when ``other`` holds no fact (most rows, for most kinds)."""
        facts = self.merged.get(other)
        if facts is None:
            value = self.single[other]
            if value is None:
                return
            facts = frozenset((value if self.make is None else self.make(value),))
        elif not facts:
            return
        self.merged[root] = self[root] | facts
        self.merged[other] = _EMPTY

    def first(self, rows: np.ndarray) -> np.ndarray:
        """One fact of each of ``rows`` (ascending), or ``None``: for facts a cluster holds at
        most one of (its person), without building a set per row."""
        out = np.array(self.single, dtype=object)[rows]
        if self.merged:
            merged = np.fromiter(self.merged, dtype=np.int64, count=len(self.merged))
            at = np.searchsorted(rows, merged)
            hit = at < len(rows)
            hit[hit] = rows[at[hit]] == merged[hit]
            out[at[hit]] = [next(iter(self.merged[r]), None) for r in merged[hit].tolist()]
        return out


class _Kin:
    """Per root, given names by mother and by household head ({("m", mother): {given}}): a
    row's own from its columns until its cluster absorbs another (see :class:`_Facts`)."""

    __slots__ = ("given", "mother", "head", "merged")

    def __init__(self, given: list, mother: list, head: list) -> None:
        self.given, self.mother, self.head = given, mother, head
        self.merged: dict[int, dict | None] = {}

    def __getitem__(self, root: int) -> dict | None:
        if root in self.merged:
            return self.merged[root]
        given = self.given[root]
        if not isinstance(given, str):
            return None
        kin = {(tag, v): {given} for tag, v in (("m", self.mother[root]),
                                                ("h", self.head[root])) if isinstance(v, str)}
        return kin or None

    def __setitem__(self, root: int, kin: dict | None) -> None:
        self.merged[root] = kin


def _strings(values: pd.Series) -> list:
    """Non-empty texts as they are, everything else ``None``."""
    return [v if isinstance(v, str) and v else None for v in values.tolist()]


def _date(code: int) -> tuple[int, int, int]:
    return code // 10_000, code // 100 % 100, code % 100


class Clusters:
    def __init__(self, frame: pd.DataFrame, apart: pd.DataFrame | None = None,
                 lists: np.ndarray | None = None) -> None:
        """``lists`` holds each row's list of people (an integer, -1 for none): the file of a
        source kind that names each person once."""
        n = len(frame)
        self.list_of = lists if lists is not None else np.full(n, -1)
        self.lists = _Facts([None if k < 0 else k for k in self.list_of.tolist()])
        self.kin = _Kin(frame["given_key"].tolist(), frame["mother_key"].tolist(),
                        frame["head_other"].tolist())
        # A list, not an array: :meth:`find` reads it an element at a time, tens of thousands
        # of times per run, and a NumPy scalar is slow to take out and compare.
        self.parent = list(range(n))
        valid = (frame["personal_id_status"] == "valid").to_numpy()
        self.pids = _Facts([p if ok else None for p, ok in zip(
            _strings(frame["personal_id"]), valid.tolist(), strict=True)])
        self.insurance = _Facts(_strings(frame["social_insurance_code"]))
        self.persons = _Facts(_strings(frame["person_id"]))
        y, mo, d = (frame[c].to_numpy(float) for c in ("birth_year", "birth_month",
                                                        "birth_day"))
        dated = ~(np.isnan(y) | np.isnan(mo) | np.isnan(d))
        code = np.where(dated, np.nan_to_num(y) * 10_000 + np.nan_to_num(mo) * 100
                        + np.nan_to_num(d), -1).astype(np.int64)
        # Birth dates and years as one object per distinct value (:func:`etl.stage.shared`): a
        # province's 3.7 million rows were an integer object each, 28 bytes, for a few
        # thousand values.
        self.dates = _Facts(shared([c if c >= 0 else None for c in code.tolist()]).tolist(),
                            _date)
        self.sexes = _Facts([x if x in ("M", "F") else None for x in frame["sex_any"].tolist()])
        self.years = _Facts(shared([None if v != v else int(v) for v in y.tolist()]).tolist())
        # Rows an analyst declared different people, by row: never one cluster.
        self.apart = _Facts([None] * n)
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
        root = np.array(self.parent, dtype=np.int64)
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
        for facts in (self.pids, self.persons, self.dates, self.sexes, self.years, self.apart,
                      self.lists, self.insurance):
            facts.absorb(ra, rb)
        if self.kin[rb]:
            kin = self.kin[ra] if self.kin[ra] is not None else {}
            for k, names in self.kin[rb].items():
                kin[k] = kin.get(k, set()) | names
            self.kin[ra], self.kin[rb] = kin, None
        return True
