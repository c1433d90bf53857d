"""`hssk export fhir`: every line a valid FHIR resource, one Patient per person, references
that resolve, and `--since` limited to what later batches touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.report.fhir import RESOURCE_TYPES

fhir_r4b = pytest.importorskip("fhir.resources.R4B", reason="pip install -e '.[dev]'")


def read_export(folder: Path) -> dict[str, list[dict]]:
    out = {}
    for kind in RESOURCE_TYPES:
        model = fhir_r4b.get_fhir_model_class(kind)
        out[kind] = []
        for line in (folder / f"{kind}.ndjson").read_text(encoding="utf-8").splitlines():
            model.model_validate_json(line)  # raises on anything FHIR R4(B) does not allow
            out[kind].append(json.loads(line))
    return out


def references(resource: object) -> list[str]:
    found = []
    if isinstance(resource, dict):
        for key, value in resource.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                found += references(value)
    elif isinstance(resource, list):
        for value in resource:
            found += references(value)
    return found


def check_references(export: dict[str, list[dict]]) -> None:
    ids = {f"{r['resourceType']}/{r['id']}" for rs in export.values() for r in rs}
    assert len(ids) == sum(len(rs) for rs in export.values()), "resource ids are not unique"
    for kind, resources in export.items():
        for r in resources:
            refs = references(r)
            if kind != "Patient":
                assert any(ref.startswith("Patient/") for ref in refs), r["id"]
            assert set(refs) <= ids, f"{kind}/{r['id']} points outside the export"


def test_fhir_export_validates_and_links(district, engine, tmp_path, hssk_ok):
    hssk_ok("export", "fhir", "-o", tmp_path / "all", db=district)
    export = read_export(tmp_path / "all")
    with engine.connect() as conn:
        persons = {r[0] for r in conn.execute(sa.text("SELECT person_id FROM persons"))}
        counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                  for t in ("encounters", "observations", "lab_results", "conditions",
                            "immunizations")}
        last_batch = conn.execute(sa.text("SELECT MAX(id) FROM batches")).scalar_one()
    patients = [r["id"] for r in export["Patient"]]
    assert len(patients) == len(set(patients)) == len(persons)
    assert set(patients) == persons
    assert len(export["Encounter"]) == counts["encounters"]
    assert len(export["Observation"]) == counts["observations"] + counts["lab_results"]
    assert len(export["Condition"]) == counts["conditions"]
    assert len(export["Immunization"]) == counts["immunizations"]
    check_references(export)

    loinc = {c["code"] for o in export["Observation"] for c in o["code"].get("coding", [])
             if c["system"] == "http://loinc.org"}
    assert {"8302-2", "29463-7", "8480-6", "8462-4"} <= loinc
    units = {o["valueQuantity"]["code"] for o in export["Observation"]
             if "valueQuantity" in o and "code" in o["valueQuantity"]}
    assert {"cm", "kg", "mm[Hg]"} <= units
    assert all(c["code"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/icd-10"
               for c in export["Condition"] if "coding" in c["code"])
    births = {p.get("birthDate") for p in export["Patient"]} - {None}
    assert any(len(b) == 4 for b in births) and any(len(b) == 10 for b in births)
    named = next(p for p in export["Patient"] if p.get("name"))
    name = named["name"][0]
    assert name["text"].startswith(name["family"]) and name["text"].endswith(name["given"][-1])

    # The same data exported again gives the same bytes (ids come from business keys).
    hssk_ok("export", "fhir", "-o", tmp_path / "again", db=district)
    for kind in RESOURCE_TYPES:
        assert (tmp_path / "all" / f"{kind}.ndjson").read_bytes() == \
            (tmp_path / "again" / f"{kind}.ndjson").read_bytes()

    # --since: nothing after the last batch; after the registry batch, what the second run
    # touched, still self-contained.
    hssk_ok("export", "fhir", "-o", tmp_path / "none", "--since", last_batch, db=district)
    assert all(not rs for rs in read_export(tmp_path / "none").values())
    hssk_ok("export", "fhir", "-o", tmp_path / "delta", "--since", last_batch - 1, db=district)
    delta = read_export(tmp_path / "delta")
    check_references(delta)
    assert 0 < len(delta["Patient"]) < len(patients)
    assert len(delta["Encounter"]) == counts["encounters"]  # all clinical data came second
