"""Splink (benchmark-only dependency) on the same clean records, for comparison.

A careful generic configuration: the clean, folded names, birth year and date, sex, commune and
the identifiers as exact matches, term-frequency adjustment on names, u by random sampling, the
match prior from the personal-ID rule, m by EM on two blocking rules, predictions from five
blocking rules, clusters at probability 0.95. It sees exactly what hssk's matcher sees.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from etl.extract import extract_files
from etl.synth.evaluate import evaluate
from etl.transform import transform_stage


def splink_input(data: Path) -> pd.DataFrame:
    clean = transform_stage(extract_files([data]).data).records
    dob = [f"{int(y):04d}-{int(m):02d}-{int(d):02d}" if p == "day" else None
           for y, m, d, p in zip(clean["birth_year"].fillna(0), clean["birth_month"].fillna(0),
                                 clean["birth_day"].fillna(0), clean["birth_date_precision"],
                                 strict=True)]
    return pd.DataFrame({
        "unique_id": clean["record_key"].astype(str),
        "source_file": clean["source_file"], "locator": clean["locator"],
        "given_name": clean["given_key"], "family_name": clean["family_key"],
        "middle_name": clean["middle_key"].where(clean["middle_key"] != "", None),
        "birth_year": clean["birth_year"].astype("Int64").astype(str).replace("<NA>", None),
        "dob": dob, "sex": clean["sex"], "commune": clean["permanent_commune_code"],
        "personal_id": clean["personal_id"].where(clean["personal_id_status"] == "valid"),
        "social_insurance_code": clean["social_insurance_code"],
    })


def run_splink(data: Path, work: Path) -> dict[str, object]:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df = splink_input(data)
    start = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
            cl.ExactMatch("middle_name"),
            cl.ExactMatch("birth_year"),
            cl.ExactMatch("dob"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("commune"),
            cl.ExactMatch("personal_id"),
            cl.ExactMatch("social_insurance_code"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("personal_id"), block_on("social_insurance_code"),
            block_on("given_name", "family_name", "birth_year"),
            block_on("given_name", "dob"), block_on("family_name", "birth_year", "commune"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("personal_id")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "family_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_year", "commune"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.95).as_pandas_dataframe()
    seconds = time.perf_counter() - start
    links = clusters[["source_file", "locator", "cluster_id"]].rename(
        columns={"cluster_id": "person_id"})
    path = work / "splink.links.csv"
    links.to_csv(path, index=False)
    scores = evaluate(path, data / "_truth" / "ground_truth.csv")
    return {"seconds_linking": round(seconds, 1), "persons": scores["persons_predicted"],
            "overall": scores["overall"], "by_source_pair": scores["by_source_pair"]}
