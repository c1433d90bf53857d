"""One decision, declared once: the run, ``hssk explain`` and the queue agree pair by pair; the
hard rules refuse namesakes and twins but not typos."""

import pandas as pd
import pytest
from test_identity import REGISTRY, persons, write  # noqa: E402 - the neighbouring module

from etl.explain import explain_pairs
from etl.load.decisions import read_decisions
from etl.load.master import empty_master, read_master
from etl.match.decide import LINK, REVIEW, Thresholds
from etl.match.declare import BIRTH, COMPARISONS, GIVEN, HARD_RULES, MIDDLE
from etl.match.engine import batch_frame, build_context, link_fuzzy, resolve
from etl.pipeline import run


def test_every_scored_pair_decided_alike_by_run_and_explain(db, samples):
    """Every candidate pair of a generated district: the decision the engine takes while
    linking equals the one ``explain`` lays out from the database."""
    run([samples], db)
    master = read_master(db)
    ctx, cands = build_context(master.drop(columns=["person_id"]).assign(person_id=None),
                               empty_master(), read_decisions(db))
    engine_decided = link_fuzzy(ctx, cands, Thresholds())
    keys = ctx.frame["record_key"].to_numpy(object)
    pairs = list(zip(keys[cands["i"]], keys[cands["j"]], strict=True))
    explained = explain_pairs(db, pairs)
    assert len(pairs) > 1000
    engine_outcome = [str(o) for o in engine_decided.outcome]
    assert [e.outcome for e in explained] == engine_outcome
    assert [e.posterior for e in explained] == [round(float(p), 2)
                                                for p in engine_decided.posterior]
    outcomes = set(engine_outcome)
    assert {LINK, REVIEW, "different"} <= outcomes


def test_levels_are_named_and_rules_are_data():
    assert COMPARISONS["given"].levels[0].name == "missing"
    assert GIVEN.code("exact") == len(GIVEN.levels) - 1
    assert BIRTH.code("typo") != BIRTH.code("far")
    assert {r.name for r in HARD_RULES} >= {"siblings-or-twins", "given-names-differ",
                                            "typo-without-agreement", "birth-years-far"}
    assert MIDDLE.codes("typo", "exact") == (2, 4)


ADDR = "Bản Pá Quăn, xã Mường Lý, huyện Mường Lát"
SCHOOL = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Lớp", "Cân nặng (kg)", "Địa chỉ"]


@pytest.mark.parametrize(("registry_name", "school_name"), [
    ("Ngân Văn Doãn", "Ngân Vn Doãn"),   # a middle name one keystroke short
    ("Lò Thị Hải", "Lò Thị ải"),          # a dropped initial
    ("Giang Văn Minh", "Giagn Văn Minh"),  # two letters swapped
])
def test_a_typo_links_when_everything_else_agrees(db, tmp_path, registry_name, school_name):
    registry = write(tmp_path / "registry_muong_ly.csv", REGISTRY, [
        ["", registry_name, "14/03/2012", "Nam" if "Thị" not in registry_name else "Nữ",
         "Thái", ADDR, "Ngân Văn Páo", "Con"],
        ["", "Hà Văn Sơn", "02/02/2011", "Nam", "Thái", ADDR, "Hà Văn Lả", "Con"],
    ])
    school = write(tmp_path / "khamsk_truong_14854.csv", SCHOOL, [
        [1, school_name, "14/03/2012", "Nam" if "Thị" not in registry_name else "Nữ", "5A", 31, ADDR],
        [2, "Hà Văn Sơn", "02/02/2011", "Nam", "6A", 35, ADDR],
    ])
    run([registry, school], db)
    p = persons(db)
    assert p["registry_muong_ly.csv:row=1"] == p["khamsk_truong_14854.csv:row=1"]
    assert p["registry_muong_ly.csv:row=2"] == p["khamsk_truong_14854.csv:row=2"]
    assert p["registry_muong_ly.csv:row=1"] != p["registry_muong_ly.csv:row=2"]


def test_a_typo_without_the_birth_date_is_not_linked(db, tmp_path):
    """"Lò Thị Hải" and "Lò Thị ải" born in different months are two girls, or a question."""
    registry = write(tmp_path / "registry_muong_ly.csv", REGISTRY, [
        ["", "Lò Thị Hải", "14/03/2012", "Nữ", "Thái", ADDR, "Lò Văn Páo", "Con"]])
    school = write(tmp_path / "khamsk_truong_14854.csv", SCHOOL, [
        [1, "Lò Thị ải", "14/09/2012", "Nữ", "5A", 30, ADDR]])
    run([registry, school], db)
    p = persons(db)
    assert p["registry_muong_ly.csv:row=1"] != p["khamsk_truong_14854.csv:row=1"]


def test_an_analysts_decisions_bind_the_engine(samples):
    """A "different" between two records the engine links keeps them apart; a "same" between
    two it keeps apart joins them — in the very resolve() every run and relink calls."""
    from etl.extract import extract_files
    from etl.transform import transform_stage

    records = transform_stage(extract_files([samples]).data).records
    batch = batch_frame(records)
    first, _, _ = resolve(batch, empty_master(), Thresholds())
    by_person = pd.Series(batch["record_key"].to_numpy()).groupby(first["person_id"].to_numpy())
    linked = next(list(keys) for _, keys in by_person if len(keys) == 2)
    singles = [keys.iloc[0] for _, keys in by_person if len(keys) == 1][:2]
    decisions = pd.DataFrame([(*sorted(linked), "different"), (*sorted(singles), "same")],
                             columns=["record_key_a", "record_key_b", "decision"])
    second, _, stats = resolve(batch, empty_master(), Thresholds(), decisions)
    person = dict(zip(batch["record_key"], second["person_id"], strict=True))
    assert person[linked[0]] != person[linked[1]]
    assert person[singles[0]] == person[singles[1]]
    assert stats["analyst_decisions"] == 2
    # Nothing else moved.
    before = dict(zip(batch["record_key"], first["person_id"], strict=True))
    untouched = set(batch["record_key"]) - set(linked) - set(singles)
    group_before = pd.Series(before).loc[sorted(untouched)]
    group_after = pd.Series(person).loc[sorted(untouched)]
    assert {frozenset(g) for g in group_before.groupby(group_before).groups.values()} == {
        frozenset(g) for g in group_after.groupby(group_after).groups.values()}


@pytest.mark.parametrize("labelled", [True, False], ids=["identifiers", "no-identifiers"])
def test_decisions_do_not_depend_on_the_block_of_pairs(samples, tmp_path, monkeypatch,
                                                       labelled):
    """``decide`` works :data:`PAIR_BLOCK` pairs at a time and a run keeps no levels: any
    block size, kept or not, gives the whole set's scores, posteriors, outcomes and hard
    rules, the same explanation columns when kept, and the same refitted m and priors where
    no identifier labels the pairs (m is then learnt from all of them at once)."""
    import copy

    import numpy as np

    import etl.match.decide as decide_module
    from etl.load.db import connect, migrate
    from etl.match.model import MIN_LABELLED_PAIRS

    engine = connect(f"sqlite:///{tmp_path / 'blocks.db'}")
    migrate(engine)
    run([samples], engine)
    master = read_master(engine).drop(columns=["person_id"]).assign(person_id=None)
    engine.dispose()
    if not labelled:
        master = master.assign(personal_id=None, social_insurance_code=None,
                               facility_patient_id=None)
    ctx, cands = build_context(master, empty_master(), None)
    assert len(cands) > 1000
    assert (ctx.model.labelled_pairs >= MIN_LABELLED_PAIRS) == labelled
    group = ctx.clusters.roots()
    got = []
    for block, keep in ((10**9, True), (997, True), (997, False), (10**9, False)):
        monkeypatch.setattr(decide_module, "PAIR_BLOCK", block)
        model = copy.deepcopy(ctx.model)
        d = decide_module.decide(ctx.frame, cands, model, Thresholds(), group, cols=ctx.cols,
                                 fit_priors=True, keep=keep)
        assert (d.levels is not None) == keep
        got.append((d, model))
    first, model = got[0]
    assert set(first.outcome) >= {LINK, "different"}
    # Each outcome a byte: a string per pair was 2.3 GB of a province's 41 million candidate
    # pairs, a reference to one of three strings 330 MB.
    assert all(d.outcome.codes.dtype == np.int8 for d, _ in got)
    # Without the levels the scores became the posteriors (not kept): the posteriors are
    # still the kept run's, bit for bit.
    assert [d.score is None for d, _ in got] == [False, False, True, True]
    for d, m in got[1:]:
        for name in ("score", "posterior", "outcome", "vetoed", "ambiguous", "same_list"):
            if getattr(d, name) is not None:
                assert np.array_equal(getattr(d, name), getattr(first, name)), name
        assert (m.m, m.prior_log2_odds) == (model.m, model.prior_log2_odds)
    kept = got[1][0]
    pd.testing.assert_frame_equal(kept.levels, first.levels)
    pd.testing.assert_frame_equal(kept.vetoes, first.vetoes)
    assert all(np.array_equal(kept.freqs[n], f, equal_nan=True) for n, f in first.freqs.items())
    assert np.array_equal(first.vetoed, first.vetoes.to_numpy().any(axis=1))
