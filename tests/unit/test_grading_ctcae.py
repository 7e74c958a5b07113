"""CTCAE v5.0 lab grades (standards.md §3.2). Every expected grade was read off the sheet by
hand, including the boundary convention: "< upper - lower" for decreases puts the value at the
lower number in that grade; "> lower - upper" for increases puts the value at a multiple in the
lower grade."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tarla.domain.errors import InvalidInput
from tarla.domain.grading import (
    LabGrade,
    grade_febrile_neutropenia,
    grade_lab,
    to_e9_per_l,
)


def refused(field: str, *args: object, **kwargs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        grade_lab(*args, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    return caught.value


# --- Neutrophil count decreased ---------------------------------------------------------------

@pytest.mark.parametrize(("anc", "grade"), [
    (1.8, 0),  # at the LLN
    (1.79, 1),
    (1.5, 1),  # 1,500/mm3 is the bottom of grade 1
    (1.49, 2),
    (1.0, 2),
    (0.99, 3),
    (0.5, 3),
    (0.49, 4),
    (0.4, 4),
    (0.0, 4),
])
def test_neutrophil_count_decreased_boundaries_with_lln_1_8(anc: float, grade: int) -> None:
    result = grade_lab("ANC", anc, "10^9/L", lln=1.8)
    assert result.grade == grade
    assert result.term == "Neutrophil count decreased"
    assert result.system == "CTCAE-5.0"


def test_anc_exactly_1_0_is_grade_2() -> None:
    assert grade_lab("ANC", 1.0, "10*9/L").grade == 2


def test_anc_exactly_0_5_is_grade_3() -> None:
    assert grade_lab("ANC", 0.5, "10*9/L").grade == 3


def test_anc_0_4_is_grade_4() -> None:
    result = grade_lab("ANC", 0.4, "10*9/L")
    assert (result.grade, result.value_si, result.meddra_code) == (4, 0.4, "10029366")
    assert result.drivers[0].grade == 4 and "0.5" in result.drivers[0].detail


# --- unit conversions of counts ---------------------------------------------------------------

@pytest.mark.parametrize(("value", "unit", "grade", "e9"), [
    (400, "/µL", 4, 0.4),
    (400, "/μL", 4, 0.4),  # Greek mu spelling
    (400, "/uL", 4, 0.4),
    (500, "cells/uL", 3, 0.5),
    (1000, "/mm3", 2, 1.0),
    (999, "cells/µL", 3, 0.999),
    (1.0, "10^3/uL", 2, 1.0),
    (0.5, "10*3/µL", 3, 0.5),
])
def test_anc_in_other_count_units_is_converted_before_grading(
        value: float, unit: str, grade: int, e9: float) -> None:
    result = grade_lab("ANC", value, unit)
    assert result.grade == grade
    assert result.value_si == pytest.approx(e9)
    assert result.unit_si == "10^9/L"


def test_to_e9_per_l_converts_per_microlitre_counts() -> None:
    assert to_e9_per_l(400, "/uL") == 0.4
    assert to_e9_per_l(1500, "/mm3") == 1.5
    assert to_e9_per_l(75, "10^9/L") == 75.0


def test_to_e9_per_l_names_the_given_field_for_an_unknown_unit() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_e9_per_l(1.0, "g/L", field="labs[0].unit")
    assert caught.value.field == "labs[0].unit"
    assert "10^9/L" in caught.value.message


# --- Platelet count decreased ----------------------------------------------------------------

@pytest.mark.parametrize(("platelets", "grade"), [
    (150.0, 0), (149.0, 1), (75.0, 1), (74.9, 2), (50.0, 2), (49.9, 3), (25.0, 3), (24.9, 4),
])
def test_platelet_count_decreased_boundaries_with_lln_150(platelets: float, grade: int) -> None:
    result = grade_lab("platelets", platelets, "10^9/L", lln=150)
    assert (result.grade, result.term) == (grade, "Platelet count decreased")


def test_platelets_50000_per_microlitre_are_grade_2() -> None:
    assert grade_lab("platelets", 50000, "/uL").grade == 2


# --- Lymphocyte count decreased --------------------------------------------------------------

@pytest.mark.parametrize(("lymphocytes", "grade"), [
    (1.0, 0), (0.99, 1), (0.8, 1), (0.79, 2), (0.5, 2), (0.49, 3), (0.2, 3), (0.19, 4),
])
def test_lymphocyte_count_decreased_boundaries_with_lln_1_0(lymphocytes: float,
                                                             grade: int) -> None:
    result = grade_lab("lymphocytes", lymphocytes, "10^9/L", lln=1.0)
    assert (result.grade, result.term) == (grade, "Lymphocyte count decreased")


# --- Anemia ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("hb", "unit", "lln", "grade"), [
    (12.0, "g/dL", 12.0, 0), (11.9, "g/dL", 12.0, 1), (10.0, "g/dL", 12.0, 1),
    (9.9, "g/dL", 12.0, 2), (8.0, "g/dL", 12.0, 2), (7.9, "g/dL", 12.0, 3),
    (120, "g/L", 120, 0), (100, "g/L", 120, 1), (99, "g/L", 120, 2), (80, "g/L", 120, 2),
    (79, "g/L", 120, 3),
    (7.4, "mmol/L", 7.4, 0), (6.2, "mmol/L", 7.4, 1), (6.1, "mmol/L", 7.4, 2),
    (4.9, "mmol/L", 7.4, 2), (4.8, "mmol/L", 7.4, 3),
])
def test_anemia_boundaries_in_each_unit_column_of_the_sheet(
        hb: float, unit: str, lln: float, grade: int) -> None:
    result = grade_lab("hemoglobin", hb, unit, lln=lln)
    assert (result.grade, result.term) == (grade, "Anemia")


def test_hemoglobin_79_g_per_l_is_grade_3_and_7_9_g_per_dl() -> None:
    result = grade_lab("hemoglobin", 79, "g/L")
    assert result.grade == 3
    assert result.value_si == pytest.approx(7.9)
    assert result.unit_si == "g/dL"


def test_hemoglobin_4_9_mmol_per_l_uses_the_sheets_own_mmol_column_not_a_conversion() -> None:
    # 4.9 mmol/L converts to about 7.9 g/dL, yet the sheet's mmol/L column puts 4.9 in grade 2.
    result = grade_lab("hemoglobin", 4.9, "mmol/L")
    assert result.grade == 2
    assert result.value_si == pytest.approx(7.896, abs=0.001)


# --- ALT / AST increased ---------------------------------------------------------------------

@pytest.mark.parametrize(("alt", "grade"), [
    (40, 0), (41, 1), (120, 1), (121, 2), (200, 2), (201, 3), (800, 3), (801, 4),
])
def test_alt_boundaries_with_uln_40_and_normal_baseline(alt: float, grade: int) -> None:
    result = grade_lab("ALT", alt, "U/L", uln=40)
    assert (result.grade, result.term) == (grade, "Alanine aminotransferase increased")


def test_alt_exactly_3_times_uln_is_grade_1() -> None:
    result = grade_lab("ALT", 120, "U/L", uln=40)
    assert (result.grade, result.times_uln, result.baseline_abnormal) == (1, 3.0, False)


def test_alt_in_iu_per_l_grades_like_u_per_l() -> None:
    assert grade_lab("ALT", 121, "IU/L", uln=40).grade == 2


@pytest.mark.parametrize(("times", "grade"), [
    (1.0, 0), (1.01, 1), (3.0, 1), (3.01, 2), (5.0, 2), (5.01, 3), (20.0, 3), (20.01, 4)])
def test_alt_given_as_multiple_of_uln(times: float, grade: int) -> None:
    result = grade_lab("ALT", times, "xULN")
    assert (result.grade, result.times_uln) == (grade, times)


@pytest.mark.parametrize(("ast", "grade"), [(33, 0), (99, 1), (100, 2), (165, 2), (166, 3)])
def test_ast_boundaries_with_uln_33(ast: float, grade: int) -> None:
    result = grade_lab("AST", ast, "U/L", uln=33)
    assert (result.grade, result.term) == (grade, "Aspartate aminotransferase increased")


@pytest.mark.parametrize(("alt", "grade"), [
    (60, 0),  # at baseline
    (89, 0),  # below 1.5 x baseline (90): not grade 1, although above ULN
    (90, 1),  # 1.5 x baseline is grade 1 (written inclusive)
    (180, 1),  # 3.0 x baseline
    (181, 2),
    (300, 2),  # 5.0 x baseline
    (301, 3),
    (1200, 3),  # 20.0 x baseline
    (1201, 4),
])
def test_alt_with_abnormal_baseline_60_is_graded_on_multiples_of_baseline(
        alt: float, grade: int) -> None:
    result = grade_lab("ALT", alt, "U/L", uln=40, baseline=60)
    assert result.grade == grade
    assert result.baseline_abnormal is True


def test_alt_150_is_grade_1_with_abnormal_baseline_60_but_grade_2_with_normal_baseline() -> None:
    assert grade_lab("ALT", 150, "U/L", uln=40, baseline=60).grade == 1  # 2.5 x baseline
    assert grade_lab("ALT", 150, "U/L", uln=40).grade == 2  # 3.75 x ULN


def test_baseline_equal_to_uln_is_a_normal_baseline() -> None:
    result = grade_lab("AST", 121, "U/L", uln=40, baseline=40)
    assert (result.grade, result.baseline_abnormal) == (2, False)


def test_abnormal_baseline_given_as_multiple_of_uln() -> None:
    assert grade_lab("ALT", 3.0, "xULN", baseline=2.0).grade == 1  # 1.5 x baseline
    assert grade_lab("ALT", 2.9, "xULN", baseline=2.0).grade == 0


# --- Blood bilirubin increased ---------------------------------------------------------------

@pytest.mark.parametrize(("bilirubin", "grade"), [
    (1.2, 0), (1.3, 1), (1.8, 1), (1.9, 2), (3.6, 2), (3.7, 3), (12.0, 3), (12.1, 4),
])
def test_bilirubin_boundaries_with_uln_1_2_mg_per_dl(bilirubin: float, grade: int) -> None:
    result = grade_lab("bilirubin", bilirubin, "mg/dL", uln=1.2)
    assert (result.grade, result.term) == (grade, "Blood bilirubin increased")


def test_bilirubin_exactly_3_times_uln_in_decimals_is_grade_2_not_3() -> None:
    # In binary floating point 3.0 * 1.2 is 3.5999999999999996, so a naive comparison would put
    # 3.6 mg/dL above 3 x ULN; as decimals it is exactly 3.0 x ULN, the top of grade 2.
    assert grade_lab("bilirubin", 3.6, "mg/dL", uln=1.2).grade == 2


@pytest.mark.parametrize(("bilirubin", "unit", "grade"), [
    (21, "umol/L", 0), (31.5, "µmol/L", 1), (32, "umol/L", 2), (63, "umol/L", 2),
    (64, "µmol/L", 3), (210, "umol/L", 3), (211, "umol/L", 4)])
def test_bilirubin_in_micromol_per_l_with_uln_21(bilirubin: float, unit: str,
                                                 grade: int) -> None:
    assert grade_lab("bilirubin", bilirubin, unit, uln=21).grade == grade


def test_bilirubin_1_mg_per_dl_is_17_104_micromol_per_l() -> None:
    result = grade_lab("bilirubin", 1.0, "mg/dL", uln=1.2)
    assert result.value_si == pytest.approx(17.104)
    assert result.unit_si == "µmol/L"


@pytest.mark.parametrize(("bilirubin", "grade"), [
    (2.0, 0), (2.1, 1), (3.0, 1), (3.1, 2), (6.0, 2), (6.1, 3), (20.0, 3), (20.1, 4)])
def test_bilirubin_with_abnormal_baseline_2_0_is_graded_on_multiples_of_baseline(
        bilirubin: float, grade: int) -> None:
    result = grade_lab("bilirubin", bilirubin, "mg/dL", uln=1.2, baseline=2.0)
    assert (result.grade, result.baseline_abnormal) == (grade, True)


# --- Hyponatremia ----------------------------------------------------------------------------

@pytest.mark.parametrize(("sodium", "symptomatic", "grade"), [
    (135, None, 0), (134, None, 1), (130, None, 1), (129, False, 2), (129, True, 3),
    (125, False, 2), (125, True, 3), (124, None, 3), (124, False, 3), (120, None, 3),
    (119, None, 4), (119, True, 4)])
def test_hyponatremia_boundaries_with_lln_135(sodium: float, symptomatic: bool | None,
                                              grade: int) -> None:
    result = grade_lab("sodium", sodium, "mmol/L", lln=135, symptomatic=symptomatic)
    assert (result.grade, result.term) == (grade, "Hyponatremia")


def test_sodium_in_meq_per_l_grades_like_mmol_per_l() -> None:
    assert grade_lab("sodium", 127, "mEq/L", symptomatic=False).grade == 2


def test_sodium_125_to_129_without_the_symptomatic_flag_is_refused() -> None:
    error = refused("symptomatic", "sodium", 127, "mmol/L")
    assert "grade 3" in error.message and "grade 2" in error.message


# --- what the grader needs ---------------------------------------------------------------------

def test_anc_exactly_1_5_without_lln_is_refused_naming_lln() -> None:
    error = refused("lln", "ANC", 1.5, "10^9/L")
    assert "grade 1" in error.message


def test_anc_below_1_5_needs_no_lln() -> None:
    assert grade_lab("ANC", 1.49, "10^9/L").grade == 2


def test_hemoglobin_10_g_per_dl_without_lln_is_refused_naming_lln() -> None:
    refused("lln", "hemoglobin", 10.0, "g/dL")


def test_normal_sodium_without_lln_is_refused_naming_lln() -> None:
    refused("lln", "sodium", 140, "mmol/L")


def test_alt_in_u_per_l_without_uln_is_refused_naming_uln() -> None:
    refused("uln", "ALT", 50, "U/L")


def test_bilirubin_in_micromol_per_l_without_uln_is_refused_naming_uln() -> None:
    refused("uln", "bilirubin", 30, "umol/L")


def test_uln_with_a_value_already_in_multiples_of_uln_is_refused() -> None:
    refused("uln", "ALT", 2.0, "xULN", uln=40)


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("test", "unit"), [
    ("ANC", "g/dL"), ("ANC", "cells"), ("hemoglobin", "mg/dL"), ("sodium", "mg/dL"),
    ("ALT", "ukat/L"), ("bilirubin", "U/L"), ("platelets", "10^9")])
def test_unknown_unit_is_refused_listing_the_accepted_units(test: str, unit: str) -> None:
    error = refused("unit", test, 1.0, unit, uln=1.5)
    assert "accepted:" in error.message


@pytest.mark.parametrize("unit", ["", "   "])
def test_lab_without_unit_is_refused(unit: str) -> None:
    error = refused("unit", "ANC", 0.4, unit)
    assert "required" in error.message


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf, -math.inf])
def test_negative_or_non_finite_value_is_refused(value: float) -> None:
    refused("value", "ANC", value, "10^9/L")


@pytest.mark.parametrize("uln", [0.0, -40.0, math.nan])
def test_uln_of_zero_or_less_is_refused(uln: float) -> None:
    refused("uln", "ALT", 50, "U/L", uln=uln)


def test_lln_of_zero_is_refused() -> None:
    refused("lln", "ANC", 2.0, "10^9/L", lln=0)


def test_lln_not_below_uln_is_refused() -> None:
    refused("lln", "ANC", 2.0, "10^9/L", lln=8.0, uln=7.5)


def test_negative_baseline_is_refused() -> None:
    refused("baseline", "ALT", 50, "U/L", uln=40, baseline=-1)


def test_baseline_for_a_count_is_refused() -> None:
    refused("baseline", "ANC", 0.4, "10^9/L", baseline=2.0)


def test_symptomatic_for_anything_but_sodium_is_refused() -> None:
    refused("symptomatic", "ANC", 0.4, "10^9/L", symptomatic=True)


def test_unknown_test_is_refused_listing_the_tests() -> None:
    error = refused("test", "creatinine", 1.0, "mg/dL")
    assert "ANC" in error.message and "bilirubin" in error.message


# --- Febrile neutropenia -----------------------------------------------------------------------

@pytest.mark.parametrize(("anc", "temperature", "minutes", "grade"), [
    (0.9, 38.4, 0, 3),  # single temperature above 38.3
    (0.9, 38.3, 0, 0),  # 38.3 is not above 38.3
    (0.9, 38.0, 61, 3),  # sustained >= 38.0 for more than one hour
    (0.9, 38.0, 60, 0),  # exactly one hour is not more than one hour
    (1.0, 39.5, 120, 0),  # ANC 1.0 is not below 1.0
    (0.99, 39.5, 0, 3),
    (0.2, 37.5, 0, 0),  # no fever
])
def test_febrile_neutropenia_boundaries(anc: float, temperature: float, minutes: float,
                                        grade: int) -> None:
    result = grade_febrile_neutropenia(anc=anc, unit="10^9/L", temperature_c=temperature,
                                       sustained_fever_minutes=minutes)
    assert (result.grade, result.term, result.system) == (
        grade, "Febrile neutropenia", "CTCAE-5.0")


def test_febrile_neutropenia_with_anc_in_cells_per_microlitre() -> None:
    result = grade_febrile_neutropenia(anc=900, unit="/µL", temperature_c=38.5)
    assert (result.grade, result.anc_e9_per_l) == (3, 0.9)


def test_life_threatening_febrile_neutropenia_is_grade_4_and_death_grade_5() -> None:
    common: dict[str, Any] = {"anc": 0.3, "unit": "10^9/L", "temperature_c": 39.0}
    assert grade_febrile_neutropenia(life_threatening=True, **common).grade == 4
    assert grade_febrile_neutropenia(death_attributed=True, **common).grade == 5


def test_life_threatening_without_febrile_neutropenia_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        grade_febrile_neutropenia(anc=1.5, unit="10^9/L", temperature_c=39.0,
                                  life_threatening=True)
    assert caught.value.field == "life_threatening"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"temperature_c": 46.0}, "temperature_c"),
    ({"temperature_c": math.nan}, "temperature_c"),
    ({"anc": -0.1}, "anc"),
    ({"unit": "g/L"}, "unit"),
    ({"sustained_fever_minutes": -5}, "sustained_fever_minutes"),
    ({"temperature_c": 37.5, "sustained_fever_minutes": 90}, "sustained_fever_minutes"),
])
def test_febrile_neutropenia_bad_input_names_the_field(kwargs: dict[str, object],
                                                       field: str) -> None:
    args: dict[str, object] = {"anc": 0.5, "unit": "10^9/L", "temperature_c": 38.5}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        grade_febrile_neutropenia(**args)  # type: ignore[arg-type]
    assert caught.value.field == field


# --- properties -------------------------------------------------------------------------------

def _grade(test: str, value: float, unit: str, **kwargs: object) -> LabGrade:
    return grade_lab(test, value, unit, **kwargs)  # type: ignore[arg-type]


@given(anc=st.floats(0.0, 10.0), drop=st.floats(0.0, 10.0))
def test_a_lower_anc_never_lowers_the_grade(anc: float, drop: float) -> None:
    lower = max(anc - drop, 0.0)
    assert (_grade("ANC", lower, "10^9/L", lln=1.8).grade
            >= _grade("ANC", anc, "10^9/L", lln=1.8).grade)


@given(platelets=st.integers(0, 400_000), drop=st.integers(0, 400_000))
def test_fewer_platelets_never_lower_the_grade(platelets: int, drop: int) -> None:
    lower = max(platelets - drop, 0)
    assert (_grade("platelets", lower, "/uL", lln=150_000).grade
            >= _grade("platelets", platelets, "/uL", lln=150_000).grade)


@given(alt=st.floats(0.0, 2000.0), rise=st.floats(0.0, 2000.0),
       baseline=st.none() | st.floats(0.0, 200.0))
def test_a_higher_alt_never_lowers_the_grade(alt: float, rise: float,
                                             baseline: float | None) -> None:
    kwargs = {"uln": 40.0, "baseline": baseline}
    assert (_grade("ALT", alt + rise, "U/L", **kwargs).grade
            >= _grade("ALT", alt, "U/L", **kwargs).grade)


@given(bilirubin=st.floats(0.0, 30.0), rise=st.floats(0.0, 30.0),
       baseline=st.none() | st.floats(0.1, 5.0))
def test_a_higher_bilirubin_never_lowers_the_grade(bilirubin: float, rise: float,
                                                   baseline: float | None) -> None:
    kwargs = {"uln": 1.2, "baseline": baseline}
    assert (_grade("bilirubin", bilirubin + rise, "mg/dL", **kwargs).grade
            >= _grade("bilirubin", bilirubin, "mg/dL", **kwargs).grade)


@given(sodium=st.integers(100, 150), drop=st.integers(0, 40), symptomatic=st.booleans())
def test_a_lower_sodium_never_lowers_the_grade(sodium: int, drop: int,
                                               symptomatic: bool) -> None:
    kwargs = {"lln": 135.0, "symptomatic": symptomatic}
    assert (_grade("sodium", sodium - drop, "mmol/L", **kwargs).grade
            >= _grade("sodium", sodium, "mmol/L", **kwargs).grade)


@given(anc=st.floats(0.0, 3.0), temperature=st.floats(36.0, 41.0),
       minutes=st.floats(0.0, 300.0), rise=st.floats(0.0, 2.0))
def test_more_fever_never_lowers_the_febrile_neutropenia_grade(
        anc: float, temperature: float, minutes: float, rise: float) -> None:
    assume(temperature >= 38.0 or minutes == 0)
    before = grade_febrile_neutropenia(anc=anc, unit="10^9/L", temperature_c=temperature,
                                       sustained_fever_minutes=minutes)
    after = grade_febrile_neutropenia(anc=anc, unit="10^9/L",
                                      temperature_c=min(temperature + rise, 45.0),
                                      sustained_fever_minutes=minutes)
    assert after.grade >= before.grade
