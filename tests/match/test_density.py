"""Namesakes at a commune's density: the evidence that tells two people of one name apart.

A post-2025 commune holds 20,000 people or more; among the Mông a few clan names and a short
list of given names make namesakes born the same year common. These tests pin the comparisons
and rules that keep them apart (measured at 200,000 residents in BENCHMARKS.md).
"""

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from test_identity import REGISTRY, persons, write  # noqa: E402 - the neighbouring module

from etl.load import schema as s
from etl.match.compare import Columns, fuzzy_equal_level, locality_key
from etl.match.declare import COMPARISONS, HOUSEHOLD
from etl.match.model import _blended
from etl.pipeline import run

INSURED = ["STT", "Họ và tên", "Mã số BHXH", "Ngày tháng năm sinh", "Giới tính",
           "Số CCCD/ĐDCN/Hộ chiếu", "Địa chỉ"]


def _levels(pairs: list[tuple[str, str]]) -> list[str]:
    texts = pd.Series([t for p in pairs for t in p])
    codes, vocab = pd.factorize(texts)
    cols = Columns({}, {}, np.asarray(vocab, dtype=object), np.zeros(len(vocab)))
    codes = codes.astype(np.int32)
    out = fuzzy_equal_level(cols, codes[0::2], codes[1::2])
    return [HOUSEHOLD.levels[k].name for k in out]


def test_heads_of_one_clan_are_not_one_head():
    """Jaro-Winkler scores "giang a su" and "giang van mua" 0.92: the long shared prefix of a
    clan name. Heads are one head when they sound alike or differ by a keystroke in the
    family or middle name, not when they merely share a clan."""
    assert _levels([
        ("giang a su", "giang van mua"),
        ("vang a su", "vang a de"),
        ("dinh van tam", "dinh van thanh"),
        ("ho a nu", "ho a dua"),
        ("thao a chu", "thao a tru"),      # ch/tr: a clerk's spelling of one sound
        ("giang a pao", "giagn a pao"),     # two letters swapped in the clan name
        ("lo van kham", "lo van kham"),
    ]) == ["different", "different", "different", "different", "exact", "exact", "exact"]


def test_the_village_is_the_address_less_its_administrative_names():
    assert locality_key("ban suoi tut - x tam chung - h muong lat", "14848") == "ban suoi tut"
    assert locality_key("ban poong xa tam chung muong lat thanh hoa", "14848") == "ban poong"
    assert locality_key("khu 3 thi tran muong lat huyen muong lat tinh thanh hoa",
                        "14845") == "khu 3"
    assert locality_key("xa tam chung huyen muong lat", "14848") is None
    assert locality_key("ban poong", None) is None


def test_a_comparison_the_random_pairs_seldom_reach_keeps_its_prior():
    """u counted over every random pair made "different mothers" 12 bits *for* a match in a
    registry without mothers (u near zero); shares among the pairs where the comparison was
    possible, blended by their number, keep the declared prior."""
    prior = [lv.u for lv in COMPARISONS["mother"].levels]
    u = _blended(np.array([99_998, 2, 0]), prior)
    assert u[0] == 0.0
    assert abs(u[1] - prior[1]) < 0.05 and abs(u[2] - prior[2]) < 0.05
    many = _blended(np.array([0, 9_000, 1_000]), prior)
    assert abs(many[1] - 0.9) < 0.01 and abs(many[2] - 0.1) < 0.01


def _review_pairs(engine) -> set[frozenset]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(s.source_records.c.record_key, s.source_files.c.file_name,
                                      s.source_records.c.locator).join(s.source_files, s.RECORD_FILE)).all()
        where = {key: f"{f}:{loc}" for key, f, loc in rows}
        review = conn.execute(sa.select(s.match_reviews.c.record_key_a,
                                        s.match_reviews.c.record_key_b)).all()
    return {frozenset((where[a], where[b])) for a, b in review}


def test_one_list_giving_two_dates_is_two_people_or_a_question(db, tmp_path):
    """Two rows of one registry, one household, one name, two dates of one year: same-named
    relatives far more often than a row typed twice — never linked on fuzzy evidence, put to
    an analyst."""
    addr = "Bản Cá Nọi, xã Mường Lý, huyện Mường Lát"
    registry = write(tmp_path / "registry_muong_ly.csv", [*REGISTRY, "Số điện thoại"], [
        ["", "Phạm Thị Nhàn", "02/03/1974", "Nữ", "Thái", addr, "Phạm Văn Khuê", "Con",
         "0912345678"],  # the household's one phone
        ["", "Phạm Thị Nhàn", "09/07/1974", "Nữ", "Thái", addr, "Phạm Văn Khuê", "Con",
         "0912345678"],
        ["", "Hà Văn Sơn", "02/02/1981", "Nam", "Thái", addr, "Hà Văn Lả", "Chủ hộ", ""],
    ])
    run([registry], db)
    p = persons(db)
    assert p["registry_muong_ly.csv:row=1"] != p["registry_muong_ly.csv:row=2"]
    assert _review_pairs(db) == {frozenset(("registry_muong_ly.csv:row=1",
                                            "registry_muong_ly.csv:row=2"))}


def test_one_id_number_on_two_peoples_records_is_a_question(db, tmp_path):
    """The same valid ID number on "Hà Thị Diên" born 25/11/1993 and "Thào Thị Chu" born
    03/01/1993: a mistyped number, not one person — held for an analyst."""
    registry = write(tmp_path / "registry_muong_lat.csv", REGISTRY, [
        ["038193004321", "Hà Thị Diên", "25/11/1993", "Nữ", "Thái",
         "Khu 2, thị trấn Mường Lát", "Hà Văn Chiến", "Con"]])
    insured = write(tmp_path / "bhxh.csv", INSURED, [
        [1, "Thào Thị Chu", "3812345670", "03/01/1993", "Nữ", "038193004321",
         "Bản Xa Lung, xã Trung Lý"],
        [2, "Hà Thị Diên", "3812345671", "25/11/1993", "Nữ", "038193004321",
         "Khu 2, thị trấn Mường Lát"]])
    run([registry, insured], db)
    p = persons(db)
    assert p["registry_muong_lat.csv:row=1"] == p["bhxh.csv:row=2"]
    assert p["bhxh.csv:row=1"] != p["bhxh.csv:row=2"]
    assert frozenset(("bhxh.csv:row=1", "bhxh.csv:row=2")) in _review_pairs(db) or \
        frozenset(("bhxh.csv:row=1", "registry_muong_lat.csv:row=1")) in _review_pairs(db)


def test_a_cluster_never_holds_two_rows_of_one_list_unless_they_were_linked_directly():
    """An insured list names each person once: its rows A and B joined through a registry
    record are two people made one. Two registry rows linked to each other are a duplicate
    registration — that link may join them."""
    from etl.match.clusters import Clusters

    frame = pd.DataFrame({
        "birth_year": [1980.0] * 5, "birth_month": [np.nan] * 5, "birth_day": [np.nan] * 5,
        "personal_id": [None] * 5, "personal_id_status": [None] * 5, "person_id": [None] * 5,
        "sex_any": ["M"] * 5, "given_key": ["hung"] * 5, "mother_key": [None] * 5,
        "head_other": [None] * 5, "social_insurance_code": [None] * 5})
    # rows: 0 insured A, 1 insured B (list 7), 2 registry R, 3 registry R' (list 3), 4 clinic
    clusters = Clusters(frame, lists=np.array([7, 7, 3, 3, -1]))
    assert clusters.union(0, 2, fuzzy=True)        # A – R
    assert clusters.union(2, 4, fuzzy=True)        # R – clinic
    assert not clusters.union(4, 1, fuzzy=True)    # clinic – B would hold A and B
    assert clusters.union(3, 1, fuzzy=True)        # R' – B: a cluster of its own
    assert not clusters.union(3, 0, fuzzy=True)    # R' – A: A and B, R and R' at once
    assert not clusters.union(2, 3, fuzzy=True)    # R – R' directly, but A and B would meet
    assert clusters.find(0) != clusters.find(1)
    other = Clusters(frame, lists=np.array([7, 7, 3, 3, -1]))
    assert other.union(0, 2, fuzzy=True) and other.union(2, 3, fuzzy=True)  # R – R' direct
    assert other.union(1, 1, fuzzy=True) and not other.union(1, 3, fuzzy=True)
    assert other.union(0, 1, fuzzy=False) is True  # identifiers are not fuzzy evidence


def test_twins_stay_apart_when_a_record_without_their_mother_resembles_both():
    """Twins "Phạm Hiền" and "Phạm Diên" of one mother, born the same day: a clinic record
    "Pham Thi Hien" naming no mother links to either on its own evidence; the cluster refuses
    to hold both children of that mother under given names they never share."""
    from etl.match.clusters import Clusters

    frame = pd.DataFrame({
        "birth_year": [2020.0] * 4, "birth_month": [12.0] * 4, "birth_day": [10.0] * 4,
        "personal_id": [None] * 4, "personal_id_status": [None] * 4, "person_id": [None] * 4,
        "sex_any": ["F"] * 4, "given_key": ["hien", "dien", "hien", "hien"],
        "mother_key": ["lu thi hien", "lu thi hien", None, "lu thi hien"],
        "head_other": [None] * 4, "social_insurance_code": [None] * 4})
    clusters = Clusters(frame)
    assert clusters.union(0, 2, fuzzy=True)      # Hiền (mother) – "Pham Thi Hien"
    assert not clusters.union(2, 1, fuzzy=True)  # – Diên (same mother): two children
    assert clusters.union(3, 0, fuzzy=True)      # Hiền again, same mother: one child
    assert clusters.find(1) != clusters.find(0)


def test_a_household_heads_name_counts_only_within_one_commune():
    """"Lò Văn Bun" heads a household in many communes of a province: the same head's name on
    two records of two communes is a namesake, not one household."""
    from etl.match.compare import columns, compare

    frame = pd.DataFrame({"head_other": ["lo van bun"] * 3,
                          "commune_code": ["14926", "16087", "14926"],
                          "birth_year": [2007.0] * 3, "birth_month": [9.0] * 3,
                          "birth_day": [27.0] * 3})
    cols = columns(frame)
    levels = compare(cols.take(np.array([0, 0])), cols.take(np.array([1, 2])))
    assert [HOUSEHOLD.levels[k].name for k in levels["household"]] == ["missing", "exact"]


def test_an_id_number_on_two_names_with_a_year_only_birth_is_a_question(db, tmp_path):
    registry = write(tmp_path / "registry_muong_lat.csv", REGISTRY, [
        ["038168004321", "Vũ Thị Lan", "16/03/1968", "Nữ", "Kinh",
         "Khu 2, thị trấn Mường Lát", "Ngô Minh Hùng", "Vợ"]])
    insured = write(tmp_path / "bhxh.csv", INSURED, [
        [1, "Lý Thị Dua", "3812345670", "1968", "Nữ", "038168004321",
         "Bản Xa Lung, xã Trung Lý"]])
    run([registry, insured], db)
    p = persons(db)
    assert p["registry_muong_lat.csv:row=1"] != p["bhxh.csv:row=1"]
    assert _review_pairs(db) == {frozenset(("registry_muong_lat.csv:row=1", "bhxh.csv:row=1"))}


def test_pairs_left_unscored_are_counted_per_class_as_blocking_would_have_found_them():
    """Five records born on one day: three of one registry list (communes A, A, B), two of a
    clinic (B, and one without a commune). Pairs in two different communes: (0,2), (0,4),
    (1,2), (1,4) — two of them within the list. The record without a commune is scored (the
    key is anchored on it), so it is not counted; nor is a pair another key scored."""
    from etl.match.engine import unscored_pairs

    frame = pd.DataFrame({
        "source_kind": ["registry"] * 3 + ["clinic-xml"] * 2,
        "file_key": ["f1", "f1", "f1", "f2", "f2"],
        "commune_code": ["A", "A", "B", None, "B"],
    })
    date = pd.Series(["1990|3|5"] * 5, dtype=object)
    none = np.empty((0, 2), dtype=np.int64)
    assert unscored_pairs(frame, np.ones(5, dtype=bool), date, none) == [2, 2]
    # (0,2) found by a name key: scored, not counted; (3,4) was never counted
    assert unscored_pairs(frame, np.ones(5, dtype=bool), date, np.array([[0, 2], [3, 4]])
                          ) == [2, 1]
    # a nightly batch: only pairs holding a new record count — (1,2) and (1,4) for record 1
    new = np.array([False, True, False, False, False])
    assert unscored_pairs(frame, new, date, none) == [1, 1]
    # a date shared by more records than a block may hold: blocking would skip it, so no count
    crowd = pd.DataFrame({"source_kind": ["clinic-xml"] * 301, "file_key": ["f2"] * 301,
                          "commune_code": ["A", "B"] * 150 + ["A"]})
    assert unscored_pairs(crowd, np.ones(301, dtype=bool), pd.Series(["1990|3|5"] * 301),
                          none) == [0, 0]


def test_a_nightly_record_meets_a_loaded_record_without_a_commune_on_the_anchored_key():
    """The birth date alone blocks across communes only where a record has none: a new
    record with a commune meets a loaded one without, as a full relink would pair them."""
    from etl.match.engine import _block_pairs

    keys = pd.Series(["1990|3|5"] * 4, dtype=object)
    new = np.array([False, True, False, False])
    no_commune = np.array([False, False, False, True])
    pairs, skipped = _block_pairs(keys, new, 300, no_commune)
    assert pairs.tolist() == [[1, 3]] and skipped == 0
    # a full relink: every pair holding the record without a commune
    pairs, _ = _block_pairs(keys, np.ones(4, dtype=bool), 300, no_commune)
    assert pairs.tolist() == [[0, 3], [1, 3], [2, 3]]


def test_unscored_pairs_weigh_on_the_prior_as_scored_non_matches_would():
    from etl.match.model import estimate

    def model():  # the prior model: no records to estimate from
        return estimate(pd.DataFrame({"record_key": []}), None)

    rng = np.random.default_rng(5)
    scores = np.concatenate([rng.normal(20, 3, 300), rng.normal(-15, 5, 5000)])
    scored, counted, plain = model(), model(), model()
    scored.estimate_priors(np.concatenate([scores, np.full(20000, -60.0)]),
                           np.ones(25300, dtype=np.int8))
    counted.unscored_pairs = (0, 20000)
    counted.estimate_priors(scores, np.ones(5300, dtype=np.int8))
    plain.estimate_priors(scores, np.ones(5300, dtype=np.int8))
    assert counted.prior_log2_odds == scored.prior_log2_odds
    assert counted.prior_log2_odds["within-one-list"] < plain.prior_log2_odds["within-one-list"] - 1


def test_the_run_hands_the_unscored_pairs_to_the_model_it_estimates():
    from etl.load.master import empty_master
    from etl.match.engine import batch_frame, build_context

    names = [("Giàng", "A", "Páo", "A"), ("Lò", "Văn", "Mừng", "B"), ("Vừ", "Thị", "Dợ", "B")]
    records = pd.DataFrame([{
        "record_key": f"registry:f1:row={k}", "source_kind": "registry",
        "full_name": f"{f} {m} {g}", "file_sha256": "f1", "family_key": f.lower(),
        "middle_key": m.lower(), "given_key": g.lower(), "sex": "M", "birth_year": 1990,
        "birth_month": 3, "birth_day": 5, "birth_date_precision": "day", "personal_id": None,
        "personal_id_status": None, "social_insurance_code": None, "facility_code": None,
        "facility_patient_id": None, "household_head_key": None, "phone": None,
        "permanent_commune_code": commune, "permanent_address": None, "mother_name": None,
    } for k, (f, m, g, commune) in enumerate(names)])
    ctx, cands = build_context(batch_frame(records).assign(person_id=None), empty_master(), None)
    # Páo (commune A) with Mừng and with Dợ (commune B): two pairs within the one list
    assert ctx.stats["unscored_pairs"] == [0, 2]
    assert ctx.model.unscored_pairs == (0, 2)


def test_two_social_insurance_codes_are_two_people_unless_a_digit_was_mistyped():
    """Province-wide, clinic episodes of namesakes born the same year met: "Lường Thị Thêm"
    1962 of two villages, each with her own social-insurance code. One code per person for
    life: two codes keep a fuzzy link out (to review), one mistyped digit does not."""
    from etl.match.clusters import Clusters
    from etl.match.decide import codes_differ

    frame = pd.DataFrame({
        "birth_year": [1962.0] * 4, "birth_month": [np.nan] * 4, "birth_day": [np.nan] * 4,
        "personal_id": [None] * 4, "personal_id_status": [None] * 4, "person_id": [None] * 4,
        "sex_any": ["F"] * 4, "given_key": ["them"] * 4, "mother_key": [None] * 4,
        "head_other": [None] * 4,
        "social_insurance_code": ["3824989035", "3884561468", "3824989036", None]})
    i, j = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 3])
    assert codes_differ(frame, i, j).tolist() == [True, False, False, False]
    two_digits = pd.DataFrame({"social_insurance_code": ["3824989035", "3824989046"]})
    assert codes_differ(two_digits, np.array([0]), np.array([1])).tolist() == [True]
    clusters = Clusters(frame)
    assert clusters.union(0, 3, fuzzy=True)       # no code on one side: nothing to say
    assert not clusters.union(3, 1, fuzzy=True)   # the cluster holds 3824989035
    assert clusters.union(2, 0, fuzzy=True)       # one digit apart: a typo
    assert clusters.union(1, 0, fuzzy=False)      # an identifier (an analyst) may still join


def test_namesakes_in_two_communes_told_apart_by_list_or_date_are_counted_not_scored():
    """The name+year keys leave out two rows in two communes that one list holds (a registry
    names each resident once), or that come from two lists and give two different full birth
    dates, and count them for the prior. Rows of two lists in two communes with the same date,
    or with a year alone, are paired (a move, a workplace); a pair another key finds (the same
    full birth date) is scored and not counted."""
    from etl.load.master import empty_master
    from etl.match.engine import batch_frame, build_context

    rows = [("registry", "f1", "A", 1990, 3, 5), ("registry", "f1", "B", 1990, 7, 11),
            ("registry", "f1", "A", 1991, 1, 20), ("clinic-xml", "f2", "B", 1990, 9, 9),
            ("registry", "f1", "C", 1990, 3, 5), ("clinic-xml", "f2", "C", 1990, 3, 5),
            ("clinic-xml", "f2", "B", 1991, None, None), ("clinic-xml", "f2", "C", 1990, 5, 3)]
    records = pd.DataFrame([{
        "record_key": f"{kind}:{file}:row={k}", "source_kind": kind,
        "full_name": "Giàng A Páo", "file_sha256": file, "family_key": "giang",
        "middle_key": "a", "given_key": "pao", "sex": "M", "birth_year": year,
        "birth_month": month, "birth_day": day,
        "birth_date_precision": "day" if day else "year",
        "personal_id": None, "personal_id_status": None, "social_insurance_code": None,
        "facility_code": None, "facility_patient_id": None, "household_head_key": None,
        "phone": None, "permanent_commune_code": commune, "permanent_address": None,
        "mother_name": None,
    } for k, (kind, file, commune, year, month, day) in enumerate(rows)])
    ctx, cands = build_context(batch_frame(records).assign(person_id=None), empty_master(), None)
    keys = ctx.frame["record_key"].to_numpy(object)
    row = {key: int(key.rsplit("=", 1)[1]) for key in keys}
    found = {tuple(sorted((row[keys[i]], row[keys[j]])))
             for i, j in cands[["i", "j"]].itertuples(index=False)}
    # one commune: (0,2) (1,3) (1,6) (3,6) (4,5) (4,7) (5,7); two lists, the same date, day and
    # month swapped, or a year alone: (0,5) (0,7) (0,6) (2,6) (4,6) (5,6) (6,7); one list,
    # found by the same full date: (0,4)
    assert found == {(0, 2), (1, 3), (1, 6), (3, 6), (4, 5), (4, 7), (5, 7), (0, 5), (0, 7),
                     (0, 6), (2, 6), (4, 6), (5, 6), (6, 7), (0, 4)}
    # left out, one list: (0,1) (1,2) (1,4) (2,4) — and (0,4), which the birth date pairs
    # anyway; two lists, two dates: (0,3) (1,5) (2,3) (2,5) (3,4) (3,5) (1,7) (2,7) (3,7)
    assert ctx.stats["family+given+year"]["left_out_within_one_list"] == 5
    assert ctx.stats["family+given+year"]["left_out_across_lists"] == 9
    assert ctx.stats["unscored_pairs"] == [9, 4]
    assert ctx.model.unscored_pairs == (9, 4)


def test_a_class_with_few_scored_pairs_but_many_counted_still_estimates_its_prior():
    """The prior is estimated over a class's pairs as if all were scored: pairs left out of
    scoring and counted keep a class above the estimate's minimum of 50 pairs, as scoring
    them would have."""
    from etl.match.model import Model

    scores = np.array([30.0] * 5 + [-20.0] * 15)
    classes = np.zeros(len(scores), dtype=np.int64)
    counted = Model(weights={}, m={}, u={}, unscored_pairs=(100, 0))
    alone = Model(weights={}, m={}, u={})
    counted.estimate_priors(scores, classes)
    alone.estimate_priors(scores, classes)
    assert alone.prior_log2_odds["across-sources"] == 0.0  # 20 pairs: left at its default
    assert counted.prior_log2_odds["across-sources"] == pytest.approx(
        math.log2(5 / 110), abs=0.1)  # about 5 of 115 pairs: odds 5 to 110


@pytest.mark.parametrize("n", [1, 7, 129, 1000, 4099, 100_003])
def test_the_priors_sum_in_pieces_is_numpys_sum_to_the_last_bit(monkeypatch, n):
    """The class priors' fixed point sums each round's posteriors a slice at a time
    (:func:`etl.match.model._pairwise_sum`); the sum is NumPy's of the whole array, bit for
    bit, so the priors are what they were when the array was made whole."""
    import etl.match.model as model_module

    rng = np.random.default_rng(n)
    values = rng.standard_normal(n) * 1e3 + rng.random(n)
    for leaf in (1, 128, 1000, 8192):  # (1: pieces as small as NumPy's own block)
        monkeypatch.setattr(model_module, "SUM_LEAF", leaf)
        pieces = model_module._pairwise_sum(n, lambda lo, hi: np.sum(values[lo:hi]))
        assert pieces == np.sum(values)


@pytest.mark.parametrize("leaf, block", [(1 << 20, 1 << 20), (128, 1000), (1000, 128), (256, 7)])
def test_the_priors_gathered_a_slice_at_a_time_are_those_of_the_whole_copy(monkeypatch, leaf,
                                                                           block):
    """Each class's tempered scores are gathered block by block (:class:`_ClassScores`), never
    copied whole; every slice holds what the copy held, and the priors are the copy's to the
    last bit (a fixed point summed over the whole copy with NumPy)."""
    import etl.match.model as model_module
    from etl.match.model import TEMPER, Model, _ClassScores

    monkeypatch.setattr(model_module, "SUM_LEAF", leaf)
    monkeypatch.setattr(model_module, "CLASS_BLOCK", block)
    rng = np.random.default_rng(leaf + block)
    n = 5_003
    scores = np.concatenate([rng.normal(20, 3, 400), rng.normal(-15, 6, n - 400)])
    rng.shuffle(scores)
    classes = (rng.random(n) < 0.3).astype(np.int8)  # class 1 scattered among class 0
    excluded = rng.random(n) < 0.1
    for k in (0, 1):
        copy = np.where(excluded, -60.0, scores)[classes == k] * TEMPER
        gathered = _ClassScores(scores, classes, k, excluded)
        assert len(gathered) == len(copy)
        buffer = np.empty(len(copy))
        for lo, hi in ((0, len(copy)), (0, 1), (5, 900), (len(copy) - 3, len(copy))):
            assert np.array_equal(gathered.fill(lo, hi, buffer), copy[lo:hi])

    def whole_copy_priors() -> dict[str, float]:
        out = {}
        for k, name in enumerate(model_module.PRIOR_CLASSES):
            s = np.where(excluded, -60.0, scores)[classes == k] * TEMPER
            lam = 0.1
            for _ in range(30):
                odds = math.log2(lam / (1 - lam))
                new = float(np.sum(1 / (1 + np.exp2(-np.clip(s + odds, -60, 60))))) / len(s)
                new = min(model_module.MAX_PRIOR, max(model_module.MIN_PRIOR, new))
                if abs(new - lam) < 1e-6:
                    break
                lam = new
            out[name] = round(math.log2(lam / (1 - lam)), 3)
        return out

    model = Model(weights={}, m={}, u={})
    model.estimate_priors(scores, classes, excluded=excluded)
    assert model.prior_log2_odds == whole_copy_priors()


@pytest.mark.parametrize("block", [500_000, 37])
def test_calibration_learns_from_the_pairs_identifiers_and_analysts_tell(monkeypatch, block):
    """The calibration's pairs are those both of whose records carry a valid personal ID, or
    that an analyst decided (the analyst's word over the IDs'), less those a hard rule or the
    ambiguity rule held back; gathered a slice of pairs at a time, they are the whole set's."""
    import etl.match.decide as decide_module
    from etl.match.decide import Decided, fit_calibration
    from etl.match.model import Model, calibrate

    monkeypatch.setattr(decide_module, "PAIR_BLOCK", block)
    rng = np.random.default_rng(3)
    n, m = 400, 3000
    ids = rng.integers(0, 150, n).astype(str)
    frame = pd.DataFrame({"personal_id": ids, "personal_id_status": np.where(
        rng.random(n) < 0.7, "valid", "invalid")})
    code = rng.choice(n * n, m * 3, replace=False)  # distinct pairs, i < j
    i, j = code // n, code % n
    i, j = i[i < j][:m], j[i < j][:m]
    pairs = pd.DataFrame({"i": i.astype(np.int32), "j": j.astype(np.int32)})
    posterior = rng.normal(0, 20, m)
    vetoed, ambiguous = rng.random(m) < 0.1, rng.random(m) < 0.05
    decided = Decided(None, None, Model(weights={}, m={}, u={}), None, np.zeros(m, bool),
                      posterior, None, vetoed, ambiguous, pd.Categorical([]))
    asked = rng.choice(m, 200, replace=False)
    analyst = pd.DataFrame({"i": i[asked], "j": j[asked], "same": rng.random(200) < 0.5})
    model = Model(weights={}, m={}, u={})
    fit_calibration(frame, pairs, decided, model, analyst)

    valid = frame["personal_id_status"].to_numpy() == "valid"
    known = valid[i] & valid[j]
    same = known & (ids[i] == ids[j])
    known[asked], same[asked] = True, analyst["same"].to_numpy()
    use = known & ~vetoed & ~ambiguous
    assert model.calibration is not None
    assert model.calibration == calibrate(posterior[use], same[use])
