"""Transform: staged text in, parsed and validated identity out (pure functions, no I/O)."""

from etl.transform.records import CLEAN_COLUMNS, transform_stage

__all__ = ["CLEAN_COLUMNS", "transform_stage"]
