"""Identity resolution: one person, one record — precise, explainable, incremental.

1. The records of this batch are put beside the master index (every record already in the
   database, with its person id).
2. Candidate pairs come from several blocking keys, each capped so a common name never explodes.
3. Identifiers decide first: a shared valid personal ID number, social-insurance code or a
   facility's patient id links; two different valid personal ID numbers never link.
4. The rest is scored with Fellegi–Sunter weights estimated on the data (see ``model``).
5. Clusters grow from the strongest links down, refusing any merge that would join two ID
   numbers, two existing persons, two different exact birth dates or two sexes, and guarding
   siblings and twins (same household and birth date, different given name).
6. Known records keep their person; clusters with an existing person take its id; new
   clusters get a new, stable id. Pairs between the link and review thresholds go to the
   analysts' review queue.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from etl.load.schema import source_records
from etl.match.compare import TONE_DIFFERS, columns, compare, phonetic, take
from etl.match.model import Model, estimate
from etl.stage import StageData, as_objects, map_distinct
from etl.transform.identifiers import implied_by_personal_id
from etl.transform.text import fold

LINK_THRESHOLD = 16.0
REVIEW_THRESHOLD = 8.0
MAX_BLOCK = 300
MASTER_COLUMNS = ["record_key", "person_id", "source_kind", "file_key", "full_name", "family_key", "middle_key", "given_key", "sex",
                  "birth_year", "birth_month", "birth_day", "birth_date_precision",
                  "personal_id", "personal_id_status", "social_insurance_code", "commune_code",
                  "facility_code", "facility_patient_id", "household_head_key", "mother_key",
                  "phone"]
REVIEW_COLUMNS = ["record_key_a", "record_key_b", "score", "person_a", "person_b"]


def new_person_id(record_keys) -> str:  # type: ignore[no-untyped-def]
    """A stable id for a new person, derived from its first source record: the same files
    loaded into an empty database always give the same ids."""
    first = min(record_keys)
    return hashlib.sha256(first.encode("utf-8")).hexdigest()[:16]


@dataclass
class Thresholds:
    link: float = LINK_THRESHOLD
    review: float = REVIEW_THRESHOLD


def read_master(engine: Engine | None) -> pd.DataFrame:
    """The master person index: every loaded record's identity as its source presented it."""
    if engine is None:
        return pd.DataFrame(columns=MASTER_COLUMNS)
    columns = [source_records.c[c] for c in MASTER_COLUMNS if c != "file_key"]
    columns.append(sa.cast(source_records.c.source_file_id, sa.Text).label("file_key"))
    sql = str(sa.select(*columns).compile(engine))
    with engine.connect() as conn:
        # Plain DB-API tuples: building SQLAlchemy rows for the whole index costs seconds.
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        cursor.close()
    names = [c for c in MASTER_COLUMNS if c != "file_key"] + ["file_key"]
    # A fixed order (by code point, not a database collation): the model samples pairs by
    # position, so the same data must give the same links on SQLite and PostgreSQL.
    master = pd.DataFrame(rows, columns=names)[MASTER_COLUMNS]
    return master.sort_values("record_key", kind="stable").reset_index(drop=True)


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the comparisons need: phonetic keys, sex also as implied by the ID number."""
    out = as_objects(frame.reset_index(drop=True))
    for part in ("given", "family"):
        out[f"{part}_ph"] = map_distinct(out[f"{part}_key"], phonetic)
    sexes = []
    for sex, pid, status in zip(out["sex"], out["personal_id"], out["personal_id_status"],
                                strict=True):
        if sex in ("M", "F"):
            sexes.append(sex)
        elif pid and status == "valid":
            implied = implied_by_personal_id(pid)
            sexes.append(implied[1] if implied else None)
        else:
            sexes.append(None)
    out["sex_any"] = sexes
    out["given_marked"] = map_distinct(out["full_name"], lambda v: _marked_part(v, -1))
    out["family_marked"] = map_distinct(out["full_name"], lambda v: _marked_part(v, 0))
    # The household head says something about a person only when it is someone else: a head's
    # own name repeated in the head column is no extra evidence.
    own = [" ".join(x for x in (f, m, g) if x) for f, m, g in
           zip(out["family_key"], out["middle_key"], out["given_key"], strict=True)]
    out["head_other"] = [h if h and h != o else None
                         for h, o in zip(out["household_head_key"], own, strict=True)]
    for col in ("birth_year", "birth_month", "birth_day"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def _marked_part(full_name: object, index: int) -> str | None:
    """The given (-1) or family (0) name with its marks, when the source wrote marks at all:
    "Lường" and "Lương" are two family names, not a typo (DOMAIN.md §5)."""
    if not isinstance(full_name, str) or not full_name or fold(full_name) == full_name.lower():
        return None
    parts = full_name.split(" ")
    if index == 0 and len(parts) < 2:
        return None
    return parts[index].lower()


def _block_pairs(keys: pd.Series, is_new: np.ndarray, cap: int) -> tuple[np.ndarray, int]:
    """Pairs (i < j) of rows sharing a key, at least one of them new; oversized blocks skipped."""
    codes, _ = pd.factorize(keys, use_na_sentinel=True)
    valid = codes >= 0
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(codes[idx], kind="stable")]
    sorted_codes = codes[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    groups = np.split(order, bounds)
    found, skipped = [], 0
    for g in groups:
        if len(g) < 2:
            continue
        if len(g) > cap:
            skipped += 1
            continue
        if not is_new[g].any():
            continue
        a, b = np.triu_indices(len(g), k=1)
        i, j = g[a], g[b]
        keep = is_new[i] | is_new[j]
        found.append(np.stack([np.minimum(i, j)[keep], np.maximum(i, j)[keep]], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64), skipped
    return np.concatenate(found), skipped


def _key(*cols: pd.Series) -> pd.Series:
    out = cols[0].astype(object)
    for c in cols[1:]:
        out = out.where(out.isna() | c.isna(), out.astype(str) + "|" + c.astype(str))
        out = out.where(c.notna(), None)
    return out


def candidate_pairs(frame: pd.DataFrame, is_new: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Union of several blocking keys (measured for recall in the matching benchmark)."""
    def years(shift: int) -> pd.Series:
        # Two years at most one apart share (y + shift) // 2 for shift 0 or for shift 1.
        return frame["birth_year"].map(lambda v: None if v != v else str((int(v) + shift) // 2))

    no_year = frame["birth_year"].isna()
    full_date = frame["birth_day"].map(lambda v: None if v != v else str(int(v)))
    blocks = {
        # The core: same name (phonetically) and birth year at most one apart.
        "family+given+year": _key(frame["family_ph"], frame["given_ph"], years(0)),
        "family+given+year'": _key(frame["family_ph"], frame["given_ph"], years(1)),
        # A slip in the family name: same given name and exact birth date, or same commune.
        "given+birth date": _key(frame["given_ph"], years(0), frame["birth_month"].astype(str),
                                 full_date),
        "given+year+commune": _key(frame["given_ph"], years(0), frame["commune_code"]),
        # A slip in the given name: same family name, year and commune.
        "family+year+commune": _key(frame["family_ph"], years(0), frame["commune_code"]),
        "mother+given": _key(frame["mother_key"], frame["given_ph"]),
        # Records without a birth year meet their name-mates of the same commune.
        "undated+name+commune": _key(frame["family_ph"], frame["given_ph"],
                                     frame["commune_code"]).where(no_year, None),
    }
    all_pairs, stats = [], {}
    for name, keys in blocks.items():
        pairs, skipped = _block_pairs(keys, is_new, MAX_BLOCK)
        stats[name] = {"pairs": len(pairs), "oversized_blocks_skipped": skipped}
        all_pairs.append(pairs)
    pairs = np.unique(np.concatenate(all_pairs), axis=0) if all_pairs else np.empty((0, 2))
    return pd.DataFrame(pairs, columns=["i", "j"]), stats


def identifier_pairs(frame: pd.DataFrame, is_new: np.ndarray) -> pd.DataFrame:
    """Pairs that share a valid personal ID, a social-insurance code or a facility patient id;
    ``facility_only`` marks those the patient id alone joins (see ``_Clusters.identity_conflict``)."""
    pid = frame["personal_id"].where(frame["personal_id_status"] == "valid")
    fac = _key(frame["facility_code"], frame["facility_patient_id"])
    strong = np.concatenate([_block_pairs(keys, is_new, cap=10_000)[0]
                             for keys in (pid, frame["social_insurance_code"])])
    facility = _block_pairs(fac, is_new, cap=10_000)[0]
    pairs = np.unique(np.concatenate([strong, facility]), axis=0)
    out = pd.DataFrame(pairs, columns=["i", "j"])
    strong_set = set(map(tuple, strong.tolist()))
    out["facility_only"] = [(i, j) not in strong_set for i, j in pairs.tolist()]
    return out


class _Clusters:
    """Union-find whose roots remember the facts that forbid a merge."""

    def __init__(self, frame: pd.DataFrame) -> None:
        n = len(frame)
        self.parent = np.arange(n)
        self.pids: list[set] = [set() for _ in range(n)]
        self.persons: list[set] = [set() for _ in range(n)]
        self.dates: list[set] = [set() for _ in range(n)]
        self.sexes: list[set] = [set() for _ in range(n)]
        self.years: list[set] = [set() if y != y else {int(y)} for y in frame["birth_year"]]
        rows = zip(frame["personal_id"], frame["personal_id_status"], frame["person_id"],
                   frame["birth_year"], frame["birth_month"], frame["birth_day"],
                   frame["sex_any"], strict=True)
        for i, (pid, status, person, y, mo, d) in enumerate(
                (r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows):
            if pid and status == "valid":
                self.pids[i].add(pid)
            if person:
                self.persons[i].add(person)
            if d == d and mo == mo and y == y:
                self.dates[i].add((int(y), int(mo), int(d)))
        for i, sex in enumerate(frame["sex_any"]):
            if sex in ("M", "F"):
                self.sexes[i].add(sex)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def can_merge(self, a: int, b: int, fuzzy: bool) -> bool:
        if len(self.pids[a] | self.pids[b]) > 1 or len(self.persons[a] | self.persons[b]) > 1:
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
        for attr in ("pids", "persons", "dates", "sexes", "years"):
            getattr(self, attr)[ra] |= getattr(self, attr)[rb]
            getattr(self, attr)[rb] = set()
        return True


# Sources that list each person once (a registry extract, an insured list, a class list): two
# rows of one such file are a priori far less likely to be one person than rows of two sources.
# Event sources (clinic episodes, immunization doses) repeat people by design.
ONE_ROW_PER_PERSON = {"registry", "insurance", "school-exam", "adult-exam"}
SAME_LIST_PENALTY = 10.0


def _same_list(frame: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    kind = frame["source_kind"].to_numpy(object)
    file = frame["file_key"].to_numpy(object)
    one = np.isin(kind[i], list(ONE_ROW_PER_PERSON))
    return (one & (file[i] == file[j]) & pd.notna(file[i])).astype(float)


def _ambiguity(frame: pd.DataFrame, pairs: pd.DataFrame, scores: np.ndarray,
               thresholds: Thresholds, clusters: _Clusters) -> np.ndarray:
    """A record that would link to two different people of one list of people is ambiguous:
    the list itself says there are two such people ("Lò Khăm, 1952, Mường Lý" twice in the
    registry). Such links go to review instead, unless one candidate is far ahead."""
    strong = np.flatnonzero(scores >= thresholds.link)
    if not len(strong):
        return scores
    kind = frame["source_kind"].to_numpy(object)
    file = frame["file_key"].to_numpy(object)
    i_all, j_all = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    by_side: dict[tuple[int, object], list[int]] = defaultdict(list)
    for k in strong:
        for x, y in ((i_all[k], j_all[k]), (j_all[k], i_all[k])):
            if kind[y] in ONE_ROW_PER_PERSON and file[y] is not None:
                by_side[(x, file[y])].append(k)
    # Two rows of one list that are themselves strongly linked are one person listed twice
    # (a duplicate registration), not two candidates.
    strong_pairs = {(int(i_all[k]), int(j_all[k])) for k in strong}
    out = scores.copy()
    for (x, _), ks in by_side.items():
        if len(ks) < 2:
            continue
        others = [int(j_all[k] if i_all[k] == x else i_all[k]) for k in ks]
        if len({clusters.find(o) for o in others}) < 2:
            continue
        if all((min(a, b), max(a, b)) in strong_pairs
               for n, a in enumerate(others) for b in others[n + 1:]):
            continue
        ranked = sorted(ks, key=lambda k: -scores[k])
        best, second = scores[ranked[0]], scores[ranked[1]]
        losers = ranked if best - second < AMBIGUITY_MARGIN else ranked[1:]
        for k in losers:
            out[k] = min(out[k], thresholds.link - 0.01)
    return out


AMBIGUITY_MARGIN = 6.0


def _twins(frame: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Siblings and twins: same household (or mother) and birth date, different given name."""
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    house_i = frame["household_head_key"].to_numpy(object)
    mother_i = frame["mother_key"].to_numpy(object)
    same_home = ((house_i[i] == house_i[j]) & pd.notna(house_i[i])) | (
        (mother_i[i] == mother_i[j]) & pd.notna(mother_i[i]))
    given = frame["given_key"].to_numpy(object)
    return same_home & (given[i] != given[j])


def resolve(batch: pd.DataFrame, master: pd.DataFrame, thresholds: Thresholds
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Person id, rule and score for each batch record, the review queue, and statistics."""
    batch = batch.assign(person_id=None)
    known = dict(zip(master["record_key"], master["person_id"], strict=True))
    is_known = batch["record_key"].isin(known).to_numpy()
    master = master[~master["record_key"].isin(batch["record_key"][~is_known])]
    frame = prepare(pd.concat([master.assign(_new=False),
                               batch[~is_known].assign(_new=True)], ignore_index=True))
    is_new = frame["_new"].to_numpy(bool)
    ids = identifier_pairs(frame, is_new)
    cands, stats = candidate_pairs(frame, is_new)
    model = estimate(frame, ids)
    clusters = _Clusters(frame)
    # A person already in the database is one cluster from the start, so the facts of all its
    # records (ID numbers, dates, sex) guard every merge into it.
    first_of: dict[str, int] = {}
    for x, person in enumerate(frame["person_id"]):
        if person:
            if person in first_of:
                clusters.union(first_of[person], x, fuzzy=False)
            else:
                first_of[person] = x
    # Identifier links first (strongest evidence), then fuzzy links from the strongest down.
    rule = np.array([""] * len(frame), dtype=object)
    guarded: list[tuple[int, int]] = []  # patient id shared across sexes or years: review
    for i, j, facility_only in ids.itertuples(index=False):
        if facility_only and clusters.identity_conflict(int(i), int(j)):
            guarded.append((int(i), int(j)))
            continue
        if clusters.union(int(i), int(j), fuzzy=False):
            rule[i] = rule[i] or "identifier"
            rule[j] = rule[j] or "identifier"
    review = pd.DataFrame(columns=REVIEW_COLUMNS)
    score = np.full(len(frame), np.nan)
    if len(cands):
        cols = columns(frame)
        left = take(cols, cands["i"].to_numpy())
        levels = compare(left, take(cols, cands["j"].to_numpy()))
        scores = model.score(levels, left)
        del left
        # Hard rules: fuzzy evidence never links two different given or family names, birth
        # years more than one apart, or siblings/twins (DOMAIN.md §6).
        birth = levels["birth"].to_numpy()
        moved = (levels["commune"].to_numpy() == 1) & ~np.isin(birth, (4, 7))
        given, family = levels["given"].to_numpy(), levels["family"].to_numpy()
        vetoed = _twins(frame, cands) | ((given <= TONE_DIFFERS) & (given > 0)) | (
            (family <= TONE_DIFFERS) & (family > 0)) | (birth == 1) | (
            levels["sex"].to_numpy() == 1) | moved
        scores = scores - SAME_LIST_PENALTY * _same_list(frame, cands)
        scores = np.where(vetoed, np.minimum(scores, thresholds.review - 0.01), scores)
        scores = _ambiguity(frame, cands, scores, thresholds, clusters)
        order = np.argsort(-scores, kind="stable")
        ci, cj = cands["i"].to_numpy(), cands["j"].to_numpy()
        for k in order:
            s = scores[k]
            if s < thresholds.link:
                break
            i, j = int(ci[k]), int(cj[k])
            if clusters.find(i) != clusters.find(j) and clusters.union(i, j, fuzzy=True):
                for x in (i, j):
                    if not rule[x]:
                        rule[x] = "fuzzy"
                        score[x] = s
        in_band = (scores >= thresholds.review) & (scores < thresholds.link)
        rows = []
        for k in np.flatnonzero(in_band):
            i, j = int(ci[k]), int(cj[k])
            if clusters.find(i) != clusters.find(j):
                rows.append((frame.at[i, "record_key"], frame.at[j, "record_key"],
                             round(float(scores[k]), 2), None, None))
        review = pd.DataFrame(rows, columns=REVIEW_COLUMNS)
        stats["scored_pairs"] = int(len(cands))
    # Guarded identifier pairs join the queue at the review threshold (the identifier, not the
    # evidence, put them there), unless scoring already queued or linked them.
    queued = set(zip(review["record_key_a"], review["record_key_b"], strict=True))
    extra = [(frame.at[i, "record_key"], frame.at[j, "record_key"], thresholds.review, None, None)
             for i, j in guarded if clusters.find(i) != clusters.find(j)
             and (frame.at[i, "record_key"], frame.at[j, "record_key"]) not in queued]
    if extra:
        review = pd.DataFrame([*review.itertuples(index=False, name=None), *extra],
                              columns=REVIEW_COLUMNS)
    stats["guarded_identifier_pairs"] = len(guarded)
    stats["identifier_pairs"] = int(len(ids))
    stats["labelled_pairs_for_m"] = model.labelled_pairs

    members: dict[int, list[int]] = defaultdict(list)
    for x in range(len(frame)):
        members[clusters.find(x)].append(x)
    person_of = np.empty(len(frame), dtype=object)
    for root, xs in members.items():
        persons = clusters.persons[root]
        pid = next(iter(persons)) if persons else new_person_id(
            frame.at[x, "record_key"] for x in xs)
        for x in xs:
            person_of[x] = pid
    by_key = dict(zip(frame["record_key"], range(len(frame)), strict=True))
    out_person, out_rule, out_score = [], [], []
    for key in batch["record_key"]:
        if key in known:
            out_person.append(known[key])
            out_rule.append("known-record")
            out_score.append(None)
            continue
        x = by_key[key]
        out_person.append(person_of[x])
        out_rule.append(rule[x] or "new")
        out_score.append(None if np.isnan(score[x]) else round(float(score[x]), 2))
    result = pd.DataFrame({"person_id": out_person, "match_rule": out_rule,
                           "match_score": out_score})
    if len(review):
        review["person_a"] = [person_of[by_key[k]] for k in review["record_key_a"]]
        review["person_b"] = [person_of[by_key[k]] for k in review["record_key_b"]]
    return result, review, stats


def batch_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The batch's clean records in the master-index shape."""
    out = pd.DataFrame({
        "record_key": records["record_key"],
        "source_kind": records["source_kind"],
        "full_name": records["full_name"],
        "file_key": "batch:" + records["file_sha256"].astype(str),
        **{c: records[c] for c in ("family_key", "middle_key", "given_key", "sex",
                                    "birth_year", "birth_month", "birth_day",
                                    "birth_date_precision", "personal_id",
                                    "personal_id_status", "social_insurance_code",
                                    "facility_code", "facility_patient_id",
                                    "household_head_key", "phone")},
        "commune_code": records["permanent_commune_code"],
        "mother_key": records["mother_name"].map(lambda v: fold(v) or None if v == v and v
                                                 else None),
    })
    return out.reset_index(drop=True)


def match_stage(data: StageData, engine: Engine | None = None,
                thresholds: Thresholds | None = None) -> StageData:
    """Assign ``person_id``, ``match_rule`` and ``match_score`` to every clean record."""
    rec = data.records.reset_index(drop=True)
    master = read_master(engine)
    result, review, stats = resolve(batch_frame(rec), master, thresholds or Thresholds())
    out = rec.copy()
    out["person_id"] = result["person_id"].to_numpy()
    out["match_rule"] = result["match_rule"].to_numpy()
    out["match_score"] = result["match_score"].to_numpy()
    meta = dict(data.meta)
    meta["matcher"] = {"thresholds": vars(thresholds or Thresholds()), **stats}
    tables = dict(data.tables)
    if len(review):
        tables["review"] = review
    return StageData("match", data.files, out, data.rejects, tables, data.issues, meta)


__all__ = ["Model", "Thresholds", "match_stage", "resolve"]
