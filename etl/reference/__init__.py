"""Reference code lists shipped as data files (see SOURCES.md beside this module).

Loaded lazily and cached: the lists are small, and every stage asks the same questions.
"""

from __future__ import annotations

import csv
import functools
from importlib.resources import files
from typing import Any

import yaml


def _rows(name: str) -> list[dict[str, str]]:
    with files(__package__).joinpath(name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@functools.cache
def provinces() -> dict[str, dict[str, str]]:
    return {row["code"]: row for row in _rows("provinces.csv")}


@functools.cache
def province_codes() -> frozenset[str]:
    """Two-digit GSO province codes; personal ID numbers prefix them with 0."""
    return frozenset(provinces())


@functools.cache
def communes() -> list[dict[str, str]]:
    return _rows("communes.csv")


@functools.cache
def admin_units_2024() -> list[dict[str, str]]:
    """Communes in force before 1 July 2025 with their district and province (GSO codes).

    Five island districts had no commune level: they appear once with an empty commune_code.
    """
    return _rows("admin_units_2024.csv")


@functools.cache
def admin_units_2025() -> list[dict[str, str]]:
    """The 3,321 communes of the 34 provinces from 1 July 2025 (no district level any more)."""
    return _rows("admin_units_2025.csv")


@functools.cache
def admin_crosswalk_2025() -> list[dict[str, str]]:
    """Old commune → new commune links; is_default marks where a split commune's people go by
    default. Rows with an empty old_commune_code map a whole island district (old_district_code)."""
    return _rows("admin_crosswalk_2025.csv")


@functools.cache
def ethnicities() -> list[dict[str, str]]:
    return _rows("ethnicities.csv")


@functools.cache
def vaccines() -> list[dict[str, str]]:
    return _rows("vaccines.csv")


@functools.cache
def sex_codes() -> dict[str, str]:
    return {row["value"]: row["sex"] for row in _rows("sex.csv")}


@functools.cache
def vital_bounds() -> dict[str, Any]:
    text = files(__package__).joinpath("vitals.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.cache
def value_sets() -> dict[str, Any]:
    """The 831 value sets (canonical code → spellings), see value_sets.yaml."""
    text = files(__package__).joinpath("value_sets.yaml").read_text(encoding="utf-8")
    return {k: v for k, v in yaml.safe_load(text).items() if isinstance(v, dict)}
