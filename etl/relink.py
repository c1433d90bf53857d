"""``hssk match --full``: relink everything loaded, as one use case.

Reads the master index and the analysts' decisions through load, plans the new persons with
the matcher (:func:`etl.match.relink.plan`) and applies the plan through load.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from etl.load.db import require_current
from etl.load.decisions import read_decisions
from etl.load.master import read_master
from etl.load.relink import RelinkSummary, apply_relink
from etl.match.decide import Thresholds
from etl.match.relink import plan


def relink(engine: Engine, thresholds: Thresholds | None = None) -> RelinkSummary:
    require_current(engine)
    master = read_master(engine)
    if master.empty:
        return RelinkSummary()
    target, review = plan(master, thresholds or Thresholds(), read_decisions(engine))
    return apply_relink(engine, master, target, review)
