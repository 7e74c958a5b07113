"""What toxicity does to the next dose (label-facts §6) inside ``evaluate``."""

from __future__ import annotations

from datetime import date

import pytest
from course_builders import ON_TIME, decide, doses, event, lab

from tarla.domain.course import DecisionAction, DoseKind

C1 = doses(("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10))  # C1D15 due 2026-12-15


def rules(d) -> set[str]:
    return {r.rule for r in d.reasons}


@pytest.mark.parametrize("kind,grade,rule", [
    ("CRS", 1, "T5-CRS-G1"), ("CRS", 2, "T5-CRS-G2"), ("CRS", 3, "T5-CRS-G3"),
    ("ICANS", 1, "T6-ICANS-G1"), ("ICANS", 2, "T6-ICANS-G2"), ("ICANS", 3, "T6-ICANS-G3"),
    ("neurologic", 2, "T6-NEURO-G2-G3"), ("neurologic", 3, "T6-NEURO-G2-G3"),
    ("infection", 3, "T7-INF-G3"), ("hypersensitivity", 3, "T7-HSR-G3"),
    ("other", 3, "T7-OTHER-G3"), ("ALT_increased", 3, "T7-ALT-G3"),
    ("neutropenia", 4, "T7-NEUT"), ("thrombocytopenia", 3, "T7-PLT"),
    ("febrile_neutropenia", 3, "T7-FN"),
])
def test_an_ongoing_event_at_a_withholding_grade_holds_the_next_dose(kind, grade, rule) -> None:
    d = decide("2026-12-15 07:30", C1, events=[event(kind, grade, "2026-12-09 01:00")])
    assert d.action is DecisionAction.HOLD
    assert rule in rules(d)
    assert d.next_dose is not None and d.next_dose.slot.label == "C1D15"  # what comes after


@pytest.mark.parametrize("kind,grade", [("neurologic", 1), ("infection", 2), ("other", 2),
                                        ("neutropenia", 3), ("thrombocytopenia", 2)])
def test_an_ongoing_event_below_any_rule_does_not_hold(kind, grade) -> None:
    d = decide("2026-12-15 07:30", C1, events=[event(kind, grade, "2026-12-09 01:00")])
    assert d.action is DecisionAction.GIVE


@pytest.mark.parametrize("kind,grade,rule", [
    ("CRS", 4, "T5-CRS-G4"), ("ICANS", 4, "T6-ICANS-G4"), ("neurologic", 4, "T6-NEURO-G4"),
    ("ALT_increased", 4, "T7-ALT-G4"), ("AST_increased", 4, "T7-AST-G4"),
    ("bilirubin_increased", 4, "T7-BILI-G4"), ("infection", 4, "T7-INF-G4"),
    ("hypersensitivity", 4, "T7-HSR-G4"), ("other", 4, "T7-OTHER-G4"), ("CRS", 5, "T5-CRS-G4"),
])
def test_a_grade_4_event_discontinues_even_after_it_resolved(kind, grade, rule) -> None:
    d = decide("2026-12-15 07:30", C1,
               events=[event(kind, grade, "2026-12-09 01:00", "2026-12-10 12:00")])
    assert d.action is DecisionAction.DISCONTINUE
    assert rule in rules(d)
    assert d.next_dose is None and d.care is None


def test_a_resolved_grade_1_crs_lets_the_next_dose_go_with_ordinary_observation() -> None:
    d = decide("2026-12-15 07:30", C1,
               events=[event("CRS", 1, "2026-12-09 01:00", "2026-12-09 20:00")])
    assert d.action is DecisionAction.GIVE
    assert d.care is not None
    assert (str(d.care.monitoring.kind), d.care.monitoring.hours_min) == ("observe", 6)


@pytest.mark.parametrize("kind,grade", [("CRS", 2), ("CRS", 3), ("ICANS", 2), ("ICANS", 3),
                                        ("neurologic", 2)])
def test_the_dose_after_grade_2_or_more_gets_22_to_24_h_facility_monitoring(kind, grade):
    d = decide("2026-12-15 07:30", C1,
               events=[event(kind, grade, "2026-12-09 01:00", "2026-12-10 12:00")])
    assert d.action is DecisionAction.GIVE
    assert d.care is not None
    assert (str(d.care.monitoring.kind), d.care.monitoring.hours_min,
            d.care.monitoring.hours_max, str(d.care.monitoring.anchor)) == (
        "facility", 22, 24, "infusion_start")
    assert "T1-MON-AFTER-G2" in rules(d)
    assert "T1-MON-C1D15" not in rules(d)  # the superseded tier is not cited


def test_extended_monitoring_applies_only_to_the_first_dose_after_the_event() -> None:
    given = (*C1, *doses(("2026-12-15 09:00", 10)))
    d = decide("2026-12-29 07:30", given,
               events=[event("CRS", 2, "2026-12-09 01:00", "2026-12-10 12:00")])
    assert d.care is not None and str(d.care.monitoring.kind) == "observe"


def test_a_second_grade_3_crs_discontinues() -> None:
    d = decide("2026-12-29 07:30", (*C1, *doses(("2026-12-15 09:00", 10))), events=[
        event("CRS", 3, "2026-12-09 01:00", "2026-12-10 12:00"),
        event("CRS", 3, "2026-12-16 01:00", "2026-12-17 12:00")])
    assert d.action is DecisionAction.DISCONTINUE
    assert "T5-CRS-G3" in rules(d)
    assert d.unverified  # the recurrence rule is UNVERIFIED and the output says so


def test_a_single_resolved_grade_3_crs_resumes_with_extended_monitoring() -> None:
    d = decide("2026-12-15 07:30", C1,
               events=[event("CRS", 3, "2026-12-09 01:00", "2026-12-10 12:00")])
    assert d.action is DecisionAction.GIVE
    assert d.care is not None and d.care.monitoring.hours_min == 22


def test_an_event_resolving_after_as_of_is_still_ongoing() -> None:
    d = decide("2026-12-15 07:30", C1,
               events=[event("CRS", 1, "2026-12-09 01:00", "2026-12-15 12:00")])
    assert d.action is DecisionAction.HOLD


def test_a_long_hold_turns_the_next_dose_into_a_restart_step_up() -> None:
    # C1D8 on 12-08, CRS grade 1 ongoing until 2026-12-31: on 12-31 it is 23 days (> 21).
    events = [event("CRS", 1, "2026-12-09 01:00", "2026-12-31 06:00")]
    held = decide("2026-12-29 07:30", C1, events=events)
    assert held.action is DecisionAction.HOLD
    assert held.next_dose is not None and held.next_dose.kind is DoseKind.RESTART_CONTINUE
    after = decide("2026-12-31 07:30", C1, events=events)
    assert after.action is DecisionAction.GIVE
    assert after.next_dose is not None
    assert (after.next_dose.kind, after.next_dose.dose_mg, after.next_dose.due_date) == (
        DoseKind.RESTART_STEP_UP, 1, date(2026, 12, 31))
    assert "T4-C1D8-GT21" in rules(after)


def test_hypersensitivity_grade_3_asks_the_physician_to_consider_discontinuation() -> None:
    d = decide("2026-12-15 07:30", C1,
               events=[event("hypersensitivity", 3, "2026-12-08 09:30")])
    assert "CONSIDER_DISCONTINUATION" in [w.code for w in d.warnings]


def test_febrile_neutropenia_holds_until_an_anc_of_1_0_is_drawn_after_it() -> None:
    events = [event("febrile_neutropenia", 3, "2026-12-10 01:00", "2026-12-12 12:00")]
    no_anc = decide("2026-12-15 07:30", C1, events=events)
    assert no_anc.action is DecisionAction.HOLD and "T7-FN" in rules(no_anc)
    low = decide("2026-12-15 07:30", C1, events=events,
                 labs=[lab("ANC", 0.9, "10*9/L", "2026-12-14 08:00", lln=1.8)])
    assert low.action is DecisionAction.HOLD
    ok = decide("2026-12-15 07:30", C1, events=events,
                labs=[lab("ANC", 1.0, "10*9/L", "2026-12-14 08:00", lln=1.8)])
    assert ok.action is DecisionAction.GIVE


@pytest.mark.parametrize("test,value,unit,rule", [
    ("ANC", 0.4, "10*9/L", "T7-NEUT"),
    ("ANC", 450, "/uL", "T7-NEUT"),
    ("platelets", 49, "10*9/L", "T7-PLT"),
])
def test_low_counts_since_the_previous_dose_hold_it(test, value, unit, rule) -> None:
    d = decide("2026-12-15 07:30", C1,
               labs=[lab(test, value, unit, "2026-12-14 08:00", lln=1.0)])
    assert d.action is DecisionAction.HOLD
    assert rule in rules(d)


@pytest.mark.parametrize("test,value,unit", [("ANC", 0.5, "10*9/L"),
                                             ("platelets", 50, "10*9/L")])
def test_counts_exactly_at_the_threshold_do_not_hold(test, value, unit) -> None:
    d = decide("2026-12-15 07:30", C1,
               labs=[lab(test, value, unit, "2026-12-14 08:00", lln=150 if test == "platelets"
                         else 1.8)])
    assert d.action is DecisionAction.GIVE


def test_only_labs_drawn_after_the_previous_dose_count() -> None:
    # A low ANC drawn before C1D8 no longer counts for C1D15; the new one is normal.
    labs = [lab("ANC", 0.3, "10*9/L", "2026-12-07 08:00", lln=1.8),
            lab("ANC", 2.5, "10*9/L", "2026-12-14 08:00", lln=1.8)]
    d = decide("2026-12-15 07:30", C1, labs=labs)
    assert d.action is DecisionAction.GIVE
    assert "CBC" in d.pending_checks  # platelets and haemoglobin are still missing


def test_a_dose_needing_labs_lists_what_is_missing_without_changing_the_decision() -> None:
    labs = [lab("ANC", 2.5, "10*9/L", "2026-12-14 08:00", lln=1.8),
            lab("platelets", 210, "10*9/L", "2026-12-14 08:00", lln=150),
            lab("hemoglobin", 12.5, "g/dL", "2026-12-14 08:00", lln=12.0),
            lab("ALT", 30, "U/L", "2026-12-14 08:00", uln=40)]
    d = decide("2026-12-15 07:30", C1, labs=labs)
    assert d.action is DecisionAction.GIVE
    assert d.pending_checks == ("AST", "bilirubin")


@pytest.mark.parametrize("test,value,uln,action,rule", [
    ("ALT", 201, 40, DecisionAction.HOLD, "T7-ALT-G3"),        # > 5 x ULN
    ("ALT", 200, 40, DecisionAction.GIVE, None),               # exactly 5 x ULN: grade 2
    ("ALT", 801, 40, DecisionAction.DISCONTINUE, "T7-ALT-G4"), # > 20 x ULN
    ("AST", 201, 40, DecisionAction.HOLD, "T7-AST-G3"),
    ("bilirubin", 3.7, 1.2, DecisionAction.HOLD, "T7-BILI-G3"),   # > 3 x ULN (3.6)
    ("bilirubin", 12.1, 1.2, DecisionAction.DISCONTINUE, "T7-BILI-G4"),  # > 10 x ULN
])
def test_liver_labs_withhold_at_grade_3_and_discontinue_at_grade_4(test, value, uln, action,
                                                                   rule) -> None:
    unit = "mg/dL" if test == "bilirubin" else "U/L"
    d = decide("2026-12-15 07:30", C1, labs=[lab(test, value, unit, "2026-12-14 08:00", uln=uln)])
    assert d.action is action
    if rule:
        assert rule in rules(d)


def test_hys_law_pattern_discontinues() -> None:
    # ALT 130 U/L with ULN 40 is 3.25 x ULN (> 3); bilirubin 2.5 with ULN 1.2 is 2.08 x (> 2).
    labs = [lab("ALT", 130, "U/L", "2026-12-14 08:00", uln=40),
            lab("bilirubin", 2.5, "mg/dL", "2026-12-14 08:00", uln=1.2)]
    d = decide("2026-12-15 07:30", C1, labs=labs)
    assert d.action is DecisionAction.DISCONTINUE
    assert "T7-HYS-LAW" in rules(d)


def test_alt_exactly_3_x_uln_with_high_bilirubin_is_not_hys_law() -> None:
    labs = [lab("ALT", 120, "U/L", "2026-12-14 08:00", uln=40),
            lab("bilirubin", 2.5, "mg/dL", "2026-12-14 08:00", uln=1.2)]
    d = decide("2026-12-15 07:30", C1, labs=labs)
    assert "T7-HYS-LAW" not in rules(d)


def test_maintenance_patient_with_normal_labs_is_given_without_pending_checks() -> None:
    labs = [lab("ANC", 2.5, "10*9/L", "2027-02-08 08:00", lln=1.8),
            lab("platelets", 210, "10*9/L", "2027-02-08 08:00", lln=150),
            lab("hemoglobin", 12.5, "g/dL", "2027-02-08 08:00", lln=12.0),
            lab("ALT", 30, "U/L", "2027-02-08 08:00", uln=40),
            lab("AST", 30, "U/L", "2027-02-08 08:00", uln=40),
            lab("bilirubin", 0.8, "mg/dL", "2027-02-08 08:00", uln=1.2)]
    d = decide("2027-02-09 07:30", doses(*ON_TIME), labs=labs)
    assert d.action is DecisionAction.GIVE
    assert d.pending_checks == ()


def test_a_normal_anc_without_lln_still_counts_and_its_grade_is_left_open() -> None:
    # ANC 2.5 is above every CTCAE bound except "< LLN": grade 0 or 1 depending on the LLN,
    # which the dose rules never need, so the lab counts and the decision stands.
    d = decide("2026-12-15 07:30", C1, labs=[lab("ANC", 2.5, "10*9/L", "2026-12-14 08:00")])
    assert d.action is DecisionAction.GIVE
    (graded,) = d.lab_grades
    assert graded.grade is None and graded.note is not None and "lln" in graded.note
    assert graded.value_si == 2.5


def test_a_low_anc_without_lln_is_graded_and_holds() -> None:
    d = decide("2026-12-15 07:30", C1, labs=[lab("ANC", 0.4, "10*9/L", "2026-12-14 08:00")])
    assert d.action is DecisionAction.HOLD
    assert d.lab_grades[0].grade is not None and d.lab_grades[0].grade.grade == 4
