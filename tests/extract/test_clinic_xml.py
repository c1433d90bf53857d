"""Clinic XML (GIAMDINHHS): both layouts, base64 and plain, and every way a file can be broken."""

import base64
import datetime as dt
import json
import random

import sqlalchemy as sa

from etl.extract import extract_files
from etl.extract.clinic_xml import read, sniff
from etl.load import schema as s
from etl.pipeline import run
from etl.synth import simulate
from etl.synth.clinic import episode, filehoso, xml1

VISIT = dt.datetime(2025, 6, 2, 9, 30)


def envelope(facility: str, episodes: list[str]) -> str:
    return ('<?xml version="1.0" encoding="utf-8"?><GIAMDINHHS><THONGTINDONVI><MACSKCB>'
            f"{facility}</MACSKCB></THONGTINDONVI><THONGTINHOSO><NGAYLAP>20250630</NGAYLAP>"
            f"<SOLUONGHOSO>{len(episodes)}</SOLUONGHOSO><DANHSACHHOSO>{''.join(episodes)}"
            "</DANHSACHHOSO></THONGTINHOSO></GIAMDINHHS>")


def people(n=12):
    residents = simulate(200, seed=5)[:n]
    for n, r in enumerate(residents):
        r.facility_ids = {f: f"BN{n:04d}{f[-1]}" for f in ("38150", "38151")}
    return residents


def month_file(tmp_path, facility="38150", n=12, name=None):
    rng = random.Random(1)
    eps = [episode(r, f"{facility}LK{i:04d}", facility, VISIT, rng) for i, r in
           enumerate(people(n))]
    path = tmp_path / (name or f"xml_{facility}.xml")
    path.write_text(envelope(facility, eps), encoding="utf-8")
    return path, eps


def test_sniff(tmp_path):
    path, _ = month_file(tmp_path)
    assert sniff(path) == 1.0
    other = tmp_path / "x.xml"
    other.write_text("<root/>", encoding="utf-8")
    assert sniff(other) == 0.0


def test_both_layouts_and_encodings(tmp_path):
    for facility in ("38150", "38151"):  # 130 + base64, 4210 + plain escaped XML
        path, _ = month_file(tmp_path, facility)
        out = read(path, "sha")
        assert len(out.records) == 12 and not out.rejects
        first = out.records[0]
        assert first["locator"] == f"{facility}LK0000"
        assert first["record_key"] == f"clinic-xml:{facility}:{facility}LK0000"
        assert first["facility_patient_id"].startswith("BN")
        assert first["insurance_card"] or first["insurance_card"] is None
        assert len(first["birth_date"]) == (12 if facility == "38150" else 8)
        assert out.tables["encounters"] and out.tables["conditions"]
        assert out.skipped_tables == {"XML2": 12}


def test_inner_table_as_child_elements(tmp_path):
    r = people(1)[0]
    inner = xml1(r, "LK1", "38150", "130", VISIT, random.Random(2), None)
    ep = f"<HOSO><FILEHOSO><LOAIHOSO>XML1</LOAIHOSO><NOIDUNGFILE>{inner}</NOIDUNGFILE></FILEHOSO></HOSO>"
    path = tmp_path / "children.xml"
    path.write_text(envelope("38150", [ep]), encoding="utf-8")
    out = read(path, "sha")
    assert [r["locator"] for r in out.records] == ["LK1"]


def test_broken_episodes_are_contained(tmp_path):
    path, eps = month_file(tmp_path)
    bad_xml1 = "<HOSO>" + "<FILEHOSO><LOAIHOSO>XML1</LOAIHOSO><NOIDUNGFILE>!!notbase64!!" \
               "</NOIDUNGFILE></FILEHOSO></HOSO>"
    bad_xml4 = eps[1].replace("</HOSO>", "<FILEHOSO><LOAIHOSO>XML4</LOAIHOSO><NOIDUNGFILE>"
                              + base64.b64encode(b"<not-closed>").decode() +
                              "</NOIDUNGFILE></FILEHOSO></HOSO>")
    unknown = eps[2].replace("</HOSO>", filehoso("XML99", "<X/>", "base64") + "</HOSO>")
    duplicate = eps[3]
    path.write_text(envelope("38150", [eps[0], bad_xml1, bad_xml4, unknown, eps[3], duplicate]),
                    encoding="utf-8")
    out = read(path, "sha")
    assert [r["locator"] for r in out.records] == ["38150LK0000", "38150LK0001", "38150LK0002",
                                                   "38150LK0003"]
    got = sorted((r["locator"], r["slug"], r["scope"]) for r in out.rejects)
    assert got == [("38150LK0001", "undecodable-table", "part"),
                   ("38150LK0002", "unknown-table", "part"),
                   ("38150LK0003", "duplicate-episode", "record"),
                   ("HOSO#2", "undecodable-episode", "record")]


def test_truncated_file_keeps_what_was_read(tmp_path):
    path, _ = month_file(tmp_path)
    text = path.read_text(encoding="utf-8")
    cut = text.index("<HOSO>", len(text) // 2) + 200
    path.write_text(text[:cut], encoding="utf-8")
    data = extract_files([path]).data
    assert 1 <= len(data.records) < 12
    reject = data.rejects[data.rejects["slug"] == "truncated-file"].iloc[0]
    assert reject["scope"] == "file" and "line" in reject["message"]
    assert int(data.files.iloc[0]["rows"]) == len(data.records)


def test_entities_are_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><GIAMDINHHS>'
                    "<THONGTINDONVI><MACSKCB>&a;</MACSKCB></THONGTINDONVI></GIAMDINHHS>",
                    encoding="utf-8")
    data = extract_files([path]).data
    assert list(data.rejects["slug"]) == ["unsafe-xml"]


def test_month_loads_completely_and_corrections_update_only_changed_episodes(db, tmp_path):
    path, eps = month_file(tmp_path)
    first = run([path], db)
    assert first.files[0].created == 12 and first.reconciles
    with db.connect() as conn:
        encounters = conn.execute(sa.select(sa.func.count()).select_from(s.encounters)).scalar()
        conditions = conn.execute(sa.select(s.conditions.c.icd10)).scalars().all()
        weights = conn.execute(sa.select(s.observations.c.value_num)
                               .where(s.observations.c.code == "weight")).scalars().all()
        vitals = conn.execute(sa.select(s.observations.c.code).distinct()).scalars().all()
    assert encounters == 12
    assert all("." in c or len(c) == 3 for c in conditions)
    assert weights and all(w > 0 for w in weights)
    assert {"systolic", "diastolic", "pulse"} & set(vitals)

    corrected = eps[:]
    r = people(12)[5]
    corrected[5] = episode(r, "38150LK0005", "38150", VISIT + dt.timedelta(days=1),
                           random.Random(99))
    fixed = tmp_path / "xml_38150_corrected.xml"
    fixed.write_text(envelope("38150", corrected), encoding="utf-8")
    second = run([fixed], db)
    counts = second.files[0]
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 11)
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.encounters)).scalar() == 12
        started = conn.execute(sa.select(s.encounters.c.started_at).where(
            s.encounters.c.encounter_key == "clinic-xml:38150:38150LK0005")).scalar_one()
    assert started.date() == (VISIT + dt.timedelta(days=1)).date()


def test_original_and_correction_in_one_batch(db, tmp_path):
    path, eps = month_file(tmp_path, name="a_original.xml")
    later = tmp_path / "b_correction.xml"
    later.write_text(envelope("38150", eps[:3]), encoding="utf-8")
    summary = run([path, later], db)
    assert summary.reconciles
    assert summary.rejects_by_reason == {"superseded-episode": 3}
    assert sum(f.created for f in summary.files) == 12


def test_chunked_run_equals_one_chunk(tmp_path, samples):
    from etl.export import export_links
    from etl.load.db import connect, migrate

    results = []
    for chunk in (None, 7):
        engine = connect(f"sqlite:///{tmp_path / f'c{chunk}.db'}")
        migrate(engine)
        summary = run([samples], engine, chunk_records=chunk)
        assert summary.reconciles
        out = tmp_path / f"links{chunk}.csv"
        export_links(engine, out)
        results.append((summary.read, summary.rejected, out.read_text(encoding="utf-8")))
        engine.dispose()
    whole, chunked = results
    assert whole[:2] == chunked[:2]
    # Person ids come from each person's first record, so they agree where clusters agree.
    assert len(whole[2].splitlines()) == len(chunked[2].splitlines())


def test_parts_of_one_file_count_once(tmp_path, db, monkeypatch):
    from etl.extract import clinic_xml

    monkeypatch.setattr(clinic_xml, "PART_EPISODES", 5)
    path, _ = month_file(tmp_path)
    summary = run([path], db, chunk_records=8)
    assert len(summary.files) == 1
    counts = summary.files[0]
    assert (counts.read, counts.created) == (12, 12) and summary.reconciles


def test_extract_clinic_xml_command(hssk, tmp_path):
    path, _ = month_file(tmp_path)
    out = tmp_path / "staged"
    result = hssk("extract", "clinic-xml", path, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files"][0]["created"] == 12
    assert (out / "table_encounters.parquet").exists()
    wrong = hssk("extract", "clinic-xml", tmp_path / "nothing.csv", "-o", out)
    assert wrong.exit_code == 3
