import pytest

from services.common.divisions import DivisionLevel, is_within, level_of, parent_of, scope_prefix
from services.common.errors import ValidationFailed


@pytest.mark.parametrize(
    "code,level",
    [("340000", DivisionLevel.province), ("340700", DivisionLevel.city),
     ("340722", DivisionLevel.county), ("340722100", DivisionLevel.township)],
)
def test_level_is_read_from_the_code(code, level):
    assert level_of(code) is level


def test_a_county_sees_its_townships_but_not_its_neighbours():
    assert is_within("340722100", "340722")
    assert is_within("340722", "340722")
    assert not is_within("340721100", "340722")
    assert not is_within("340700", "340722")  # the city is above the county


def test_a_province_sees_every_county_in_it():
    assert scope_prefix("340000") == "34"
    assert is_within("340722100", "340000")
    assert not is_within("320100", "340000")


def test_parents_climb_one_level():
    assert parent_of("340722100") == "340722"
    assert parent_of("340722") == "340700"
    assert parent_of("340700") == "340000"
    assert parent_of("340000") is None


@pytest.mark.parametrize("bad", ["34072", "3407221000", "abcdef", None, 340722, "000000"])
def test_malformed_codes_are_refused_with_the_field(bad):
    with pytest.raises(ValidationFailed) as info:
        level_of(bad)
    assert info.value.field == "division_code"
