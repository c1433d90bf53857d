"""Source kinds and the traits later stages need from them, declared beside the mappings.

Every built-in kind but one is a ``mappings/*.yaml`` file; the clinic XML export (GIAMDINHHS)
has no header mapping and is declared here. Besides its headers, a mapping declares:

``priority``
    Whose administrative data wins when sources disagree (lower wins): load's survivorship
    rules order a person's records by it (registry 10, insurance 20, clinic 30, …).
``one_row_per_person``
    The kind lists each person at most once per file (a registry extract, an insured list, a
    class list), so two rows of one such file are a priori two people. Event sources (clinic
    episodes, immunization doses) repeat people by design and leave it false.

This module sits below the stages and imports none of them: extract reads mappings through it,
load and match read the traits here instead of importing extract.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.resources import files

import yaml

from etl.errors import MappingError

DEFAULT_PRIORITY = 50
CLINIC_XML = "clinic-xml"


@dataclass(frozen=True)
class KindTraits:
    """What load and match need to know about a source kind (see the module docstring)."""

    kind: str
    description: str
    priority: int = DEFAULT_PRIORITY
    one_row_per_person: bool = False


_CLINIC_XML_TRAITS = KindTraits(
    CLINIC_XML, "Clinic export for insurance assessment (GIAMDINHHS XML, QĐ 4210/130)",
    priority=30, one_row_per_person=False)


def traits_of(data: dict[str, object], source: str) -> KindTraits:
    """The traits a parsed mapping declares (``priority``, ``one_row_per_person``), checked."""
    try:
        priority = int(data.get("priority", DEFAULT_PRIORITY))  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise MappingError(f"{source}: 'priority' must be a whole number (lower wins)") from exc
    once = data.get("one_row_per_person", False)
    if not isinstance(once, bool):
        raise MappingError(f"{source}: 'one_row_per_person' must be true or false")
    kind = str(data.get("kind"))
    return KindTraits(kind, str(data.get("description", kind)), priority, once)


@functools.cache
def builtin_documents() -> dict[str, dict[str, object]]:
    """The built-in mapping files as parsed YAML, by file name (read once per process)."""
    found: dict[str, dict[str, object]] = {}
    for entry in sorted(files("etl.mappings").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            found[entry.name] = yaml.safe_load(entry.read_text(encoding="utf-8"))
    return found


@functools.cache
def kind_traits() -> dict[str, KindTraits]:
    """Traits of every built-in source kind, by kind (the clinic XML export included)."""
    traits = {CLINIC_XML: _CLINIC_XML_TRAITS}
    for name, data in builtin_documents().items():
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise MappingError(f"{name}: a mapping needs a 'kind'")
        traits[data["kind"]] = traits_of(data, name)
    return traits


def known_kinds() -> list[str]:
    """Every built-in source kind, sorted (what ``--kind`` accepts besides ``auto``)."""
    return sorted(kind_traits())


def priorities() -> dict[str, int]:
    """Survivorship priority by kind (lower wins); unknown kinds rank at ``DEFAULT_PRIORITY``."""
    return {kind: t.priority for kind, t in kind_traits().items()}


def one_row_per_person_kinds() -> frozenset[str]:
    """The kinds that list each person at most once per file."""
    return frozenset(kind for kind, t in kind_traits().items() if t.one_row_per_person)
