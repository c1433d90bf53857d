"""Clinic XML (GIAMDINHHS): both layouts, base64 and plain, the ways real hospital systems
write it, and every way a file can be broken. All names and numbers here are synthetic."""

import base64
import datetime as dt
import json
import random
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa

from etl.extract import extract_files
from etl.extract.clinic_xml import read, sniff
from etl.load import schema as s
from etl.pipeline import run
from etl.synth import simulate
from etl.synth.clinic import STYLES, episode, filehoso, xml1
from etl.synth.clinic import envelope as styled_envelope
from etl.transform import transform_stage
from etl.transform.clinical import parse_amount

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
        assert len(out.tables["prescriptions"]) == 36  # 3 drug rows per episode
        assert out.skipped_tables == {}


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


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_entities_in_an_inner_table_are_refused(tmp_path, encoding):
    """An inner table declaring an entity is refused whatever its encoding: the C parser that
    reads tables without a DTD would expand it (a UTF-16 table hides the bytes of its
    ``<!DOCTYPE``)."""
    path, eps = month_file(tmp_path, n=2)
    bomb = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>'
            "<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC><CHI_TIET_THUOC><MA_LK>&a;</MA_LK>"
            "</CHI_TIET_THUOC></DSACH_CHI_TIET_THUOC></CHITIEU_CHITIET_THUOC>")
    table = ("<FILEHOSO><LOAIHOSO>XML2</LOAIHOSO><NOIDUNGFILE>"
             + base64.b64encode(bomb.encode(encoding)).decode() + "</NOIDUNGFILE></FILEHOSO>")
    path.write_text(envelope("38150", [eps[0], eps[1].replace("</HOSO>", table + "</HOSO>")]),
                    encoding="utf-8")
    out = read(path, "sha")
    assert [r["locator"] for r in out.records] == ["38150LK0000", "38150LK0001"]
    assert [(r["locator"], r["slug"], r["scope"]) for r in out.rejects] == [
        ("38150LK0001", "undecodable-table", "part")]
    assert "DTDForbidden" in out.rejects[0]["message"]


def test_inner_tables_read_as_defusedxml_reads_them():
    """The C parser's tree of every generated table style is defusedxml's, element for
    element (tags, attributes, text, tails)."""
    from defusedxml.ElementTree import fromstring as defused

    from etl.extract.clinic_xml import _parse_inner
    rng = random.Random(3)
    tables = [xml1(r, f"LK{i}", "38150", "130", VISIT, rng, None)
              for i, r in enumerate(people(4))]
    for i, (r, style) in enumerate(zip(people(len(STYLES)), STYLES, strict=True)):
        hoso = episode(r, f"LK{i}", "38151", VISIT, rng, style=style)
        tables += [_inner_texts(f"<NOIDUNGFILE>{c}</NOIDUNGFILE>")
                   for c in _between(hoso, "<NOIDUNGFILE>", "</NOIDUNGFILE>")]
    tables.append('<?xml version="1.0" encoding="utf-8"?>\r\n<A xmlns:xsi="http ://x">'
                  "<B><![CDATA[Viêm họng]]></B><C/>  đau  </A>")
    for table in tables:
        data = table.encode("utf-8")
        assert ET.tostring(_parse_inner(data)) == ET.tostring(defused(data, forbid_dtd=True))


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


def test_chunked_run_equals_one_chunk(tmp_path, samples, link_partition):
    """Seven chunks link like one."""
    from etl.load.db import connect, migrate

    results = []
    for chunk in (None, 150):
        engine = connect(f"sqlite:///{tmp_path / f'c{chunk}.db'}")
        migrate(engine)
        summary = run([samples], engine, chunk_records=chunk)
        assert summary.reconciles
        results.append((summary.read, summary.rejected, link_partition(engine)))
        engine.dispose()
    whole, chunked = results
    assert whole[:2] == chunked[:2]
    # The same records grouped into the same persons (person ids may differ).
    only_whole, only_chunked = whole[2] - chunked[2], chunked[2] - whole[2]
    assert not only_whole and not only_chunked, (
        f"{len(only_whole)} persons only in one chunk, {len(only_chunked)} only chunked: "
        f"{sorted(map(sorted, only_whole))[:3]} vs {sorted(map(sorted, only_chunked))[:3]}")


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


# --- how real hospital systems write the file (README of the real-file folder, §1) -----------
# One synthetic episode, written by hand, then re-written with one quirk at a time: whatever
# the bytes look like, the staged identity and the visit items must come out the same.

XML1_FIELDS = [
    ("MA_LK", "LK900001"), ("STT", "1"), ("MA_BN", "PC-0101000007"),
    ("HO_TEN", "HOÀNG VĂN MẪU"), ("SO_CCCD", ""), ("NGAY_SINH", "195001010000"),
    ("GIOI_TINH", "1"), ("NHOM_MAU", ""), ("MA_QUOCTICH", "000"), ("MA_DANTOC", "01"),
    ("DIA_CHI", "Bản Thử,Xã Pù Nhi,,Tỉnh Thanh Hóa"), ("MATINH_CU_TRU", "38"),
    ("MAHUYEN_CU_TRU", ""), ("MAXA_CU_TRU", "14863"), ("DIEN_THOAI", "0900000001"),
    ("MA_THE_BHYT", "HT3380000000001"), ("CHAN_DOAN_VAO", "(J06.9) Nhiễm trùng hô hấp trên"),
    ("CHAN_DOAN_RV", "-NHIỄM TRÙNG HÔ HẤP TRÊN.\n-TĂNG HUYẾT ÁP."),
    ("MA_BENH_CHINH", "J06.9"), ("MA_BENH_KT", "I10;E11.9"), ("NGAY_VAO", "202507010830"),
    ("NGAY_RA", "202507011030"), ("KET_QUA_DTRI", "1"), ("MA_LOAI_KCB", "01"),
    ("MA_CSKCB", "38150"), ("PP_DIEU_TRI", ""),
]
XML2_ROW = [
    ("MA_LK", "LK900001"), ("STT", "1"), ("MA_THUOC", "40.17"), ("MA_NHOM", "4"),
    ("TEN_THUOC", "Paracetamol"), ("DON_VI_TINH", "Viên"), ("HAM_LUONG", "500mg"),
    ("DUONG_DUNG", "1.01"), ("LIEU_DUNG", "Ngày 2 lần, mỗi lần 1 viên"),
    ("CACH_DUNG", " Sáng: 1, Chiều: 1"), ("SO_LUONG", "14.000"), ("DON_GIA", "500"),
    ("THANH_TIEN_BV", "7000.00"), ("THANH_TIEN_BH", "7000.00"), ("MA_BAC_SI", "000111/TH-CCHN"),
    ("NGAY_YL", "202507010900"), ("NGAY_TH_YL", "202507010915"), ("DU_PHONG", ""),
]
XML3_ROW = [
    ("MA_LK", "LK900001"), ("STT", "1"), ("MA_DICH_VU", "22.0120.1370"),
    ("TEN_DICH_VU", "Tổng phân tích tế bào máu"), ("MA_VAT_TU", ""), ("TEN_VAT_TU", ""),
    ("MA_NHOM", "1"), ("DON_VI_TINH", "Lần"), ("SO_LUONG", "1"), ("DON_GIA_BV", "46200"),
    ("THANH_TIEN_BV", "46200"), ("THANH_TIEN_BH", "46200.00"),
    ("MA_BAC_SI", "000111/TH-CCHN;000222/TH-CCHN"), ("NGUOI_THUC_HIEN", "000222/TH-CCHN"),
    ("NGAY_YL", "202507010840"), ("NGAY_TH_YL", "202507010850"), ("NGAY_KQ", "202507010930"),
]
XML4_ROW = [("MA_LK", "LK900001"), ("STT", "1"), ("MA_DICH_VU", "23.0051.1494"),
            ("MA_CHI_SO", "CRE"), ("TEN_CHI_SO", "   Creatinin"), ("GIA_TRI", "88"),
            ("DON_VI_DO", "µmol/L"), ("NGAY_KQ", "202507010930")]
TEXT = {"HO_TEN", "DIA_CHI", "CHAN_DOAN_RV", "PP_DIEU_TRI", "TEN_THUOC", "LIEU_DUNG",
        "CACH_DUNG", "TEN_DICH_VU", "TEN_VAT_TU"}
BAD_XSI = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema instance"'


def write_quirky(tmp_path, *, bom=False, declaration=False, crlf=False, cdata=False,
                 self_closing=False, bad_xsi=False, namespace=False, inner_bom=False,
                 plain=False, fields=XML1_FIELDS):
    """The synthetic episode above as one export, with the quirks asked for."""
    nl = "\r\n" if crlf else ""

    def node(tag, value):
        if cdata and tag in TEXT:
            return f"<{tag}><![CDATA[{value}]]></{tag}>"
        if not value and self_closing:
            return f"<{tag}/>"
        return f"<{tag}>{value.replace('&', '&amp;').replace('<', '&lt;')}</{tag}>"

    def table(root, rows=None, list_tag="", row_tag="", fields=None):
        attrs = (BAD_XSI if bad_xsi else "") + (' xmlns="urn:x-his"' if namespace else "")
        body = nl.join(node(k, v) for k, v in fields) if fields else (
            f"<{list_tag}>{nl}" + "".join(
                f"<{row_tag}>{nl}" + nl.join(node(k, v) for k, v in row) + f"{nl}</{row_tag}>"
                for row in rows) + f"{nl}</{list_tag}>")
        head = '<?xml version="1.0" encoding="utf-8"?>' + nl if declaration else ""
        return f"{head}<{root}{attrs}>{nl}{body}{nl}</{root}>"

    inner = {"XML1": table("TONG_HOP", fields=fields),
             "XML2": table("CHITIEU_CHITIET_THUOC", [XML2_ROW], "DSACH_CHI_TIET_THUOC",
                           "CHI_TIET_THUOC"),
             "XML3": table("CHITIEU_CHITIET_DVKT_VTYT", [XML3_ROW], "DSACH_CHI_TIET_DVKT",
                           "CHI_TIET_DVKT"),
             "XML4": table("CHITIEU_CHITIET_DICHVUCANLAMSANG", [XML4_ROW], "DSACH_CHI_TIET_CLS",
                           "CHI_TIET_CLS")}
    files = []
    for kind, xml in inner.items():
        data = (b"\xef\xbb\xbf" if inner_bom else b"") + xml.encode("utf-8")
        escaped = xml.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        content = (("\ufeff" if inner_bom else "") + escaped if plain
                   else base64.b64encode(data).decode())
        files.append(f"<FILEHOSO>{nl}<LOAIHOSO>{kind}</LOAIHOSO>{nl}<NOIDUNGFILE>{content}"
                     f"</NOIDUNGFILE>{nl}</FILEHOSO>")
    text = ('<?xml version="1.0" encoding="utf-8"?>' + nl +
            '<GIAMDINHHS xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' + nl +
            "<THONGTINDONVI><MACSKCB>38150</MACSKCB></THONGTINDONVI>" + nl +
            "<THONGTINHOSO><NGAYLAP>20250731</NGAYLAP><SOLUONGHOSO>1</SOLUONGHOSO>" + nl +
            "<DANHSACHHOSO><HOSO>" + nl + nl.join(files) + nl +
            "</HOSO></DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>" + nl)
    path = tmp_path / "quirky.xml"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


EXPECTED_IDENTITY = {
    "full_name": "HOÀNG VĂN MẪU", "birth_date": "195001010000", "sex": "1", "id_document": None,
    "insurance_card": "HT3380000000001", "ethnicity": "01", "nationality": "000",
    "occupation": None, "permanent_address": "Bản Thử,Xã Pù Nhi,,Tỉnh Thanh Hóa",
    "commune_code": "14863", "district_code": None, "province_code": "38",
    "phone": "0900000001", "facility_code": "38150", "facility_patient_id": "PC-0101000007",
}
EXPECTED_PRESCRIPTION = {
    "record_key": "clinic-xml:38150:LK900001", "line": "1", "drug_code": "40.17",
    "drug_name": "Paracetamol", "strength": "500mg", "route": "1.01",
    "dosage": "Ngày 2 lần, mỗi lần 1 viên", "usage": "Sáng: 1, Chiều: 1",
    "quantity_text": "14.000", "unit": "Viên", "ordered_at": "202507010900",
    "doctor_code": "000111/TH-CCHN", "amount_text": "7000.00",
    "extra": json.dumps({"MA_NHOM": "4", "DON_GIA": "500", "THANH_TIEN_BH": "7000.00",
                         "NGAY_TH_YL": "202507010915"}, ensure_ascii=False),
}
EXPECTED_SERVICE = {
    "record_key": "clinic-xml:38150:LK900001", "line": "1", "service_code": "22.0120.1370",
    "service_name": "Tổng phân tích tế bào máu", "supply_code": None, "supply_name": None,
    "group_code": "1", "quantity_text": "1", "unit": "Lần", "ordered_at": "202507010840",
    "performed_at": "202507010850", "result_at": "202507010930",
    "doctor_code": "000111/TH-CCHN;000222/TH-CCHN", "performer": "000222/TH-CCHN",
    "amount_text": "46200",
    "extra": json.dumps({"DON_GIA_BV": "46200", "THANH_TIEN_BH": "46200.00"}),
}


@pytest.mark.parametrize("quirks", [
    {},
    {"bom": True},  # file-name style: UTF-8 byte-order mark before the envelope
    {"declaration": True},  # inner tables with their own <?xml?>
    {"crlf": True},  # CRLF pretty-printing, also inside the inner tables
    {"cdata": True},  # text in CDATA, the empty PP_DIEU_TRI as <![CDATA[]]>
    {"self_closing": True},  # compact style: <SO_CCCD/>
    {"bad_xsi": True},  # compact style: xmlns:xsi URI with a space
    {"namespace": True},  # a default namespace on the inner roots
    {"inner_bom": True, "declaration": True},  # a BOM inside the base64
    {"plain": True, "declaration": True, "cdata": True},  # escaped inner XML, not base64
    {"plain": True, "inner_bom": True},  # escaped inner XML after a BOM character
    {"bom": True, "declaration": True, "crlf": True, "cdata": True},  # file-name style
    {"self_closing": True, "bad_xsi": True},  # compact style
], ids=lambda q: "+".join(q) or "plain")
def test_every_real_export_quirk_reads_the_same(tmp_path, quirks):
    path = write_quirky(tmp_path, **quirks)
    assert sniff(path) == 1.0
    out = read(path, "sha")
    assert out.rejects == [] and out.skipped_tables == {}
    (record,) = out.records
    assert {k: record[k] for k in EXPECTED_IDENTITY} == EXPECTED_IDENTITY
    assert out.tables["prescriptions"] == [EXPECTED_PRESCRIPTION]
    assert out.tables["services"] == [EXPECTED_SERVICE]
    (encounter,) = out.tables["encounters"]
    assert encounter["notes"] == "-NHIỄM TRÙNG HÔ HẤP TRÊN.\n-TĂNG HUYẾT ÁP."  # CRLF → LF
    assert [(c["icd10"], c["role"]) for c in out.tables["conditions"]] == [
        ("J06.9", "primary"), ("I10;E11.9", "secondary")]
    assert [(r["name"], r["unit"]) for r in out.tables["lab_results"]] == [
        ("Creatinin", "µmol/L")]


def test_pre_2025_codes_stage_the_district(tmp_path):
    fields = [(k, {"MAHUYEN_CU_TRU": "384", "DIA_CHI": "Bản Thử, Pù Nhi, Mường Lát"}.get(k, v))
              for k, v in XML1_FIELDS]
    (record,) = read(write_quirky(tmp_path, fields=fields), "sha").records
    assert {k: record[k] for k in ("province_code", "district_code", "commune_code",
                                   "permanent_address")} == {
        "province_code": "38", "district_code": "384", "commune_code": "14863",
        "permanent_address": "Bản Thử, Pù Nhi, Mường Lát"}


@pytest.mark.parametrize("written, amount", [
    ("410000", 410000.0), ("252300.00", 252300.0), ("2289.998", 2289.998),
    ("1.250.000", 1250000.0), ("1,250,000.50", 1250000.5), ("1.250,5", 1250.5),
    ("12,600", 12600.0), ("1 250 000", 1250000.0), ("12,5", 12.5), ("miễn phí", None),
    (None, None),
])
def test_money_as_exports_and_people_write_it(written, amount):
    assert parse_amount(written) == amount


def test_4210_drug_and_service_rows(tmp_path):
    """The 4210 layout names the amount THANH_TIEN and has no NGAY_TH_YL or performer."""
    drug = [("MA_LK", "LK900001"), ("STT", "2"), ("MA_THUOC", "40.155"),
            ("TEN_THUOC", "Amoxicilin"), ("HAM_LUONG", "500mg"), ("DUONG_DUNG", "1.01"),
            ("LIEU_DUNG", "2 viên/ngày"), ("SO_LUONG", "10"), ("DON_VI_TINH", "Viên"),
            ("DON_GIA", "1200"), ("THANH_TIEN", "12000"), ("TYLE_TT", "100"),
            ("MA_BAC_SI", "000333/TH-CCHN"), ("NGAY_YL", "202507010900")]
    supply = [("MA_LK", "LK900001"), ("STT", "3"), ("MA_DICH_VU", ""),
              ("MA_VAT_TU", "N03.02.070"), ("TEN_VAT_TU", "Bơm tiêm 5ml"), ("MA_NHOM", "10"),
              ("DON_VI_TINH", "Cái"), ("SO_LUONG", "2"), ("DON_GIA", "900"),
              ("THANH_TIEN", "1800"), ("NGAY_YL", "202507010845"), ("NGAY_KQ", "")]
    x1 = [("MA_LK", "LK900001"), ("MA_BN", "BN01"), ("HO_TEN", "LÒ VĂN THỬ"),
          ("NGAY_SINH", "19500101"), ("GIOI_TINH", "1"), ("MA_THE", "HT3380000000001"),
          ("MA_BENH", "J069"), ("TEN_BENH", "Viêm họng"), ("NGAY_VAO", "202507010830")]

    def inner(root, list_tag, row_tag, row):
        return (f"<{root}><{list_tag}><{row_tag}>" + "".join(f"<{k}>{v}</{k}>" for k, v in row)
                + f"</{row_tag}></{list_tag}></{root}>")

    ep = ("<HOSO>" + filehoso("XML1", "<TONG_HOP>" + "".join(
        f"<{k}>{v}</{k}>" for k, v in x1) + "</TONG_HOP>", "plain") +
        filehoso("XML2", inner("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC",
                               "CHI_TIET_THUOC", drug), "plain") +
        filehoso("XML3", inner("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT",
                               "CHI_TIET_DVKT", supply), "base64") +
        filehoso("XML5", inner("CHITIEU_CHITIET_DIENBIENLAMSANG",
                               "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH",
                               [("MA_LK", "LK900001"), ("STT", "1"),
                                ("DIEN_BIEN", "Mạch 80 lần/phút"),
                                ("NGAY_YL", "202507010900")]), "base64") + "</HOSO>")
    path = tmp_path / "x4210.xml"
    path.write_text(envelope("38151", [ep]), encoding="utf-8")
    out = read(path, "sha")
    key = "clinic-xml:38151:LK900001"
    assert out.tables["prescriptions"] == [{
        "record_key": key, "line": "2", "drug_code": "40.155", "drug_name": "Amoxicilin",
        "strength": "500mg", "route": "1.01", "dosage": "2 viên/ngày", "usage": None,
        "quantity_text": "10", "unit": "Viên", "ordered_at": "202507010900",
        "doctor_code": "000333/TH-CCHN", "amount_text": "12000",
        "extra": json.dumps({"DON_GIA": "1200", "TYLE_TT": "100"})}]
    assert out.tables["services"] == [{
        "record_key": key, "line": "3", "service_code": None, "service_name": None,
        "supply_code": "N03.02.070", "supply_name": "Bơm tiêm 5ml", "group_code": "10",
        "quantity_text": "2", "unit": "Cái", "ordered_at": "202507010845",
        "performed_at": None, "result_at": None, "doctor_code": None, "performer": None,
        "amount_text": "1800", "extra": json.dumps({"DON_GIA": "900"})}]
    assert out.tables["encounters"][0]["layout"] == "4210"
    # 4210 names the progress note DIEN_BIEN and its time NGAY_YL
    assert out.tables["clinical_notes"] == [{"record_key": key, "noted_at": "202507010900",
                                             "text": "Mạch 80 lần/phút"}]
    assert out.records[0]["province_code"] is None  # 4210 has no address codes


def test_year_only_birth_and_code_lists_after_transform(tmp_path):
    """yyyy01010000 is a year-only birth; MA_BENH_KT "I10;E11.9" is two conditions."""
    path = write_quirky(tmp_path, cdata=True, self_closing=True)
    clean = transform_stage(extract_files([path]).data)
    (record,) = clean.records.to_dict("records")
    assert (record["birth_year"], record["birth_date_precision"]) == (1950, "year")
    assert pd_none(record["birth_month"]) and pd_none(record["birth_day"])
    conditions = clean.tables["conditions"][["icd10", "role"]].to_dict("records")
    assert conditions == [{"icd10": "J06.9", "role": "primary"},
                          {"icd10": "I10", "role": "secondary"},
                          {"icd10": "E11.9", "role": "secondary"}]
    items = clean.tables["prescriptions"][["line", "quantity", "amount", "ordered_at"]]
    assert items.to_dict("records") == [{"line": 1, "quantity": 14.0, "amount": 7000.0,
                                         "ordered_at": dt.datetime(2025, 7, 1, 9, 0)}]


def pd_none(value):
    return value is None or value != value or str(value) == "<NA>"


@pytest.mark.parametrize("style", sorted(STYLES))
def test_generator_styles_have_the_real_quirks(style):
    r = people(1)[0]
    r.year_only = True
    hoso = episode(r, "LK1", "38150", VISIT, random.Random(3), style=style, post_2025=True)
    data = styled_envelope("38150", [hoso], style)
    inner = {k: base64.b64decode(v).decode("utf-8") for k, v in
             zip(_between(hoso, "<LOAIHOSO>", "</LOAIHOSO>"),
                 _between(hoso, "<NOIDUNGFILE>", "</NOIDUNGFILE>"), strict=True)}
    assert {"XML1", "XML2", "XML3"} <= set(inner)
    assert data.startswith(b"\xef\xbb\xbf") == (style == "file-name")
    assert inner["XML1"].startswith("<?xml") == (style == "file-name")
    assert ("\r\n" in inner["XML2"]) == (style == "file-name")
    assert ("<![CDATA[]]>" in inner["XML3"]) == (style == "file-name")
    assert ("XMLSchema instance" in inner["XML1"]) == (style == "compact")
    assert ("<SO_CCCD/>" in inner["XML1"] or "<DIEN_THOAI/>" in inner["XML1"]) == \
        (style == "compact")
    birth = _between(inner["XML1"], "<NGAY_SINH>", "</NGAY_SINH>")[0]
    assert birth == f"{r.birth.year}01010000"
    ma_bn = _between(inner["XML1"], "<MA_BN>", "</MA_BN>")[0]
    assert ma_bn == ("PC-00000" if style == "file-name" else "PC00000")
    assert "<MAHUYEN_CU_TRU></MAHUYEN_CU_TRU>" in inner["XML1"] or \
        "<MAHUYEN_CU_TRU/>" in inner["XML1"]
    assert ",," in inner["XML1"]


def _between(text, start, end):
    return [part.split(end)[0] for part in text.split(start)[1:]]


def _inner_texts(hoso):
    """The inner tables of one generated HOSO, decoded (base64) or unescaped (plain)."""
    out = []
    for content in _between(hoso, "<NOIDUNGFILE>", "</NOIDUNGFILE>"):
        if content.startswith("&lt;"):
            out.append(content.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
        else:
            out.append(base64.b64decode(content).decode("utf-8"))
    return "".join(out)


def test_styled_files_load_every_drug_and_service_row(tmp_path):
    """Each real style, both layouts: every XML2/XML3 row the generator wrote is staged."""
    rng = random.Random(11)
    for n, style in enumerate(sorted(STYLES)):
        for facility in ("38150", "38151"):  # 130 base64, 4210 plain escaped XML
            eps = [episode(r, f"LK{facility}{n}{i:03d}", facility, VISIT, rng, drugs=4,
                           style=style, post_2025=i % 2 == 0) for i, r in enumerate(people(6))]
            path = tmp_path / f"{style}_{facility}.xml"
            path.write_bytes(styled_envelope(facility, eps, style))
            out = read(path, "sha")
            assert out.rejects == [] and len(out.records) == 6
            written = "".join(_inner_texts(ep) for ep in eps)
            assert len(out.tables["prescriptions"]) == written.count("<CHI_TIET_THUOC>") == 24
            assert len(out.tables["services"]) == written.count("<CHI_TIET_DVKT>") >= 6
            assert all(p["drug_code"] and p["amount_text"] for p in out.tables["prescriptions"])
            assert all(s_["service_code"] or s_["supply_code"] for s_ in out.tables["services"])
            codes = [(r["province_code"], r["district_code"]) for r in out.records]
            assert codes == ([("38", None), ("38", "384")] * 3 if facility == "38150"
                             else [(None, None)] * 6)  # post-2025 codes on every other one


def test_parts_split_by_item_rows_count_once(tmp_path, db, monkeypatch):
    from etl.extract import clinic_xml

    monkeypatch.setattr(clinic_xml, "PART_ROWS", 10)  # a part every one or two episodes
    path, _ = month_file(tmp_path)
    parts = list(clinic_xml.iter_read(path, "sha", chunk=1000))
    assert len(parts) > 3
    assert sum(len(p.tables["prescriptions"]) for p in parts) == 36
    summary = run([path], db, chunk_records=20)
    assert (summary.files[0].read, summary.files[0].created) == (12, 12) and summary.reconciles
    assert summary.clinical_rows["prescriptions"] == 36


def test_run_summary_lists_visit_items_and_only_unread_tables(hssk, tmp_path, db_url):
    path = write_quirky(tmp_path, cdata=True)
    text = path.read_text(encoding="utf-8").replace(
        "</HOSO>", filehoso("XML7", "<CHI_TIEU_DU_LIEU_GIAY_RA_VIEN/>", "base64") + "</HOSO>")
    path.write_text(text, encoding="utf-8")
    assert hssk("init", db=db_url).exit_code == 0
    result = hssk("run", path, db=db_url)
    assert result.exit_code == 0, result.output
    assert "prescriptions 1, services 1" in result.output
    assert "inner tables not read: XML7 ×1" in result.output
    assert "XML2" not in result.output and "XML3" not in result.output
