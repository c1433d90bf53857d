"""Why two records are (or are not) one person, in plain words (``hssk explain``, the review
workbook).

Nothing here decides anything: the pairs go through :func:`etl.match.decide.decide` with the
context a full relink of everything loaded would have — the same records, the same model
estimate, the same identifier and analyst links, the same candidate pairs for the class priors
and the ambiguity rule — so an explanation is the decision itself, laid out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.match.decide import (
    LINK,
    REVIEW,
    Decided,
    Thresholds,
    decide,
    fit_calibration,
    reasons,
)
from etl.match.declare import COMPARISONS
from etl.match.engine import build_context, link_analysts
from etl.match.model import Model


@dataclass
class Explanation:
    a: dict[str, object]
    b: dict[str, object]
    rows: list[tuple[str, str, float]]  # (comparison, level, weight in bits)
    total: float  # bits of evidence
    posterior: float = 0.0  # log2-odds after the prior, the hard rules and the ambiguity rule
    probability: float = 0.0
    outcome: str = ""  # what :func:`etl.match.decide.decide` says: link / review / different
    shared_identifiers: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    vetoes: list[str] = field(default_factory=list)
    decision: str = ""
    same_person_now: bool = False
    text_en: str = ""
    text_vi: str = ""


def explain_pairs(master: pd.DataFrame, decisions: pd.DataFrame | None,
                  pairs: list[tuple[str, str]], thresholds: Thresholds | None = None
                  ) -> list[Explanation]:
    """One explanation per pair of record keys of ``master`` (the master index)."""
    thresholds = thresholds or Thresholds()
    fresh = master.drop(columns=["person_id"]).assign(person_id=None)
    ctx, cands = build_context(fresh, master.iloc[0:0], decisions)
    frame = ctx.frame
    pos = pd.Series(np.arange(len(frame)), index=frame["record_key"].to_numpy())
    group = ctx.clusters.roots()
    # The run's context first: class priors and the ambiguity rule come from all candidates.
    decided_all = decide(frame, cands, ctx.model, thresholds, group, cols=ctx.cols,
                         fit_priors=True)
    fit_calibration(frame, cands, decided_all, ctx.model, ctx.analyst)
    link_analysts(ctx)
    at = {(int(i), int(j)): k for k, (i, j) in enumerate(
        zip(cands["i"].to_numpy(), cands["j"].to_numpy(), strict=True))}
    wanted = pd.DataFrame([(min(pos[a], pos[b]), max(pos[a], pos[b])) for a, b in pairs],
                          columns=["i", "j"])
    # Pairs no blocking key proposed are decided on their own, with the run's priors.
    unseen = wanted[[(int(i), int(j)) not in at for i, j in wanted.itertuples(index=False)]]
    others = decide(frame, unseen.reset_index(drop=True), ctx.model, thresholds, group,
                    cols=ctx.cols)
    other_row = {(int(i), int(j)): n for n, (i, j) in enumerate(unseen.itertuples(index=False))}
    now = dict(zip(master["record_key"], master["person_id"], strict=True))
    out = []
    for i, j in wanted.itertuples(index=False):
        k = at.get((int(i), int(j)))
        d, row = (decided_all, k) if k is not None else (others, other_row[(int(i), int(j))])
        e = _explain(frame, int(i), int(j), d, row, ctx.model, thresholds,
                     ctx.clusters.find(int(i)) == ctx.clusters.find(int(j)))
        e.same_person_now = now.get(frame.at[int(i), "record_key"]) == now.get(
            frame.at[int(j), "record_key"])
        out.append(e)
    return out


def _explain(frame: pd.DataFrame, i: int, j: int, d: Decided, k: int, model: Model,
             thresholds: Thresholds, joined: bool) -> Explanation:
    a, b = frame.iloc[i].to_dict(), frame.iloc[j].to_dict()
    weights = d.weights_at(k)
    rows = [(c.en, c.levels[int(d.levels.at[k, name])].name, round(weights[name], 2))
            for name, c in COMPARISONS.items()]
    total = round(float(d.score[k]), 2)
    e = Explanation(a, b, rows, total, round(float(d.posterior[k]), 2),
                    round(float(model.calibrated(d.posterior[k])), 6), str(d.outcome[k]))
    _identifiers(e, a, b)
    words = reasons(d, k)
    e.vetoes = [en for en, _ in words if en.startswith("not linked on fuzzy evidence")]
    if e.conflicts:
        e.decision = "never the same person: " + "; ".join(e.conflicts)
    elif joined and e.shared_identifiers:
        e.decision = "linked by " + " and ".join(e.shared_identifiers)
    elif joined:
        e.decision = "linked by an analyst's decision or identifiers"
    elif e.outcome == LINK:
        e.decision = (f"link: probability {e.probability:.6f} ({e.posterior:+.1f} bits) ≥ link "
                      f"threshold {thresholds.link:g} bits")
    elif e.outcome == REVIEW:
        e.decision = (f"review: probability {e.probability:.4f} ({e.posterior:+.1f} bits) is "
                      f"between the review ({thresholds.review:g}) and link "
                      f"({thresholds.link:g}) thresholds")
    else:
        e.decision = (f"different people: probability {e.probability:.4f} "
                      f"({e.posterior:+.1f} bits) < review threshold {thresholds.review:g}")
    # Decided afresh on everything loaded now: a pair queued by an earlier batch can read
    # differently once more records are in.
    e.text_en = "; ".join(en for en, _ in words) + f". On everything loaded now: {e.decision}."
    e.text_vi = "; ".join(vi for _, vi in words) + (
        f". Xác suất cùng một người (theo toàn bộ dữ liệu hiện có): {e.probability:.4f}.")
    return e


def _identifiers(e: Explanation, a: dict[str, object], b: dict[str, object]) -> None:
    for kind, label in (("personal_id", "personal ID number"),
                        ("social_insurance_code", "social-insurance code")):
        va, vb = a.get(kind), b.get(kind)
        if isinstance(va, str) and isinstance(vb, str):
            valid = kind != "personal_id" or (a["personal_id_status"] == "valid" ==
                                              b["personal_id_status"])
            if va == vb and valid:
                e.shared_identifiers.append(label)
            elif va != vb and valid and kind == "personal_id":
                e.conflicts.append(f"two different valid {label}s")
