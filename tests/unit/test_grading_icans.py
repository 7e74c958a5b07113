"""ICANS grading and the ICE score by ASTCT 2019 (standards.md §2). Grades read off the table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tarla.domain.errors import InvalidInput
from tarla.domain.grading import (
    CerebralEdema,
    Consciousness,
    IcansGrade,
    Motor,
    Seizure,
    grade_icans,
    ice_score,
)

FULL_ICE = {"orientation_year": 1, "orientation_month": 1, "orientation_city": 1,
            "orientation_hospital": 1, "naming": 3, "follows_commands": 1, "writing": 1,
            "attention": 1}


def icans(**overrides: object) -> IcansGrade:
    args: dict[str, object] = {"ice_score": 10, "consciousness": "normal", "seizure": "none",
                               "motor": "none", "cerebral_edema": "none"}
    args.update(overrides)
    return grade_icans(**args)  # type: ignore[arg-type]


def refused(field: str, **overrides: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        icans(**overrides)
    assert caught.value.field == field
    return caught.value


# --- ICE score domain ------------------------------------------------------------------------

@pytest.mark.parametrize(("ice", "grade"), [
    (10, 0), (9, 1), (8, 1), (7, 1), (6, 2), (5, 2), (4, 2), (3, 2), (2, 3), (1, 3), (0, 3),
])
def test_ice_score_bands_of_an_awake_patient(ice: int, grade: int) -> None:
    assert icans(ice_score=ice).grade == grade


def test_ice_10_and_everything_normal_is_grade_0_with_an_explaining_driver() -> None:
    result = icans()
    assert result.grade == 0
    assert result.system == "ASTCT-2019"
    assert len(result.drivers) == 1 and result.drivers[0].grade == 0


def test_contract_example_ice_8_is_grade_1() -> None:
    assert icans(ice_score=8).grade == 1


def test_ice_0_while_awake_is_grade_3() -> None:
    assert icans(ice_score=0, consciousness="awakens_spontaneously").grade == 3


def test_ice_0_because_unarousable_is_grade_4() -> None:
    result = icans(ice_score=0, consciousness="unarousable")
    assert result.grade == 4
    assert {d.criterion for d in result.drivers if d.grade == 4} == {"ice", "consciousness"}


# --- unarousable and unable to do the ICE ---------------------------------------------------
# The bedside form and the API send "ice_unable" and usually leave consciousness at its
# default, "normal". The ASTCT grade-4 ICE cell *is* the unarousable patient: grade 4.

def test_unable_to_do_the_ice_with_consciousness_left_normal_is_grade_4() -> None:
    result = icans(ice_score=None, ice_unable=True)
    assert result.grade == 4
    assert result.ice_score == 0
    assert {d.criterion for d in result.drivers if d.grade == 4} == {"ice", "consciousness"}


def test_unable_to_do_the_ice_names_the_patient_unarousable_in_the_consciousness_driver() -> None:
    result = icans(ice_score=None, ice_unable=True)
    driver = next(d for d in result.drivers if d.criterion == "consciousness")
    assert driver.detail.startswith("unarousable (patient unarousable and unable to do the "
                                    "ICE assessment)")
    assert driver.source == ("ASTCT-2019 adult ICANS table, consciousness row, grade 4 "
                             "(Lee 2019; PMC8403007 t0004; PMC7990806 Tab2)")


def test_unable_to_do_the_ice_with_consciousness_unarousable_is_grade_4() -> None:
    assert icans(ice_score=None, ice_unable=True, consciousness="unarousable").grade == 4


def test_unable_to_do_the_ice_with_an_ice_score_of_0_is_grade_4() -> None:
    assert icans(ice_score=0, ice_unable=True).grade == 4


def test_unable_to_do_the_ice_and_a_seizure_is_still_grade_4_not_more() -> None:
    assert icans(ice_score=None, ice_unable=True, seizure="rapidly_resolving").grade == 4


def test_unable_to_do_the_ice_and_death_attributed_is_grade_5() -> None:
    assert icans(ice_score=None, ice_unable=True, death_attributed=True).grade == 5


@pytest.mark.parametrize("consciousness", [
    "awakens_spontaneously", "awakens_to_voice", "awakens_to_touch"])
def test_unable_to_do_the_ice_while_the_patient_awakens_is_refused_naming_consciousness(
        consciousness: str) -> None:
    error = refused("consciousness", ice_score=None, ice_unable=True,
                    consciousness=consciousness)
    assert consciousness in error.message and "ice_unable" in error.message


@pytest.mark.parametrize("score", [1, 5, 10])
def test_an_ice_score_above_0_while_unable_to_do_the_ice_is_refused(score: int) -> None:
    error = refused("ice_score", ice_score=score, ice_unable=True)
    assert f"ICE {score}" in error.message


def test_ice_answers_while_unable_to_do_the_ice_are_refused_naming_the_ice() -> None:
    refused("ice", ice_score=None, ice=FULL_ICE | {"writing": 0}, ice_unable=True)


def test_ice_answers_of_all_zero_while_unable_to_do_the_ice_are_refused_too() -> None:
    zero = {k: 0 for k in FULL_ICE}
    refused("ice", ice_score=None, ice=zero, ice_unable=True)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_ice_unable_must_be_true_or_false(value: object) -> None:
    refused("ice_unable", ice_unable=value)


def test_ice_0_without_ice_unable_and_consciousness_normal_stays_grade_3() -> None:
    # ICE 0 in an awake patient (e.g. global aphasia) is grade 3 (ASTCT note **).
    assert icans(ice_score=0).grade == 3


# --- the other domains -----------------------------------------------------------------------

@pytest.mark.parametrize(("consciousness", "grade"), [
    ("normal", 0), ("awakens_spontaneously", 1), ("awakens_to_voice", 2),
    ("awakens_to_touch", 3),
])
def test_depressed_consciousness_grades(consciousness: str, grade: int) -> None:
    assert icans(consciousness=consciousness).grade == grade


def test_unarousable_with_ice_0_is_grade_4() -> None:
    assert icans(ice_score=0, consciousness=Consciousness.UNAROUSABLE).grade == 4


@pytest.mark.parametrize(("seizure", "grade"), [
    ("none", 0), ("rapidly_resolving", 3), ("prolonged_or_repetitive", 4)])
def test_seizure_grades(seizure: str, grade: int) -> None:
    assert icans(seizure=seizure).grade == grade


@pytest.mark.parametrize(("motor", "grade"), [("none", 0), ("deep_focal_weakness", 4)])
def test_motor_grades(motor: str, grade: int) -> None:
    assert icans(motor=motor).grade == grade


@pytest.mark.parametrize(("edema", "grade"), [("none", 0), ("focal", 3), ("diffuse", 4)])
def test_cerebral_edema_grades(edema: str, grade: int) -> None:
    assert icans(cerebral_edema=edema).grade == grade


def test_astct_example_ice_3_with_a_rapidly_resolving_seizure_is_grade_3() -> None:
    result = icans(ice_score=3, seizure="rapidly_resolving")
    assert result.grade == 3
    assert [(d.criterion, d.grade) for d in result.drivers] == [("seizure", 3), ("ice", 2)]


def test_contract_example_ice_5_awakening_to_voice_is_grade_2() -> None:
    assert icans(ice_score=5, consciousness="awakens_to_voice").grade == 2


def test_ice_9_with_focal_edema_is_grade_3() -> None:
    assert icans(ice_score=9, cerebral_edema=CerebralEdema.FOCAL).grade == 3


def test_ice_7_with_deep_focal_weakness_is_grade_4() -> None:
    assert icans(ice_score=7, motor=Motor.DEEP_FOCAL_WEAKNESS).grade == 4


def test_death_attributed_to_icans_is_grade_5() -> None:
    assert icans(ice_score=0, consciousness="unarousable", death_attributed=True).grade == 5


# --- ICE items -------------------------------------------------------------------------------

def test_all_ice_items_correct_add_up_to_10() -> None:
    assert ice_score(FULL_ICE) == 10


def test_ice_items_add_up_missing_year_writing_and_two_objects_to_6() -> None:
    items = FULL_ICE | {"orientation_year": 0, "writing": 0, "naming": 1}
    assert ice_score(items) == 6
    assert icans(ice_score=None, ice=items).grade == 2


def test_naming_may_be_given_as_three_separate_objects() -> None:
    items = {k: v for k, v in FULL_ICE.items() if k != "naming"}
    items |= {"naming_1": 1, "naming_2": 0, "naming_3": 1}
    assert ice_score(items) == 9


def test_ice_items_grade_like_the_same_total() -> None:
    items = FULL_ICE | {"attention": 0, "follows_commands": 0}
    result = icans(ice_score=None, ice=items)
    assert result.ice_score == 8 and result.grade == 1


def test_matching_total_and_items_are_accepted() -> None:
    assert icans(ice_score=10, ice=FULL_ICE).grade == 0


def test_total_that_disagrees_with_the_items_is_refused() -> None:
    refused("ice_score", ice_score=9, ice=FULL_ICE)


def test_unknown_ice_item_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        ice_score(FULL_ICE | {"orientation_planet": 1})
    assert caught.value.field == "ice.orientation_planet"


@pytest.mark.parametrize(("item", "points"), [
    ("writing", 2), ("writing", -1), ("naming", 4), ("orientation_city", 2),
    ("attention", True), ("attention", 0.5)])
def test_ice_item_points_out_of_range_are_refused_by_item(item: str, points: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ice_score(FULL_ICE | {item: points})  # type: ignore[arg-type]
    assert caught.value.field == f"ice.{item}"


def test_missing_ice_item_is_refused_by_name() -> None:
    items = {k: v for k, v in FULL_ICE.items() if k != "attention"}
    with pytest.raises(InvalidInput) as caught:
        ice_score(items)
    assert caught.value.field == "ice.attention"


def test_naming_total_and_separate_objects_together_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        ice_score(FULL_ICE | {"naming_1": 1})
    assert caught.value.field == "ice.naming"


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("score", [11, -1, True, 7.5])
def test_ice_score_outside_0_to_10_is_refused(score: object) -> None:
    refused("ice_score", ice_score=score)


def test_no_ice_assessment_is_refused() -> None:
    refused("ice_score", ice_score=None)


def test_unarousable_patient_cannot_have_an_ice_score_above_0() -> None:
    refused("ice_score", ice_score=5, consciousness="unarousable")


@pytest.mark.parametrize(("field", "value"), [
    ("consciousness", "drowsy"), ("seizure", "focal"), ("motor", "weak"),
    ("cerebral_edema", "mild"), ("seizure", None)])
def test_unknown_domain_finding_is_refused_by_field(field: str, value: object) -> None:
    refused(field, **{field: value})


# --- properties -------------------------------------------------------------------------------

_LADDERS: dict[str, list[str]] = {
    "consciousness": [c.value for c in Consciousness][:-1],  # unarousable forces ICE 0
    "seizure": [s.value for s in Seizure],
    "motor": [m.value for m in Motor],
    "cerebral_edema": [e.value for e in CerebralEdema],
}


@given(score=st.integers(1, 10), seizure=st.sampled_from(list(Seizure)),
       edema=st.sampled_from(list(CerebralEdema)))
def test_a_lower_ice_score_never_lowers_the_grade(
        score: int, seizure: Seizure, edema: CerebralEdema) -> None:
    higher = icans(ice_score=score, seizure=seizure, cerebral_edema=edema)
    lower = icans(ice_score=score - 1, seizure=seizure, cerebral_edema=edema)
    assert lower.grade >= higher.grade


@given(domain=st.sampled_from(sorted(_LADDERS)), data=st.data(), score=st.integers(0, 10))
def test_a_worse_finding_in_any_domain_never_lowers_the_grade(
        domain: str, data: st.DataObject, score: int) -> None:
    ladder = _LADDERS[domain]
    step = data.draw(st.integers(0, len(ladder) - 2))
    better = icans(ice_score=score, **{domain: ladder[step]})
    worse = icans(ice_score=score, **{domain: ladder[step + 1]})
    assert worse.grade >= better.grade
