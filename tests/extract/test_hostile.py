"""Hostile files: each is one file-scope reject with a one-line reason, in bounded time and
memory, while the rest of the folder loads (reader limits in etl/extract/tabular.py)."""

from __future__ import annotations

import csv
import importlib.util
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from etl.errors import SourceError
from etl.extract import tabular
from etl.extract.tabular import read_workbook

_spec = importlib.util.spec_from_file_location(
    "bench_hostile", Path(__file__).parents[2] / "benchmarks" / "bench_hostile.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# file → (specific slug, words of the message). Extract records ``exc.slug`` when it passes it
# on, ``unreadable-file`` otherwise; clinic XML has its own ``unsafe-xml``.
EXPECTED = {
    "bomb.xlsx": ("suspected-zip-bomb", "inflates"),
    "far_cell.xlsx": ("too-many-columns", "16,384"),
    "repeat_bomb.ods": ("too-many-columns", "10,000"),
    "billion_laughs.xml": ("unsafe-xml", "DTD"),
    "external_entity.xml": ("unsafe-xml", "DTD"),
    "huge_cell.csv": ("oversized-cell", "longer than 1,000,000 characters"),
    "garbage.csv": ("binary-file", "binary file"),
    "empty.csv": ("empty-file", "empty (0 bytes)"),
    "truncated.xlsx": ("truncated-file", "cut short"),
    "wide.csv": ("too-many-columns", "20,000 columns"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    bench.build_folder(folder)
    return folder


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.endswith(".xml")))
def test_each_hostile_file_is_one_clear_source_error(hostile: Path, name: str) -> None:
    slug, words = EXPECTED[name]
    start = time.perf_counter()
    with pytest.raises(SourceError) as caught:
        read_workbook(hostile / name)
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert caught.value.slug == slug
    assert message.startswith(f"{name}: ") and words in message and "\n" not in message
    assert caught.value.hint


def test_utf16_with_and_without_bom_loads(tmp_path: Path) -> None:
    text = bench.registry_csv(bench.UTF16_ROWS)
    for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.csv"
        path.write_text(text, encoding=encoding)
        book = read_workbook(path)
        assert [r[2] for r in book.sheets[0].rows[1:]] == [r[0] for r in bench.UTF16_ROWS]


def test_broken_utf16_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "half.csv"
    path.write_bytes(b"\xff\xfe" + "Họ và tên\r\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(SourceError, match="not UTF-16") as caught:
        read_workbook(path)
    assert caught.value.slug == "binary-file"


def test_a_cell_over_the_limit_names_its_line_and_restores_the_csv_limit(tmp_path) -> None:
    before = csv.field_size_limit()
    path = tmp_path / "cell.csv"
    path.write_text("Họ và tên,Ngày sinh\r\nA,1990\r\n\"" + "x" * 1_000_001 + "\",1991\r\n")
    with pytest.raises(SourceError, match="line 3 holds a cell longer"):
        read_workbook(path)
    assert csv.field_size_limit() == before
    ok = tmp_path / "ok.csv"  # a long but legal cell (a clinical note) reads
    ok.write_text("Họ và tên,Ghi chú\r\nA," + "y" * 500_000 + "\r\n")
    assert len(read_workbook(ok).sheets[0].rows[1][1]) == 500_000


def test_wide_rows_with_empty_tails_are_trimmed_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "tail.csv"
    path.write_text("Họ và tên,Ngày sinh" + "," * 5000 + "\r\nA,1990\r\n")
    assert read_workbook(path).sheets[0].rows[0] == ["Họ và tên", "Ngày sinh"]


def test_sheet_extent_limit_counts_cells(tmp_path: Path) -> None:
    path = tmp_path / "tall.xlsx"
    bench._workbook(path, bench._cell_row(1, [("A1", "Họ và tên"), ("BZ1", "x")])
                    + bench._cell_row(400_000, [("A400000", "y")]))
    with pytest.raises(SourceError, match=r"400,000 rows x 78 columns") as caught:
        read_workbook(path)
    assert caught.value.slug == "oversized-file"


def test_old_xls_is_limited_by_file_size(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096)
    monkeypatch.setattr(tabular, "MAX_XLS_BYTES", 1000)
    with pytest.raises(SourceError, match="old .xls workbook of") as caught:
        read_workbook(path)
    assert caught.value.slug == "oversized-file"


def test_a_valid_workbook_passes_the_zip_checks(samples: Path) -> None:
    for path in sorted(samples.glob("*.xlsx"))[:3]:
        assert read_workbook(path).sheets


def _raw_names(conn: sa.Connection) -> list[str]:
    raws = conn.execute(sa.text("SELECT raw FROM source_records")).scalars()
    return sorted(json.loads(r)["Họ, chữ đệm và tên"] for r in raws)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hostile_folder_run(hostile: Path, db_url: str, hssk, tmp_path: Path) -> None:
    assert hssk("init", db=db_url).exit_code == 0
    start = time.perf_counter()
    result = hssk("run", "--json", str(hostile), db=db_url)
    assert time.perf_counter() - start < 60
    assert result.exit_code in (0, 1), result.output
    summary = json.loads(result.stdout)
    assert {f["source_file"] for f in summary["files"]} == {
        *EXPECTED, "registry_valid.csv", "registry_utf16.csv"}
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rejects = {r.source_file: r for r in conn.execute(sa.text(
            "SELECT source_file, slug, message FROM rejects WHERE locator = 'file'"))}
        row_rejects = conn.execute(sa.text(
            "SELECT source_file, slug, raw FROM rejects WHERE locator <> 'file'")).all()
        persons = sorted(conn.execute(sa.text("SELECT full_name FROM persons")).scalars())
        raw = _raw_names(conn)
    engine.dispose()
    assert set(rejects) == set(EXPECTED)
    for name, (slug, words) in EXPECTED.items():
        assert rejects[name].slug in (slug, "unreadable-file"), name
        assert words in rejects[name].message, name
    # Every valid row loaded, its name exactly as typed in the raw columns; "-2+3" is no name.
    typed = [r[0] for r in bench.REGISTRY_ROWS + bench.UTF16_ROWS if r[0] != "-2+3"]
    assert raw == sorted(typed)
    assert persons == sorted([
        "+cmd|' /c Calc'!a0", '=hyperlink("http://x","y")', "@sum(1)", "Giàng A Mua",
        "Hà Văn Khăm", "Lò Thị Thủy", "Robert'); Drop Table Persons;--"])
    assert [(r.source_file, r.slug) for r in row_rejects] == [("registry_valid.csv",
                                                                "missing-name")]
    # Exports for people neutralise formula-looking cells.
    for what in ("links", "persons", "review"):
        out = tmp_path / f"{what}.csv"
        assert hssk("export", what, "-o", str(out), db=db_url).exit_code == 0
    with open(tmp_path / "persons.csv", encoding="utf-8-sig", newline="") as fh:
        names = sorted(r["full_name"] for r in csv.DictReader(fh))
    assert names == sorted([
        "'+cmd|' /c Calc'!a0", "'=hyperlink(\"http://x\",\"y\")", "'@sum(1)", "Giàng A Mua",
        "Hà Văn Khăm", "Lò Thị Thủy", "Robert'); Drop Table Persons;--"])
    for what in ("links", "persons", "review"):
        with open(tmp_path / f"{what}.csv", encoding="utf-8-sig", newline="") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], what
