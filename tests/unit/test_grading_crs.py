"""CRS grading by ASTCT 2019 (standards.md §1). Expected grades are read off the table by hand."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tarla.domain.errors import InvalidInput
from tarla.domain.grading import CrsGrade, GradingSystem, OxygenDevice, grade_crs


def crs(**overrides: object) -> CrsGrade:
    args: dict[str, object] = {"temperature_c": 38.5, "hypotension": False, "oxygen": "none"}
    args.update(overrides)
    return grade_crs(**args)  # type: ignore[arg-type]


def refused(field: str, **overrides: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        crs(**overrides)
    assert caught.value.field == field
    return caught.value


# --- fever -----------------------------------------------------------------------------------

def test_fever_alone_is_grade_1() -> None:
    result = crs(temperature_c=38.5)
    assert result.grade == 1
    assert result.system is GradingSystem.ASTCT_2019
    assert result.system.value == "ASTCT-2019"
    assert [d.criterion for d in result.drivers] == ["fever"]


def test_exactly_38_0_c_meets_the_fever_criterion() -> None:
    assert crs(temperature_c=38.0).grade == 1


def test_37_9_c_without_masking_is_grade_0() -> None:
    result = crs(temperature_c=37.9)
    assert result.grade == 0
    assert result.fever_criterion_met is False
    assert "not met" in result.drivers[0].detail


def test_hypotension_and_hypoxia_without_fever_are_grade_0() -> None:
    result = crs(temperature_c=37.2, hypotension=True, vasopressors=2, oxygen="cpap")
    assert result.grade == 0
    assert "without fever is not CRS" in result.drivers[0].detail


def test_fever_masked_by_tocilizumab_keeps_grading_on_hypotension_and_hypoxia() -> None:
    assert crs(temperature_c=36.8, fever_masked=True, oxygen="low_flow").grade == 2


def test_fever_masked_without_temperature_counts_as_the_fever_criterion() -> None:
    result = crs(temperature_c=None, fever_masked=True)
    assert result.grade == 1
    assert result.fever_criterion_met is True


def test_no_temperature_and_no_masking_is_refused() -> None:
    refused("temperature_c", temperature_c=None)


# --- hypotension -------------------------------------------------------------------------------

@pytest.mark.parametrize(("vasopressors", "vasopressin", "grade"), [
    (0, False, 2),  # hypotension not requiring vasopressors
    (1, False, 3),  # one vasopressor
    (1, True, 3),  # one vasopressor with vasopressin
    (0, True, 3),  # vasopressin alone: still needs a vasopressor (our documented reading)
    (2, False, 4),  # multiple vasopressors
    (2, True, 4),  # multiple, vasopressin not counted
    (3, False, 4),
])
def test_hypotension_grade_follows_the_vasopressors_needed(
        vasopressors: int, vasopressin: bool, grade: int) -> None:
    result = crs(hypotension=True, vasopressors=vasopressors, vasopressin=vasopressin)
    assert result.grade == grade
    assert result.drivers[0].criterion == "hypotension"


def test_vasopressin_alone_reads_as_one_vasopressor_grade_3() -> None:
    result = crs(hypotension=True, vasopressors=0, vasopressin=True)
    assert result.grade == 3
    assert "vasopressin alone" in result.drivers[0].detail


def test_one_vasopressor_plus_vasopressin_is_not_multiple_vasopressors() -> None:
    assert crs(hypotension=True, vasopressors=1, vasopressin=True).grade == 3


# --- hypoxia -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("oxygen", "grade"), [
    ("none", 1),
    ("low_flow", 2),
    ("blow_by", 2),
    ("high_flow", 3),
    ("facemask", 3),
    ("non_rebreather", 3),
    ("venturi", 3),
    ("cpap", 4),
    ("bipap", 4),
    ("mechanical_ventilation", 4),
])
def test_hypoxia_grade_follows_the_oxygen_device(oxygen: str, grade: int) -> None:
    assert crs(oxygen=oxygen).grade == grade


def test_low_flow_at_exactly_6_l_per_min_is_low_flow_grade_2() -> None:
    assert crs(oxygen="low_flow", oxygen_l_per_min=6).grade == 2


def test_low_flow_cannula_above_6_l_per_min_is_high_flow_grade_3() -> None:
    result = crs(oxygen="low_flow", oxygen_l_per_min=6.5)
    assert result.grade == 3
    assert "high-flow" in result.drivers[0].detail


def test_low_flow_at_3_l_per_min_is_grade_2_and_names_the_flow() -> None:
    result = crs(oxygen="low_flow", oxygen_l_per_min=3)
    assert result.grade == 2
    hypoxia = next(d for d in result.drivers if d.criterion == "hypoxia")
    assert "3 L/min" in hypoxia.detail


def test_blow_by_counts_as_low_flow_whatever_the_flow() -> None:
    assert crs(oxygen="blow_by", oxygen_l_per_min=10).grade == 2


def test_high_flow_cannula_above_6_l_per_min_is_grade_3() -> None:
    assert crs(oxygen="high_flow", oxygen_l_per_min=40).grade == 3


def test_high_flow_device_at_6_l_per_min_or_less_is_refused_as_contradictory() -> None:
    refused("oxygen_l_per_min", oxygen="high_flow", oxygen_l_per_min=6)


def test_contract_example_hypotension_and_low_flow_is_grade_2() -> None:
    result = grade_crs(temperature_c=38.4, fever_masked=False, hypotension=True, vasopressors=0,
                       vasopressin=False, oxygen="low_flow", oxygen_l_per_min=3)
    assert result.grade == 2


# --- the more severe event wins --------------------------------------------------------------

def test_astct_example_one_vasopressor_plus_low_flow_oxygen_is_grade_3() -> None:
    result = crs(temperature_c=39.0, hypotension=True, vasopressors=1, oxygen="low_flow",
                 oxygen_l_per_min=2)
    assert result.grade == 3
    assert [(d.criterion, d.grade) for d in result.drivers] == [
        ("hypotension", 3), ("hypoxia", 2), ("fever", 1)]


def test_hypotension_without_vasopressor_and_cpap_is_grade_4() -> None:
    assert crs(hypotension=True, oxygen=OxygenDevice.CPAP).grade == 4


def test_two_vasopressors_and_facemask_is_grade_4() -> None:
    assert crs(hypotension=True, vasopressors=2, oxygen="facemask").grade == 4


def test_death_attributed_to_crs_is_grade_5() -> None:
    result = crs(hypotension=True, vasopressors=2, oxygen="mechanical_ventilation",
                 death_attributed=True)
    assert result.grade == 5
    assert result.drivers[0].criterion == "death"


def test_every_driver_names_its_source_and_the_grade_is_the_highest_driver() -> None:
    result = crs(hypotension=True, vasopressors=1, oxygen="high_flow", oxygen_l_per_min=20)
    assert result.grade == max(d.grade for d in result.drivers) == 3
    assert all("ASTCT-2019" in d.source for d in result.drivers)
    assert result.drivers[0].as_dict()["criterion"] in {"hypotension", "hypoxia"}


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [24.9, 45.1, 100.4, -1.0, math.nan, math.inf])
def test_implausible_temperature_is_refused(temperature: float) -> None:
    refused("temperature_c", temperature_c=temperature)


@pytest.mark.parametrize("temperature", [25.0, 45.0])
def test_temperature_at_the_plausible_limits_is_accepted(temperature: float) -> None:
    assert crs(temperature_c=temperature).grade in (0, 1)


@pytest.mark.parametrize("count", [-1, 1.5, True, "2"])
def test_vasopressor_count_must_be_a_non_negative_whole_number(count: object) -> None:
    refused("vasopressors", hypotension=True, vasopressors=count)


def test_vasopressors_without_hypotension_are_refused() -> None:
    refused("vasopressors", hypotension=False, vasopressors=1)


def test_vasopressin_without_hypotension_is_refused() -> None:
    refused("vasopressin", hypotension=False, vasopressin=True)


def test_unknown_oxygen_device_is_refused_listing_the_devices() -> None:
    error = refused("oxygen", oxygen="nasal_prongs")
    assert "low_flow" in error.message and "mechanical_ventilation" in error.message


@pytest.mark.parametrize("flow", [-1.0, math.nan, math.inf])
def test_bad_oxygen_flow_is_refused(flow: float) -> None:
    refused("oxygen_l_per_min", oxygen="low_flow", oxygen_l_per_min=flow)


def test_oxygen_flow_with_no_oxygen_device_is_refused() -> None:
    refused("oxygen_l_per_min", oxygen="none", oxygen_l_per_min=2)


def test_zero_flow_on_a_low_flow_cannula_is_refused() -> None:
    refused("oxygen_l_per_min", oxygen="low_flow", oxygen_l_per_min=0)


def test_zero_flow_on_blow_by_is_refused() -> None:
    refused("oxygen_l_per_min", oxygen="blow_by", oxygen_l_per_min=0)


# Masks, high-flow cannula and positive pressure: the ASTCT table grades the device the
# hypoxia needs (grade 3 "high-flow nasal cannula, facemask, non-rebreather mask, or Venturi
# mask"; grade 4 "CPAP, BiPAP, intubation and mechanical ventilation"), not a flow.
@pytest.mark.parametrize(("oxygen", "grade"), [
    ("high_flow", 3), ("facemask", 3), ("non_rebreather", 3), ("venturi", 3),
    ("cpap", 4), ("bipap", 4), ("mechanical_ventilation", 4)])
@pytest.mark.parametrize("flow", [0, 0.0, None])
def test_a_mask_or_positive_pressure_device_is_graded_by_the_device_with_flow_0_or_absent(
        oxygen: str, grade: int, flow: float | None) -> None:
    result = crs(oxygen=oxygen, oxygen_l_per_min=flow)
    assert result.grade == grade
    assert result.drivers[0].criterion == "hypoxia"


def test_cpap_at_0_l_per_min_says_the_device_set_the_grade() -> None:
    result = crs(oxygen="cpap", oxygen_l_per_min=0)
    assert result.drivers[0].detail == ("cpap (0 L/min charted: the device sets the grade): "
                                        "Hypoxia requiring positive pressure (CPAP)")
    assert result.drivers[0].source == ("ASTCT-2019 CRS table, grade 4 (Lee 2019; PMC8021214 "
                                         "Tab1; PMC9327779 t0002)")


@pytest.mark.parametrize(("oxygen", "flow", "grade"), [
    ("facemask", 5, 3), ("venturi", 2, 3), ("non_rebreather", 15, 3), ("bipap", 3, 4),
    ("mechanical_ventilation", 40, 4)])
def test_a_mask_or_positive_pressure_flow_never_changes_its_grade(
        oxygen: str, flow: float, grade: int) -> None:
    assert crs(oxygen=oxygen, oxygen_l_per_min=flow).grade == grade


def test_mechanical_ventilation_at_0_l_per_min_with_two_vasopressors_is_grade_4() -> None:
    assert crs(hypotension=True, vasopressors=2, oxygen="mechanical_ventilation",
               oxygen_l_per_min=0).grade == 4


def test_a_negative_flow_on_a_mask_is_still_refused() -> None:
    refused("oxygen_l_per_min", oxygen="non_rebreather", oxygen_l_per_min=-1)


def test_no_oxygen_with_zero_flow_is_accepted() -> None:
    assert crs(oxygen="none", oxygen_l_per_min=0).grade == 1


@pytest.mark.parametrize("field", ["hypotension", "fever_masked", "vasopressin",
                                   "death_attributed"])
def test_flags_must_be_true_or_false(field: str) -> None:
    refused(field, **{field: "yes"})


# --- properties -------------------------------------------------------------------------------

#: Oxygen support from least to most, as the ASTCT hypoxia column orders it.
_OXYGEN_LADDER = ["none", "low_flow", "high_flow", "non_rebreather", "bipap",
                  "mechanical_ventilation"]


@given(vasopressors=st.integers(0, 5), vasopressin=st.booleans(),
       oxygen=st.sampled_from(list(OxygenDevice)), temperature=st.floats(36.0, 41.0))
def test_adding_a_vasopressor_never_lowers_the_grade(
        vasopressors: int, vasopressin: bool, oxygen: OxygenDevice, temperature: float) -> None:
    before = crs(temperature_c=temperature, hypotension=True, vasopressors=vasopressors,
                 vasopressin=vasopressin, oxygen=oxygen)
    after = crs(temperature_c=temperature, hypotension=True, vasopressors=vasopressors + 1,
                vasopressin=vasopressin, oxygen=oxygen)
    assert after.grade >= before.grade


@given(step=st.integers(0, len(_OXYGEN_LADDER) - 2), hypotension=st.booleans(),
       masked=st.booleans(), temperature=st.floats(36.0, 41.0))
def test_more_oxygen_support_never_lowers_the_grade(
        step: int, hypotension: bool, masked: bool, temperature: float) -> None:
    common = {"temperature_c": temperature, "hypotension": hypotension, "fever_masked": masked}
    lower = crs(oxygen=_OXYGEN_LADDER[step], **common)
    higher = crs(oxygen=_OXYGEN_LADDER[step + 1], **common)
    assert higher.grade >= lower.grade


@given(flow=st.floats(0.5, 15.0), more=st.floats(0.0, 10.0))
def test_more_low_flow_oxygen_never_lowers_the_grade(flow: float, more: float) -> None:
    lower = crs(oxygen="low_flow", oxygen_l_per_min=flow)
    higher = crs(oxygen="low_flow", oxygen_l_per_min=flow + more)
    assert higher.grade >= lower.grade


@given(temperature=st.floats(25.0, 44.0), rise=st.floats(0.0, 1.0))
def test_a_higher_temperature_never_lowers_the_grade(temperature: float, rise: float) -> None:
    assert crs(temperature_c=temperature + rise).grade >= crs(temperature_c=temperature).grade
