"""A registry of a city the resolver was never tuned on: wards named as before the 2025 reform,
after streets that share their names, in every style clerks write (etl/synth/world.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from etl.extract import extract_files
from etl.synth.world import write_city_registry
from etl.transform import transform_stage


@pytest.mark.parametrize("district", ["380", "001", "774"])  # TP Thanh Hóa, Ba Đình, Quận 5
def test_pre_2025_ward_addresses_resolve(tmp_path, district):
    path = tmp_path / f"registry_{district}.csv"
    truth = write_city_registry(path, district, 3000, seed=11)
    records = transform_stage(extract_files([path]).data).records.set_index("locator")
    got = records.loc[[loc for loc, _ in truth], "permanent_commune_code"]
    want = pd.Series([code for _, code in truth], index=got.index)
    resolved = got.notna()
    assert resolved.mean() >= 0.99
    # Precision first: a wrong commune is worse than none (the generator's own typos can turn
    # one ward's name into its neighbour's, "Đông Ninh" typed "Đông Linh", hence not zero).
    assert (got[resolved] != want[resolved]).mean() <= 0.005
    assert records["permanent_commune_code_2025"].notna().mean() >= 0.99
