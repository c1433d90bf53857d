"""`hssk review export` / `hssk review import`: the analysts' loop on a generated district.

An analyst simulated from the generator's ground truth answers every pair of the exported queue
and imports the workbook; the persons of those records must then be partitioned exactly as the
answers say, the decisions stored, and a second import must change nothing at all.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from etl.load import schema as s
from etl.load.curation import split_person
from etl.load.db import connect
from etl.load.decisions import ordered, read_decisions
from etl.review.workbook import check_value

INSURANCE = "bhxh_muong_lat.xlsx"
RENAMED = "=bhxh_muong_lat.xlsx"  # a file name that looks like a formula


def district(samples: Path, out: Path) -> dict[tuple[str, str], str]:
    """The samples with the insurance list renamed; ground truth (file, locator) → resident."""
    out.mkdir()
    for path in samples.iterdir():
        if path.is_file():
            shutil.copy(path, out / (RENAMED if path.name == INSURANCE else path.name))
    with open(samples / "_truth" / "ground_truth.csv", encoding="utf-8") as fh:
        return {(RENAMED if r["source_file"] == INSURANCE else r["source_file"], r["locator"]):
                r["resident_id"] for r in csv.DictReader(fh)}


def load(hssk, url: str, folder: Path) -> None:  # type: ignore[no-untyped-def]
    assert hssk("init", db=url).exit_code == 0
    result = hssk("run", folder, db=url)
    assert result.exit_code in (0, 1), result.output


def missed_links(engine, n: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Make the matcher look as if it had missed ``n`` true links and queued them: a clinic or
    immunization record split off its person (what it brought goes with it), the pair queued
    for review, nothing decided about it yet — and two pairs of strangers queued beside them.
    The generated district links perfectly and queues little, so without these the analyst
    would have nothing of either kind to answer."""
    sr = s.source_records.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sr.person_id, sr.record_key, sr.source_kind)
                            .order_by(sr.record_key)).all()
    by_person: dict[str, list[tuple[str, str]]] = {}
    for person, key, kind in rows:
        by_person.setdefault(person, []).append((key, kind))
    chosen = [(p, recs) for p, recs in sorted(by_person.items())
              if len(recs) >= 2 and any(k in ("clinic-xml", "immunization") for _, k in recs)]
    # And two pairs of strangers (records of two persons the run kept apart), so the analyst
    # also has something to answer "different".
    persons = sorted(by_person)
    for k in range(2):
        (key_a, _), (key_b, _) = by_person[persons[2 * k]][0], by_person[persons[2 * k + 1]][0]
        with engine.begin() as conn:
            conn.execute(s.match_reviews.insert().values(
                record_key_a=key_a, record_key_b=key_b, person_a=persons[2 * k],
                person_b=persons[2 * k + 1], score=13.5, status="open", batch_id=1,
                probability=0.4))
    for person, recs in chosen[:n]:
        off = next(key for key, kind in recs if kind in ("clinic-xml", "immunization"))
        stay = next(key for key, _ in recs if key != off)
        change = split_person(engine, person, [off], reason="setup", by="test")
        with engine.begin() as conn:
            conn.execute(s.match_decisions.delete())
            conn.execute(s.person_changes.delete().where(
                s.person_changes.c.id == change.change_id))
            conn.execute(s.match_reviews.insert().values(
                record_key_a=stay, record_key_b=off, person_a=person,
                person_b=change.summary["new_person"], score=12.5, status="open",
                batch_id=change.summary["batch_id"], probability=0.97))


def everything(engine) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    out = {}
    with engine.connect() as conn:
        for table in s.metadata.sorted_tables:
            out[table.name] = [tuple(r) for r in conn.execute(
                sa.select(table).order_by(*table.primary_key.columns))]
    return out


def record_keys(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """FILE:LOCATOR → record key."""
    sr, sf = s.source_records.c, s.source_files.c
    with engine.connect() as conn:
        return {f"{name}:{loc}": key for name, loc, key in conn.execute(
            sa.select(sf.file_name, sr.locator, sr.record_key)
            .join(s.source_files, sf.id == sr.source_file_id))}


def persons_of(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(s.source_records.c.record_key,
                                           s.source_records.c.person_id)).all())


def sheet_rows(path: Path) -> tuple[list[str], list[dict[str, object]]]:
    ws = load_workbook(path)["review"]
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def fill(path: Path, decide) -> None:  # type: ignore[no-untyped-def]
    """Answer each row: ``decide(row number, row) → (decision, note)``."""
    wb = load_workbook(path)
    ws = wb["review"]
    header = [c.value for c in ws[1]]
    for cells in ws.iter_rows(min_row=2):
        row = {h: c.value for h, c in zip(header, cells, strict=True)}
        decision, note = decide(cells[0].row, row)
        cells[header.index("decision")].value = decision
        cells[header.index("note")].value = note
    wb.save(path)


def partition(keys: set[str], person: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for key in keys:
        groups.setdefault(person[key], set()).add(key)
    return {frozenset(g) for g in groups.values()}


def unquote(ref: str) -> str:
    return ref[1:] if ref.startswith("'=") else ref


def test_review_round_trip_from_ground_truth(samples, tmp_path, hssk, db_url):
    truth = district(samples, tmp_path / "district")
    load(hssk, db_url, tmp_path / "district")
    engine = connect(db_url)
    missed_links(engine)
    book = tmp_path / "review.xlsx"
    result = hssk("review", "export", "-o", book, db=db_url)
    assert result.exit_code == 0, result.output

    wb = load_workbook(book)
    assert wb.sheetnames[0] == "review"
    ws = wb["review"]
    header, rows = sheet_rows(book)
    assert header[:3] == ["record_a", "record_b", "decision"]
    assert {"note", "probability", "explanation_en", "explanation_vi", "personal_id_a",
            "personal_id_b", "name_a", "name_b"} <= set(header)
    assert len(rows) >= 4
    assert ws.column_dimensions["Z"].hidden and header[25] == "check"
    (validation,) = ws.data_validations.dataValidation
    assert validation.formula1 == '"same,different,skip"'
    assert str(validation.sqref) == f"C2:C{len(rows) + 1}"
    assert ws.freeze_panes == "C2"
    assert all(c.data_type != "f" for line in ws.iter_rows() for c in line)
    assert any(str(r["record_a"]).startswith("'=bhxh") for r in rows)
    ids = [r[c] for r in rows for c in ("personal_id_a", "personal_id_b") if r[c]]
    assert ids and all(str(v).startswith("•") for v in ids)
    assert all(r["explanation_en"] and r["explanation_vi"] for r in rows)
    fills = {(c.row, header[c.column - 1]) for line in ws.iter_rows(min_row=2) for c in line
             if c.fill.fill_type == "solid"}
    for n, r in enumerate(rows, start=2):
        for field in ("name", "sex", "birth_date"):
            differ = (r[f"{field}_a"] or "") != (r[f"{field}_b"] or "")
            assert ((n, f"{field}_a") in fills) == differ, (n, field)

    keys, before = record_keys(engine), persons_of(engine)
    pairs = {}

    def from_truth(number, row):
        ref_a, ref_b = unquote(row["record_a"]), unquote(row["record_b"])
        same = truth[tuple(ref_a.rsplit(":", 1))] == truth[tuple(ref_b.rsplit(":", 1))]
        pairs[number] = (keys[ref_a], keys[ref_b], "same" if same else "different")
        return pairs[number][2], "from the ground truth"

    fill(book, from_truth)
    assert {d for _, _, d in pairs.values()} == {"same", "different"}
    untouched = everything(engine)
    result = hssk("review", "import", book, "--json", "--by", "simulated", db=db_url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    refused = {row for row, _ in report["refusals"]}
    applied = {n: p for n, p in pairs.items() if n not in refused}
    # only a "same" whose records carry two valid ID numbers may be refused
    assert all(pairs[n][2] == "same" and "valid personal ID" in why
               for n, why in report["refusals"])
    assert report["kept_apart"] == sum(d == "different" for _, _, d in pairs.values())
    assert report["rows"] == len(rows) and report["skipped"] == 0 and report["merged"] > 0

    # the link partition of the pairs' records is the one the answers make
    records = {k for a, b, _ in pairs.values() for k in (a, b)}
    after = persons_of(engine)
    expected = {k: before[k] for k in records}
    for a, b, decision in applied.values():
        if decision == "same":
            old, new = expected[b], expected[a]
            expected = {k: new if p == old else p for k, p in expected.items()}
    assert partition(records, after) == partition(records, expected)
    for a, b, decision in applied.values():
        assert (after[a] == after[b]) == (decision == "same")
    decisions = {(r.record_key_a, r.record_key_b): r.decision
                 for r in read_decisions(engine).itertuples()}
    assert decisions == {ordered(a, b): d for a, b, d in applied.values()}
    with engine.connect() as conn:
        status = {ordered(a, b): st for a, b, st in conn.execute(sa.select(
            s.match_reviews.c.record_key_a, s.match_reviews.c.record_key_b,
            s.match_reviews.c.status))}
    assert {p: status[p] for p in decisions} == decisions

    snapshot = everything(engine)
    again = hssk("review", "import", book, "--json", db=db_url)
    assert again.exit_code == 0, again.output
    second = json.loads(again.output)
    assert (second["merged"], second["kept_apart"], second["changes"]) == (0, 0, [])
    assert everything(engine) == snapshot

    # every change the import made (merges and cannot-links) undone, newest first
    for change in reversed(report["changes"]):
        result = hssk("person", "undo", str(change), db=db_url)
        assert result.exit_code == 0, result.output
    now = everything(engine)
    assert {t: rows for t, rows in now.items() if t != "person_changes"} == {
        t: rows for t, rows in untouched.items() if t != "person_changes"}
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def queue(request, samples, tmp_path_factory, fresh_schema):
    """A loaded district per database kind, shared by the tests that change nothing."""
    from click.testing import CliRunner

    from etl.cli import cli

    def hssk(*args, db):
        return CliRunner().invoke(cli, ["--db", db, *map(str, args)], catch_exceptions=False)

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('queue') / 'hssk.db'}"
        load(hssk, url, samples)
        missed_links(connect(url))
        yield url
        return
    with fresh_schema(request.getfixturevalue("pg_database")) as url:
        load(hssk, url, samples)
        missed_links(connect(url))
        yield url


def test_import_refuses_edited_rows_and_applies_nothing(queue, hssk, tmp_path):
    engine = connect(queue)
    book = tmp_path / "review.xlsx"
    assert hssk("review", "export", "-o", book, db=queue).exit_code == 0
    snapshot = everything(engine)

    fill(book, lambda number, row: ("maybe" if number == 3 else "same", None))
    wb = load_workbook(book)
    wb["review"]["B2"] = wb["review"]["B2"].value + "0"
    wb.save(book)
    result = hssk("review", "import", book, db=queue)
    assert result.exit_code == 2
    assert "row 2: record_a or record_b was edited" in result.output
    assert "row 3: decision 'maybe'" in result.output
    assert "nothing was applied" in result.output and "Traceback" not in result.output
    assert everything(engine) == snapshot

    wb = load_workbook(book)
    ws = wb["review"]
    header = [c.value for c in ws[1]]
    ws.cell(2, 2).value = "nofile.csv:row=1"
    ws.cell(2, header.index("check") + 1).value = check_value(ws.cell(2, 1).value.lstrip("'"),
                                                              "nofile.csv:row=1")
    ws.cell(3, 3).value = "skip"
    wb.save(book)
    result = hssk("review", "import", book, db=queue)
    assert result.exit_code == 2
    assert "row 2: no loaded record 'nofile.csv:row=1'" in result.output
    assert everything(engine) == snapshot
    engine.dispose()


def test_export_orders_by_priority_groups_and_filters(queue, hssk, tmp_path):
    engine = connect(queue)
    mr = s.match_reviews
    with engine.connect() as conn:
        ids = conn.execute(sa.select(mr.c.id).order_by(mr.c.score.desc(), mr.c.id)
                           ).scalars().all()
        original = conn.execute(sa.select(mr.c.id, mr.c.priority, mr.c.group_key)).all()
    assert len(ids) >= 5
    try:
        with engine.begin() as conn:
            conn.execute(mr.update().values(priority=None, group_key=None))
            conn.execute(mr.update().where(mr.c.id == ids[-1]).values(priority=5.0))
            conn.execute(mr.update().where(mr.c.id == ids[-2]).values(priority=1.0,
                                                                      group_key="g1"))
            conn.execute(mr.update().where(mr.c.id == ids[0]).values(group_key="g1"))
        book = tmp_path / "all.xlsx"
        assert hssk("review", "export", "-o", book, db=queue).exit_code == 0
        with engine.connect() as conn:
            by_id = {i: (a, b) for i, a, b in conn.execute(
                sa.select(mr.c.id, mr.c.record_key_a, mr.c.record_key_b))}
        keys = {v: k for k, v in record_keys(engine).items()}
        _, rows = sheet_rows(book)
        order = [(keys[by_id[i][0]], keys[by_id[i][1]]) for i in
                 [ids[-1], ids[-2], ids[0], *ids[1:-2]]]
        assert [(unquote(r["record_a"]), unquote(r["record_b"])) for r in rows] == order
        assert [r["group"] for r in rows[:3]] == [None, "g1", "g1"]

        limited = tmp_path / "two.xlsx"
        result = hssk("review", "export", "-o", limited, "--limit", "2", "--show-ids", db=queue)
        assert result.exit_code == 0 and "wrote 2 pair(s)" in result.output
        _, two = sheet_rows(limited)
        assert [r["record_a"] for r in two] == [r["record_a"] for r in rows[:2]]
        shown = [r[c] for r in two for c in ("personal_id_a", "personal_id_b") if r[c]]
        assert all("•" not in str(v) for v in shown)

        commune = str(rows[-1]["commune_a"]).split()[0]
        one = tmp_path / "commune.xlsx"
        assert hssk("review", "export", "-o", one, "--commune", commune, db=queue).exit_code == 0
        _, mine = sheet_rows(one)
        expected = [r for r in rows if commune in (str(r["commune_a"]).split()[0],
                                                   str(r["commune_b"]).split()[0])]
        assert [r["record_a"] for r in mine] == [r["record_a"] for r in expected]
        assert len(mine) > 0
    finally:
        with engine.begin() as conn:
            for rid, priority, group_key in original:
                conn.execute(mr.update().where(mr.c.id == rid)
                             .values(priority=priority, group_key=group_key))
        engine.dispose()


def test_decisions_survive_a_full_relink_and_a_rerun(samples, tmp_path, hssk, db_url):
    """The analyst overrules the matcher twice — two records it keeps apart are one person, a
    missed link is two people — and a full relink and a re-run keep every decision."""
    truth = district(samples, tmp_path / "district")
    load(hssk, db_url, tmp_path / "district")
    engine = connect(db_url)
    missed_links(engine)
    sr, pi = s.source_records.c, s.person_identifiers.c
    with engine.begin() as conn:
        with_id = set(conn.execute(sa.select(pi.person_id).where(
            pi.kind == "personal_id", pi.status == "valid")).scalars())
        loose = [(p, k) for p, k in conn.execute(
            sa.select(sr.person_id, sa.func.min(sr.record_key)).where(
                sr.source_kind == "immunization").group_by(sr.person_id)
            .order_by(sr.person_id)) if p not in with_id][:2]
        conn.execute(s.match_reviews.insert().values(
            record_key_a=loose[0][1], record_key_b=loose[1][1], person_a=loose[0][0],
            person_b=loose[1][0], score=9.0, status="open", batch_id=1))
    book = tmp_path / "review.xlsx"
    assert hssk("review", "export", "-o", book, db=db_url).exit_code == 0
    keys = record_keys(engine)
    joined = {loose[0][1], loose[1][1]}
    decided: list[tuple[str, str, str]] = []
    truth_same: dict[tuple[str, str], bool] = {}
    # The overruled missed link must be a pair no other row touches: a "same" elsewhere that
    # joins one of its records to the other's person would contradict it.
    refs = [unquote(str(r[c])) for r in sheet_rows(book)[1] for c in ("record_a", "record_b")]
    alone = {r for r in refs if refs.count(r) == 1}

    def answer(number, row):
        ref_a, ref_b = unquote(row["record_a"]), unquote(row["record_b"])
        a, b = keys[ref_a], keys[ref_b]
        same = truth[tuple(ref_a.rsplit(":", 1))] == truth[tuple(ref_b.rsplit(":", 1))]
        truth_same[(a, b)] = same
        if {a, b} == joined:
            decision = "same"  # against the matcher and the generator
        elif same and {ref_a, ref_b} <= alone and not any(
                truth_same[(x, y)] for x, y, d in decided if d == "different"):
            decision = "different"  # the first missed link: the analyst says two people
        else:
            decision = "same" if same else "different"
        decided.append((a, b, decision))
        return decision, None

    fill(book, answer)
    overruled = [(a, b, d) for a, b, d in decided if truth_same[(a, b)] != (d == "same")]
    assert len(overruled) == 2 and {d for _, _, d in overruled} == {"same", "different"}
    result = hssk("review", "import", book, "--json", db=db_url)
    assert result.exit_code == 0 and json.loads(result.output)["refused"] == 0, result.output

    def together() -> list[tuple[str, str, bool]]:
        now = persons_of(engine)
        return [(a, b, now[a] == now[b]) for a, b, _ in decided]

    expected = [(a, b, d == "same") for a, b, d in decided]
    assert together() == expected
    result = hssk("match", "--full", db=db_url)
    assert result.exit_code == 0, result.output
    assert together() == expected
    assert hssk("run", tmp_path / "district", db=db_url).exit_code in (0, 1)
    assert together() == expected
    engine.dispose()


def test_import_refuses_a_same_that_joins_records_marked_different(tmp_path, hssk):
    """Rows "a = b", "b = c" and "a ≠ c" of one workbook: whichever merge comes second would
    make one person of a and c, which the same workbook calls two people — it is refused,
    whatever the row order, and a full relink then finds nothing to change."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "dan_cu.csv").write_text(
        "Họ và tên,Ngày sinh,Giới tính,Địa chỉ thường trú\n"
        "Giàng A Páo,1990,Nam,Bản Pù Toong\n"
        "Thào Thị Mỷ,1985,Nữ,Bản Na Khà\n"
        "Lò Văn Khăm,1972,Nam,Bản Ón\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'hssk.db'}"
    load(hssk, url, tmp_path / "in")
    engine = connect(url)
    person = persons_of(engine)
    a, b, c = sorted(person)
    with engine.begin() as conn:
        for x, y in ((a, b), (b, c), (a, c)):
            conn.execute(s.match_reviews.insert().values(
                record_key_a=x, record_key_b=y, person_a=person[x], person_b=person[y],
                score=13.0, status="open", batch_id=1, probability=0.5))
    book = tmp_path / "review.xlsx"
    assert hssk("review", "export", "-o", book, db=url).exit_code == 0
    keys = record_keys(engine)
    fill(book, lambda number, row: (
        "different" if {keys[unquote(row["record_a"])], keys[unquote(row["record_b"])]}
        == {a, c} else "same", None))
    result = hssk("review", "import", book, "--json", db=url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["merged"], report["refused"], report["kept_apart"]) == (1, 1, 1)
    assert report["refusals"][0][1] == ("the merge would make one person of two records this "
                                        "workbook marks as different people")
    after = persons_of(engine)
    assert partition({a, b, c}, after) in ({frozenset({a, b}), frozenset({c})},
                                           {frozenset({b, c}), frozenset({a})})
    relinked = json.loads(hssk("match", "--full", "--json", db=url).output)
    assert relinked["records_moved"] == 0
    assert persons_of(engine) == after
    engine.dispose()
