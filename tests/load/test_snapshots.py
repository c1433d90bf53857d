"""A registry that arrives every month as a full snapshot, through `hssk run --config`.

Month 1 is a generated registry; month 2 is the same extract with 2 % of the rows' birth dates
corrected, 1 % of the households moved and 1 % of the rows gone, renumbered as a clerk would.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.extract import extract_files
from etl.load import schema as s
from etl.load.db import connect
from etl.synth import write_samples
from etl.transform import transform_stage

NEW_ADDRESS = "Bản Mới, Xã Tam Chung, Mường Lát, Thanh Hóa"


@dataclass
class Months:
    month1: Path
    month2: Path
    corrected: dict[str, tuple[int, int, int]]  # personal ID → (year, month, day) now
    moved: set[str]  # personal IDs whose address changed
    gone: set[str]  # personal IDs whose row vanished
    rows: int  # rows of month 1


def _read(path: Path) -> tuple[str, list[list[str]]]:
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    return delimiter, list(csv.reader(text.splitlines(), delimiter=delimiter))


def _write(path: Path, delimiter: str, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)


def build_months(out: Path, *, people: int, seed: int = 11) -> Months:
    """Two monthly extracts of one generated registry (CSV files, one per commune)."""
    gen = out / "gen"
    write_samples(gen, people=people, seed=seed, kinds=["registry"])
    month1, month2 = out / "month1", out / "month2"
    month1.mkdir()
    month2.mkdir()
    for path in sorted(gen.glob("registry_*.csv")):
        shutil.copy(path, month1 / path.name)
    # Rows the change may touch: loaded, a structurally valid ID number, a full birth date.
    clean = transform_stage(extract_files([month1]).data).records
    usable = clean[(clean["personal_id_status"] == "valid")
                   & (clean["birth_date_precision"] == "day")
                   & ~clean["personal_id"].duplicated(keep=False)]
    picks = sorted(zip(usable["source_file"], usable["locator"], usable["personal_id"],
                       strict=True))
    rng = random.Random(seed)
    rng.shuffle(picks)
    n = len(clean)
    n_fix, n_move, n_gone = round(n * 0.02), round(n * 0.01), round(n * 0.01)
    fix, move = picks[:n_fix], picks[n_fix:n_fix + n_move]
    gone = picks[n_fix + n_move:n_fix + n_move + n_gone]
    changes: dict[tuple[str, int], tuple[str, str]] = {}
    for what, chosen in (("fix", fix), ("move", move), ("gone", gone)):
        for name, locator, pid in chosen:
            changes[(name, int(locator.removeprefix("row=")))] = (what, pid)
    corrected: dict[str, tuple[int, int, int]] = {}
    for path in sorted(month1.glob("*.csv")):
        delimiter, rows = _read(path)
        header, body = rows[0], rows[1:]
        birth, home = header.index("Ngày, tháng, năm sinh"), header.index("Nơi thường trú")
        current = header.index("Nơi ở hiện tại")
        kept = []
        for number, row in enumerate(body, 1):
            what, pid = changes.get((path.name, number), (None, None))
            if what == "gone":
                continue
            if what == "fix":
                day, month, year = (int(x) for x in row[birth].split("/"))
                day = day + 1 if day < 28 else day - 1  # the same year: the ID stays valid
                row[birth] = f"{day:02d}/{month:02d}/{year}"
                corrected[pid] = (year, month, day)
            if what == "move":
                row[home] = row[current] = NEW_ADDRESS
            kept.append(row)
        for number, row in enumerate(kept, 1):
            row[0] = str(number)  # STT renumbered, as a new extract is
        _write(month2 / path.name, delimiter, [header, *kept])
    return Months(month1, month2, corrected, {p for *_, p in move}, {p for *_, p in gone},
                  rows=sum(len(_read(p)[1]) - 1 for p in month1.glob("*.csv")))


@pytest.fixture(scope="module")
def months(tmp_path_factory) -> Months:
    return build_months(tmp_path_factory.mktemp("months"), people=700)


def write_job(folder: Path, db_url: str, inbox: Path) -> Path:
    job = folder / "job.yaml"
    job.write_text(f"database: {json.dumps(db_url)}\n"
                   f"sources:\n  - path: {inbox}\n    kind: registry\n    feed: registry\n"
                   f"    snapshot: true\n"
                   f"summary: summaries\n", encoding="utf-8")
    return job


def fill(inbox: Path, month: Path) -> None:
    """The month's files replace the previous month's in the job's folder."""
    if inbox.exists():
        shutil.rmtree(inbox)
    shutil.copytree(month, inbox)


def scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def persons_by_id(engine) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT DISTINCT personal_id, person_id FROM source_records "
            "WHERE is_current AND personal_id_status = 'valid'")).all()
    out: dict[str, set[str]] = {}
    for pid, person in rows:
        out.setdefault(pid, set()).add(person)
    return out


def test_next_months_snapshot_replaces_this_months(months, hssk, db_url, tmp_path):
    assert hssk("init", db=db_url).exit_code == 0
    inbox = tmp_path / "inbox"
    job = write_job(tmp_path, db_url, inbox)
    fill(inbox, months.month1)
    first = hssk("run", "--config", job, "--json")
    assert first.exit_code == 0, first.output
    one = json.loads(first.output)
    engine = connect(db_url)
    persons_1 = scalar(engine, "SELECT COUNT(*) FROM persons")
    assert one["persons_created"] == persons_1 and one["gone"] == 0

    fill(inbox, months.month2)
    second = hssk("run", "--config", job, "--json")
    assert second.exit_code == 0, second.output
    two = json.loads(second.output)
    changed = len(months.corrected) + len(months.moved)
    # Changed rows update their record, nothing else is written; no person is created.
    assert (two["persons_created"], sum(f["created"] for f in two["files"]),
            sum(f["updated"] for f in two["files"]), two["gone"]) == (
        0, 0, changed, len(months.gone))
    assert sum(f["unchanged"] for f in two["files"]) == (
        months.rows - len(months.gone) - changed - two["rejected"])
    assert (tmp_path / "summaries" / f"batch-{two['batch_id']}.json").exists()

    # Every corrected birth date reached its person.
    with engine.connect() as conn:
        births = dict((pid, (y, m, d)) for pid, y, m, d in conn.execute(sa.text(
            "SELECT i.value, p.birth_year, p.birth_month, p.birth_day FROM persons p "
            "JOIN person_identifiers i ON i.person_id = p.person_id "
            "WHERE i.kind = 'personal_id'")))
        addresses = dict(conn.execute(sa.text(
            "SELECT i.value, p.permanent_address FROM persons p JOIN person_identifiers i "
            "ON i.person_id = p.person_id WHERE i.kind = 'personal_id'")).all())
        not_current = conn.execute(sa.text(
            "SELECT personal_id, superseded_batch_id FROM source_records "
            "WHERE NOT is_current")).all()
        versions = scalar(engine, "SELECT COUNT(*) FROM source_record_versions")
    assert {pid: births[pid] for pid in months.corrected} == months.corrected
    assert {pid for pid in months.moved if addresses[pid].startswith("Bản Mới")} == months.moved
    # The vanished rows are kept, no longer current, retired by the run's last batch.
    assert sorted(pid for pid, _ in not_current) == sorted(months.gone)
    assert {batch for _, batch in not_current} == {two["batch_id"]}
    assert versions == changed
    # No person duplicated: one person per ID number, no new person at all.
    assert scalar(engine, "SELECT COUNT(*) FROM persons") == persons_1
    assert all(len(persons) == 1 for persons in persons_by_id(engine).values())
    current_persons = scalar(
        engine, "SELECT COUNT(DISTINCT person_id) FROM source_records WHERE is_current")

    # The same as loading next month's extract alone (persons of vanished rows aside).
    alone_url = f"sqlite:///{tmp_path / 'alone.db'}"
    hssk("init", db=alone_url)
    (tmp_path / "alone").mkdir()
    alone_job = write_job(tmp_path / "alone", alone_url, months.month2)
    assert hssk("run", "--config", alone_job).exit_code == 0
    alone = connect(alone_url)
    assert current_persons == scalar(alone, "SELECT COUNT(*) FROM persons")
    assert persons_1 - current_persons == len(months.gone)

    # Re-running next month's extract changes nothing.
    third = json.loads(hssk("run", "--config", job, "--json").output)
    assert (sum(f["unchanged"] for f in third["files"]), third["gone"],
            third["persons_updated"]) == (months.rows - len(months.gone) - two["rejected"], 0, 0)
    engine.dispose()
    alone.dispose()


HEADER = "STT,Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính\n"
PAO = "038062001234,Giàng A Páo,1962,Nam\n"
HUONG = "038165004321,Lò Thị Hương,05/09/1965,Nữ\n"


def test_a_row_back_in_the_extract_is_current_again(db, tmp_path):
    from etl.pipeline import run

    path = tmp_path / "dan_cu.csv"
    path.write_text(HEADER + "1," + PAO + "2," + HUONG, encoding="utf-8")
    run([path], db, kind="registry", feed="registry", snapshot=True)
    path.write_text(HEADER + "1," + PAO, encoding="utf-8")
    gone = run([path], db, kind="registry", feed="registry", snapshot=True)
    path.write_text(HEADER + "1," + PAO + "2," + HUONG.replace("05/09", "15/09"),
                    encoding="utf-8")
    back = run([path], db, kind="registry", feed="registry", snapshot=True)
    with db.connect() as conn:
        rows = conn.execute(sa.select(s.source_records.c.personal_id, s.source_records.c.is_current,
                                      s.source_records.c.superseded_batch_id)
                            .order_by(s.source_records.c.personal_id)).all()
        persons = conn.execute(sa.select(s.persons.c.full_name, s.persons.c.birth_day)
                               .order_by(s.persons.c.full_name)).all()
    assert (gone.gone, back.gone, back.files[0].updated, back.files[0].unchanged) == (1, 0, 1, 1)
    assert rows == [("038062001234", True, None), ("038165004321", True, None)]
    assert persons == [("Giàng A Páo", None), ("Lò Thị Hương", 15)]


def test_two_rows_with_one_key_are_both_kept(db, tmp_path):
    from etl.pipeline import run

    path = tmp_path / "dan_cu.csv"
    path.write_text("STT,Họ và tên,Ngày sinh,Giới tính,Họ và tên chủ hộ\n"
                    "1,Lò Văn Khăm,1952,Nam,Lò Văn Khăm\n"
                    "2,Lò Văn Khăm,1952,Nam,Lò Văn Khăm\n", encoding="utf-8")
    summary = run([path], db, kind="registry", feed="reg", snapshot=True)
    again = run([path], db, kind="registry", feed="reg", snapshot=True)
    with db.connect() as conn:
        keys = conn.execute(sa.select(s.source_records.c.record_key)
                            .order_by(s.source_records.c.record_key)).scalars().all()
    assert [k.split(":", 2)[2].split("#")[1:] for k in keys] == [[], ["2"]]
    assert keys[1] == keys[0] + "#2" and keys[0].startswith("registry:reg:row-")
    assert (summary.files[0].created, again.files[0].unchanged, again.gone) == (2, 2, 0)


def test_a_broken_extract_retires_nothing(db, tmp_path):
    from etl.pipeline import run

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    header = "Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính\n"
    (inbox / "a.csv").write_text(header + "038062001234,Giàng A Páo,1962,Nam\n", encoding="utf-8")
    (inbox / "b.csv").write_text(header + "038165004321,Lò Thị Hương,1965,Nữ\n", encoding="utf-8")
    run([inbox], db, kind="registry", feed="registry", snapshot=True)
    (inbox / "b.csv").unlink()
    (inbox / "b.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    summary = run([inbox], db, kind="registry", feed="registry", snapshot=True)
    with db.connect() as conn:
        current = conn.execute(sa.select(s.source_records.c.is_current)).scalars().all()
    assert current == [True, True] and summary.gone == 0
    assert [f.problems for f in summary.files] == [0, 1]
    assert "feed registry: records not in this extract were kept current because a file of " \
           "it could not be read" in summary.notes


def test_new_clinic_months_and_workbooks_match_against_the_database(db, samples):
    """Incremental: a later run matches its new files against the persons already loaded and
    leaves every earlier record as it was (no relinking)."""
    from etl.pipeline import run

    run([*sorted(samples.glob("registry_*")), samples / "bhxh_muong_lat.xlsx"], db)
    columns = (s.source_records.c.record_key, s.source_records.c.person_id,
               s.source_records.c.updated_batch_id, s.source_records.c.record_hash)
    with db.connect() as conn:
        before = conn.execute(sa.select(*columns).order_by(columns[0])).all()
        persons_before = conn.execute(sa.select(sa.func.count()).select_from(s.persons)).scalar()
    later = run([*sorted(samples.glob("khamsk_*.xlsx")), *sorted(samples.glob("xml_*.xml"))], db)
    with db.connect() as conn:
        after = conn.execute(sa.select(*columns).where(columns[0].in_([r[0] for r in before]))
                             .order_by(columns[0])).all()
        persons_after = conn.execute(sa.select(sa.func.count()).select_from(s.persons)).scalar()
        rules = dict(conn.execute(sa.text(
            "SELECT match_rule, COUNT(*) FROM source_records WHERE created_batch_id = :b "
            "GROUP BY match_rule"), {"b": later.batch_id}).all())
    assert after == before
    written = sum(f.created for f in later.files)
    linked = sum(f.linked for f in later.files)
    assert linked + sum(f.new_persons for f in later.files) <= written
    assert linked > 0.9 * written and "known-record" not in rules
    assert persons_after - persons_before == later.persons_created == sum(
        f.new_persons for f in later.files)


def test_a_retired_registry_row_leaves_the_coverage_denominator(db, tmp_path):
    from etl.pipeline import run
    from etl.report.coverage import residents_query

    path = tmp_path / "dan_cu.csv"
    path.write_text(HEADER + "1," + PAO + "2," + HUONG, encoding="utf-8")
    run([path], db, kind="registry", feed="registry", snapshot=True)
    path.write_text(HEADER + "1," + PAO, encoding="utf-8")
    run([path], db, kind="registry", feed="registry", snapshot=True)
    with db.connect() as conn:
        residents = {r.person_id for r in conn.execute(residents_query())}
        kept = conn.execute(sa.select(s.source_records.c.person_id)
                            .where(s.source_records.c.personal_id == "038062001234")).scalar()
    assert residents == {kept}
