"""Names of administrative units for reports: commune, district and province, old and new.

``etl.reference`` is the one place the lists live; this module only asks it. It uses the
nationwide lists (``admin_units_2024``, ``admin_units_2025``, ``admin_crosswalk_2025``) and falls
back to the Mường Lát sample list (``communes.csv``) if a build lacks them.
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


def _nationwide() -> Places | None:
    if not all(hasattr(reference, name) for name in
               ("admin_units_2024", "admin_units_2025", "admin_crosswalk_2025")):
        return None
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


def _sample_list() -> Places:
    provinces = reference.provinces()
    communes, communes_2025 = {}, {}
    for row in reference.communes():
        province = provinces.get(row["province_code"], {})
        communes[row["code"]] = Commune(
            row["code"], row["name"], row["district_code"], row["district_name"],
            row["province_code"], province.get("name"), row["code_2025"] or None)
        if row["code_2025"]:
            communes_2025[row["code_2025"]] = Commune2025(
                row["code_2025"], row["name_2025"], province.get("code_2025"),
                province.get("name_2025"))
    return Places(communes, communes_2025, "etl.reference communes.csv (Mường Lát only)")


@functools.cache
def places() -> Places:
    """The nationwide administrative lists, or the Mường Lát sample list without them."""
    return _nationwide() or _sample_list()
