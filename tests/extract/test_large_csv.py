"""Large CSV files are streamed in parts, and the parts add up to exactly the whole-file read.

The whole-file read is the reader before streaming: every row of the file in one sheet, the
fonts and sex marks judged on all of it, one part (``_whole_extract``). The streamed read runs
with tiny parts, head, read blocks and parse batches (``_small_parts``), so a few hundred rows cross every
boundary: rows split across read blocks, later parts decided by the head, a file over several
chunks, several parts in one chunk.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import pandas as pd
import pytest

from etl.extract import extract_files, iter_extract, read, sheets, tabular
from etl.extract.mapping import mappings_for
from etl.stage import StageData
from etl.text.legacy import unicode_to_tcvn3
from etl.transform import transform_stage

TODAY = dt.date(2025, 7, 1)
HEADERS = ["STT", "Số định danh cá nhân", "Họ, chữ đệm và tên", "Ngày, tháng, năm sinh",
           "Giới tính", "Nơi thường trú"]
FAMILY = ["Nguyễn", "Lò", "Giàng", "Hà", "Vừ", "Sùng", "Lường", "Phạm"]
MIDDLE = ["Văn", "Thị", "A", "Thị Thu", "Đức", "Ngọc"]
GIVEN = ["Páo", "Hương", "Khăm", "Thủy", "Dũng", "Mua", "Lụa", "Ánh", "Sính", "Chứ"]
VILLAGES = ["Bản Cang, xã Pù Nhi", "Bản Ón, xã Mường Chanh", "Bản Pọng, thị trấn Mường Lát"]


def _people(rng: random.Random, first: int, count: int, name=lambda s: s) -> list[list[str]]:
    rows = []
    for n in range(first, first + count):
        address = rng.choice(VILLAGES)
        if n % 11 == 0:  # a quoted cell holding a line break
            address += "\nhuyện Mường Lát"
        rows.append([str(n), f"038{rng.randrange(10**9):09d}",
                     name(f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"),
                     f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2020)}",
                     rng.choice(["Nam", "Nữ"]), address])
    return rows


def registry_form(name=lambda s: s) -> list[list[str]]:
    """A commune's register as clerks export it: title lines, the header, a column-number row,
    sections with sub-totals, the header printed again at a page break, two rows transform
    must reject (no name; 31 February) and the signature line. ``name`` spells the name column
    (a legacy font), section and total labels included."""
    rng = random.Random(11)
    blank = ["", "", "", "", "", ""]
    rows = [["ỦY BAN NHÂN DÂN XÃ PÙ NHI"], ["DANH SÁCH CÔNG DÂN THƯỜNG TRÚ"], [], HEADERS,
            ["(1)", "(2)", "(3)", "(4)", "(5)", "(6)"], *[[]] * 8,  # a first part of no one
            ["I", "", name("Tăng"), "", "", ""]]
    rows += _people(rng, 1, 40, name)
    rows += [["", "", name("Cộng tăng"), "", "", ""], blank, ["II", "", name("Giảm"), "", "", ""]]
    rows += _people(rng, 41, 25, name)
    rows += [HEADERS]  # the next printed page
    rows += _people(rng, 66, 30, name)
    rows += [["96", "038190001122", "", "12/03/1990", "Nam", VILLAGES[0]],
             ["97", "038190003344", name("Lò Thị Hoa"), "31/02/1990", "Nữ", VILLAGES[1]]]
    rows += _people(rng, 98, 20, name)
    rows += [["", "", name("Cộng"), "", "", ""], blank,
             ["", "", "", "Pù Nhi, ngày 30 tháng 6 năm 2025"], ["", "", "", "Người lập biểu"]]
    return rows


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheets, "PART_ROWS", 7)
    monkeypatch.setattr(sheets, "HEAD_ROWS", 10)  # the header search still sees 33 rows
    monkeypatch.setattr(tabular, "CSV_BLOCK_BYTES", 61)
    monkeypatch.setattr(tabular, "_CSV_BATCH", 5)  # rows parsed ahead of the one handed on


def _whole_extract(monkeypatch: pytest.MonkeyPatch, path: Path) -> StageData:
    """The whole-file read: the CSV file's rows all in one sheet (``read_workbook``), read by
    the workbook path of ``read_tabular``, as one part."""
    with monkeypatch.context() as patch:
        patch.setattr(read, "reads_as_csv", lambda _: False)
        patch.setattr(sheets, "reads_as_csv", lambda _: False)
        return extract_files([path]).data


def _streamed(path: Path, chunk_records: int = 10) -> list[StageData]:
    return list(iter_extract([path], chunk_records=chunk_records))


def _files(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per file, the chunks' counts added up (as the pipeline adds up its per-file counts)."""
    files = pd.concat(frames, ignore_index=True)
    first = {c: "first" for c in files.columns if c not in ("file_sha256", "rows", "structure_rows")}
    totals = files.groupby("file_sha256", sort=False).agg(
        {**first, "rows": "sum", "structure_rows": "sum"})
    return totals.reset_index()[list(files.columns)]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)


def assert_same_extract(chunks: list[StageData], whole: StageData) -> None:
    for name in ("records", "rejects"):
        streamed = pd.concat([getattr(c, name) for c in chunks], ignore_index=True)
        pd.testing.assert_frame_equal(streamed, getattr(whole, name), check_dtype=False)
    pd.testing.assert_frame_equal(_files([c.files for c in chunks]), whole.files,
                                  check_dtype=False)
    assert [n for c in chunks for n in c.meta["notes"]] == whole.meta["notes"]


@pytest.mark.parametrize("encoding, name, delimiter, text_encoding", [
    ("utf-16", unicode_to_tcvn3, "\t", "tcvn3+unicode"),  # .VnTime names under Unicode headers
    ("utf-8-sig", lambda s: s, ";", "unicode"),
])
def test_streamed_csv_is_the_whole_file_read(tmp_path, monkeypatch, encoding, name, delimiter,
                                             text_encoding):
    path = tmp_path / "dan_cu_pu_nhi.csv"
    path.write_bytes(csv_text(registry_form(name), delimiter).encode(encoding))
    whole = _whole_extract(monkeypatch, path)
    _small_parts(monkeypatch)
    parts = list(read.read_file(path, "0" * 64, mappings_for(None), None, None, None))
    chunks = _streamed(path)

    assert len(parts) == 20 and all(len(p.records) <= 7 for p in parts)
    # The file spans chunks, and a chunk holding two of its parts counts it once.
    assert len(chunks) > 5 and all(len(c.files) == 1 for c in chunks)
    assert max(int(c.files["rows"].iloc[0]) for c in chunks) > 7
    assert_same_extract(chunks, whole)
    records, files = whole.records, whole.files.iloc[0]
    assert (files["encoding"], files["text_encoding"], files["reader"]) == (
        encoding, text_encoding, "csv")
    assert (len(records), files["rows"], files["structure_rows"]) == (117, 117, 6)
    assert records["locator"].iloc[[0, -1]].tolist() == ["row=11", "row=131"]
    assert records["full_name"].str.contains("Nguyễn|Lò|Giàng|Hà|Vừ|Sùng|Lường|Phạm").sum() == 116
    assert records["sheet_title"].iloc[-1] == \
        '["ỦY BAN NHÂN DÂN XÃ PÙ NHI", "DANH SÁCH CÔNG DÂN THƯỜNG TRÚ"]'
    assert [n["message"] for n in whole.meta["notes"]] == [
        "sheet 'dan_cu_pu_nhi': skipped as table structure: section 4, column-numbers 1, "
        "repeated-header 1"]
    # Transform rejects and flags the same rows (a chunk lists its findings by kind, so the
    # findings are compared as a set).
    clean = [transform_stage(c, today=TODAY) for c in chunks]
    clean_whole = transform_stage(whole, today=TODAY)
    for name in ("records", "rejects"):
        pd.testing.assert_frame_equal(
            pd.concat([getattr(c, name) for c in clean], ignore_index=True),
            getattr(clean_whole, name), check_dtype=False)
    issues = pd.concat([c.issues for c in clean], ignore_index=True)
    pd.testing.assert_frame_equal(_sorted(issues), _sorted(clean_whole.issues), check_dtype=False)
    assert clean_whole.rejects[["locator", "slug"]].values.tolist() == [["row=110", "missing-name"]]
    assert clean_whole.issues.query("locator == 'row=111'")["slug"].tolist() == [
        "birth-date-year-kept"]  # 31 February: only the year is believed


MARK_HEADERS = ["STT", "SOBHXH", "HOTEN", "NGAYSINH", "GIOITINH", "DIACHI"]


def _marked(sexes: list[str]) -> str:
    rng = random.Random(5)
    rows = [MARK_HEADERS] + [
        [str(n), f"38{rng.randrange(10**8):08d}",
         f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}".upper(),
         f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1950, 2020)}",
         sex, rng.choice(VILLAGES)] for n, sex in enumerate(sexes, 1)]
    return csv_text(rows)


@pytest.mark.parametrize("sexes, expected", [
    # "X" marks women in a column that holds nothing else: the unmarked are men, even though
    # the first woman comes after the head.
    ([""] * 50 + ["X", ""] * 10, ["Nam"] * 50 + ["Nữ", "Nam"] * 10),
    # Marks in the head, a typed "Nữ" after it: not a mark column after all.
    (["X", ""] * 25 + ["Nữ"], ["X", None] * 25 + ["Nữ"]),
])
def test_sex_marks_are_judged_on_the_whole_column(tmp_path, monkeypatch, sexes, expected):
    path = tmp_path / "import.csv"
    path.write_text(_marked(sexes), encoding="utf-8-sig")
    whole = _whole_extract(monkeypatch, path)
    assert [None if pd.isna(v) else v for v in whole.records["sex"]] == expected
    _small_parts(monkeypatch)
    assert_same_extract(_streamed(path), whole)


GOOD = csv_text([HEADERS] + _people(random.Random(3), 1, 1100))  # past the 65,536-character head
LINE = GOOD.count("\n") + 1
LATE = {  # a problem in the file's last line, long after the first parts → slug, words
    "oversized-cell": ('1101,038,"' + "x" * 1_000_001 + '",1990,Nam,\r\n',
                       f"line {LINE} holds a cell longer than 1,000,000 characters"),
    "too-many-columns": ("1101,038,Lò Văn Páo,1990,Nam" + ",x" * 2000 + "\r\n",
                         f"line {LINE} has 2,005 columns"),
    "binary-file": ("1101,038,Lò Văn Páo\x00,1990,Nam,\r\n", "NUL character (at character"),
}


@pytest.mark.parametrize("slug", sorted(LATE))
def test_a_refusal_in_a_late_part_loads_nothing_of_the_file(tmp_path, monkeypatch, slug):
    line, words = LATE[slug]
    path = tmp_path / "late.csv"
    path.write_text(GOOD + line, encoding="utf-8")
    other = tmp_path / "other.csv"
    other.write_text(GOOD, encoding="utf-8")
    whole = _whole_extract(monkeypatch, path)
    _small_parts(monkeypatch)
    chunks = _streamed(path)
    assert_same_extract(chunks, whole)
    records = pd.concat([c.records for c in chunks])
    rejects = pd.concat([c.rejects for c in chunks])
    assert records.empty and len(rejects) == 1
    reject = rejects.iloc[0]
    assert (reject["locator"], reject["scope"], reject["slug"]) == ("file", "file", slug)
    assert words in reject["message"]
    # The rest of the batch loads: only the refused file is missing.
    both = list(iter_extract([path, other], chunk_records=500))
    assert sum(len(c.records) for c in both) == 1100
    assert {n for c in both for n in c.records["source_file"]} == {"other.csv"}


def test_a_bad_utf16_byte_at_the_end_refuses_the_file(tmp_path, monkeypatch):
    path = tmp_path / "unicode.csv"
    data = GOOD.encode("utf-16")
    path.write_bytes(data + b"\x00\xd8")
    _small_parts(monkeypatch)
    chunks = _streamed(path)
    rejects = pd.concat([c.rejects for c in chunks])
    assert pd.concat([c.records for c in chunks]).empty
    assert rejects["slug"].tolist() == ["binary-file"]
    assert f"byte {len(data):,} is not UTF-16" in rejects["message"].iloc[0]


def test_a_late_byte_that_is_not_utf8_reads_the_file_as_windows_1258(tmp_path, monkeypatch):
    """UTF-8 is decided on the whole file: a head that decodes as UTF-8 is not enough."""
    rows = [["STT", "SO DINH DANH CA NHAN", "HO VA TEN", "NGAY SINH", "GIOI TINH"]] + [
        [str(n), f"0381900{n:05d}", name, "01/01/1990", "Nam"]
        for n, name in enumerate(["Lo Van Pao", "Ha Van Kham"] * 40, 1)]
    path = tmp_path / "windows.csv"
    path.write_bytes((csv_text(rows) + "81,038190000081,Hà Văn Đông,01/01/1990,Nam\r\n")
                     .encode("cp1258"))
    monkeypatch.setattr(tabular, "CSV_HEAD_BYTES", 1024)  # ASCII only: it decodes as UTF-8
    whole = _whole_extract(monkeypatch, path)
    _small_parts(monkeypatch)
    chunks = _streamed(path)
    assert_same_extract(chunks, whole)
    assert whole.files.iloc[0]["encoding"] == "cp1258"
    assert whole.records["full_name"].tolist() == ["Lo Van Pao", "Ha Van Kham"] * 40 + [
        "Hà Văn Đông"]
