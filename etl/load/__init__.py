"""Load: the only writer of the HSSK database. One batch, one transaction."""

from etl.load.loader import load_stage

__all__ = ["load_stage"]
