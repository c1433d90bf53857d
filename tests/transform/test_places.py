"""The place resolver against the real reference tables (etl/reference/admin_*.csv).

Expected codes were looked up in admin_units_2024.csv, admin_units_2025.csv and
admin_crosswalk_2025.csv (GSO codes as shipped by vietnamadminunits 1.0.4).
"""

from __future__ import annotations

import random
import unicodedata

import pandas as pd
import pytest

from etl import reference
from etl.text import fold
from etl.transform import codes
from etl.transform.places import (
    Place,
    PlaceContext,
    address_tail,
    infer_context,
    resolve_place,
    resolve_places,
)

# Thành phố Thanh Hóa (district 380): Phường Ba Đình 14776, Điện Biên 14767, Đông Hương 14794,
# all merged into Phường Hạc Thành 14797 on 1 July 2025. Bỉm Sơn (381) has its own Ba Đình.
BA_DINH_TH, DIEN_BIEN_TH, DONG_HUONG_TH, HAC_THANH = "14776", "14767", "14794", "14797"
BA_DINH_BIM_SON = "14812"
DIEN_BIEN_HN = "00019"  # Phường Điện Biên, Quận Ba Đình, Hà Nội


def test_reference_tables_have_both_generations():
    old = [r for r in reference.admin_units_2024() if r["commune_code"]]
    new = reference.admin_units_2025()
    assert len(old) == 10_035
    assert len({r["province_code"] for r in old}) == 63
    assert len({r["district_code"] for r in reference.admin_units_2024()}) == 696
    assert len(new) == 3_321
    assert len({r["province_code"] for r in new}) == 34
    olds = {r["old_commune_code"] for r in reference.admin_crosswalk_2025() if r["old_commune_code"]}
    assert olds == {r["commune_code"] for r in old}  # every old commune goes somewhere
    assert len({r["code_2025"] for r in reference.provinces().values()}) == 34


def test_provinces_2025_crosswalk():
    provinces = reference.provinces()
    assert provinces["94"]["code_2025"] == "92"  # Sóc Trăng → Cần Thơ
    assert provinces["77"]["code_2025"] == "79"  # Bà Rịa - Vũng Tàu → Hồ Chí Minh
    assert provinces["38"]["code_2025"] == "38"


@pytest.mark.parametrize("address", [
    "Số 12 Lê Lợi, Phường Ba Đình, TP Thanh Hóa, Thanh Hóa",
    "Thanh Hóa - TP Thanh Hóa - P. Ba Đình",
    "phuong ba dinh thanh pho thanh hoa",
    "PHƯỜNG BA ĐÌNH,, THÀNH PHỐ THANH HOÁ; TỈNH THANH HOÁ",
    unicodedata.normalize("NFD", "Phường Ba Đình / Thành phố Thanh Hóa"),
    "P.Ba Đình TP.Thanh Hóa",
    "12/3 Lê Lợi, P. Ba Đình, Tp Thanh Hoá, Việt Nam",
])
def test_thanh_hoa_city_ward_in_any_style(address):
    place = resolve_place(address)
    assert place == Place(BA_DINH_TH, HAC_THANH, "380", "38", "38", "address", None)


def test_same_ward_name_in_two_cities():
    assert resolve_place("Phường Điện Biên, Quận Ba Đình, Hà Nội").commune_code == DIEN_BIEN_HN
    assert resolve_place("P. Điện Biên - TP. Thanh Hoá").commune_code == DIEN_BIEN_TH
    assert resolve_place("Phường Điện Biên").finding == "ambiguous-commune"


@pytest.mark.parametrize("address, code", [
    ("Phường 3, Quận 3, TP HCM", "27154"),
    ("P3 Q3 TPHCM", "27154"),
    ("Phường 03, Quận 3, Thành phố Hồ Chí Minh", "27154"),
    # Quận 5's Phường 3 was merged into Phường 2 (27307): the package lists the old name
    ("Phường 3, Quận 5, TP. Hồ Chí Minh", "27307"),
])
def test_numbered_wards(address, code):
    assert resolve_place(address).commune_code == code


def test_ambiguous_name_resolved_by_context_and_not_without():
    text = "Phường Ba Đình, Thanh Hóa"  # TP Thanh Hóa or Thị xã Bỉm Sơn
    alone = resolve_place(text)
    assert alone.commune_code is None and alone.finding == "ambiguous-commune"
    assert alone.province_code == "38"
    city = PlaceContext(district_codes=frozenset({"380"}))
    assert resolve_place(text, prefer=city).commune_code == BA_DINH_TH
    bim_son = PlaceContext(district_codes=frozenset({"381"}))
    assert resolve_place(text, prefer=bim_son).commune_code == BA_DINH_BIM_SON
    # the district written in the text beats the context
    assert resolve_place("Phường Ba Đình, TX Bỉm Sơn", prefer=city).commune_code == (
        BA_DINH_BIM_SON)


def test_name_shared_nationwide_needs_its_district():
    assert resolve_place("Kim Tân").finding == "ambiguous-commune"
    assert resolve_place("Kim Tân, Thạch Thành, Thanh Hóa").commune_code == "15187"
    assert resolve_place("Kim Tân, Lào Cai").commune_code == "02647"


def test_codes_and_address_that_disagree_keep_the_code():
    place = resolve_place("P. Đông Hương - TP. Thanh Hoá", commune_code="14863")
    assert place.commune_code == "14863"  # Pù Nhi, Mường Lát
    assert place.finding == "commune-code-mismatch" and place.method == "code"
    agree = resolve_place("Phường Đông Hương, TP Thanh Hóa", commune_code="14794",
                          district_code="380", province_code="38.0")
    assert agree.commune_code == DONG_HUONG_TH and agree.method == "code+address"
    assert agree.finding is None


def test_code_breaks_an_ambiguous_address():
    place = resolve_place("Phường Ba Đình, Thanh Hóa", commune_code="14812")
    assert place.commune_code == BA_DINH_BIM_SON and place.finding is None


def test_post_2025_commune_code_with_new_province():
    # 31321 is Phường Vị Thanh of the new Cần Thơ (92), made of several Hậu Giang communes;
    # before 2025 the same number was a single ward of Hậu Giang (93)
    new = resolve_place(commune_code="31321", province_code="92", district_code="")
    assert new.commune_code_2025 == "31321" and new.province_code_2025 == "92"
    assert new.commune_code is None  # several old communes: no unique old code
    assert new.method == "code" and new.finding is None
    old = resolve_place(commune_code="31321", province_code="93")
    assert old.commune_code == "31321" and old.district_code == "930"
    # a code that exists only after 2025: Đặc khu Bạch Long Vĩ
    assert resolve_place(commune_code="11948").commune_code_2025 == "11948"


@pytest.mark.parametrize("province", ["1", "01", "001", "1.0"])
def test_short_commune_code_padded_only_when_the_province_agrees(province):
    assert resolve_place(commune_code="4", province_code=province).commune_code == "00004"


def test_short_commune_code_alone_is_not_guessed():
    assert resolve_place(commune_code="4").commune_code is None
    assert resolve_place(commune_code="4", province_code="38").commune_code is None
    assert resolve_place(commune_code="00004").commune_code == "00004"


def test_old_code_to_new_code_through_the_crosswalk():
    place = resolve_place(commune_code="00001")  # Phường Phúc Xá → Phường Hồng Hà
    assert place.commune_code_2025 == "00097" and place.district_code == "001"
    assert resolve_place("Phường Phúc Xá, Quận Ba Đình, Hà Nội").commune_code_2025 == "00097"


def test_split_commune_goes_to_its_default_new_commune():
    targets = {r["new_commune_code"]: r["is_default"] for r in reference.admin_crosswalk_2025()
               if r["old_commune_code"] == "00007"}  # Phường Cống Vị was split
    assert targets == {"00008": "1", "00025": "0"}
    assert resolve_place(commune_code="00007").commune_code_2025 == "00008"


def test_post_2025_address():
    place = resolve_place("Phường Hạc Thành, Thanh Hóa")
    assert place.commune_code_2025 == HAC_THANH and place.province_code_2025 == "38"
    assert place.commune_code is None  # Hạc Thành absorbed many old wards
    assert place.district_code == "380"  # … all of one old district
    hanoi = resolve_place("Phường Ba Đình, TP Hà Nội")  # a new ward, no old one of that name
    assert hanoi.commune_code_2025 == "00004" and hanoi.province_code == "01"
    kept = resolve_place("Xã Pù Nhi, Thanh Hóa")  # unchanged in 2025: both codes
    assert (kept.commune_code, kept.commune_code_2025) == ("14863", "14863")


@pytest.mark.parametrize("address", [
    "phuong dong huongg, tp thanh hoa",
    "Phường Đông Huơng, Thành phố Thanh Hóa",
    "P. Đông Hươg - TP. Thanh Hoá",  # with diacritics: nearer Đông Hương than Đông Hưng
    "phuong dong huong thanh pho thanh hoa",
])
def test_no_diacritics_and_one_typo(address):
    assert resolve_place(address).commune_code == DONG_HUONG_TH


def test_typo_never_picks_among_close_names():
    # "Diễn Gạn" is one edit from Diễn Vạn, Diễn Tân and Diễn An of Diễn Châu; without
    # diacritics nothing says which
    assert resolve_place("xa dien gan, huyen dien chau, nghe an").commune_code is None
    assert resolve_place("Xã Diễn Gạn, Huyện Diễn Châu, Nghệ An").commune_code == "17428"
    assert resolve_place("P. Dong Huog - TP Thanh Hoa").commune_code is None  # Hương or Hưng


@pytest.mark.parametrize("address", [
    "Đường Lam Sơn, Phường Điện Biên, Thành phố Thanh Hóa",
    "Lam Sơn, Phường Điện Biên, Thành phố Thanh Hóa",  # Lam Sơn is also a ward of the city
    "Số 5 Trường Thi, P. Điện Biên, TP Thanh Hóa",
])
def test_street_named_like_a_ward(address):
    assert resolve_place(address).commune_code == DIEN_BIEN_TH


@pytest.mark.parametrize("address, code", [
    ("B. Pù Toong - X. Pù Nhi - H. Mường Lát", "14863"),  # a namesake Pú Nhi is in Điện Biên
    ("xa pu nhi huyen muong lat", "14863"),
    ("Bản Sài Khao, xã Mường Lý, huyện Mường Lát, tỉnh Thanh Hóa", "14854"),
    ("Khu 2, TT Mường Lát, Mường Lát, Thanh Hóa", "14845"),
    ("Bản Cang, Pù Nhi, Mường Lát", "14863"),
    ("Mường Lí, Mường Lát", "14854"),  # i/y spellings are one name
])
def test_muong_lat_addresses(address, code):
    assert resolve_place(address).commune_code == code


def test_district_name_equal_to_a_commune_does_not_win():
    # "Mường Lát" is both the district and commune 14845
    assert resolve_place("Bản Cang - Xã Tam Chung - Mường Lát").commune_code == "14848"


def test_levels_without_a_commune():
    assert resolve_place("Hà Nội") == Place(None, None, None, "01", "01", "none",
                                            "unknown-commune")
    district = resolve_place("Huyện Mường Lát, Thanh Hóa")
    assert (district.district_code, district.commune_code) == ("384", None)
    island = resolve_place("Huyện Côn Đảo, Bà Rịa - Vũng Tàu")  # no communes before 2025
    assert island.district_code == "755" and island.commune_code_2025 == "26732"
    assert resolve_place(None) == Place(None, None, None, None, None, "none", None)


def test_address_tail_drops_street_and_country():
    assert address_tail("Số 12 Lê Lợi, Phường Ba Đình, TP Thanh Hóa, Việt Nam") == (
        "phường ba đình, tp thanh hóa")
    assert address_tail("so 12 le loi phuong ba dinh thanh pho thanh hoa") == (
        "phuong ba dinh thanh pho thanh hoa")


def test_resolve_places_two_passes_and_codes():
    addresses = pd.Series([
        "Số 1 Lê Lợi, Phường Đông Hương, TP Thanh Hóa",
        "Số 2 Lê Lợi, Phường Đông Hương, TP Thanh Hóa",
        "Số 9 Bà Triệu, Phường Điện Biên, Thành phố Thanh Hóa",
        "Phường Ba Đình, Thanh Hóa",  # ambiguous alone: the file is in TP Thanh Hóa
        None,
        "Khu 3, xã đâu đó",
    ], index=[10, 11, 12, 13, 14, 15])
    communes = pd.Series(["", "", "", "", "31321", None], index=addresses.index)
    provinces = pd.Series([None, "38", "038", "38.0", "92", None], index=addresses.index)
    out = resolve_places(addresses, commune_codes=communes, province_codes=provinces)
    assert list(out.index) == [10, 11, 12, 13, 14, 15]
    assert list(out.columns) == ["commune_code", "commune_code_2025", "district_code",
                                 "province_code", "province_code_2025", "method", "finding"]
    assert list(out["commune_code"][:4]) == [DONG_HUONG_TH, DONG_HUONG_TH, DIEN_BIEN_TH,
                                             BA_DINH_TH]
    assert out.loc[14, "commune_code_2025"] == "31321" and out.loc[14, "method"] == "code"
    assert out.loc[15, "finding"] == "unknown-commune"
    assert resolve_places(addresses[3:4]).loc[13, "finding"] == "ambiguous-commune"


def test_infer_context_is_the_majority_place():
    places = [resolve_place(f"Phường {w}, TP Thanh Hóa") for w in ("Đông Hương", "Điện Biên",
                                                                   "Ba Đình", "Lam Sơn")]
    places.append(resolve_place("Phường Ba Đình, Thanh Hóa"))  # ambiguous: not counted
    context = infer_context(places)
    assert context.district_codes == frozenset({"380"})
    assert context.province_codes == frozenset({"38"})


# --- property-ish: addresses of random pre-2025 communes in several styles ------------------

_ABBR = {"Phường": "P.", "Xã": "X.", "Thị trấn": "TT.", "Huyện": "H.", "Quận": "Q.",
         "Thị xã": "TX.", "Thành phố": "TP."}


def _typo(name: str, rng: random.Random) -> str:
    i = rng.choice([k for k, c in enumerate(name) if c.isalpha()])
    op = rng.choice("sdi")
    if op == "s":
        return name[:i] + rng.choice("abcdeghiklmnopqrstuvxy") + name[i + 1:]
    if op == "d":
        return name[:i] + name[i + 1:]
    return name[:i] + rng.choice("aeiou") + name[i:]


def _styles(row: dict[str, str], rng: random.Random) -> dict[str, str]:
    c, ct, d, dt, p = (row["commune"], row["commune_type"], row["district"],
                       row["district_type"], row["province"])
    pt = reference.provinces()[row["province_code"]]["type"]
    full = f"{ct} {c}, {dt} {d}, {pt} {p}"
    bare_district = f"{dt} {d}" if d.isdigit() else d  # "Quận 3", never a bare "3"
    out = {
        "full": full,
        "abbreviated": f"{_ABBR[ct]} {c} - {_ABBR[dt]} {d} - {p}",
        "no diacritics": fold(full),
        "reversed": f"{p} - {dt} {d} - {ct} {c}",
        "with street": f"Số {rng.randint(1, 200)} đường Lê Lợi, {ct} {c}, {bare_district}, {p}",
    }
    if len(fold(c).replace(" ", "")) >= 5:
        out["one typo"] = f"{ct} {_typo(c, rng)}, {dt} {d}, {p}"
    return out


def test_random_communes_in_many_styles_resolve():
    rng = random.Random(20250701)
    communes = [r for r in reference.admin_units_2024() if r["commune_code"]]
    total = right = 0
    misses = []
    for row in rng.sample(communes, 2_000):
        for style, address in _styles(row, rng).items():
            total += 1
            got = resolve_place(address)
            if got.commune_code == row["commune_code"]:
                right += 1
            else:
                misses.append((style, address, row["commune_code"], got.commune_code,
                               got.finding))
    rate = right / total
    print(f"\nresolved correctly: {right}/{total} = {rate:.4f}")
    for miss in misses:
        print("  miss:", miss)
    assert rate >= 0.99
    # a wrong commune is worse than none: the misses are nearly all refusals
    wrong = [m for m in misses if m[3] is not None]
    assert len(wrong) <= total * 0.002


def test_a_district_office_title_line_names_no_commune():
    # "PHÒNG GD&ĐT MƯỜNG LÁT" is the district's education office above every school's name:
    # reading it as commune 14845 moved the pupils of every school to the district town.
    assert codes.resolve_commune_in_title("PHÒNG GD&ĐT MƯỜNG LÁT") is None
    assert codes.resolve_commune_in_title("TRƯỜNG PTDTBT TH&THCS PÙ NHI") == "14863"
    assert codes.resolve_commune_in_title("Tam Chung") == "14848"
