"""The golden record's rules, applied to records in memory (the loader and every curation
command recompute persons through this one function)."""

import datetime as dt

import pandas as pd

from etl.load.loader import PERSON_FIELDS
from etl.load.survivorship import GOLDEN_FIELDS, golden_values

PRIORITY = {"registry": 10, "insurance": 20, "clinic-xml": 30}


def record(person, kind, key, batch, **values):
    return {"person_id": person, "source_kind": kind, "record_key": key,
            "updated_batch_id": batch, **dict.fromkeys(PERSON_FIELDS), **values}


def golden(**values):
    return {**dict.fromkeys(GOLDEN_FIELDS), **values}


def test_each_group_comes_whole_from_the_record_its_rule_picks():
    frame = pd.DataFrame([
        record("p1", "clinic-xml", "c:1", 3, full_name="Giang A Pao", given_name="Pao",
               birth_year=1990, birth_month=3, birth_day=5, birth_date_precision="day",
               permanent_address="Bản B", permanent_commune_code="14848", phone="0912"),
        record("p1", "registry", "r:1", 1, full_name="Giàng A Páo", family_name="Giàng",
               given_name="Páo", sex="M", birth_year=1990, birth_date_precision="year",
               permanent_address="Bản A", permanent_commune_code="14845"),
        record("p1", "insurance", "i:1", 2, full_name="Giàng A Pào", sex="F",
               ethnicity_code="08", birth_year=1990, birth_month=3,
               birth_date_precision="month", phone="0987"),
        record("p2", "insurance", "i:2", 1, full_name="Lò Thị Hải", sex="F", birth_year=2001,
               birth_date_precision="year"),
        record("p3", "registry", "r:b", 1, full_name="Vừ A Cở", phone="0333"),
        record("p3", "registry", "r:a", 1, full_name="Vừ A Cờ", phone="0222"),
    ], dtype=object)
    assert golden_values(frame, PRIORITY) == {
        # name, sex: the registry; ethnicity: the only record giving it; address and phone:
        # the newest batch; birth: the finest precision (the clinic's full date)
        "p1": golden(full_name="Giàng A Páo", family_name="Giàng", given_name="Páo", sex="M",
                     ethnicity_code="08", permanent_address="Bản B",
                     permanent_commune_code="14848", phone="0912", birth_year=1990,
                     birth_month=3, birth_day=5, birth_date_precision="day",
                     birth_date=dt.date(1990, 3, 5)),
        "p2": golden(full_name="Lò Thị Hải", sex="F", birth_year=2001,
                     birth_date_precision="year"),
        # same kind and batch: the record key decides, so reloading gives the same person
        "p3": golden(full_name="Vừ A Cờ", phone="0222"),
    }


def test_values_come_out_as_python_values_whatever_the_frame_held():
    """Stored records are read into typed columns (Int64 years, float64 scores): the golden
    record holds Python ints and None, as the database expects."""
    frame = pd.DataFrame([
        record("p1", "registry", "r:1", 1, full_name="Lò Thị Hải"),
        record("p1", "insurance", "i:1", 2, full_name="Lò Thị Hải", birth_month=3),
        record("p2", "registry", "r:2", 1, full_name="Vừ A Cở"),
    ], dtype=object)
    frame["birth_year"] = pd.array([1990, 1991, None], dtype="Int64")
    frame["birth_month"] = pd.array([None, 3, None], dtype="Int64")
    frame["birth_date_precision"] = ["year", "month", None]
    out = golden_values(frame, PRIORITY)
    assert (out["p1"]["birth_year"], out["p1"]["birth_month"]) == (1991, 3)
    assert type(out["p1"]["birth_year"]) is int and type(out["p1"]["birth_month"]) is int
    assert out["p2"]["birth_year"] is None and out["p2"]["birth_month"] is None
