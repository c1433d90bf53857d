"""Plan a full relink (``hssk match --full``), keeping person ids where clusters persist.

Every loaded record is matched afresh, as if none had a person yet (the analysts' decisions
still bind). Each new cluster then takes the old person id most of its records had — the
biggest overlaps choose first, and an id is given once — so persons that did not change keep
their ids; split-off groups get new persons. Applying the plan is load's work
(:mod:`etl.load.relink`).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import pandas as pd

from etl.match.decide import Thresholds
from etl.match.engine import resolve


def plan(master: pd.DataFrame, thresholds: Thresholds, decisions: pd.DataFrame | None = None
         ) -> tuple[dict[str, str], pd.DataFrame]:
    """record_key → person id after a full relink, reusing old ids where clusters persist; and
    the fresh review queue."""
    fresh, review, _ = resolve(master.drop(columns=["person_id"]), master.iloc[0:0], thresholds,
                               decisions)
    clusters: dict[str, list[int]] = defaultdict(list)
    for pos, cluster in enumerate(fresh["person_id"]):
        clusters[cluster].append(pos)
    old = master["person_id"].tolist()
    keys = master["record_key"].tolist()
    candidates = []
    for cluster, members in clusters.items():
        for person, overlap in Counter(old[m] for m in members).items():
            candidates.append((-overlap, -len(members), cluster, person))
    candidates.sort()
    taken: set[str] = set()
    chosen: dict[str, str] = {}
    for _, _, cluster, person in candidates:
        if cluster not in chosen and person not in taken:
            chosen[cluster] = person
            taken.add(person)
    existing = set(old)
    out: dict[str, str] = {}
    for cluster, members in clusters.items():
        person = chosen.get(cluster)
        if person is None:
            seed = min(keys[m] for m in members)
            person = hashlib.sha256(seed.encode()).hexdigest()[:16]
            while person in existing or person in taken:
                seed += "#"
                person = hashlib.sha256(seed.encode()).hexdigest()[:16]
            taken.add(person)
        for m in members:
            out[keys[m]] = person
    if len(review):
        review = review.assign(person_a=review["record_key_a"].map(out),
                               person_b=review["record_key_b"].map(out))
        review = review[review["person_a"] != review["person_b"]]
        review = review.assign(group_key=[f"{min(a, b)}|{max(a, b)}" for a, b in zip(
            review["person_a"], review["person_b"], strict=True)])
    return out, review
