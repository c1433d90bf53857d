"""Benchmark: `hssk run` on a folder of hostile files beside a valid registry.

The folder (built here, also by tests/extract/test_hostile.py): an XLSX zip bomb (a sheet of
about 1 GB of repeated rows, ~8 MB compressed), a workbook naming a cell at XFD1048576 (5 KB
asking calamine for a 17-billion-cell grid), an ODS whose repeated cells expand to a billion,
billion laughs and external-entity XML, a CSV with a 20 MB cell, binary garbage named .csv, an
empty file, a workbook cut in half, a 20,000-column CSV, a registry CSV with SQL- and
formula-looking names and the same registry as UTF-16. Baseline in the same run: the valid
registry alone. Wall time and peak RSS of the `hssk` process (a child, so RUSAGE_CHILDREN is it).

    python benchmarks/bench_hostile.py            # prints JSON; targets: <= 120 s, < 1.5 GB
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HSSK = [sys.executable, "-m", "etl.cli"]
HEADER = ["STT", "Số định danh cá nhân", "Họ, chữ đệm và tên", "Ngày, tháng, năm sinh",
          "Giới tính", "Dân tộc", "Nơi thường trú"]
ADDRESS = "Bản Pọng, Thị trấn Mường Lát, Mường Lát, Thanh Hóa"
# (name, birth date, sex, personal ID number): valid rows; the names are stored verbatim.
REGISTRY_ROWS = [
    ("Giàng A Mua", "21/10/1959", "Nam", "038059066373"),
    ("Robert'); DROP TABLE persons;--", "09/07/1995", "Nữ", "038195937097"),
    ('=HYPERLINK("http://x","y")', "03/02/1980", "Nam", "038080123456"),
    ("+cmd|' /C calc'!A0", "14/05/1971", "Nam", "038071234567"),
    ("@SUM(1)", "30/12/1988", "Nữ", "038188345678"),
    ("-2+3", "01/06/1990", "Nam", "038090456789"),
]
UTF16_ROWS = [
    ("Lò Thị Thủy", "11/06/1992", "Nữ", "038192331027"),
    ("Hà Văn Khăm", "02/03/1966", "Nam", "038066551234"),
]
HOSTILE = {  # file → what it is (the registry files are valid)
    "bomb.xlsx": "zip bomb: one sheet of ~1 GB of repeated rows",
    "far_cell.xlsx": "a cell at XFD1048576",
    "repeat_bomb.ods": "repeated cells expanding to a billion",
    "billion_laughs.xml": "nested entities",
    "external_entity.xml": "entity reading /etc/passwd",
    "huge_cell.csv": "a 20 MB cell",
    "garbage.csv": "random bytes",
    "empty.csv": "0 bytes",
    "truncated.xlsx": "a workbook cut in half",
    "wide.csv": "20,000 columns",
}


def registry_csv(rows: list[tuple[str, str, str, str]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for n, (name, born, sex, pid) in enumerate(rows, 1):
        writer.writerow([n, pid, name, born, sex, "Kinh", ADDRESS])
    return buf.getvalue()


def _workbook(path: Path, sheet_xml: bytes | None = None, *, stream_rows: int = 0) -> None:
    """A minimal valid XLSX; its sheet either ``sheet_xml`` or ``stream_rows`` MB of repeated
    rows written as a streamed member (the bomb: little memory, ~1.5 s at level 1)."""
    parts = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://'
        'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
        'Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+'
        'xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
        'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
        'http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://'
        'schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="DS" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships '
        'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship '
        'Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    head = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
            b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    tail = b"</sheetData></worksheet>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
        if stream_rows:
            row = (b'<row><c t="inlineStr"><is><t>Nguy\xe1\xbb\x85n V\xc4\x83n A</t></is></c>'
                   b'<c t="inlineStr"><is><t>01/01/1990</t></is></c></row>')
            chunk = row * ((1 << 20) // len(row))
            with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
                fh.write(head)
                for _ in range(stream_rows):
                    fh.write(chunk)
                fh.write(tail)
        else:
            zf.writestr("xl/worksheets/sheet1.xml", head + (sheet_xml or b"") + tail)


def _cell_row(r: int, values: list[tuple[str, str]]) -> bytes:
    cells = "".join(f'<c r="{ref}" t="inlineStr"><is><t>{v}</t></is></c>' for ref, v in values)
    return f'<row r="{r}">{cells}</row>'.encode()


def build_folder(out: Path, *, bomb_mb: int = 1024) -> dict[str, str]:
    """Write the hostile folder into ``out``; returns file → what it is."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "registry_valid.csv").write_text(registry_csv(REGISTRY_ROWS), encoding="utf-8-sig")
    (out / "registry_utf16.csv").write_text(registry_csv(UTF16_ROWS), encoding="utf-16")
    _workbook(out / "bomb.xlsx", stream_rows=bomb_mb)
    _workbook(out / "far_cell.xlsx", _cell_row(1, [("A1", "Họ và tên"), ("B1", "Ngày sinh")])
              + _cell_row(1048576, [("XFD1048576", "x")]))
    ods = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:'
           'oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:'
           'opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:'
           'text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table '
           'table:name="DS"><table:table-row table:number-rows-repeated="100000"><table:'
           'table-cell table:number-columns-repeated="10000" office:value-type="string"><text:p'
           '>x</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet>'
           '</office:body></office:document-content>')
    with zipfile.ZipFile(out / "repeat_bomb.ods", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                    compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", ods)
    lol = "".join(f"<!ENTITY lol{n} \"{f'&lol{n - 1};' * 10}\">" for n in range(1, 10))
    (out / "billion_laughs.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE GIAMDINHHS [<!ENTITY lol0 "lol">{lol}]>'
        "<GIAMDINHHS><THONGTINDONVI><MACSKCB>&lol9;</MACSKCB></THONGTINDONVI></GIAMDINHHS>",
        encoding="utf-8")
    (out / "external_entity.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE GIAMDINHHS [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        "<GIAMDINHHS><THONGTINDONVI><MACSKCB>&xxe;</MACSKCB></THONGTINDONVI></GIAMDINHHS>",
        encoding="utf-8")
    huge = registry_csv(REGISTRY_ROWS[:1]).replace("Giàng A Mua", "A" * 20_000_000)
    (out / "huge_cell.csv").write_text(huge, encoding="utf-8")
    (out / "garbage.csv").write_bytes(os.urandom(200_000))
    (out / "empty.csv").write_bytes(b"")
    _workbook(out / "whole.xlsx.part", _cell_row(1, [("A1", "Họ và tên")]) * 2000)
    whole = (out / "whole.xlsx.part").read_bytes()
    (out / "truncated.xlsx").write_bytes(whole[:len(whole) // 2])
    (out / "whole.xlsx.part").unlink()
    (out / "wide.csv").write_text(",".join(f"c{n}" for n in range(20_000)) + "\r\n"
                                  + ",".join("1" for _ in range(20_000)) + "\r\n")
    return dict(HOSTILE)


def run(folder: Path, work: Path) -> dict[str, object]:
    """`hssk run --json` on ``folder`` into a fresh SQLite file: seconds, peak RSS, summary."""
    db = work / f"{folder.name}.db"
    subprocess.run([*HSSK, "--db", f"sqlite:///{db}", "-q", "init"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run([*HSSK, "--db", f"sqlite:///{db}", "run", "--json", str(folder)],
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads(out.stdout) if out.stdout.strip().startswith("{") else {}
    return {"exit_code": out.returncode, "seconds": round(seconds, 2),
            # ru_maxrss of children is the largest child so far: init ran first and is small.
            "peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
            "files": len(summary.get("files", [])),
            "rejects_by_reason": summary.get("rejects_by_reason")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-mb", type=int, default=1024, help="uncompressed bomb sheet size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hssk_hostile_") as tmp:
        work = Path(tmp)
        baseline = work / "baseline"
        baseline.mkdir()
        (baseline / "registry_valid.csv").write_text(registry_csv(REGISTRY_ROWS),
                                                     encoding="utf-8-sig")
        start = time.perf_counter()
        build_folder(work / "hostile", bomb_mb=args.bomb_mb)
        built = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (work / "hostile").iterdir())
        # Baseline first: RUSAGE_CHILDREN keeps the maximum, so the hostile run's peak can only
        # be read as its own when it is the larger one (it is reported as is either way).
        result = {"baseline_valid_registry": run(baseline, work)}
        result["hostile_folder"] = run(work / "hostile", work)
        result["hostile_folder"].update(build_seconds=round(built, 2),
                                        folder_mb=round(size / 1e6, 1))
        result["targets"] = {"seconds": 120, "peak_rss_mb": 1536}
        result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
