"""`hssk batches` and `hssk rejects`: past runs, and a batch's rejects handed back as a file."""

from __future__ import annotations

import json
import re

import openpyxl
import pytest

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
REGISTRY = ("STT,Số định danh cá nhân,Họ và tên,Ngày sinh,Giới tính,Ghi chú\n"
            "1,038062001234,Giàng A Páo,1962,Nam,\n"
            '2,038165004321,Lò Thị Hương,31/02/65,Nữ,"=HYPERLINK(""x"")"\n')
HEADER = ["source_file", "locator", "stage", "scope", "reason", "field", "message", "STT",
          "Số định danh cá nhân", "Họ và tên", "Ngày sinh", "Giới tính", "Ghi chú"]
REJECTED = ["dan_cu.csv", "row=2", "transform", "record", "invalid-birth-date", "birth_date",
            "no such day: 31/02/1965", "2", "•••••••••321", "Lò Thị Hương", "31/02/65", "Nữ",
            "'=HYPERLINK(\"x\")"]


@pytest.fixture
def loaded(hssk, db_url, tmp_path):
    """A database after two runs of one file (the second changes nothing), then a snapshot
    feed whose next extract lost a row."""
    path = tmp_path / "dan_cu.csv"
    path.write_text(REGISTRY, encoding="utf-8")
    assert hssk("init", db=db_url).exit_code == 0
    for _ in range(2):
        assert hssk("run", "--kind", "registry", "--max-reject-rate", "1", path,
                    db=db_url).exit_code == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "dan_cu.csv").write_text(REGISTRY.splitlines()[0] + "\n"
                                      "1,038062001234,Giàng A Páo,1962,Nam,\n"
                                      "2,038165004555,Lò Văn Minh,1970,Nam,\n", encoding="utf-8")
    job = tmp_path / "job.yaml"
    job.write_text(f"sources:\n  - path: {inbox}\n    kind: registry\n    feed: registry\n"
                   "    snapshot: true\n", encoding="utf-8")
    assert hssk("run", "--config", job, db=db_url).exit_code == 0
    (inbox / "dan_cu.csv").write_text(REGISTRY.splitlines()[0] + "\n"
                                      "1,038062001234,Giàng A Páo,1962,Nam,\n", encoding="utf-8")
    assert hssk("run", "--config", job, db=db_url).exit_code == 0
    return db_url


def test_batches_as_json(hssk, loaded):
    result = hssk("batches", "--json", db=loaded)
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert all(STAMP.fullmatch(r.pop("started")) and STAMP.fullmatch(r.pop("finished"))
               for r in rows)
    common = {"status": "committed", "command": "run"}
    assert rows == [
        {"id": 1, **common, "files": 1, "read": 2, "created": 1, "updated": 0, "unchanged": 0,
         "gone": 0, "rejected": 1},
        {"id": 2, **common, "files": 1, "read": 2, "created": 0, "updated": 0, "unchanged": 1,
         "gone": 0, "rejected": 1},
        {"id": 3, **common, "files": 1, "read": 2, "created": 2, "updated": 0, "unchanged": 0,
         "gone": 0, "rejected": 0},
        {"id": 4, **common, "files": 1, "read": 1, "created": 0, "updated": 0, "unchanged": 1,
         "gone": 0, "rejected": 0},
        {"id": 5, **common, "files": 0, "read": 0, "created": 0, "updated": 0, "unchanged": 0,
         "gone": 1, "rejected": 0},
    ]


def test_batches_as_a_table(hssk, loaded):
    result = hssk("batches", db=loaded)
    assert result.exit_code == 0
    when = "YYYY-MM-DD hh:mm:ss │ YYYY-MM-DD hh:mm:ss"
    assert [line.rstrip() for line in STAMP.sub("YYYY-MM-DD hh:mm:ss", result.output)
            .splitlines()] == [
        " " * 62 + "hssk batches",
        "┏━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━┳━━━━━━┳"
        "━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━┳━━━━━━━━━━┓",
        "┃ id ┃ started             ┃ finished            ┃ status    ┃ command ┃ files ┃ read ┃"
        " created ┃ updated ┃ unchanged ┃ gone ┃ rejected ┃",
        "┡━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━╇━━━━━━╇"
        "━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━╇━━━━━━━━━━┩",
        f"│  1 │ {when} │ committed │ run     │     1 │    2 │       1 │       0 │         0 │"
        "    0 │        1 │",
        f"│  2 │ {when} │ committed │ run     │     1 │    2 │       0 │       0 │         1 │"
        "    0 │        1 │",
        f"│  3 │ {when} │ committed │ run     │     1 │    2 │       2 │       0 │         0 │"
        "    0 │        0 │",
        f"│  4 │ {when} │ committed │ run     │     1 │    1 │       0 │       0 │         1 │"
        "    0 │        0 │",
        f"│  5 │ {when} │ committed │ run     │     0 │    0 │       0 │       0 │         0 │"
        "    1 │        0 │",
        "└────┴─────────────────────┴─────────────────────┴───────────┴─────────┴───────┴──────┴"
        "─────────┴─────────┴───────────┴──────┴──────────┘",
    ]


def test_rejects_as_csv_masked_and_formula_safe(hssk, loaded, tmp_path):
    out = tmp_path / "tra_lai.csv"
    result = hssk("rejects", "1", "-o", out, db=loaded)
    assert (result.exit_code, result.output) == (
        0, f"1 rejected row of batch 1 written to {out}\n")
    assert out.read_bytes().decode("utf-8") == (
        "\ufeff" + ",".join(HEADER) + "\r\n"
        "dan_cu.csv,row=2,transform,record,invalid-birth-date,birth_date,"
        "no such day: 31/02/1965,2,•••••••••321,Lò Thị Hương,31/02/65,Nữ,"
        "\"'=HYPERLINK(\"\"x\"\")\"\r\n")


def test_rejects_as_xlsx_with_ids_shown(hssk, loaded, tmp_path):
    out = tmp_path / "tra_lai.xlsx"
    assert hssk("rejects", "1", "-o", out, "--show-ids", db=loaded).exit_code == 0
    sheet = openpyxl.load_workbook(out).active
    rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert rows == [HEADER, [*REJECTED[:8], "038165004321", *REJECTED[9:]]]


def test_rejects_of_a_batch_without_any_and_of_no_batch(hssk, loaded, tmp_path):
    out = tmp_path / "none.csv"
    assert hssk("rejects", "2", "-o", out, db=loaded).output == (
        f"0 rejected rows of batch 2 written to {out}\n")
    assert out.read_text(encoding="utf-8-sig") == ",".join(HEADER[:7]) + "\n"
    missing = hssk("rejects", "99", "-o", out, db=loaded)
    assert (missing.exit_code, missing.output) == (
        2, "error: no batch 99\nhint: `hssk batches` lists them\n")
    wrong = hssk("rejects", "1", "-o", tmp_path / "r.txt", db=loaded)
    assert (wrong.exit_code, wrong.output) == (
        2, "error: r.txt: write rejects to a .csv or .xlsx file\n")
