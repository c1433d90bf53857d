"""Clinic exports for insurance assessment: the GIAMDINHHS envelope (QĐ 4210 and QĐ 130).

Streaming and safe: the envelope is read with iterparse, one episode (HOSO) at a time, and each
episode is cleared once used, so a 500 MB month runs in bounded memory; DTDs, entity expansion
and external entities are refused (defusedxml). Inner tables (NOIDUNGFILE) are base64 of UTF-8
XML or the XML itself, escaped or as child elements. Problems are contained per episode: the
rest of the file loads and each problem becomes a reject with file, episode and reason.

Real hospital systems write these files in more than one way, and all of them read the same:
an outer UTF-8 byte-order mark or none; inner tables with or without their own ``<?xml?>``
declaration; CRLF pretty-printing; text wrapped in CDATA (also the empty ``<![CDATA[]]>``);
self-closing empty elements; a malformed ``xmlns:xsi`` URI with a space (accepted, and no tag
depends on a namespace: any ``{uri}`` prefix is dropped). Values are kept as written apart from
surrounding whitespace (``TEN_CHI_SO`` with leading spaces, multi-line ``CHAN_DOAN_RV``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse

from etl.kinds import CLINIC_XML
from etl.stage import RECORD_COLUMNS

KIND = CLINIC_XML
# Inner tables read; the others are known and counted, anything else is an unknown table.
READ_TABLES = {"XML1", "XML2", "XML3", "XML4", "XML5"}
KNOWN_TABLES = {f"XML{n}" for n in range(1, 16)}
SIDE_TABLES = ("encounters", "conditions", "observations", "lab_results", "clinical_notes",
               "prescriptions", "services")
PART_EPISODES = 2500  # episodes held in memory at once when a month is read in parts
PART_ROWS = 25_000  # ... or fewer, once their drug, service and result rows reach this many

# Visit items as declared data: staged column → the fields that may hold it, in order (the 130
# layout's name first, then the 4210 one). Fields not named here go to ``extra`` (JSON).
PRESCRIPTION_FIELDS: dict[str, tuple[str, ...]] = {  # XML2 CHI_TIET_THUOC
    "line": ("STT",), "drug_code": ("MA_THUOC",), "drug_name": ("TEN_THUOC",),
    "strength": ("HAM_LUONG",), "route": ("DUONG_DUNG",), "dosage": ("LIEU_DUNG",),
    "usage": ("CACH_DUNG",), "quantity_text": ("SO_LUONG",), "unit": ("DON_VI_TINH",),
    "ordered_at": ("NGAY_YL",), "doctor_code": ("MA_BAC_SI",),
    "amount_text": ("THANH_TIEN_BV", "THANH_TIEN"),
}
SERVICE_FIELDS: dict[str, tuple[str, ...]] = {  # XML3 CHI_TIET_DVKT (services and supplies)
    "line": ("STT",), "service_code": ("MA_DICH_VU",), "service_name": ("TEN_DICH_VU",),
    "supply_code": ("MA_VAT_TU",), "supply_name": ("TEN_VAT_TU",), "group_code": ("MA_NHOM",),
    "quantity_text": ("SO_LUONG",), "unit": ("DON_VI_TINH",), "ordered_at": ("NGAY_YL",),
    "performed_at": ("NGAY_TH_YL",), "result_at": ("NGAY_KQ",), "doctor_code": ("MA_BAC_SI",),
    "performer": ("NGUOI_THUC_HIEN",), "amount_text": ("THANH_TIEN_BV", "THANH_TIEN"),
}
_ITEM_TABLES = {  # inner table → (row element, side table, field declaration, fields it names)
    table: (element, side, fields, {"MA_LK", *(n for names in fields.values() for n in names)})
    for table, element, side, fields in (
        ("XML2", "CHI_TIET_THUOC", "prescriptions", PRESCRIPTION_FIELDS),
        ("XML3", "CHI_TIET_DVKT", "services", SERVICE_FIELDS))
}


@dataclass
class XmlExtract:
    records: list[dict[str, object]] = field(default_factory=list)
    rejects: list[dict[str, object]] = field(default_factory=list)
    tables: dict[str, list[dict[str, object]]] = field(
        default_factory=lambda: {name: [] for name in SIDE_TABLES})
    skipped_tables: dict[str, int] = field(default_factory=dict)
    facility: str | None = None
    declared: int | None = None


def sniff(path: Path) -> float:
    """1.0 for a GIAMDINHHS envelope, 0 otherwise (reads only the first kilobytes)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return 0.0
    return 1.0 if b"<GIAMDINHHS" in head else 0.0


def _local(tag: str) -> str:
    """``{uri}NAME`` → ``NAME``: no element of these exports is told apart by its namespace."""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def _children(elem: ET.Element) -> dict[str, str | None]:
    """Child element → its text without surrounding whitespace (CDATA, self-closing and empty
    elements alike); ``None`` when empty."""
    out: dict[str, str | None] = {}
    for child in elem:
        text = (child.text or "").strip()
        out[_local(child.tag)] = text or None
    return out


def _without_namespaces(root: ET.Element) -> ET.Element:
    """The tree with plain tags, when its root declares a default namespace (rare: skip the
    walk otherwise)."""
    if root.tag[:1] != "{":
        return root
    for elem in root.iter():
        if isinstance(elem.tag, str) and elem.tag[:1] == "{":
            elem.tag = _local(elem.tag)
    return root


def _item(r: dict[str, str | None], fields: dict[str, tuple[str, ...]],
          named: set[str]) -> dict[str, object]:
    """One XML2/XML3 row as the declared columns, the rest of its non-empty fields in ``extra``."""
    row: dict[str, object] = {}
    for column, names in fields.items():
        value = None
        for name in names:
            value = r.get(name)
            if value is not None:
                break
        row[column] = value
    rest = {k: v for k, v in r.items() if v is not None and k not in named}
    row["extra"] = json.dumps(rest, ensure_ascii=False) if rest else None
    return row


def _inner(filehoso: ET.Element) -> tuple[str | None, ET.Element | None, bytes, str | None]:
    """(LOAIHOSO, parsed inner root, inner bytes, problem) of one FILEHOSO."""
    parts = {_local(child.tag): child for child in filehoso}
    kind_el = parts.get("LOAIHOSO")
    kind = (kind_el.text or "").strip().upper() if kind_el is not None else None
    content = parts.get("NOIDUNGFILE")
    if content is None:
        return kind, None, b"", "missing NOIDUNGFILE"
    if len(content):  # inner table written as child elements
        return kind, _without_namespaces(content[0]), ET.tostring(content[0]), None
    text = (content.text or "").strip().lstrip("\ufeff")
    if text.startswith("<"):
        data = text.encode("utf-8")
    else:
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            return kind, None, b"", "NOIDUNGFILE is neither XML nor valid base64"
    try:
        return kind, _without_namespaces(_parse_inner(data)), data, None
    except (ET.ParseError, DefusedXmlException, UnicodeDecodeError) as exc:
        return kind, None, data, f"inner {kind} table is not well-formed XML ({type(exc).__name__})"


def _parse_inner(data: bytes) -> ET.Element:
    """An inner table's tree. defusedxml parses in Python, a handler call per element (2 s of a
    20,000-episode month); the C parser gives the same tree. Without a DOCTYPE no entity can be
    declared, expanded or fetched, so a table with none, in an encoding where ``<!DOCTYPE``
    would show as those bytes (none with NUL bytes, as UTF-16 has), goes to the C parser;
    anything else to defusedxml, which refuses the DTD."""
    if b"<!DOCTYPE" in data or b"\x00" in data:
        return fromstring(data, forbid_dtd=True)
    return ET.fromstring(data)


def _reject(path: Path, sha: str, locator: str, slug: str, message: str,
            raw: object = None, scope: str = "record", field: str = "") -> dict[str, object]:
    return {"source_file": path.name, "file_sha256": sha, "locator": locator, "stage": "extract",
            "scope": scope, "slug": slug, "field": field, "message": message,
            "raw": json.dumps(raw, ensure_ascii=False) if raw is not None else None}


def _identity(x1: dict[str, str | None], facility: str) -> dict[str, object]:
    """XML1 fields → the staged identity columns (both layouts)."""
    card = x1.get("MA_THE_BHYT") or x1.get("MA_THE")
    return {
        "full_name": x1.get("HO_TEN"), "birth_date": x1.get("NGAY_SINH"),
        "sex": x1.get("GIOI_TINH"), "id_document": x1.get("SO_CCCD"),
        "insurance_card": card, "ethnicity": x1.get("MA_DANTOC"),
        "nationality": x1.get("MA_QUOCTICH"), "occupation": x1.get("MA_NGHE_NGHIEP"),
        "permanent_address": x1.get("DIA_CHI"), "commune_code": x1.get("MAXA_CU_TRU"),
        "district_code": x1.get("MAHUYEN_CU_TRU"), "province_code": x1.get("MATINH_CU_TRU"),
        "phone": x1.get("DIEN_THOAI"), "facility_code": x1.get("MA_CSKCB") or facility,
        "facility_patient_id": x1.get("MA_BN"),
    }


def _episode_tables(out: XmlExtract, key: str, x1: dict[str, str | None],
                    inner: dict[str, ET.Element], facility: str) -> None:
    layout = "130" if any(k in x1 for k in ("MA_THE_BHYT", "MA_BENH_CHINH", "SO_CCCD")) \
        else "4210"
    out.tables["encounters"].append({
        "record_key": key, "kind": "clinic", "facility_code": x1.get("MA_CSKCB") or facility,
        "started_at": x1.get("NGAY_VAO"), "ended_at": x1.get("NGAY_RA"),
        "visit_type": x1.get("MA_LOAI_KCB"), "reason": x1.get("CHAN_DOAN_VAO"),
        "outcome": x1.get("KET_QUA_DTRI"),
        "notes": x1.get("CHAN_DOAN_RV") or x1.get("TEN_BENH"), "layout": layout})
    primary = x1.get("MA_BENH_CHINH") if layout == "130" else x1.get("MA_BENH")
    secondary = x1.get("MA_BENH_KT") if layout == "130" else x1.get("MA_BENHKHAC")
    if primary:
        out.tables["conditions"].append({"record_key": key, "icd10": primary, "role": "primary",
                                         "name": x1.get("CHAN_DOAN_RV") or x1.get("TEN_BENH")})
    if secondary:
        out.tables["conditions"].append({"record_key": key, "icd10": secondary,
                                         "role": "secondary", "name": None})
    if x1.get("CAN_NANG"):
        out.tables["observations"].append({
            "record_key": key, "code": "weight", "value_text": x1.get("CAN_NANG"), "unit": "kg",
            "observed_at": x1.get("NGAY_VAO"), "origin": "XML1.CAN_NANG"})
    if "XML4" in inner:
        for row in inner["XML4"].iter("CHI_TIET_CLS"):
            r = _children(row)
            out.tables["lab_results"].append({
                "record_key": key, "service_code": r.get("MA_DICH_VU"),
                "indicator_code": r.get("MA_CHI_SO"), "name": r.get("TEN_CHI_SO"),
                "value_text": r.get("GIA_TRI"), "unit": r.get("DON_VI_DO"),
                "description": r.get("MO_TA"), "conclusion": r.get("KET_LUAN"),
                "result_at": r.get("NGAY_KQ")})
    if "XML5" in inner:  # 4210 names the note DIEN_BIEN and its time NGAY_YL
        for row in inner["XML5"].iter("CHI_TIET_DIEN_BIEN_BENH"):
            r = _children(row)
            out.tables["clinical_notes"].append({
                "record_key": key, "noted_at": r.get("THOI_DIEM_DBLS") or r.get("NGAY_YL"),
                "text": r.get("DIEN_BIEN_LS") or r.get("DIEN_BIEN")})
    for table, (element, side, fields, named) in _ITEM_TABLES.items():
        if table in inner:
            out.tables[side] += [{"record_key": key, **_item(_children(row), fields, named)}
                                 for row in inner[table].iter(element)]


def read(path: Path, sha: str) -> XmlExtract:
    """Every episode of one envelope file as a staged record plus clinical side-table rows."""
    whole = XmlExtract()
    for part in iter_read(path, sha, chunk=None):
        whole.records += part.records
        whole.rejects += part.rejects
        for name, rows in part.tables.items():
            whole.tables[name] += rows
        for name, n in part.skipped_tables.items():
            whole.skipped_tables[name] = whole.skipped_tables.get(name, 0) + n
        whole.facility, whole.declared = part.facility, part.declared
    return whole


def iter_read(path: Path, sha: str, chunk: int | None = 5000) -> Iterator[XmlExtract]:
    """The episodes of one file in parts of at most ``chunk`` episodes (``None``: one part), and
    of at most about ``PART_ROWS`` side-table rows (a long drug list makes an episode heavy), so
    a 500 MB month never has to be in memory at once. File-level problems come with the last."""
    out = XmlExtract()
    seen: set[str] = set()
    index = 0
    try:
        for _event, elem in iterparse(str(path), events=("end",), forbid_dtd=True):
            tag = _local(elem.tag)
            if tag == "MACSKCB" and out.facility is None:
                out.facility = (elem.text or "").strip() or None
            elif tag == "SOLUONGHOSO":
                text = (elem.text or "").strip()
                out.declared = int(text) if text.isascii() and text.isdigit() else None
            elif tag == "HOSO":
                index += 1
                _episode(path, sha, elem, index, out, seen)
                elem.clear()
                if chunk and (len(out.records) >= chunk or
                              sum(map(len, out.tables.values())) >= PART_ROWS):
                    yield out
                    out = XmlExtract(facility=out.facility, declared=out.declared)
            elif tag == "DANHSACHHOSO":
                elem.clear()
    except DefusedXmlException as exc:
        out.rejects.append(_reject(
            path, sha, "file", "unsafe-xml",
            f"the file declares a DTD or entities, which clinic exports never need "
            f"({type(exc).__name__}); {index} episodes before it were read", scope="file"))
    except ET.ParseError as exc:
        where = getattr(exc, "position", None)
        at = f" at line {where[0]}, column {where[1]}" if where else ""
        out.rejects.append(_reject(
            path, sha, "file", "truncated-file",
            f"the XML stops being readable{at} ({type(exc).__name__}); the {index} episodes "
            "before it were read, anything after it was not", scope="file"))
    except (LookupError, ValueError) as exc:  # an unknown declared encoding ("uuf-8")
        out.rejects.append(_reject(
            path, sha, "file", "unreadable-file",
            f"not readable XML ({type(exc).__name__}); the {index} episodes before it were read",
            scope="file"))
    yield out


def _episode(path: Path, sha: str, hoso: ET.Element, index: int, out: XmlExtract,
             seen: set[str]) -> None:
    facility = out.facility or ""
    inner: dict[str, ET.Element] = {}
    digest = hashlib.sha256()
    problems: list[tuple[str, str]] = []
    for filehoso in (child for child in hoso if _local(child.tag) == "FILEHOSO"):
        kind, root, data, problem = _inner(filehoso)
        if kind not in KNOWN_TABLES:
            problems.append(("unknown-table", f"unknown inner table {kind!r}", kind or ""))
            continue
        digest.update(kind.encode() + b"\0" + data)
        if problem:
            problems.append(("undecodable-table", f"{kind}: {problem}", kind))
        elif kind in READ_TABLES:
            inner[kind] = root
        else:
            out.skipped_tables[kind] = out.skipped_tables.get(kind, 0) + 1
    locator_fallback = f"HOSO#{index}"
    if "XML1" not in inner:
        reason = next((m for _, m, t in problems if t == "XML1"), "episode has no XML1")
        out.rejects.append(_reject(path, sha, locator_fallback, "undecodable-episode",
                                   f"episode {index}: {reason}; episode skipped"))
        return
    x1 = _children(inner["XML1"])
    ma_lk = x1.get("MA_LK")
    locator = ma_lk or locator_fallback
    for slug, message, table in problems:  # the episode loads; the broken table is reported
        out.rejects.append(_reject(path, sha, locator, slug, message, scope="part", field=table))
    if not ma_lk:
        out.rejects.append(_reject(path, sha, locator, "missing-ma-lk",
                                   f"episode {index} has no MA_LK", x1))
        return
    if ma_lk in seen:
        out.rejects.append(_reject(path, sha, locator, "duplicate-episode",
                                   f"MA_LK repeats an earlier episode of this file (#{index})", x1))
        return
    seen.add(ma_lk)
    facility = x1.get("MA_CSKCB") or facility
    key = f"{KIND}:{facility}:{ma_lk}"
    record: dict[str, object] = {c: None for c in RECORD_COLUMNS}
    record.update(_identity(x1, facility))
    record.update(source_kind=KIND, source_file=path.name, file_sha256=sha, locator=ma_lk,
                  row_number=index, record_key=key, record_hash=digest.hexdigest()[:32],
                  raw=json.dumps(x1, ensure_ascii=False))
    out.records.append(record)
    _episode_tables(out, key, x1, inner, facility)
