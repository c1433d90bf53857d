"""Names of administrative units for reports: commune, district and province, old and new.

``etl.reference`` is the one place the lists live; this module only asks it, through the
nationwide lists (``admin_units_2024``, ``admin_units_2025``, ``admin_crosswalk_2025``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from etl import reference


@dataclass(frozen=True)
class Commune:
    code: str
    name: str | None = None
    district_code: str | None = None
    district: str | None = None
    province_code: str | None = None
    province: str | None = None
    code_2025: str | None = None  # where the commune's people go by default from 1 July 2025


@dataclass(frozen=True)
class Commune2025:
    code: str
    name: str | None = None
    province_code: str | None = None
    province: str | None = None


@dataclass(frozen=True)
class Places:
    """Pre-2025 communes and post-2025 communes by code, and which lists they came from."""

    communes: dict[str, Commune]
    communes_2025: dict[str, Commune2025]
    source: str

    def commune(self, code: object) -> Commune | None:
        return self.communes.get(code) if isinstance(code, str) else None

    def commune_2025(self, code: object) -> Commune2025 | None:
        return self.communes_2025.get(code) if isinstance(code, str) else None


def _nationwide() -> Places:
    default_new: dict[str, str] = {}
    for row in reference.admin_crosswalk_2025():
        old, new = row["old_commune_code"], row["new_commune_code"]
        if old and new and (row.get("is_default") == "1" or old not in default_new):
            default_new[old] = new
    communes = {
        row["commune_code"]: Commune(
            row["commune_code"], row["commune"], row["district_code"], row["district"],
            row["province_code"], row["province"], default_new.get(row["commune_code"]))
        for row in reference.admin_units_2024() if row["commune_code"]}
    communes_2025 = {
        row["commune_code"]: Commune2025(row["commune_code"], row["commune"],
                                         row["province_code"], row["province"])
        for row in reference.admin_units_2025() if row["commune_code"]}
    return Places(communes, communes_2025,
                  "nationwide lists of etl.reference (admin_units_2024, admin_units_2025, "
                  "admin_crosswalk_2025)")


@functools.cache
def places() -> Places:
    """The nationwide administrative lists, by code."""
    return _nationwide()
