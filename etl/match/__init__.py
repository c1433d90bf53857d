"""Match: give every clean record a person id (existing where the evidence links, new otherwise)."""

from etl.match.engine import match_stage

__all__ = ["match_stage"]
