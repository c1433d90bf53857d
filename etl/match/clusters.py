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

import array
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from etl.match.decide import distinct_codes, valid_id_codes

_EMPTY: frozenset = frozenset()


def _row_codes(codes: np.ndarray) -> array.array:
    """Integer codes as a C array: four bytes a row (eight where a code needs it), read back as
    Python integers. A list of a province's 3.7 million references (eight bytes, and 28 more
    for each integer object) per fact held half a gigabyte through the whole match."""
    codes = np.asarray(codes, dtype=np.int64)
    narrow = not len(codes) or (int(codes.min()) >= -2**31 and int(codes.max()) < 2**31)
    return array.array("i" if narrow else "q", codes.astype(np.intc if narrow else np.int64
                                                            ).tobytes())


def _as_array(codes: array.array) -> np.ndarray:
    """A code array read by NumPy (no copy)."""
    return np.frombuffer(codes, dtype=np.dtype(codes.typecode))


class _Facts:
    """One kind of fact per root: what each row says (a code in ``single``, -1 for none) until
    the row's cluster absorbs another, then the union (``merged``). A code stands for
    ``values[code]`` where ``values`` is given, ``make(code)`` where ``make`` is, the code
    itself otherwise. Rows are read lazily: a province's million rows mostly stay alone, and a
    set built per row per fact took seconds and gigabytes. Sets are never changed in place —
    a union builds the root's new set. ``single`` ``None``: no row states a fact."""

    __slots__ = ("single", "merged", "values", "make")

    def __init__(self, codes: np.ndarray | None, values: np.ndarray | None = None,
                 make: Callable[[int], Any] | None = None) -> None:
        self.single = None if codes is None else _row_codes(codes)
        self.merged: dict[int, frozenset] = {}
        self.values, self.make = values, make

    def _own(self, row: int) -> frozenset | None:
        """The row's own fact as a set, ``None`` when it states none."""
        code = -1 if self.single is None else self.single[row]
        if code < 0:
            return None
        if self.values is not None:
            return frozenset((self.values[code],))
        return frozenset((code if self.make is None else self.make(code),))

    def __getitem__(self, root: int) -> frozenset:
        merged = self.merged.get(root)
        if merged is not None:
            return merged
        return self._own(root) or _EMPTY

    def __setitem__(self, root: int, facts: frozenset) -> None:
        self.merged[root] = facts

    def absorb(self, root: int, other: int) -> None:
        """``root``'s cluster takes ``other``'s facts; ``other`` (no longer a root) keeps none.
        Nothing is written when ``other`` holds no fact (most rows, for most kinds)."""
        facts = self.merged.get(other)
        if facts is None:
            facts = self._own(other)
            if facts is None:
                return
        elif not facts:
            return
        self.merged[root] = self[root] | facts
        self.merged[other] = _EMPTY

    def first(self, rows: np.ndarray) -> np.ndarray:
        """One fact of each of ``rows`` (ascending), or ``None``: for facts a cluster holds at
        most one of (its person), without building a set per row. Needs ``values``."""
        assert self.values is not None
        out = np.full(len(rows), None, dtype=object)
        if self.single is not None:
            codes = _as_array(self.single)[rows]
            own = codes >= 0
            out[own] = self.values[codes[own]]
        if self.merged:
            merged = np.fromiter(self.merged, dtype=np.int64, count=len(self.merged))
            at = np.searchsorted(rows, merged)
            hit = at < len(rows)
            hit[hit] = rows[at[hit]] == merged[hit]
            out[at[hit]] = [next(iter(self.merged[r]), None) for r in merged[hit].tolist()]
        return out


class _Kin:
    """Per root, given names by mother and by household head ({("m", mother): {given}}): a
    row's own from its columns (codes, -1 where the row has no text) until its cluster absorbs
    another (see :class:`_Facts`)."""

    __slots__ = ("given", "mother", "head", "merged")

    def __init__(self, given: np.ndarray, mother: np.ndarray, head: np.ndarray) -> None:
        self.given, self.mother, self.head = (_row_codes(c) for c in (given, mother, head))
        self.merged: dict[int, dict | None] = {}

    def __getitem__(self, root: int) -> dict | None:
        if root in self.merged:
            return self.merged[root]
        given = self.given[root]
        if given < 0:
            return None
        kin = {(tag, v): {given} for tag, v in (("m", self.mother[root]),
                                                ("h", self.head[root])) if v >= 0}
        return kin or None

    def __setitem__(self, root: int, kin: dict | None) -> None:
        self.merged[root] = kin


def _text_codes(values: pd.Series, empty: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code among the distinct texts of ``values`` (-1 where a row holds no text, or
    an empty one unless ``empty``), and the texts by code: the same texts, the same code."""
    codes, distinct = pd.factorize(values.to_numpy(object), use_na_sentinel=True)
    distinct = np.asarray(distinct, dtype=object)
    text = np.array([isinstance(v, str) and (empty or bool(v)) for v in distinct.tolist()] + [
        False], dtype=bool)  # (the last: a missing value's code, -1)
    return np.where(text[codes], codes, -1), distinct


def _date(code: int) -> tuple[int, int, int]:
    return code // 10_000, code // 100 % 100, code % 100


class Clusters:
    def __init__(self, frame: pd.DataFrame, apart: pd.DataFrame | None = None,
                 lists: np.ndarray | None = None) -> None:
        """``lists`` holds each row's list of people (an integer, -1 for none): the file of a
        source kind that names each person once. Every row's facts are held as codes, four
        bytes a row each (:func:`_row_codes`)."""
        n = len(frame)
        self.list_of = lists if lists is not None else np.full(n, -1)
        self.lists = _Facts(np.maximum(self.list_of, -1))
        self.kin = _Kin(*(_text_codes(frame[c], empty=True)[0]
                          for c in ("given_key", "mother_key", "head_other")))
        # A C array, not a NumPy one: :meth:`find` reads it an element at a time, tens of
        # thousands of times per run, and a NumPy scalar is slow to take out and compare.
        self.parent = _row_codes(np.arange(n))
        self.pids = _Facts(valid_id_codes(frame))  # (compared, never read: codes alone)
        self.insurance = _Facts(*_text_codes(frame["social_insurance_code"]))
        self.persons = _Facts(*_text_codes(frame["person_id"]))
        y, mo, d = (frame[c].to_numpy(float) for c in ("birth_year", "birth_month",
                                                        "birth_day"))
        dated = ~(np.isnan(y) | np.isnan(mo) | np.isnan(d))
        code = np.where(dated, np.nan_to_num(y) * 10_000 + np.nan_to_num(mo) * 100
                        + np.nan_to_num(d), -1).astype(np.int64)
        self.dates = _Facts(np.maximum(code, -1), make=_date)
        sex = frame["sex_any"].to_numpy(object)
        self.sexes = _Facts(np.select([sex == "M", sex == "F"], [0, 1], -1),
                            values=np.array(["M", "F"], dtype=object))
        self.years = _Facts(np.where(np.isnan(y), -1, np.nan_to_num(y)).astype(np.int64))
        # Rows an analyst declared different people, by row: never one cluster.
        self.apart = _Facts(None)
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
        root = _as_array(self.parent).astype(np.int64)
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
