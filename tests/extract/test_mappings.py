"""Source-kind traits are declared with the mappings (etl.kinds) and checked like the rest."""

from __future__ import annotations

import pytest

from etl.errors import MappingError
from etl.extract.mapping import builtin_mappings, load_mapping_file
from etl.kinds import (
    CLINIC_XML,
    kind_traits,
    known_kinds,
    one_row_per_person_kinds,
    priorities,
)


def test_traits_of_the_built_in_kinds():
    assert known_kinds() == ["adult-exam", "clinic-xml", "immunization", "insurance",
                             "registry", "school-exam"]
    assert priorities() == {"registry": 10, "insurance": 20, CLINIC_XML: 30, "school-exam": 40,
                            "adult-exam": 45, "immunization": 50}
    # Lists of people name each person once; clinic episodes and vaccine doses repeat people.
    assert one_row_per_person_kinds() == {"registry", "insurance", "school-exam", "adult-exam"}


def test_mappings_and_traits_read_the_same_files():
    traits = kind_traits()
    for kind, mapping in builtin_mappings().items():
        assert mapping.priority == traits[kind].priority
        assert mapping.description == traits[kind].description


@pytest.mark.parametrize(("line", "message"), [
    ("priority: first", "'priority' must be a whole number"),
    ("one_row_per_person: yes please", "'one_row_per_person' must be true or false"),
])
def test_a_mapping_with_a_bad_trait_is_refused(tmp_path, line, message):
    path = tmp_path / "mine.yaml"
    path.write_text(f"kind: mine\n{line}\nfields:\n  full_name: [Họ và tên]\n", encoding="utf-8")
    with pytest.raises(MappingError, match=message):
        load_mapping_file(path)
