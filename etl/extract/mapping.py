"""Declarative source mappings (``mappings/*.yaml``): header synonyms per field, detection rules.

A mapping is data a district IT officer can copy and edit; this module validates it and matches
a sheet's headers against it after folding case, diacritics and punctuation.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from etl.errors import MappingError
from etl.kinds import builtin_documents, traits_of
from etl.text import fold

_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def header_key(text: object) -> str:
    """Fold a header for comparison: "Họ, chữ đệm và tên" → "hochudemvaten"."""
    return _header_key(str(text)) if text is not None else ""


@functools.lru_cache(maxsize=65536)
def _header_key(text: str) -> str:
    # The header search tries every band of a sheet's first rows against every mapping: the
    # same few hundred cells are folded tens of thousands of times per run.
    return re.sub(r"[^a-z0-9]", "", fold(text))


@dataclass(frozen=True)
class Mapping:
    """One source kind's mapping: which header means which staged field."""

    kind: str
    description: str
    fields: dict[str, list[str]]
    required: list[str]
    any_of: list[str]
    ignore: list[str] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)
    priority: int = 50  # see etl.kinds: whose data wins in survivorship; breaks ties here
    source: str = ""
    hints: list[str] = field(default_factory=list)  # words in title rows that name this kind

    @functools.cached_property
    def synonym_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for name, synonyms in self.fields.items():
            for synonym in synonyms:
                index.setdefault(header_key(synonym), name)
        return index

    @functools.cached_property
    def ignored_keys(self) -> frozenset[str]:
        return frozenset(header_key(h) for h in self.ignore)

    def field_for(self, header: object) -> str | None:
        return self.synonym_index.get(header_key(header))

    def match_headers(self, headers: list[object]) -> dict[int, str]:
        """Column index → field for the headers this mapping knows (first column wins)."""
        found: dict[int, str] = {}
        taken: set[str] = set()
        for i, header in enumerate(headers):
            name = self.field_for(header)
            if name and name not in taken:
                found[i] = name
                taken.add(name)
        return found

    def score(self, headers: list[object], *, strict: bool = True) -> float:
        """How well a header row fits: 0 when a required field is missing (or, when ``strict``,
        none of the ``any_of`` fields that tell kinds apart is there), else the share of
        non-empty headers understood (ignored ones count as understood). A required entry
        ``birth_date|birth_year`` is met by either field."""
        matched = set(self.match_headers(headers).values())
        if not all(matched.intersection(r.split("|")) for r in self.required):
            return 0.0
        if strict and self.any_of and not matched.intersection(self.any_of):
            return 0.0
        keys = [header_key(h) for h in headers if header_key(h)]
        if not keys:
            return 0.0
        known = sum(1 for k in keys if k in self.synonym_index or k in self.ignored_keys)
        return known / len(keys) + 0.01 * len(matched)


def _parse(data: object, source: str) -> Mapping:
    if not isinstance(data, dict):
        raise MappingError(f"{source}: a mapping must be a YAML mapping (key: value)")
    kind = data.get("kind")
    if not isinstance(kind, str) or not re.fullmatch(r"[a-z][a-z0-9-]*", kind):
        raise MappingError(f"{source}: 'kind' must be a lower-case name like 'registry'")
    raw_fields = data.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise MappingError(f"{source}: 'fields' must map field names to lists of header synonyms")
    fields: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for name, synonyms in raw_fields.items():
        if not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise MappingError(f"{source}: field name {name!r} must be snake_case")
        if not isinstance(synonyms, list) or not all(isinstance(s, str) and s for s in synonyms):
            raise MappingError(f"{source}: field {name!r} needs a list of header texts")
        for synonym in synonyms:
            key = header_key(synonym)
            if key in seen and seen[key] != name:
                raise MappingError(
                    f"{source}: header {synonym!r} is listed for both {seen[key]!r} and {name!r}")
            seen[key] = name
        fields[name] = list(synonyms)
    detect = data.get("detect") or {}
    required = list(detect.get("required", []))
    any_of = list(detect.get("any_of", []))
    for name in [n for entry in required for n in entry.split("|")] + any_of:
        if name not in fields:
            raise MappingError(f"{source}: detect names field {name!r}, which 'fields' lacks")
    return Mapping(
        kind=kind,
        description=str(data.get("description", kind)),
        fields=fields,
        required=required,
        any_of=any_of,
        ignore=list(data.get("ignore", [])),
        values=dict(data.get("values") or {}),
        priority=traits_of(data, source).priority,
        source=source,
        hints=[fold(h) for h in detect.get("hints", [])],
    )


def load_mapping_file(path: Path) -> Mapping:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"cannot read mapping {path}: {exc}") from exc
    return _parse(data, str(path))


@functools.cache
def builtin_mappings() -> dict[str, Mapping]:
    """The mappings shipped inside the package, by kind."""
    found: dict[str, Mapping] = {}
    for name, data in builtin_documents().items():
        mapping = _parse(data, name)
        found[mapping.kind] = mapping
    return found


def mappings_for(extra_paths: list[Path] | None = None) -> dict[str, Mapping]:
    """Built-in mappings overlaid with user mapping files (same kind replaces)."""
    result = dict(builtin_mappings())
    for path in extra_paths or []:
        mapping = load_mapping_file(path)
        result[mapping.kind] = mapping
    return result
