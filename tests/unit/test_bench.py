"""Bench steps of a preparation, worked by hand from label-facts §4 (the recipe columns and the
order in the bag) and the site-policy tolerance of ± 5 % of each recipe volume."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tarla.domain.bench import (
    INSPECTION_QUESTIONS,
    BenchStep,
    judge_step,
    missing_steps,
    steps_for,
)
from tarla.domain.errors import InvalidInput
from tarla.label import all_rules
from tarla.label.preparation import BENCH_TOLERANCE
from tarla.label.rows import Provenance

ORDER = ("water_added", "inspected", "saline_withdrawn", "ivss_added", "drug_added",
         "air_removed")
ALL_YES = {"clear": True, "colourless": True, "no_particles": True}


def judge(step: str, *, dose: int = 10, done: tuple[str, ...] = (),
          ml: str | None = None, inspection: dict[str, bool] | None = None,
          reconstituted: bool = True, scanned: bool = True):  # type: ignore[no-untyped-def]
    return judge_step(dose_mg=dose, done=done, step=step,
                      measured_ml=None if ml is None else Decimal(ml), inspection=inspection,
                      reconstituted=reconstituted, drug_scan_accepted=scanned)


def before(step: str) -> tuple[str, ...]:
    return ORDER[:ORDER.index(step)]


def test_the_six_steps_come_in_the_label_order_for_both_strengths() -> None:
    assert tuple(BenchStep) == ORDER
    for dose in (1, 10):
        assert tuple(s.code for s in steps_for(dose)) == ORDER


@pytest.mark.parametrize(("dose", "volumes"), [
    (1, ("1.3", None, "14", "13", "1.1", None)),
    (10, ("4.4", None, "17", "13", "4.2", None)),
])
def test_expected_volumes_are_the_recipe_column_of_the_dose(dose, volumes) -> None:
    got = tuple(s.expected_ml for s in steps_for(dose))
    assert got == tuple(None if v is None else Decimal(v) for v in volumes)


def test_each_step_cites_its_label_row_and_says_what_to_do() -> None:
    steps = {s.code: s for s in steps_for(10)}
    assert [s.rule for s in steps.values()] == [
        "PREP-STEP-WATER", "PREP-STEP-INSPECT", "PREP-STEP-WITHDRAW", "PREP-STEP-IVSS",
        "PREP-STEP-DRUG", "PREP-STEP-AIR"]
    assert "4.4 mL" in steps[BenchStep.WATER_ADDED].instruction
    assert "against the glass wall" in steps[BenchStep.WATER_ADDED].instruction
    assert "Do not shake" in steps[BenchStep.WATER_ADDED].instruction
    assert "17 mL" in steps[BenchStep.SALINE_WITHDRAWN].instruction
    assert "empty syringe" in steps[BenchStep.AIR_REMOVED].instruction


@pytest.mark.parametrize(("dose", "step", "tolerance"), [
    (1, "water_added", "0.065"), (1, "saline_withdrawn", "0.70"), (1, "ivss_added", "0.65"),
    (1, "drug_added", "0.055"),
    (10, "water_added", "0.22"), (10, "saline_withdrawn", "0.85"), (10, "ivss_added", "0.65"),
    (10, "drug_added", "0.21"),
])
def test_the_tolerance_is_five_percent_of_the_recipe_volume(dose, step, tolerance) -> None:
    spec = next(s for s in steps_for(dose) if s.code == step)
    assert spec.tolerance_ml == Decimal(tolerance)


def test_the_tolerance_is_an_unverified_site_policy_row() -> None:
    assert BENCH_TOLERANCE.rule_id == "PREP-BENCH-TOLERANCE"
    assert BENCH_TOLERANCE.tag is Provenance.UNVERIFIED
    assert "site-policy default" in BENCH_TOLERANCE.text.lower()
    assert BENCH_TOLERANCE.percent == Decimal("5")
    assert "PREP-BENCH-TOLERANCE" in {r.rule_id for r in all_rules()}


def test_drug_4_18_ml_is_accepted_for_10_mg_and_3_9_ml_is_refused() -> None:
    ok = judge("drug_added", done=before("drug_added"), ml="4.18")
    assert ok.allowed and ok.refusals == ()
    assert ok.rules == ("PREP-STEP-DRUG", "PREP-BENCH-TOLERANCE")
    bad = judge("drug_added", done=before("drug_added"), ml="3.9")
    assert not bad.allowed
    assert bad.refusals == (("measured_ml", "measured 3.9 mL; the recipe for 10 mg is 4.2 mL "
                                            "(± 5 %): 3.99 to 4.41 mL is accepted"),)
    assert "PREP-BENCH-TOLERANCE" in bad.rules


def test_water_4_0_ml_for_10_mg_is_refused_naming_the_recipe_and_tolerance() -> None:
    v = judge("water_added", ml="4.0")
    assert v.refusals == (("measured_ml", "measured 4.0 mL; the recipe for 10 mg is 4.4 mL "
                                          "(± 5 %): 4.18 to 4.62 mL is accepted"),)


@pytest.mark.parametrize(("dose", "step", "low", "high", "below", "above"), [
    (1, "water_added", "1.235", "1.365", "1.23", "1.37"),
    (1, "saline_withdrawn", "13.3", "14.7", "13.2", "14.8"),
    (1, "ivss_added", "12.35", "13.65", "12.3", "13.7"),
    (1, "drug_added", "1.045", "1.155", "1.04", "1.16"),
    (10, "water_added", "4.18", "4.62", "4.17", "4.63"),
    (10, "saline_withdrawn", "16.15", "17.85", "16.1", "17.9"),
    (10, "ivss_added", "12.35", "13.65", "12.3", "13.7"),
    (10, "drug_added", "3.99", "4.41", "3.98", "4.42"),
])
def test_the_bounds_are_accepted_and_just_outside_is_refused(dose, step, low, high, below,
                                                             above) -> None:
    done = before(step)
    assert judge(step, dose=dose, done=done, ml=low).allowed
    assert judge(step, dose=dose, done=done, ml=high).allowed
    for outside in (below, above):
        v = judge(step, dose=dose, done=done, ml=outside)
        assert [f for f, _ in v.refusals] == ["measured_ml"]
        assert f"measured {outside} mL; the recipe for {dose} mg is" in v.refusals[0][1]


def test_the_1_mg_column_is_not_the_10_mg_column() -> None:
    v = judge("water_added", dose=1, ml="4.4")  # 10 mg water into a 1 mg vial
    assert v.refusals[0][1].startswith("measured 4.4 mL; the recipe for 1 mg is 1.3 mL (± 5 %")


@pytest.mark.parametrize("ml", [None, "0", "-1.1", "NaN", "Infinity"])
def test_a_volume_step_needs_a_positive_measured_volume(ml) -> None:
    v = judge("water_added", ml=ml)
    assert not v.allowed and [f for f, _ in v.refusals] == ["measured_ml"]


def test_steps_without_a_volume_take_none() -> None:
    assert judge("air_removed", done=before("air_removed")).allowed
    v = judge("air_removed", done=before("air_removed"), ml="1")
    assert v.refusals == (("measured_ml", "'Air removed from the bag' has no volume to enter"),)


def test_the_inspection_needs_three_yes_answers() -> None:
    assert [q[0] for q in INSPECTION_QUESTIONS] == ["clear", "colourless", "no_particles"]
    assert judge("inspected", done=before("inspected"), inspection=ALL_YES).allowed
    for name in ALL_YES:
        v = judge("inspected", done=before("inspected"), inspection={**ALL_YES, name: False})
        assert not v.allowed
        assert [f for f, _ in v.refusals] == [f"inspection.{name}"]
        assert v.refusals[0][1].startswith("do not use")


def test_an_unanswered_or_unknown_inspection_question_is_refused() -> None:
    v = judge("inspected", done=before("inspected"), inspection={"clear": True, "odour": True})
    assert [f for f, _ in v.refusals] == ["inspection.colourless", "inspection.no_particles",
                                         "inspection.odour"]
    v = judge("drug_added", done=before("drug_added"), ml="4.2", inspection=ALL_YES)
    assert [f for f, _ in v.refusals] == ["inspection"]


def test_an_unknown_step_is_refused() -> None:
    v = judge("swirled")
    assert not v.allowed and v.refusals[0][0] == "step"
    assert "'swirled' is not a bench step" in v.refusals[0][1]


def test_a_step_out_of_order_names_the_step_that_comes_first() -> None:
    v = judge("ivss_added", done=("water_added", "inspected"), ml="13")
    assert v.refusals == (("step", "'Saline withdrawn from the bag' (saline_withdrawn) comes "
                                   "first: confirm it before 'IVSS added to the bag' "
                                   "(ivss_added)"),)
    assert "PREP-STEP-WITHDRAW" in v.rules


def test_a_step_already_confirmed_is_refused() -> None:
    v = judge("water_added", done=("water_added",), ml="4.4")
    assert v.refusals == (("step", "'Sterile water added to the vial' (water_added) is already "
                                   "confirmed; the next step is 'Solution inspected' "
                                   "(inspected)"),)
    v = judge("air_removed", done=ORDER)
    assert v.refusals[0][1].endswith("all bench steps are confirmed")


def test_the_water_waits_for_an_accepted_drug_vial_scan() -> None:
    v = judge("water_added", ml="4.4", scanned=False, reconstituted=False)
    assert [f for f, _ in v.refusals] == ["scan"]
    assert "SCAN-STRENGTH" in v.rules
    assert judge("water_added", ml="4.4", reconstituted=False).allowed


@pytest.mark.parametrize("step", ORDER[1:])
def test_every_step_after_the_water_waits_for_the_reconstitution_on_the_clock(step) -> None:
    ml = {"saline_withdrawn": "17", "ivss_added": "13", "drug_added": "4.2"}.get(step)
    inspection = ALL_YES if step == "inspected" else None
    v = judge(step, done=before(step), ml=ml, inspection=inspection, reconstituted=False)
    assert [f for f, _ in v.refusals] == ["step"]
    assert "record the reconstitution" in v.refusals[0][1]
    assert judge(step, done=before(step), ml=ml, inspection=inspection).allowed


def test_a_whole_10_mg_bench_in_order_is_accepted() -> None:
    entries = [("water_added", "4.4", None), ("inspected", None, ALL_YES),
               ("saline_withdrawn", "17", None), ("ivss_added", "13", None),
               ("drug_added", "4.2", None), ("air_removed", None, None)]
    done: tuple[str, ...] = ()
    for step, ml, inspection in entries:
        assert judge(step, done=done, ml=ml, inspection=inspection).allowed, step
        done += (step,)


def test_missing_steps_before_each_clock_event() -> None:
    assert missing_steps(10, (), "reconstituted") == ("water_added",)
    assert missing_steps(10, ("water_added",), "reconstituted") == ()
    assert missing_steps(1, ("water_added", "inspected"), "bag_prepared") == ORDER[2:]
    assert missing_steps(1, ORDER, "bag_prepared") == ()
    assert missing_steps(10, (), "refrigerated") == ()


def test_a_dose_that_is_not_1_or_10_mg_is_refused() -> None:
    with pytest.raises(InvalidInput, match="dose_mg"):
        steps_for(5)
    with pytest.raises(InvalidInput, match="dose_mg"):
        missing_steps(5, (), "bag_prepared")
