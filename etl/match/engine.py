"""Identity resolution: one person, one record — precise, explainable, incremental.

1. The records of this batch are put beside the master index (every record already in the
   database, with its person id), which the pipeline reads through load and hands in.
2. Candidate pairs come from several blocking keys, each capped so a common name never explodes.
3. Identifiers link first: a shared valid personal ID number, social-insurance code or a
   facility's patient id; two different valid personal ID numbers never link, and an analyst's
   "different" is never overruled. Analysts' "same" decisions join last, as the review import
   merged them into a run's persons.
4. The rest is decided by :func:`etl.match.decide.decide` — Fellegi–Sunter weights estimated on
   the data, class priors, hard rules and the ambiguity rule, all declared in
   :mod:`etl.match.declare`.
5. Clusters grow from the most probable links down, refusing any merge that would join two ID
   numbers, two existing persons, two different exact birth dates, two sexes or two records an
   analyst kept apart.
6. Known records keep their person; clusters with an existing person take its id; new
   clusters get a new, stable id. Pairs in the review band between two people go to the
   analysts' queue, ranked by what an answer is worth.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from etl.match.clusters import Clusters
from etl.match.compare import Columns, columns, compare, locality_key, phonetic
from etl.match.decide import (
    LINK,
    LINK_THRESHOLD,
    PAIR_BLOCK,
    REVIEW,
    REVIEW_THRESHOLD,
    Decided,
    PairFacts,
    Thresholds,
    decide,
    fit_calibration,
    list_codes,
    valid_id_codes,
)
from etl.match.declare import BIRTH, FAMILY, GIVEN
from etl.match.model import Model, estimate
from etl.stage import HEAP_POOL, StageData, key_in, map_distinct, object_codes
from etl.text import fold
from etl.text.keys import address_key, name_key
from etl.transform.identifiers import implied_by_personal_id

MAX_BLOCK = 300
REVIEW_COLUMNS = ["record_key_a", "record_key_b", "score", "person_a", "person_b",
                  "probability", "priority", "group_key"]
DECISION_COLUMNS = ["record_key_a", "record_key_b", "decision"]

__all__ = ["LINK_THRESHOLD", "REVIEW_THRESHOLD", "Model", "Thresholds", "match_stage",
           "resolve"]


def new_person_id(record_keys: Iterable[str]) -> str:
    """A stable id for a new person, derived from its first source record: the same files
    loaded into an empty database always give the same ids."""
    first = min(record_keys)
    return hashlib.sha256(first.encode("utf-8")).hexdigest()[:16]


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the comparisons need: phonetic keys, sex also as implied by the ID number —
    added to ``frame`` itself, as :func:`_stacked` makes it (object columns, ``None`` where a
    value is missing, a row index from 0): no copy of a million-record index."""
    out = frame
    for part in ("given", "family"):
        out[f"{part}_ph"] = map_distinct(out[f"{part}_key"], phonetic)
    stated = out["sex"].isin(["M", "F"]).to_numpy()
    sexes = np.where(stated, out["sex"].to_numpy(object), None)
    implied = (~stated & (out["personal_id_status"] == "valid").to_numpy()
               & out["personal_id"].to_numpy(object).astype(bool))
    sexes[implied] = map_distinct(out["personal_id"][implied], _implied_sex).to_numpy(object)
    out["sex_any"] = sexes
    code, first = _distinct_rows(out["full_name"])
    names = out["full_name"].to_numpy(object)[first].tolist()
    for column, index in (("given_marked", -1), ("family_marked", 0)):
        out[column] = _each(names, lambda v, k=index: _marked_part(v, k))[code]
    # The household head says something about a person only when it is someone else: a head's
    # own name repeated in the head column is no extra evidence.
    code, first = _distinct_rows(out["family_key"], out["middle_key"], out["given_key"])
    own = _joined(*(out[c].iloc[first] for c in ("family_key", "middle_key", "given_key")))
    head = out["household_head_key"].to_numpy(object)
    has_head = head.astype(bool)
    out["head_other"] = np.where(has_head & (head != own[code]), head, None)
    code, first = _distinct_rows(out["address_key"], out["commune_code"])
    places = zip(out["address_key"].to_numpy(object)[first].tolist(),
                 out["commune_code"].to_numpy(object)[first].tolist(), strict=True)
    out["locality"] = _each(places, lambda ac: locality_key(*ac))[code]
    for col in ("birth_year", "birth_month", "birth_day"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def _implied_sex(pid: str | None) -> str | None:
    implied = implied_by_personal_id(pid) if pid else None
    return implied[1] if implied else None


def _distinct_rows(*cols: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code among the distinct combinations of ``cols``' values (missing being one
    value: the frame holds ``None`` for it, never NaN) and the first row of each: what is worked
    out from those values alone is worked out once per combination, not once per row (a
    million-record index holds a few thousand addresses and names)."""
    code = np.zeros(len(cols[0]), dtype=np.int64)
    for col in cols:
        codes, distinct = pd.factorize(col.to_numpy(object), use_na_sentinel=False)
        code = pd.factorize(code * max(1, len(distinct)) + codes)[0]
    first = np.empty(int(code.max()) + 1 if len(code) else 0, dtype=np.int64)
    rows = np.arange(len(code))
    first[code[::-1]] = rows[::-1]  # the last write of each code is its first row
    return code, first


def _each(values: Iterable[object], fn: Callable[[object], object]) -> np.ndarray:
    """``fn`` of each value, as an object array."""
    results = [fn(v) for v in values]
    out = np.empty(len(results), dtype=object)
    out[:] = results
    return out


def _joined(*parts: pd.Series) -> np.ndarray:
    """Per row, the non-empty parts joined by spaces (``" ".join(p for p in parts if p)``),
    column by column rather than row by row."""
    out = np.full(len(parts[0]), "", dtype=object)
    for part in parts:
        text = part.to_numpy(object)
        present = text.astype(bool)
        started = out != ""
        out = np.where(present & started, out + " " + np.where(present, text, ""),
                       np.where(present, text, out))
    return out


def _marked_part(full_name: object, index: int) -> str | None:
    """The given (-1) or family (0) name with its marks, when the source wrote marks at all:
    "Lường" and "Lương" are two family names, not a typo (docs/domain.md#names)."""
    if not isinstance(full_name, str) or not full_name or fold(full_name) == full_name.lower():
        return None
    parts = full_name.split(" ")
    if index == 0 and len(parts) < 2:
        return None
    return parts[index].lower()


def _block_pairs(keys: pd.Series, is_new: np.ndarray, cap: int,
                 anchor: np.ndarray | None = None,
                 drop: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, int]:
    """Pairs (i < j) of rows sharing a key, at least one of them new — and, for a key that
    serves only some rows (``anchor``, see :func:`candidate_pairs`), at least one of those;
    oversized blocks skipped; pairs ``drop`` marks (given rows i and j) left out as they are
    made."""
    skipped, slices = _block_slices(keys, is_new, cap, anchor, drop)
    found_i, found_j = [], []
    for i, j in slices:
        found_i.append(i)
        found_j.append(j)
    if not found_i:
        return np.empty((0, 2), dtype=np.int64), skipped
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    pairs = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
    return pairs.astype(np.int64, copy=False), skipped


def _block_codes(keys: pd.Series, is_new: np.ndarray, cap: int, n: int,
                 anchor: np.ndarray | None = None,
                 drop: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> tuple[np.ndarray, int]:
    """:func:`_block_pairs` as pair codes (:func:`_pair_codes` of ``n`` rows), each slice of
    pairs coded as it is made: a province's key of 15 million pairs was held four times over
    as pairs (the slices, joined, ordered, stacked) before it was coded."""
    skipped, slices = _block_slices(keys, is_new, cap, anchor, drop)
    found = [np.minimum(i, j) * n + np.maximum(i, j) for i, j in slices]
    return (np.concatenate(found) if found else np.empty(0, dtype=np.int64)), skipped


def _block_slices(keys: pd.Series, is_new: np.ndarray, cap: int,
                  anchor: np.ndarray | None,
                  drop: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
                  ) -> tuple[int, Iterator[tuple[np.ndarray, np.ndarray]]]:
    """The oversized blocks skipped, and :func:`_block_pairs`' pairs as slices of rows (i, j),
    made as they are read."""
    codes = _key_codes(keys)
    valid = codes >= 0
    sizes = np.bincount(codes[valid])
    wanted = np.bincount(codes[valid], weights=is_new[valid]) > 0
    if anchor is not None:
        wanted &= np.bincount(codes[valid], weights=anchor[valid], minlength=len(sizes)) > 0
    skipped = int((sizes > cap).sum())
    # Only blocks worth pairing go to the loop below: a nightly batch against a master index
    # of a million records touches a few thousand of its blocks, not all of them.
    wanted &= (sizes >= 2) & (sizes <= cap)
    idx = np.flatnonzero(valid)
    idx = idx[wanted[codes[idx]]]
    order = idx[np.argsort(codes[idx], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0]) if len(order) else order
    lengths = np.diff(np.r_[starts, len(order)])
    del codes, valid, idx

    def slices() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # All blocks of one size at once (a row of the matrix per block, a column per
        # member): a province has hundreds of thousands of blocks but a few hundred sizes.
        for size in np.unique(lengths).tolist():
            at = starts[lengths == size]
            members = order[at[:, None] + np.arange(size)]
            a, b = _triangle(size)
            # In slices of blocks, pairs without a new row dropped at once: a nightly batch
            # against a large master keeps a few of each block's pairs, never all together.
            step = max(1, 4_000_000 // max(1, len(a)))
            for start in range(0, len(members), step):
                rows = members[start:start + step]
                i, j = rows[:, a].ravel(), rows[:, b].ravel()
                keep = is_new[i] | is_new[j]
                if anchor is not None:
                    keep &= anchor[i] | anchor[j]
                if drop is not None:
                    keep[keep] = ~drop(i[keep], j[keep])
                yield i[keep], j[keep]
    return skipped, slices()


def _key_codes(keys: pd.Series) -> np.ndarray:
    """Blocking key values as integer codes, -1 for none: rows with equal keys share a code.
    A key :func:`blocking_keys` made is its codes already (integers, -1 for none), as is a
    float key of whole numbers from 0 (NaN for none): neither is hashed again (thirteen keys of
    a million rows); blocks depend on which rows share a code, not on the codes themselves."""
    values = keys.to_numpy() if isinstance(keys, pd.Series) else np.asarray(keys)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        present = values[~np.isnan(values)]
        # codes as :func:`_combined` makes them: whole, from 0, fewer than the rows
        if not len(present) or (present.min() >= 0 and present.max() < len(values)
                                and np.array_equal(present, np.floor(present))):
            return np.where(np.isnan(values), -1, values).astype(np.int64)
    return pd.factorize(keys, use_na_sentinel=True)[0]


def _row_type(n: int) -> type[np.signedinteger]:
    """The narrowest integer that numbers ``n`` rows: candidate pairs are held as row numbers
    by the ten million."""
    return np.int32 if n < 2**31 else np.int64


@functools.lru_cache(maxsize=512)
def _triangle(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, k=1)


def _pair_codes(pairs: np.ndarray, n: int) -> np.ndarray:
    """Each pair (i, j) of rows as one integer, i * n + j: half the memory of the pair."""
    return pairs[:, 0].astype(np.int64) * n + pairs[:, 1]


MERGE_STEP = 1 << 20  # codes of the distinct set moved at a time by :func:`_merged`


def _merged(distinct: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The distinct pair codes (:func:`_pair_codes`) of sorted, distinct ``distinct`` and of
    ``codes``, sorted; both handed over: ``codes`` is sorted in place, ``distinct`` grown in
    place and returned. Each key's pairs are merged in as they are made: the keys propose many
    pairs twice, and holding every key's pairs for one sort at the end was a province's
    largest moment (2.5 GB of codes and their sorted copy for 41 million distinct pairs).
    The set is grown where it lies (a large array's pages are remapped, not copied) and its
    codes moved up, from the last, a slice at a time, to make room for the new ones where they
    belong: a merged copy beside it held the set twice, 330 MB more at a province's peak."""
    codes.sort()  # (handed over: sorted in place)
    at = np.searchsorted(distinct, codes)
    fresh = at >= len(distinct)  # (past the last: not there)
    fresh[~fresh] = distinct[at[~fresh]] != codes[~fresh]
    if len(codes) > 1:
        fresh[1:] &= codes[1:] != codes[:-1]
    codes, at = codes[fresh], at[fresh]
    del fresh
    if not len(codes):
        return distinct
    old = len(distinct)
    if distinct.base is not None:  # (a view cannot grow)
        distinct = distinct.copy()
    distinct.resize(old + len(codes), refcheck=False)
    # Each old code moves up by the number of new codes that go before it, from the last
    # slice down: a code is never written over one not yet moved (NumPy reads a slice whole
    # before writing it where the two overlap).
    for end in range(old, 0, -MERGE_STEP):
        rows = np.arange(max(0, end - MERGE_STEP), end)
        distinct[rows + np.searchsorted(at, rows, side="right")] = distinct[rows[0]:end]
        del rows
    at += np.arange(len(at))  # each new code's place among the old and the new
    distinct[at] = codes
    return distinct


def _key(*cols: pd.Series) -> pd.Series:
    """Rows agreeing on every column share a key; a missing part leaves the row without one.
    Integer codes (-1 for none), combined column by column — no string is built per row."""
    return _combined([_codes(c) for c in cols], cols[0].index)


def _codes(col: pd.Series) -> np.ndarray:
    """A column's values as integer codes, -1 where missing."""
    return pd.factorize(col, use_na_sentinel=True)[0].astype(np.int64)


def _combined_codes(codes: list[np.ndarray]) -> np.ndarray:
    """Codes (-1 for none) shared by the rows that share every one of ``codes``' (columns
    already coded by :func:`_codes`: the blocking keys share their columns, and each is coded
    once rather than once per key, 13 keys of a million rows)."""
    code = codes[0]
    for other in codes[1:]:
        missing = (code < 0) | (other < 0)
        combined = code * (int(other.max()) + 1 if len(other) else 1) + other
        combined[missing] = -1
        code = pd.factorize(combined)[0].astype(np.int64)
        code[missing] = -1
    return code


def _combined(codes: list[np.ndarray], index: pd.Index) -> pd.Series:
    """:func:`_combined_codes` as a key: 32-bit codes, -1 for none. A province's thirteen keys
    were floats (NaN for none), 520 MB beside its candidate pairs."""
    return pd.Series(_combined_codes(codes).astype(_row_type(len(index))), index=index)


def blocking_keys(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The blocking keys (recall of their union is measured in ``bench_blocking.py``)."""
    def years(shift: int) -> pd.Series:
        # Two years at most one apart share (y + shift) // 2 for shift 0 or for shift 1.
        return (frame["birth_year"].astype(float) + shift) // 2

    def number(col: str) -> pd.Series:
        return frame[col].astype(float)

    index = frame.index
    family, given, commune = (_codes(frame[c]) for c in ("family_ph", "given_ph",
                                                         "commune_code"))
    year, month, day = (_codes(number(f"birth_{c}")) for c in ("year", "month", "day"))
    year_pair = _codes(years(0))
    date = _combined_codes([year, month, day])
    # per distinct pair of names, not per row (equal rows, equal codes)
    pair, first = _distinct_rows(frame["family_ph"], frame["given_ph"])
    names = _either_order(frame["family_ph"].iloc[first], frame["given_ph"].iloc[first])
    names_code = pd.factorize(names, use_na_sentinel=True)[0].astype(np.int64)[pair]
    return {
        # The core: same name (phonetically) and birth year at most one apart.
        "family+given+year": _combined([family, given, year_pair], index),
        "family+given+year'": _combined([family, given, _codes(years(1))], index),
        # A slip in the family name: same given name and exact birth date, or same commune.
        "given+birth date": _combined([given, year_pair, month, day], index),
        "given+year+commune": _combined([given, year_pair, commune], index),
        # A slip in the given name: same family name, year and commune.
        "family+year+commune": _combined([family, year_pair, commune], index),
        "mother+given": _combined([_codes(frame["mother_key"]), given], index),
        # Records without a birth year meet their name-mates, dated or not (anchored below).
        "undated+name": _combined([family, given], index),
        # Slips in both names: the full birth date within the commune (a commune shares few of
        # them; a province shares each date among hundreds, and district-wide this key found
        # one true pair in 44,000 that no other key found), across communes only for records
        # without one (anchored below).
        "birth date+commune": _combined([date, commune], index),
        "birth date": _combined([date], index),
        # A mistyped birth date, or names written the wrong way round: within the commune
        # (district-wide, a common name's namesakes were two thirds of all candidate pairs at
        # 200,000 residents and found no pair the other keys missed); across the district only
        # for records without a commune (anchored below).
        "names any order+commune": _combined([names_code, commune], index),
        "names any order": _combined([names_code], index),
        # Slips in names and date: the numbers of a street address (house number, postcode).
        "address numbers": _combined([_codes(map_distinct(frame["address_key"],
                                                          _address_numbers))], index),
    }


def _either_order(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Per row, the two names in sorted order joined by a space (one alone if the other is
    missing, ``None`` if both are): ``" ".join(sorted(x for x in (a, b) if x)) or None``,
    column by column."""
    x, y = a.to_numpy(object), b.to_numpy(object)
    has_x, has_y = x.astype(bool), y.astype(bool)
    both = np.flatnonzero(has_x & has_y)
    out = np.where(has_x, x, np.where(has_y, y, None))
    if len(both):
        first, second = x[both], y[both]
        swap = second < first
        out[both] = np.where(swap, second, first) + " " + np.where(swap, first, second)
    return out


def _address_numbers(address: str | None) -> str | None:
    numbers = [t for t in (address or "").split() if t.isdigit()]
    return "|".join(numbers) if numbers else None


def candidate_pairs(frame: pd.DataFrame, is_new: np.ndarray, lists: np.ndarray | None = None,
                    *, park: bool = False) -> tuple[pd.DataFrame, dict]:
    """Union of the blocking keys' pairs, each key's blocks capped at :data:`MAX_BLOCK`.
    ``lists``: each row's list of people (:func:`list_codes`), when the caller has them.
    ``park``: the frame's texts are set aside (:class:`_Parked`) once the keys are made, and
    put back before returning."""
    lists = list_codes(frame) if lists is None else lists
    stats: dict = {}
    # Keys that only serve some rows: a pair must hold one of those rows (loaded or new — a
    # nightly finds what a full relink of the same records finds).
    no_commune = frame["commune_code"].isna().to_numpy()
    anchored = {"undated+name": frame["birth_year"].isna().to_numpy(),
                "names any order": no_commune, "birth date": no_commune}
    keys_of = blocking_keys(frame)
    scope = _ListScope(frame, keys_of, lists)
    parked = _Parked(frame) if park else None
    n = len(frame)
    distinct = np.empty(0, dtype=np.int64)
    for name in list(keys_of):
        # Each key let go once paired (13 arrays of a province's rows), but the birth date's,
        # which the unscored pairs count below.
        keys = keys_of[name] if name == "birth date" else keys_of.pop(name)
        found, skipped = _block_codes(keys, is_new, MAX_BLOCK, n, anchored.get(name),
                                      scope.drop(name) if name in NAME_YEAR_KEYS else None)
        del keys
        stats[name] = {"pairs": len(found), "oversized_blocks_skipped": skipped}
        if name in NAME_YEAR_KEYS:
            stats[name]["left_out_across_lists"] = scope.left_out[name][0]
            stats[name]["left_out_within_one_list"] = scope.left_out[name][1]
        distinct = _merged(distinct, found)
        del found
        release_freed_memory()
    # Decoded into one array (np.stack of the two halves held them twice), of 32-bit row
    # numbers: a province's 41 million pairs are 330 MB of them.
    pairs = np.empty((len(distinct), 2), dtype=_row_type(n))
    np.floor_divide(distinct, n, out=pairs[:, 0], casting="unsafe")
    np.remainder(distinct, n, out=pairs[:, 1], casting="unsafe")
    del distinct
    unscored = unscored_pairs(frame, is_new, keys_of["birth date"], pairs, lists,
                              scope.communes)
    across, within = scope.unscored(pairs)
    unscored[0] += across
    unscored[1] += within
    stats["unscored_pairs"] = unscored
    del scope, keys_of
    if parked is not None:
        parked.restore(frame)
    return pd.DataFrame(pairs, columns=["i", "j"]), stats


class _Parked:
    """A frame's columns of objects set aside while its candidate pairs are made (the pairs'
    peak, and a province's identity frame is gigabytes of references): texts a row holds
    alone (ID numbers, phones, insurance codes) as Arrow strings, the rest as 32-bit codes
    into their distinct objects, put back as they were. The record keys stay: the caller holds
    them too."""

    ALONE = ("personal_id", "phone", "social_insurance_code")
    KEPT = ("record_key",)

    def __init__(self, frame: pd.DataFrame) -> None:
        self.order = list(frame.columns)
        self.coded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.texts: dict[str, pa.Array] = {}
        for name in self.order:
            if frame[name].dtype != object or name in self.KEPT:
                continue
            values = frame[name].to_numpy(object)
            if name in self.ALONE:
                with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):
                    self.texts[name] = pa.array(values, type=pa.string(), from_pandas=True,
                                                memory_pool=HEAP_POOL)
            if name not in self.texts:
                codes, table = object_codes(values)
                self.coded[name] = (codes.astype(_row_type(len(values))), table)
            del values, frame[name]
        release_freed_memory()

    def restore(self, frame: pd.DataFrame) -> None:
        """The columns back in ``frame``, in their places."""
        for k, name in enumerate(self.order):
            if name in self.coded:
                codes, table = self.coded.pop(name)
                values = table[codes]
            elif name in self.texts:
                values = self.texts.pop(name).to_numpy(zero_copy_only=False)  # (None: none)
            else:
                continue
            frame.insert(k, name, pd.Series(values, index=frame.index, dtype=object,
                                            copy=False))


# The core keys, whose blocks a province fills with namesakes: two rows in two communes are
# paired only if another key pairs them when one list holds both (a registry extract names each
# resident once) or when both give full birth dates that differ.
NAME_YEAR_KEYS = ("family+given+year", "family+given+year'")


class _ListScope:
    """Leaves out, of the name+year keys' pairs, those of two rows living in two communes that
    something already says are two people, and counts them (per class of pair, for the prior,
    as :func:`unscored_pairs` does, so every posterior stays where scoring them left it):

    * rows of one list: a province's registry held 26 of its 28 million candidate pairs there
      — namesakes born a year or two apart, whom its one-row-per-person list already tells
      apart — while the true pairs of one list (a resident registered twice) were all within a
      commune;
    * rows of two lists (a registry row and an insured list's, a clinic visit) that both give
      a full birth date, and different ones (not merely day and month swapped): pairs the hard
      rule "moved-without-date" never lets link or go to review. A province of every kind held
      25.7 of its 30.9 million cross-list pairs in two communes there, and none of its 234,937
      true ones — those gave the same date (194,006) or a year alone (40,931). A person's two
      communes across lists are a move or a workplace, so such pairs with the same date (or
      swapped), or without a full one, are still scored.
    """

    def __init__(self, frame: pd.DataFrame, keys_of: dict[str, pd.Series],
                 lists: np.ndarray) -> None:
        self.lists = lists
        self.communes = pd.factorize(frame["commune_code"], use_na_sentinel=True)[0]
        self.year = frame["birth_year"].astype(float).to_numpy()
        self.month = frame["birth_month"].astype(float).to_numpy()
        self.day = frame["birth_day"].astype(float).to_numpy()
        self.codes = {}
        self.small = {}
        for name in NAME_YEAR_KEYS:
            codes = _key_codes(keys_of[name])
            sizes = np.bincount(codes[codes >= 0], minlength=1)
            self.codes[name] = codes
            # whether the row's block is paired at all (blocks over MAX_BLOCK are skipped)
            self.small[name] = (codes >= 0) & (sizes[np.maximum(codes, 0)] <= MAX_BLOCK)
        # per key, pairs left out [across lists, within one list]
        self.left_out = {name: [0, 0] for name in NAME_YEAR_KEYS}

    def _apart(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the pairs left out: (across lists, within one list)."""
        lists, communes = self.lists, self.communes
        apart = (communes[i] >= 0) & (communes[j] >= 0) & (communes[i] != communes[j])
        one_list = (lists[i] >= 0) & (lists[i] == lists[j])
        # two full dates that are neither one date nor one with day and month swapped: the
        # pairs the hard rule "moved-without-date" never lets link or go to review (a missing
        # part is NaN, which equals nothing: such a pair is never left out)
        y, m, d = self.year, self.month, self.day
        one_date = (y[i] == y[j]) & (((m[i] == m[j]) & (d[i] == d[j]))
                                     | ((m[i] == d[j]) & (d[i] == m[j])))
        full = ~np.isnan(y[i] + m[i] + d[i] + y[j] + m[j] + d[j])
        return apart & ~one_list & full & ~one_date, apart & one_list

    def _shared(self, name: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        codes = self.codes[name]
        return self.small[name][i] & (codes[i] == codes[j])

    def drop(self, name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """The ``drop`` filter of key ``name``'s pairs; counts what it leaves out (a pair the
        first key already left out is not counted again by the second)."""
        first = NAME_YEAR_KEYS[0]

        def apart(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            across, within = self._apart(i, j)
            new = np.ones(len(i), dtype=bool) if name == first else ~self._shared(first, i, j)
            self.left_out[name][0] += int((across & new).sum())
            self.left_out[name][1] += int((within & new).sum())
            return across | within
        return apart

    def unscored(self, scored: np.ndarray) -> list[int]:
        """Pairs left out and not scored all the same (another key paired them), per class:
        [across lists, within one list]. Counted a slice of pairs at a time: the aligned codes
        and dates of a province's 41 million pairs were gigabytes."""
        both_across = both_within = 0
        for start in range(0, len(scored), PAIR_BLOCK):
            i = scored[start:start + PAIR_BLOCK, 0].astype(np.intp, copy=False)
            j = scored[start:start + PAIR_BLOCK, 1].astype(np.intp, copy=False)
            shared = (self._shared(NAME_YEAR_KEYS[0], i, j)
                      | self._shared(NAME_YEAR_KEYS[1], i, j))
            across, within = self._apart(i, j)
            both_across += int((shared & across).sum())
            both_within += int((shared & within).sum())
        return [sum(n[0] for n in self.left_out.values()) - both_across,
                sum(n[1] for n in self.left_out.values()) - both_within]


def unscored_pairs(frame: pd.DataFrame, is_new: np.ndarray, date: pd.Series,
                   scored: np.ndarray, lists: np.ndarray | None = None,
                   communes: np.ndarray | None = None) -> list[int]:
    """Per class of pair (across sources, within one list): pairs that share the full birth
    date in two different communes and that no blocking key put among the ``scored`` pairs
    (i, j) — what the birth date alone blocked on before it was scoped to the commune. They are
    not scored (millions at a province's size, nearly all two people) but counted in the
    prior's denominator, so the prior, and with it every posterior, is what it was when they
    were scored. Blocks over :data:`MAX_BLOCK` are left out, as blocking leaves them out; a
    pair needs a new record. ``lists``, ``communes`` (codes of the commune column): as
    :func:`candidate_pairs` has them."""
    dates = _key_codes(date)
    if communes is None:
        communes = pd.factorize(frame["commune_code"], use_na_sentinel=True)[0]
    lists = list_codes(frame) if lists is None else lists
    if not (dates >= 0).any():
        return [0, 0]
    sizes = np.bincount(dates[dates >= 0])
    keep = (dates >= 0) & (communes >= 0)
    keep[keep] &= sizes[dates[keep]] <= MAX_BLOCK
    # Only dates a new record holds count (a group without one has no pair to count): a
    # nightly batch's dates, not the whole index's.
    counted = keep.copy()
    counted[counted] = (np.bincount(dates[keep], weights=is_new[keep], minlength=len(sizes))
                        > 0)[dates[keep]]
    rows = pd.DataFrame({"date": dates[counted], "commune": communes[counted],
                         "list": lists[counted], "new": is_new[counted].astype(np.int64)})

    def with_new(df: pd.DataFrame, by: list[str]) -> int:
        grouped = df.groupby(by, sort=False)["new"]
        n = grouped.size().to_numpy()
        old = n - grouped.sum().to_numpy()
        return int((n * (n - 1) // 2 - old * (old - 1) // 2).sum())

    across_communes = with_new(rows, ["date"]) - with_new(rows, ["date", "commune"])
    listed = rows[rows["list"] >= 0]
    one_list = (with_new(listed, ["date", "list"]) - with_new(listed, ["date", "commune", "list"])
                if len(listed) else 0)
    # the same kind of pair among those another key found: scored, so not counted. Counted a
    # slice of pairs at a time: a province's 41 million held a gigabyte of aligned codes.
    found = found_one_list = 0
    for start in range(0, len(scored), PAIR_BLOCK):
        i = scored[start:start + PAIR_BLOCK, 0].astype(np.intp, copy=False)
        j = scored[start:start + PAIR_BLOCK, 1].astype(np.intp, copy=False)
        hit = (keep[i] & keep[j] & (dates[i] == dates[j]) & (communes[i] != communes[j])
               & (is_new[i] | is_new[j]))
        found += int(hit.sum())
        found_one_list += int((hit & (lists[i] >= 0) & (lists[i] == lists[j])).sum())
    return [across_communes - one_list - (found - found_one_list),
            one_list - found_one_list]


def identifier_pairs(frame: pd.DataFrame, is_new: np.ndarray) -> pd.DataFrame:
    """Pairs that share a valid personal ID, a social-insurance code or a facility patient id;
    ``facility_only`` marks those the patient id alone joins (see
    :meth:`Clusters.identity_conflict`)."""
    pid = frame["personal_id"].where(frame["personal_id_status"] == "valid")
    fac = _key(frame["facility_code"], frame["facility_patient_id"])
    strong = np.concatenate([_block_pairs(keys, is_new, cap=10_000)[0]
                             for keys in (pid, frame["social_insurance_code"])])
    facility = _block_pairs(fac, is_new, cap=10_000)[0]
    pairs = np.unique(np.concatenate([strong, facility]), axis=0)
    out = pd.DataFrame(pairs, columns=["i", "j"])
    n = len(frame)
    out["facility_only"] = ~np.isin(_pair_codes(pairs, n), _pair_codes(strong, n))
    return out


def decision_pairs(frame: pd.DataFrame, decisions: pd.DataFrame | None) -> pd.DataFrame:
    """Analysts' decisions as row positions (i, j, same); decisions about records not in
    ``frame`` are ignored."""
    if decisions is None or decisions.empty:
        return pd.DataFrame({"i": [], "j": [], "same": []})
    pos = pd.Series(np.arange(len(frame)), index=frame["record_key"].to_numpy())
    d = decisions[key_in(decisions["record_key_a"], pos.index)
                  & key_in(decisions["record_key_b"], pos.index)]
    i = pos[d["record_key_a"].to_numpy()].to_numpy()
    j = pos[d["record_key_b"].to_numpy()].to_numpy()
    return pd.DataFrame({"i": np.minimum(i, j), "j": np.maximum(i, j),
                         "same": (d["decision"] == "same").to_numpy()})


@dataclass
class Context:
    """The frame being matched and what has been decided about it so far."""

    frame: pd.DataFrame
    clusters: Clusters
    model: Model
    rule: np.ndarray
    score: np.ndarray
    stats: dict
    analyst: pd.DataFrame | None = None  # analysts' decisions as row pairs (i, j, same)
    cols: Columns | None = None  # the frame's comparison columns, built once per run
    consume: bool = False  # the frame was handed over: its columns go once read


def build_context(batch: pd.DataFrame, master: pd.DataFrame,
                  decisions: pd.DataFrame | None, *, consume: bool = False,
                  is_known: np.ndarray | None = None) -> tuple[Context, pd.DataFrame]:
    """Put the new records beside the master index, estimate the model and link what
    identifiers and analysts' decisions link. Returns the context and the candidate pairs.
    ``consume``: see :func:`match_records`; ``is_known``: which batch records the master
    holds, when the caller has looked them up already."""
    # A record already loaded keeps its person (:func:`resolve`): it takes part as the master
    # index has it, and its row in the batch is left out.
    if is_known is None:
        is_known = positions(master["record_key"], batch["record_key"]) >= 0
    frame = _stacked([(master, np.ones(len(master), dtype=bool), False),
                      (batch, ~is_known, True)], consume=consume)
    if "person_id" not in frame:  # no master row: every record is new
        frame["person_id"] = pd.Series(np.full(len(frame), None, dtype=object), dtype=object)
    frame = prepare(frame)
    is_new = frame["_new"].to_numpy(bool)
    if consume:
        _drop(frame, PREPARED_ONLY)
    # m is learnt from every pair the identifiers label, loaded or new (``every``); those with
    # a new record (``ids``) link. Both from one pass over the index: a pair with a new record
    # is exactly a pair of ``every`` holding one (the same blocks, the same cap).
    every = identifier_pairs(frame, np.ones(len(frame), dtype=bool))
    if consume:
        _drop(frame, IDENTIFIERS_ONLY)
    ids = every if is_new.all() else every[
        is_new[every["i"].to_numpy()] | is_new[every["j"].to_numpy()]].reset_index(drop=True)
    decided = decision_pairs(frame, decisions)
    lists = list_codes(frame)  # once, for the blocking scope, the prior's count and clusters
    cands, stats = candidate_pairs(frame, is_new, lists, park=consume)
    # Analysts' decisions calibrate the probabilities (:func:`fit_calibration`) but do not
    # move m: answering the review queue must not change what the next full relink links.
    cols = columns(frame)
    model = estimate(frame, every[["i", "j"]], cols=cols)
    model.unscored_pairs = tuple(stats["unscored_pairs"])
    clusters = Clusters(frame, decided[~decided["same"].astype(bool)], lists)
    ctx = Context(frame, clusters, model, np.array([""] * len(frame), dtype=object),
                  np.full(len(frame), np.nan), stats, decided, cols, consume)
    _link_certain(ctx, ids)
    if consume:
        _drop(frame, [c for c in frame.columns if c not in LINKING_COLUMNS])
        release_freed_memory()
    stats.update(identifier_pairs=int(len(ids)), labelled_pairs_for_m=model.labelled_pairs,
                 analyst_decisions=int(len(decided)))
    return ctx, cands


# What a handed-over frame (``consume``) no longer needs, and when: a province's identity
# frame is two gigabytes of references and texts, and its columns were all held through the
# pairs and the links though most are read only to build the comparison columns, the blocking
# keys and the clusters (BENCHMARKS.md, session 17).
PREPARED_ONLY = ("full_name", "sex", "birth_date_precision")  # read by prepare alone
IDENTIFIERS_ONLY = ("facility_code", "facility_patient_id")  # by identifier_pairs alone
# What linking reads of the frame once the context is built: record keys (persons, review
# queue), lists of people (decide's facts, the ambiguity rule), households and mothers, the
# insurance codes and personal IDs (hard rules, calibration), existing persons.
LINKING_COLUMNS = frozenset({"record_key", "source_kind", "file_key", "personal_id",
                             "personal_id_status", "social_insurance_code",
                             "household_head_key", "mother_key", "person_id"})
# ... and once the pairs' facts are known, before they are decided: record keys (persons,
# review queue) and lists (the ambiguity rule).
DECIDING_COLUMNS = frozenset({"record_key", "source_kind", "file_key"})


def release_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``). Arrays of a
    few megabytes come from the heap once larger ones have been freed (glibc raises its
    threshold for mapping them apart), so memory a match frees in the middle of the heap stays
    in the process, while the pairs' arrays, each larger still, are mapped apart and add to it.
    Elsewhere than glibc, nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def _drop(frame: pd.DataFrame, names: Iterable[str]) -> None:
    """Delete columns from ``frame`` in place (each column is its own block, so its memory
    goes at once)."""
    for name in names:
        if name in frame:
            del frame[name]


def _stacked(parts: list[tuple[pd.DataFrame, np.ndarray, bool]], *, consume: bool = False
             ) -> pd.DataFrame:
    """The chosen rows of each (frame, rows, new) part one under the other, with ``_new``, in
    ``record_key`` order (a stable sort: ties between equally probable links fall the same way
    whatever order the records arrived in — a run, its chunks and a full relink agree). Every
    column as objects (what :func:`prepare` makes of them anyway: pandas' concat of a batch's
    nullable integers under a master's floats checked a million cells one by one for being
    missing), built a column at a time: selecting, stacking and sorting whole frames held five
    copies of a million-record index at once. ``consume``: each column is deleted from the
    parts once stacked (see :func:`match_records`)."""
    # no row at all: the batch's columns
    chosen = [(p, rows, new) for p, rows, new in parts if rows.any()] or parts[-1:]
    names = list(dict.fromkeys(c for p, _, _ in chosen for c in [*p.columns, "_new"]))

    counts = [int(rows.sum()) for _, rows, _ in chosen]
    keys = np.concatenate([p["record_key"].to_numpy(object)[rows] for p, rows, _ in chosen])
    # Where each part's rows go: each column is put in place in one pass (stacking and then
    # reordering copied a million-record index's every column twice).
    where = np.empty(len(keys), dtype=np.int64)
    where[np.argsort(keys, kind="stable")] = np.arange(len(keys))
    total, ends = len(keys), np.cumsum(counts)
    spots = [where[end - count:end] for count, end in zip(counts, ends, strict=True)]
    del keys

    def column(name: str) -> np.ndarray:
        out = np.full(total, None, dtype=object)
        for (p, rows, new), at in zip(chosen, spots, strict=True):
            if name == "_new":
                out[at] = new
            elif name in p:
                values = p[name].to_numpy(object)
                out[at] = values if rows.all() else values[rows]
        return out

    # Column by column into an empty frame: each array is held as it is, where a frame built
    # from a dict of them copies them all into one block beside the originals.
    out = pd.DataFrame(index=pd.RangeIndex(total))
    for name in names:
        values = column(name)
        values[pd.isna(values)] = None  # as etl.stage.as_objects has it (a float NaN too)
        # Objects, said so: pandas 3 would make a column of texts its own string dtype, with
        # NaN for None.
        out[name] = pd.Series(values, index=out.index, dtype=object, copy=False)
        if consume:
            for p, _, _ in parts:
                if name in p:
                    del p[name]
    if consume:  # a part's columns no row was chosen from
        for p, _, _ in parts:
            p.drop(columns=list(p.columns), inplace=True)
    return out


def _link_certain(ctx: Context, ids: pd.DataFrame) -> None:
    """Existing persons and identifiers, before any fuzzy link."""
    clusters, rule = ctx.clusters, ctx.rule
    # A person already in the database is one cluster from the start, so the facts of all its
    # records (ID numbers, dates, sex) guard every merge into it.
    # Each later row of a person joined to its first, in row order; rows alone in their person
    # (most of a province's million) are not visited one by one.
    persons = ctx.frame["person_id"].to_numpy(object)
    rows = np.flatnonzero(persons.astype(bool))
    codes = pd.factorize(persons[rows])[0]
    first = rows[np.unique(codes, return_index=True)[1]][codes] if len(rows) else rows
    later = first != rows
    for a, b in zip(first[later].tolist(), rows[later].tolist(), strict=True):
        clusters.union(a, b, fuzzy=False)
    guarded = []  # patient id shared across sexes or years, a number on two names: review
    clash = identity_clash(ctx.frame, ids)
    for (i, j, facility_only), clashes in zip(ids.itertuples(index=False), clash, strict=True):
        if clashes or (facility_only and clusters.identity_conflict(int(i), int(j))):
            guarded.append((int(i), int(j)))
            continue
        if clusters.union(int(i), int(j), fuzzy=False):
            rule[i] = rule[i] or "identifier"
            rule[j] = rule[j] or "identifier"
    ctx.stats["guarded_identifier_pairs"] = len(guarded)
    ctx.stats["_guarded"] = guarded


def identity_clash(frame: pd.DataFrame, ids: pd.DataFrame) -> np.ndarray:
    """Identifier pairs whose family and given names both disagree and whose birth dates do
    not agree to the day (a mistyped digit or a day/month swap aside): one number on two
    people's records (a mistyped ID number) — held for review rather than made one person by
    the number alone."""
    if not len(ids):
        return np.zeros(0, dtype=bool)
    i, j = ids["i"].to_numpy(), ids["j"].to_numpy()
    rows = np.unique(np.concatenate([i, j]))
    cols = columns(frame.iloc[rows])
    lv = compare(cols.take(np.searchsorted(rows, i)), cols.take(np.searchsorted(rows, j)))
    differ = ("different", "tone-differs")
    return (np.isin(lv[GIVEN.name].to_numpy(), GIVEN.codes(*differ))
            & np.isin(lv[FAMILY.name].to_numpy(), FAMILY.codes(*differ))
            & ~np.isin(lv[BIRTH.name].to_numpy(), BIRTH.codes("exact", "typo", "swapped")))


def link_analysts(ctx: Context) -> None:
    """Analysts' "same" decisions, after the fuzzy links — as ``hssk review import`` merged
    them into the persons a run had made, so a full relink rebuilds exactly those persons. A
    "same" that would join two valid ID numbers or two records declared different is refused,
    as the import refuses it."""
    analyst = ctx.analyst
    if analyst is None or analyst.empty:
        return
    same = analyst[analyst["same"].astype(bool)]
    for i, j in same[["i", "j"]].astype(np.int64).itertuples(index=False):
        if ctx.clusters.union(int(i), int(j), fuzzy=False):
            ctx.rule[i] = ctx.rule[i] or "analyst"
            ctx.rule[j] = ctx.rule[j] or "analyst"


def link_fuzzy(ctx: Context, cands: pd.DataFrame, thresholds: Thresholds) -> Decided:
    """Decide every candidate pair and link from the most probable down."""
    facts, ids = PairFacts(ctx.frame), valid_id_codes(ctx.frame)
    if ctx.consume:  # what is read of the frame from here on (see LINKING_COLUMNS)
        _drop(ctx.frame, [c for c in ctx.frame.columns if c not in DECIDING_COLUMNS])
        release_freed_memory()
    decided = decide(ctx.frame, cands, ctx.model, thresholds, ctx.clusters.roots(),
                     cols=ctx.cols, fit_priors=True, keep=False, facts=facts)
    del facts
    fit_calibration(ctx.frame, cands, decided, ctx.model, ctx.analyst, ids=ids)
    del ids
    ci, cj = cands["i"].to_numpy(), cands["j"].to_numpy()
    # The links from the most probable down, ties in pair order (a stable sort of only the
    # pairs to link: the order a sort of all pairs gives them, without sorting millions).
    links = np.flatnonzero(decided.outcome == LINK)
    for k in links[np.argsort(-decided.posterior[links], kind="stable")].tolist():
        i, j = int(ci[k]), int(cj[k])
        if ctx.clusters.find(i) != ctx.clusters.find(j) and ctx.clusters.union(i, j, True):
            for x in (i, j):
                if not ctx.rule[x]:
                    ctx.rule[x] = "fuzzy"
                    ctx.score[x] = decided.posterior[k]
    ctx.stats["scored_pairs"] = int(len(cands))
    ctx.stats["prior_log2_odds"] = dict(ctx.model.prior_log2_odds)
    ctx.stats["calibration"] = ctx.model.calibration
    return decided


def review_band(cands: pd.DataFrame, decided: Decided | None) -> list[tuple[int, int, float]]:
    """The candidate pairs (i, j, posterior) :func:`link_fuzzy` left in the review band."""
    if decided is None:
        return []
    band = np.flatnonzero(decided.outcome == REVIEW)
    ci, cj = cands["i"].to_numpy()[band], cands["j"].to_numpy()[band]
    return [(int(i), int(j), float(decided.posterior[k]))
            for i, j, k in zip(ci, cj, band, strict=True)]


def review_queue(ctx: Context, band: list[tuple[int, int, float]], thresholds: Thresholds,
                 person_of: np.ndarray) -> pd.DataFrame:
    """Pairs in the review band (:func:`review_band`) whose records ended in two people, with
    their probability, the answer's worth (probability × the record pairs it would join) and a
    group key: one answer settles every pair between the same two people."""
    rows = list(band)
    queued = {(i, j) for i, j, _ in rows}
    # Guarded identifier pairs join at the review threshold (the identifier put them there).
    rows += [(i, j, thresholds.review) for i, j in ctx.stats.pop("_guarded", [])
             if (i, j) not in queued]
    rows = [r for r in rows if ctx.clusters.find(r[0]) != ctx.clusters.find(r[1])
            and not ctx.clusters.kept_apart(r[0], r[1])]
    if not rows:
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    keys = ctx.frame["record_key"].to_numpy(object)
    i, j, s = (np.array(c) for c in zip(*rows, strict=True))
    pa, pb = person_of[i], person_of[j]
    # records per person, counted for the persons in the queue only (not a million)
    involved = pd.Series(person_of).isin(set(pa) | set(pb)).to_numpy()
    size = pd.Series(person_of[involved]).value_counts()
    p = ctx.model.calibrated(s)
    out = pd.DataFrame({
        "record_key_a": keys[i], "record_key_b": keys[j], "score": np.round(s, 2),
        "person_a": pa, "person_b": pb, "probability": np.round(p, 4),
        "priority": np.round(p * size[pa].to_numpy() * size[pb].to_numpy(), 4),
        "group_key": [f"{min(a, b)}|{max(a, b)}" for a, b in zip(pa, pb, strict=True)]})
    return out.sort_values(["priority", "score"], ascending=False, kind="stable"
                           ).reset_index(drop=True)


def assign_persons(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """Each row's person: the existing person of its cluster, or a new stable id; and whether
    it is an existing one (stored in the database: a master row's)."""
    roots = ctx.clusters.roots()
    keys = ctx.frame["record_key"].to_numpy(object)
    # a new person's id comes from its smallest record key (new_person_id takes the minimum):
    # the keys' sort ranks, least per cluster (integers group fast; strings do not). The
    # frame is in record-key order already (build_context), so its positions are the ranks.
    if pd.Index(keys).is_monotonic_increasing:
        rank, ordered = np.arange(len(keys)), keys
    else:
        rank, ordered = pd.factorize(keys, sort=True)
    first = pd.Series(rank).groupby(roots).min()
    cluster_roots = first.index.to_numpy(np.int64)
    person = ctx.clusters.persons.first(cluster_roots)
    new = np.flatnonzero(pd.isna(person))
    person[new] = [new_person_id((ordered[r],)) for r in first.to_numpy()[new].tolist()]
    stored = np.ones(len(person), dtype=bool)
    stored[new] = False
    at = np.searchsorted(cluster_roots, roots)
    return person[at], stored[at]


def resolve(batch: pd.DataFrame, master: pd.DataFrame, thresholds: Thresholds,
            decisions: pd.DataFrame | None = None, *, consume: bool = False
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Person id, rule and score for each batch record, the review queue, and statistics.
    ``consume``: see :func:`match_records`."""
    if "person_id" in batch:  # a batch record's person is what matching finds
        if consume:
            del batch["person_id"]
        else:
            batch = batch.drop(columns=["person_id"])
    # Each batch record's row in the master (a record already loaded keeps its person), taken
    # before the frames are stacked (and, when consumed, emptied).
    keys = pd.Series(batch["record_key"].to_numpy(object).copy(), dtype=object)
    in_master = positions(master["record_key"], keys)
    known = in_master >= 0
    known_person = master["person_id"].to_numpy(object)[in_master[known]]
    ctx, cands = build_context(batch, master, decisions, consume=consume, is_known=known)
    decided = link_fuzzy(ctx, cands, thresholds) if len(cands) else None
    band = review_band(cands, decided)
    # A province's pairs, their levels and weights: hundreds of megabytes not needed from here.
    del cands, decided
    link_analysts(ctx)
    person_of, stored_of = assign_persons(ctx)
    review = review_queue(ctx, band, thresholds, person_of)
    # Each new batch record's row in the frame, looked up for all records at once.
    x = positions(ctx.frame["record_key"], keys)
    x[known] = 0  # (not used: a known record's answer is the master's)
    rule = ctx.rule[x]
    score = ctx.score[x]
    out_score = np.full(len(keys), None, dtype=object)
    scored = np.flatnonzero(~known & ~np.isnan(score))
    out_score[scored] = [round(float(v), 2) for v in score[scored].tolist()]
    person = person_of[x]
    person[known] = known_person
    stored = stored_of[x] | known
    rule[rule == ""] = "new"  # (a copy: the rules' own objects, not a new text per row)
    rule[known] = "known-record"
    result = pd.DataFrame({
        "person_id": pd.Series(person, dtype=object, copy=False),
        "match_rule": pd.Series(rule, dtype=object, copy=False),
        "match_score": pd.Series(out_score, dtype=object, copy=False), "person_stored": stored})
    ctx.stats["review_pairs"] = int(len(review))
    ctx.stats["review_expected_true_share"] = (
        round(float(review["probability"].mean()), 3) if len(review) else None)
    return result, review, ctx.stats


def positions(keys: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Where each of ``wanted`` stands in ``keys`` (unique record keys), -1 where it is not
    there. The master index and the stacked frame come in record-key order: a binary search
    per wanted key, where a hash table of a million keys cost a second each time it was
    built."""
    have, want = keys.to_numpy(object), wanted.to_numpy(object)
    try:
        at = np.searchsorted(have, want) if pd.Index(have).is_monotonic_increasing else None
    except TypeError:  # a key that is not text (None) among them
        at = None
    if at is None:
        return pd.Index(have).get_indexer(want)
    inside = at < len(have)
    found = np.zeros(len(want), dtype=bool)
    found[inside] = have[at[inside]] == want[inside]
    return np.where(found, at, -1)


def batch_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The batch's clean records in the master-index shape."""
    out = pd.DataFrame({
        "record_key": records["record_key"],
        "source_kind": records["source_kind"],
        "full_name": records["full_name"],
        "file_key": records["file_sha256"].astype(str),
        **{c: records[c] for c in ("family_key", "middle_key", "given_key", "sex",
                                    "birth_year", "birth_month", "birth_day",
                                    "birth_date_precision", "personal_id",
                                    "personal_id_status", "social_insurance_code",
                                    "facility_code", "facility_patient_id",
                                    "household_head_key", "phone")},
        "commune_code": records["permanent_commune_code"],
        "address_key": map_distinct(records["permanent_address"], address_key),
        "mother_key": map_distinct(records["mother_name"], name_key),
    }).reset_index(drop=True)
    return out


def match_records(batch: pd.DataFrame, master: pd.DataFrame, thresholds: Thresholds,
                  decisions: pd.DataFrame | None = None, *, consume: bool = False
                  ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """:func:`resolve` for identity frames (:func:`batch_frame`) that may hold a record key
    twice (an episode in two chunks of a run): the latest row of each key is matched. Returns
    person id, rule and score indexed by record key, the review queue and statistics (the
    thresholds among them).

    ``consume``: the caller hands ``batch`` and ``master`` over, and their columns are deleted
    as they are stacked (the batch's at once, when a key twice makes matching take a copy). A
    province's batch and master index each hold hundreds of megabytes of column arrays, a
    second set beside the stacked frame's through the whole match; the caller must not use
    either frame afterwards."""
    again = batch["record_key"].duplicated(keep="last").to_numpy()
    plain = batch.index.equals(pd.RangeIndex(len(batch)))
    latest = batch if plain and not again.any() else batch[~again].reset_index(drop=True)
    if consume and latest is not batch:  # the copy is matched: the caller's frame goes now
        batch.drop(columns=list(batch.columns), inplace=True)
    index = pd.Index(latest["record_key"].to_numpy(object).copy(), name="record_key")
    with _no_cycle_collection():
        result, review, stats = resolve(latest, master, thresholds, decisions, consume=consume)
    result.index = index
    return result, review, {"thresholds": vars(thresholds), **stats}


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector off while matching. The match builds lists of a million
    elements (the clusters' facts) and frozensets by the hundred thousand, and each full
    collection walked every list again: four of them, 0.4 to 1.2 s of a nightly's match
    against a million records. Matching makes no cycles worth collecting on the way (the peak
    was the same, 1.45 GB, with the collector off); they are collected once it is back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def with_matches(data: StageData, result: pd.DataFrame, review: pd.DataFrame | None,
                 meta: dict[str, object]) -> StageData:
    """``data`` as the match stage: each record's person id, rule and score from ``result``
    (:func:`match_records`), ``review`` as its review table, ``meta`` as the matcher's."""
    rec = data.records.reset_index(drop=True)
    found = result.reindex(rec["record_key"].to_numpy())
    out = rec.copy()
    for column in ("person_id", "match_rule", "match_score"):
        out[column] = found[column].to_numpy()
    tables = dict(data.tables)
    if review is not None and len(review):
        tables["review"] = review
    return StageData("match", data.files, out, data.rejects, tables, data.issues,
                     {**data.meta, "matcher": meta})


def match_stage(data: StageData, master: pd.DataFrame, thresholds: Thresholds | None = None,
                decisions: pd.DataFrame | None = None) -> StageData:
    """Assign ``person_id``, ``match_rule`` and ``match_score`` to every clean record, given
    the master index (:func:`etl.load.master.read_master`) and the analysts' decisions."""
    thresholds = thresholds or Thresholds()
    result, review, stats = match_records(batch_frame(data.records.reset_index(drop=True)),
                                          master, thresholds, decisions)
    return with_matches(data, result, review, stats)
