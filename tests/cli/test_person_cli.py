"""`hssk person …` driven like an analyst would, on a small hand-written registry."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.load import schema as s
from etl.load.db import connect

HEADER = "Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính,Nơi thường trú\n"
ADDRESS = "Bản Sa Ná - X. Pù Nhi - H. Mường Lát"
REGISTRY = (HEADER
            + f"038062001234,Giàng A Páo,12/03/1962,Nam,{ADDRESS}\n"
            + f"038165004321,Lò Thị Hương,05/09/1965,Nữ,{ADDRESS}\n"
            + f",Hà Văn Một,1990,Nam,{ADDRESS}\n")
SECOND = HEADER + f"038191000777,Vi Thị Hai,07/07/1991,Nữ,{ADDRESS}\n"
THIRD = HEADER + "038191000777,Vi Thị Hai,1991,Nữ,\n"  # the same woman, by her ID number


def everything(engine) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    out = {}
    with engine.connect() as conn:
        for table in s.metadata.sorted_tables:
            if table.name != "person_changes":
                out[table.name] = [tuple(r) for r in conn.execute(
                    sa.select(table).order_by(*table.primary_key.columns))]
    return out


@pytest.fixture
def loaded(hssk, db_url, tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "dan_cu.csv").write_text(REGISTRY, encoding="utf-8")
    (inbox / "dan_cu_2.csv").write_text(SECOND, encoding="utf-8")
    (inbox / "dan_cu_3.csv").write_text(THIRD, encoding="utf-8")
    assert hssk("init", db=db_url).exit_code == 0
    result = hssk("run", inbox, db=db_url)
    assert result.exit_code == 0, result.output
    engine = connect(db_url)
    yield engine
    engine.dispose()


def persons(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Person id of each record: by locator in the first file, "N:<locator>" in file N."""
    sr, sf = s.source_records.c, s.source_files.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sf.file_name, sr.locator, sr.person_id)
                            .join(s.source_files, sf.id == sr.source_file_id)).all()
    return {(loc if name == "dan_cu.csv" else f"{name[7]}:{loc}"): p for name, loc, p in rows}


def test_show_masks_ids_and_lists_every_record(loaded, hssk, db_url):
    who = persons(loaded)
    result = hssk("person", "show", who["row=1"], db=db_url)
    assert result.exit_code == 0, result.output
    assert "Giàng A Páo" in result.output and "dan_cu.csv:row=1" in result.output
    assert "038062001234" not in result.output and "234" in result.output
    shown = hssk("person", "show", who["row=1"], "--show-ids", db=db_url)
    assert "038062001234" in shown.output
    missing = hssk("person", "show", "nobody", db=db_url)
    assert missing.exit_code == 2 and "no person 'nobody'" in missing.output


def test_merge_history_undo(loaded, hssk, db_url):
    who = persons(loaded)
    before = everything(loaded)
    result = hssk("person", "merge", who["row=3"], who["2:row=1"], "--reason", "one man",
                  "--by", "analyst1", db=db_url)
    assert result.exit_code == 0, result.output
    change = int(result.output.split("change ", 1)[1].split()[0])
    after = persons(loaded)
    assert after["2:row=1"] == after["row=3"] == who["row=3"]
    assert everything(loaded) != before

    history = hssk("person", "history", who["row=3"], db=db_url)
    assert f"change {change}" in history.output and "by analyst1" in history.output
    assert "one man" in history.output
    gone = hssk("person", "history", who["2:row=1"], db=db_url)
    assert f"change {change}" in gone.output

    undone = hssk("person", "undo", str(change), db=db_url)
    assert undone.exit_code == 0, undone.output
    assert f"undid change {change}" in undone.output
    assert f"by {getpass.getuser()}" in undone.output
    assert everything(loaded) == before
    again = hssk("person", "undo", str(change), db=db_url)
    assert again.exit_code == 2
    assert "undone already" in again.output and "Traceback" not in again.output


def test_merge_of_two_valid_ids_is_refused_in_one_line(loaded, hssk, db_url):
    who = persons(loaded)
    before = everything(loaded)
    result = hssk("person", "merge", who["row=1"], who["row=2"], "--reason", "test",
                  db=db_url)
    assert result.exit_code == 2
    assert "different valid personal ID numbers" in result.output
    assert "038062001234" not in result.output and "038165004321" not in result.output
    assert "Giàng" not in result.output and "Traceback" not in result.output
    assert everything(loaded) == before


def test_split_by_file_and_locator(loaded, hssk, db_url):
    who = persons(loaded)
    assert who["2:row=1"] == who["3:row=1"]  # one ID number: linked
    person = who["2:row=1"]
    result = hssk("person", "split", person, "--records", "dan_cu_3.csv:row=1",
                  "--reason", "another woman", "--by", "analyst1", db=db_url)
    assert result.exit_code == 0, result.output
    after = persons(loaded)
    assert after["2:row=1"] == person and after["3:row=1"] not in who.values()
    with loaded.connect() as conn:
        decisions = conn.execute(sa.select(s.match_decisions.c.decision,
                                           s.match_decisions.c.decided_by,
                                           s.match_decisions.c.origin)).all()
    assert [tuple(d) for d in decisions] == [("different", "analyst1", "split")]
    foreign = hssk("person", "split", person, "--records", "dan_cu.csv:row=1", "--reason", "x",
                   db=db_url)
    assert foreign.exit_code == 2 and "not person" in foreign.output
    unknown = hssk("person", "split", person, "--records", "nofile.csv:row=9", "--reason", "x",
                   db=db_url)
    assert unknown.exit_code == 2 and "no loaded record 'nofile.csv:row=9'" in unknown.output


def test_a_change_waits_for_no_run(loaded, hssk, db_url):
    from etl.load.lock import RunLock

    who = persons(loaded)
    before = everything(loaded)
    with RunLock(loaded, command="run"):
        result = hssk("person", "merge", who["row=3"], who["2:row=1"], "--reason", "x",
                      db=db_url)
        assert result.exit_code == 3 and "another run holds the database" in result.output
    assert everything(loaded) == before
