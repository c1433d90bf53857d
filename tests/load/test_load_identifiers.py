"""The identifiers a record carries, read column by column for a batch and row by row for
curation: the same rule either way."""

from etl.load.loader import identifiers_in, identifiers_of


def test_every_kind_of_identifier_comes_from_its_columns():
    record = {"person_id": "p1", "personal_id": "038062001234", "personal_id_status": None,
              "cmnd": "123456789", "passport": "", "social_insurance_code": "3812345678",
              "insurance_cards": "GD4383812345678;;HT2383898765432", "facility_code": "38150",
              "facility_patient_id": 42}
    assert identifiers_of(record) == sorted([
        ("personal_id", "038062001234", "valid"), ("cmnd", "123456789", "valid"),
        ("social_insurance_code", "3812345678", "valid"),
        ("insurance_card", "GD4383812345678", "valid"),
        ("insurance_card", "HT2383898765432", "valid"),
        ("facility_patient_id", "38150:42", "valid")])


def test_a_batch_gives_each_records_identifiers_with_its_person():
    columns = {"person_id": ["p1", "p2", "p3"],
               "personal_id": ["038062001234", None, "0381"],
               "personal_id_status": [None, None, "invalid-checksum"],
               "facility_code": ["38150", "38150", None],
               "facility_patient_id": [None, "7", "8"]}  # no other identifier column
    assert identifiers_in(columns) == {
        ("personal_id", "038062001234", "p1", "valid"),
        ("personal_id", "0381", "p3", "invalid-checksum"),
        ("facility_patient_id", "38150:7", "p2", "valid")}
    for k, person in enumerate(columns["person_id"]):
        one = {c: v[k] for c, v in columns.items()}
        assert {(kind, value, status) for kind, value, p, status in identifiers_in(columns)
                if p == person} == set(identifiers_of(one))
