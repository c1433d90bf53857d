"""Benchmark: resolving registry addresses to communes with etl.transform.places.resolve_places.

Two runs, printed as JSON:
- city: N addresses (default 200,000) in the pre-2025 wards of one city (default Thành phố
  Thanh Hóa, district 380), mixed styles, each with a house number and a street, so nearly every
  string is distinct;
- nation: 50,000 addresses of communes drawn at random nationwide (village, full names,
  abbreviations, no diacritics, reversed order): few repeats, so this measures the reader itself.
For each: distinct strings, resolution rate (a commune found), correct rate against the truth,
rows/second, and a same-run baseline: the time of a plain ``fold()`` over the same strings.

    .venv/bin/python benchmarks/bench_places.py [--rows 200000] [--nation-rows 50000]
        [--district 380] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import unicodedata

import pandas as pd

from etl import reference
from etl.text import fold
from etl.transform.places import resolve_places

STREETS = ["Lê Lợi", "Trần Phú", "Quang Trung", "Bà Triệu", "Hàm Nghi", "Nguyễn Trãi", "Lê Hoàn",
           "Phan Chu Trinh", "Đội Cung", "Hạc Thành", "Tống Duy Tân", "Lê Lai", "Ngô Quyền",
           "Hải Thượng Lãn Ông", "Trường Thi", "Đông Hương", "Ba Đình", "Điện Biên", "Cao Thắng",
           "Nguyễn Du", "Lạc Long Quân", "Dương Đình Nghệ", "Bà Huyện Thanh Quan", "Võ Nguyên Giáp"]
ABBR = {"Phường": "P.", "Xã": "X.", "Thị trấn": "TT.", "Huyện": "H.", "Quận": "Q.",
        "Thị xã": "TX.", "Thành phố": "TP."}


def city_address(row: dict[str, str], rng: random.Random) -> str:
    n, street = rng.randint(1, 999), rng.choice(STREETS)
    ct, c = row["commune_type"], row["commune"]
    dt, d, p = row["district_type"], row["district"], row["province"]
    style = rng.randrange(7)
    if style == 0:
        return f"Số {n} {street}, {ct} {c}, {dt} {d}, {p}"
    if style == 1:
        return f"{n} {street}, {ABBR[ct]} {c} - {ABBR[dt]} {d}".replace("Hóa", "Hoá")
    if style == 2:
        return fold(f"so {n} {street} {ct} {c} {dt} {d} {p}")
    if style == 3:
        return f"{n}/{rng.randint(1, 40)} {street}, {ct} {c}, {dt} {d}, Tỉnh {p}, Việt Nam"
    if style == 4:
        return f"{p} - {ABBR[dt]} {d} - {ABBR[ct]} {c} - số {n} {street}"
    if style == 5:
        return unicodedata.normalize("NFD", f"Số nhà {n}, đường {street}, {ct} {c}, {d}, {p}")
    return f"Tổ {rng.randint(1, 30)}, Ngõ {n} {street},, {ct.upper()} {c.upper()}; {d}; {p}"


def nation_address(row: dict[str, str], province_type: str, rng: random.Random) -> str:
    ct, c = row["commune_type"], row["commune"]
    dt, d, p = row["district_type"], row["district"], row["province"]
    style = rng.randrange(4)
    if style == 0:
        return f"Thôn {rng.randint(1, 12)}, {ct} {c}, {dt} {d}, {province_type} {p}"
    if style == 1:
        return f"{ABBR[ct]} {c} - {ABBR[dt]} {d} - {p}"
    if style == 2:
        return fold(f"{ct} {c}, {dt} {d}, {p}")
    return f"{p} - {dt} {d} - {ct} {c}"


def run(addresses: list[str], truth: list[str]) -> dict[str, object]:
    series = pd.Series(addresses)
    start = time.perf_counter()
    for text in addresses:
        fold(text)
    fold_seconds = time.perf_counter() - start
    start = time.perf_counter()
    out = resolve_places(series)
    seconds = time.perf_counter() - start
    found = out["commune_code"].notna()
    correct = (out["commune_code"] == pd.Series(truth)).sum()
    return {
        "rows": len(addresses), "distinct_strings": int(series.nunique()),
        "resolved_rate": round(float(found.mean()), 5),
        "correct_rate": round(int(correct) / len(addresses), 5),
        "seconds": round(seconds, 3), "rows_per_second": round(len(addresses) / seconds),
        "fold_seconds": round(fold_seconds, 3),
        "ratio_to_fold": round(seconds / fold_seconds, 2),
        "findings": {k: int(v) for k, v in out["finding"].value_counts().items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--district", default="380", help="pre-2025 district code of the city")
    parser.add_argument("--nation-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    units = [r for r in reference.admin_units_2024() if r["commune_code"]]
    provinces = reference.provinces()

    start = time.perf_counter()
    resolve_places(pd.Series(["Phường Ba Đình, TP Thanh Hóa"]))  # load the reference tables
    load_seconds = time.perf_counter() - start

    city = [r for r in units if r["district_code"] == args.district]
    rows = [rng.choice(city) for _ in range(args.rows)]
    city_result = run([city_address(r, rng) for r in rows], [r["commune_code"] for r in rows])

    rows = [rng.choice(units) for _ in range(args.nation_rows)]
    nation_result = run([nation_address(r, provinces[r["province_code"]]["type"], rng)
                         for r in rows], [r["commune_code"] for r in rows])
    print(json.dumps({"load_seconds": round(load_seconds, 3),
                      "city": {"district": args.district, "communes": len(city), **city_result},
                      "nation": nation_result}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
