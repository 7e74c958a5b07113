"""Slot derivation, next dose and Table 4 restarts (label-facts §3 and §5), dates by hand."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from course_builders import ADULT, ON_TIME, at, decide, doses

from tarla.domain.course import (
    Administration,
    CourseInput,
    DecisionAction,
    DoseKind,
    Patient,
    Policy,
    evaluate,
)
from tarla.domain.errors import InvalidInput


def test_every_on_time_dose_gets_its_slot_in_sequence() -> None:
    d = decide("2027-02-01 08:00", doses(*ON_TIME))
    assert [g.slot.label for g in d.history] == ["C1D1", "C1D8", "C1D15", "C2D1", "C2D15", "C3D1"]
    assert all(g.kind is DoseKind.PLANNED for g in d.history)
    assert d.warnings == ()


def test_after_c3d1_on_january_26_the_next_dose_is_c3d15_due_february_9() -> None:
    d = decide("2027-02-01 08:00", doses(*ON_TIME))
    assert d.action is DecisionAction.WAIT
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.dose_mg, d.next_dose.due_date,
            d.next_dose.kind) == ("C3D15", 10, date(2027, 2, 9), DoseKind.PLANNED)


def test_the_dose_is_given_on_its_due_date() -> None:
    d = decide("2027-02-09 07:00", doses(*ON_TIME))
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None and d.next_dose.kind is DoseKind.PLANNED


def test_a_late_dose_moves_every_later_date() -> None:
    # C1D15 given 3 days late on 12-18: C2D1 is due 14 days after it, on 2027-01-01.
    given = doses(("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10), ("2026-12-18 09:00", 10))
    d = decide("2026-12-20 09:00", given)
    assert d.history[2].kind is DoseKind.RESTART_CONTINUE
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.due_date) == ("C2D1", date(2027, 1, 1))


@pytest.mark.parametrize("history,as_of,kind,dose,rule", [
    # last dose 1 mg on 2026-12-01 (C1D1)
    ((("2026-12-01 09:00", 1),), "2026-12-15 07:30", DoseKind.RESTART_CONTINUE, 10, "T4-1MG-LE14"),
    ((("2026-12-01 09:00", 1),), "2026-12-16 07:30", DoseKind.RESTART_STEP_UP, 1, "T4-1MG-GT14"),
    # last dose 10 mg on C1D8 2026-12-08
    ((("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10)), "2026-12-29 07:30",
     DoseKind.RESTART_CONTINUE, 10, "T4-C1D8-LE21"),
    ((("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10)), "2026-12-30 07:30",
     DoseKind.RESTART_STEP_UP, 1, "T4-C1D8-GT21"),
    # last dose 10 mg on C1D15 2026-12-15
    ((("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10), ("2026-12-15 09:00", 10)),
     "2027-01-12 07:30", DoseKind.RESTART_CONTINUE, 10, "T4-LATER-LE28"),
    ((("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10), ("2026-12-15 09:00", 10)),
     "2027-01-13 07:30", DoseKind.RESTART_STEP_UP, 1, "T4-LATER-GT28"),
    # last dose 10 mg on C3D1 2027-01-26: 28 days -> 2027-02-23, 29 -> 2027-02-24
    (ON_TIME, "2027-02-23 07:30", DoseKind.RESTART_CONTINUE, 10, "T4-LATER-LE28"),
    (ON_TIME, "2027-02-24 07:30", DoseKind.RESTART_STEP_UP, 1, "T4-LATER-GT28"),
])
def test_table_4_limits_hold_at_exactly_14_21_and_28_days(history, as_of, kind, dose,
                                                         rule) -> None:
    d = decide(as_of, doses(*history))
    assert d.action is DecisionAction.GIVE
    assert d.next_dose is not None
    assert (d.next_dose.kind, d.next_dose.dose_mg) == (kind, dose)
    assert rule in {r.rule for r in d.reasons}


def test_restart_step_up_is_due_today_and_a_continue_keeps_its_planned_date() -> None:
    step_up = decide("2026-12-16 07:30", doses(("2026-12-01 09:00", 1)))
    assert step_up.next_dose is not None and step_up.next_dose.due_date == date(2026, 12, 16)
    cont = decide("2026-12-15 07:30", doses(("2026-12-01 09:00", 1)))
    assert cont.next_dose is not None and cont.next_dose.due_date == date(2026, 12, 8)


def test_days_are_counted_on_site_local_dates_not_utc() -> None:
    # 20:00 in New York on 12-01 is already 12-02 in UTC; 15 local days later is a step-up
    # even though only 14 UTC dates separate the two instants.
    given = (Administration(datetime.fromisoformat("2026-12-01T20:00:00-05:00"), 1),)
    inp = CourseInput(datetime.fromisoformat("2026-12-16T08:00:00-05:00"),
                      ZoneInfo("America/New_York"), ADULT, given)
    d = evaluate(inp)
    assert d.next_dose is not None and d.next_dose.kind is DoseKind.RESTART_STEP_UP


def test_the_restart_step_up_gives_1_mg_then_10_mg_a_week_later_then_resumes() -> None:
    # C1D1 12-01; restart 1 mg on 12-20 (19 days); its 10 mg due 12-27; then +14 days.
    given = doses(("2026-12-01 09:00", 1), ("2026-12-20 09:00", 1))
    d = decide("2026-12-21 09:00", given)
    assert d.history[1].kind is DoseKind.RESTART_STEP_UP and d.history[1].restart_step == 1
    assert d.next_dose is not None
    assert (d.next_dose.dose_mg, d.next_dose.due_date, d.next_dose.kind) == (
        10, date(2026, 12, 27), DoseKind.RESTART_STEP_UP)
    # the 10 mg of a restart gets C1D8 care under the default site policy
    assert d.care is not None and [m.drug for m in d.care.premedication] == ["dexamethasone"]
    assert d.care.monitoring.hours_min == 22
    d2 = decide("2026-12-28 09:00", (*given, *doses(("2026-12-27 09:00", 10))))
    assert d2.next_dose is not None
    assert (d2.next_dose.due_date, d2.next_dose.kind) == (date(2027, 1, 10), DoseKind.PLANNED)
    assert d2.care is not None and d2.care.premedication == ()


def test_site_policy_off_gives_a_restart_step_up_the_care_of_its_slot() -> None:
    late = decide("2027-02-24 07:30", doses(*ON_TIME),
                  policy=Policy(restart_step_up_gets_cycle1_care=False))
    assert late.next_dose is not None and late.next_dose.slot.label == "C3D15"
    assert late.care is not None and late.care.premedication == ()
    assert (late.care.monitoring.hours_min, late.care.monitoring.hours_max) == (3, 4)
    on = decide("2027-02-24 07:30", doses(*ON_TIME))
    assert on.care is not None and on.care.monitoring.hours_min == 22
    assert "POLICY-RESTART-C1-CARE" in {r.rule for r in on.reasons}
    assert on.unverified


def test_a_10_mg_first_dose_is_real_history_flagged_against_the_step_up_rule() -> None:
    d = decide("2026-12-02 09:00", doses(("2026-12-01 09:00", 10)))
    assert [w.code for w in d.warnings] == ["DOSE_DEVIATION"]
    assert d.warnings[0].rule == "T1-C1D1"
    assert d.next_dose is not None
    assert (d.next_dose.slot.label, d.next_dose.due_date) == ("C1D8", date(2026, 12, 8))


def test_a_dose_given_before_its_interval_is_flagged() -> None:
    d = decide("2026-12-06 12:00", doses(("2026-12-01 09:00", 1), ("2026-12-05 09:00", 10)))
    assert "EARLY_DOSE" in [w.code for w in d.warnings]


@pytest.mark.parametrize("patient,code", [
    (Patient(date(2010, 1, 1), "ES-SCLC", True), "OFF_LABEL_AGE"),
    (Patient(date(1958, 4, 2), "LS-SCLC", True), "OFF_LABEL_DIAGNOSIS"),
    (Patient(date(1958, 4, 2), "ES-SCLC", False), "OFF_LABEL_NO_PLATINUM_PROGRESSION"),
    (Patient(date(1990, 4, 2), "ES-SCLC", True, pregnant=True), "PREGNANCY"),
])
def test_off_label_and_pregnancy_warn_but_do_not_block(patient: Patient, code: str) -> None:
    d = decide("2026-12-01 07:30", patient=patient)
    assert code in [w.code for w in d.warnings]
    assert d.action is DecisionAction.GIVE


def test_the_patient_turns_18_on_their_birthday() -> None:
    d = decide("2026-12-01 07:30", patient=Patient(date(2008, 12, 1), "ES-SCLC", True))
    assert d.warnings == ()
    d = decide("2026-11-30 07:30", patient=Patient(date(2008, 12, 1), "ES-SCLC", True))
    assert [w.code for w in d.warnings] == ["OFF_LABEL_AGE"]


@pytest.mark.parametrize("given,field", [
    ((Administration(datetime(2026, 12, 1, 9), 1),), "administrations[0].started_at"),
    ((Administration(at("2026-12-01 09:00"), 5),), "administrations[0].dose_mg"),
    ((Administration(at("2026-12-01 09:00"), 1), Administration(at("2026-12-30 09:00"), 10)),
     "administrations[1].started_at"),
    ((Administration(at("2026-12-01 09:00"), 1), Administration(at("2026-12-01 09:00"), 1)),
     "administrations[1].started_at"),
])
def test_bad_administrations_are_refused_naming_the_field(given, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decide("2026-12-20 09:00", given)
    assert err.value.field == field


def test_a_naive_as_of_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        evaluate(CourseInput(datetime(2026, 12, 1, 9), ZoneInfo("UTC"), ADULT))
    assert err.value.field == "as_of"


def test_every_decision_cites_rules_with_tags_and_the_label_version() -> None:
    d = decide("2026-12-15 07:30", doses(("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10)))
    assert d.label_version == "US-PI-2025-11"
    assert {r.rule for r in d.reasons} >= {"T1-C1D15", "T1-MON-C1D15", "LAB-TO-C5D15"}
    assert all(r.tag and r.text for r in d.reasons)
    assert not d.unverified  # C1D15: no UNVERIFIED rule involved
