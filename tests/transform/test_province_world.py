"""A province-scale generated world: every commune of Thanh Hóa in one registry CSV.

The scale benchmarks (benchmarks/bench_scale.py --province 38) load it; these tests pin that
the generator writes what a provincial extract looks like and that the pipeline puts each row
in the commune the generator placed its resident in.
"""

import csv
from collections import Counter

import sqlalchemy as sa

from etl.load import schema as s
from etl.pipeline import run
from etl.synth import simulate, write_samples
from etl.synth.population import COMMUNES, province_communes


def test_a_province_world_spreads_people_over_every_commune():
    communes = province_communes("38")
    assert len(communes) > 500  # Thanh Hóa before 2025
    assert not set(COMMUNES) - set(communes)  # Mường Lát's eight among them
    residents = simulate(3000, 5, "38")
    spread = Counter(r.commune for r in residents)
    assert len(spread) > 300 and max(spread.values()) < 40
    assert all(r.village in communes[r.commune][2] for r in residents)


def test_the_province_registry_is_one_csv_whose_rows_land_in_their_communes(db, tmp_path):
    written = write_samples(tmp_path, people=600, seed=11, kinds=["registry"], province="38")
    assert [p for p in written if not p.startswith("_truth")] == ["registry_38.csv"]
    truth = {}
    with open(tmp_path / "_truth" / "ground_truth.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            truth[row["locator"]] = row["resident_id"]
    commune_of = {r.resident_id: r.commune for r in simulate(600, 11, "38")}
    summary = run([tmp_path / "registry_38.csv"], db)
    assert summary.read == written["registry_38.csv"]
    with db.connect() as conn:
        loaded = conn.execute(sa.select(s.source_records.c.locator,
                                        s.source_records.c.commune_code)).all()
    rejected = summary.read - len(loaded)
    assert rejected <= 0.005 * summary.read  # the generator's impossible dates
    right = sum(commune_of[truth[loc]] == code for loc, code in loaded)
    assert right >= 0.99 * len(loaded), (right, len(loaded))


def test_samples_command_writes_a_province_and_refuses_an_unknown_one(hssk, tmp_path):
    result = hssk("samples", "-o", tmp_path / "p", "--people", "200", "--seed", "3",
                  "--kind", "registry", "--province", "38")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "p").glob("*.csv")) == ["registry_38.csv"]
    with open(tmp_path / "p" / "registry_38.csv", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) - 1 == written_rows(tmp_path / "p")
    bad = hssk("samples", "-o", tmp_path / "q", "--province", "99")
    assert bad.exit_code == 2
    assert "'99' is not a GSO province code" in bad.output
    assert not (tmp_path / "q").exists()


def written_rows(folder) -> int:
    with open(folder / "_truth" / "ground_truth.csv", encoding="utf-8") as fh:
        return sum(1 for _ in fh) - 1
