"""Reading registry extracts as they arrive: encodings, delimiters, title rows, synonyms."""

import csv
import hashlib
import io
import json
import random
import unicodedata

import pytest
from openpyxl import Workbook

from etl.extract import expand_paths, extract_files, sheets
from etl.text.legacy import unicode_to_tcvn3

HEADERS = ["STT", "Số định danh cá nhân", "Họ, chữ đệm và tên", "Ngày, tháng, năm sinh",
           "Giới tính", "Nơi thường trú"]
ROWS = [["1", "038062001234", "Giàng A Páo", "1962", "Nam", "Bản Cang, xã Pù Nhi"],
        ["2", "038165004321", "Lò Thị Hương", "05/09/1965", "Nữ", "Bản Ón, xã Mường Chanh"]]


def write_csv(path, headers, rows, encoding="utf-8-sig", delimiter=","):
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("encoding, delimiter", [
    ("utf-8-sig", ","), ("utf-8", ";"), ("utf-16", "\t"), ("utf-8", "|"),
])
def test_csv_encodings_and_delimiters(tmp_path, encoding, delimiter):
    path = write_csv(tmp_path / "dan_cu.csv", HEADERS, ROWS, encoding, delimiter)
    data = extract_files([path]).data
    assert data.files.iloc[0]["kind"] == "registry"
    assert list(data.records["locator"]) == ["row=1", "row=2"]
    assert data.records.iloc[1]["full_name"] == "Lò Thị Hương"
    assert data.records.iloc[0]["personal_id"] == "038062001234"


@pytest.mark.parametrize("headers", [
    ["Họ và tên", "Ngày sinh", "Số CCCD"],
    ["HO VA TEN", "NGAY SINH", "SO DINH DANH CA NHAN"],
    ["họ  và tên ", "ngày,tháng,năm sinh", "số định danh cá nhân"],
])
def test_header_synonyms_after_folding(tmp_path, headers):
    path = write_csv(tmp_path / "x.csv", headers, [["Giàng A Páo", "1962", "038062001234"]])
    record = extract_files([path]).data.records.iloc[0]
    assert (record["full_name"], record["birth_date"], record["personal_id"]) == (
        "Giàng A Páo", "1962", "038062001234")


def cp1258_bytes(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: base letters with shape marks, then a
    combining tone mark."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            tones = "".join(c for c in d[1:] if c in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in tones))
            out.append((base + tones).encode("cp1258"))
    return b"".join(out)


def test_cp1258_file_is_read_as_vietnamese(tmp_path):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADERS, *ROWS])
    path = tmp_path / "win.csv"
    path.write_bytes(cp1258_bytes(buffer.getvalue()))
    data = extract_files([path]).data
    assert data.files.iloc[0]["encoding"] == "cp1258"
    assert list(data.records["full_name"]) == ["Giàng A Páo", "Lò Thị Hương"]


def test_tcvn3_bytes_in_csv_are_converted(tmp_path):
    path = tmp_path / "tcvn3.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[unicode_to_tcvn3(c) for c in r] for r in [HEADERS, *ROWS]])
    path.write_bytes(buffer.getvalue().encode("latin-1"))
    data = extract_files([path]).data
    assert data.files.iloc[0]["text_encoding"] == "tcvn3"
    assert list(data.records["full_name"]) == ["Giàng A Páo", "Lò Thị Hương"]


def test_xlsx_with_title_rows_and_footer(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "Ban Cang"
    ws.append(["CÔNG AN XÃ PÙ NHI"])
    ws.append(["DANH SÁCH CÔNG DÂN"])
    ws.append([])
    ws.append(HEADERS)
    for row in ROWS:
        ws.append(row)
    ws.append([])
    ws.append(["", "Người lập biểu"])
    wb.save(tmp_path / "pu_nhi.xlsx")
    data = extract_files([tmp_path / "pu_nhi.xlsx"]).data
    assert list(data.records["locator"]) == ["Ban Cang!5", "Ban Cang!6"]
    assert data.records.iloc[0]["sheet"] == "Ban Cang"


def test_unreadable_file_is_a_reject_not_a_crash(tmp_path):
    good = write_csv(tmp_path / "good.csv", HEADERS, ROWS)
    bad = tmp_path / "notes.csv"
    bad.write_text("nothing,to,see\n1,2,3\n", encoding="utf-8")
    data = extract_files([good, bad]).data
    assert len(data.records) == 2
    reject = data.rejects.iloc[0]
    assert (reject["source_file"], reject["locator"], reject["slug"]) == (
        "notes.csv", "file", "unreadable-file")


def test_folders_are_walked_and_private_names_skipped(tmp_path):
    write_csv(tmp_path / "a.csv", HEADERS, ROWS)
    (tmp_path / "sub").mkdir()
    write_csv(tmp_path / "sub" / "b.csv", HEADERS, ROWS)
    (tmp_path / "_truth").mkdir()
    write_csv(tmp_path / "_truth" / "ground_truth.csv", ["x"], [["1"]])
    (tmp_path / "~$lock.xlsx").write_bytes(b"")
    assert [p.name for p in expand_paths([tmp_path])] == ["a.csv", "b.csv"]


def test_same_content_same_record_hash(tmp_path):
    a = extract_files([write_csv(tmp_path / "a.csv", HEADERS, ROWS)]).data.records
    b = extract_files([write_csv(tmp_path / "a.csv", HEADERS, ROWS)]).data.records
    assert list(a["record_hash"]) == list(b["record_hash"])
    assert list(a["record_key"]) == list(b["record_key"])


@pytest.mark.parametrize("layouts", [1024, 1])
def test_raw_and_record_hash_are_the_cells_under_their_headers(tmp_path, monkeypatch, layouts):
    """``raw`` is json.dumps of {header: cell} and ``record_hash`` the hash of its sorted form,
    whatever the headers (repeated, empty, named like a column's position, with % or quotes)
    and the cells (escapes, emoji, past the header's end, a different set filled each row)."""
    monkeypatch.setattr(sheets._RawCells, "PATTERNS", layouts)
    headers = [*HEADERS, "Ghi chú", "", "Tỷ lệ %", 'Mã "x"', "Ghi chú", "a\\b", "col8"]
    texts = ["%s", 'nói "không"', "tab\there", "😀 x", "%%", "x\\y", "line\u2028end", " 7 "]
    rng = random.Random(5)
    rows = [ROWS[k % 2] + [rng.choice([*texts, "", ""]) for _ in range(7 + rng.choice([0, 0, 3]))]
            for k in range(80)]
    records = extract_files([write_csv(tmp_path / "a.csv", headers, rows)]).data.records
    assert len(records) == len(rows)
    for row, raw, digest in zip(rows, records["raw"], records["record_hash"], strict=True):
        cells: dict[str, str] = {}
        for i, text in enumerate(row):
            if text.strip():
                cells[headers[i] if i < len(headers) and headers[i] else f"col{i + 1}"] = \
                    text.strip()
        assert raw == json.dumps(cells, ensure_ascii=False)
        canonical = json.dumps(cells, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert digest == hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
        assert digest == sheets.record_hash(cells)
