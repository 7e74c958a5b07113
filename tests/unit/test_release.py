"""The gates of the closed loop (``tarla.domain.release``) on literal inputs.

Decisions come from the engine (``evaluate`` on a ``CourseInput`` written out by hand); bags
and clock events are written out by hand too. A New York site, December 2026 (UTC-5):
C1D1 2026-12-01, C1D8 2026-12-08, C1D15 2026-12-15 (label-facts §3). Clock limits from
label-facts §4: dilute within 4 h, 8 h at room temperature, 7 days refrigerated, the last safe
infusion start is the discard time minus the 1-hour infusion; intact cartons 24 h (§2).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tarla.domain.clock import ClockEvent, EventKind
from tarla.domain.course import (
    Administration,
    AdverseEvent,
    CourseInput,
    Decision,
    DecisionAction,
    LabResult,
    Patient,
    evaluate,
)
from tarla.domain.excursion import ExcursionEvent, ExcursionKind, evaluate_excursion
from tarla.domain.release import (
    GATE_RULES,
    Bag,
    Gate,
    Refusal,
    Release,
    ScanException,
    hold_rules,
    may_accept_kit,
    may_administer,
    may_administer_elsewhere,
    may_advance,
    may_check,
    may_print,
    may_resolve_event,
    may_start_preparation,
    next_status,
    release_gate,
)
from tarla.label.toxicity import EventType

NY = ZoneInfo("America/New_York")
ADULT = Patient(date(1958, 4, 2), "ES-SCLC", True)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY)


def panel(when: str, anc: float = 3.2) -> tuple[LabResult, ...]:
    """CBC, ALT, AST and bilirubin drawn together (the labs every dose to C5D15 needs)."""
    t = at(when)
    return (LabResult("ANC", anc, "10^9/L", t, lln=1.8),
            LabResult("platelets", 220.0, "10^9/L", t, lln=150.0),
            LabResult("hemoglobin", 13.1, "g/dL", t, lln=12.0),
            LabResult("ALT", 25.0, "U/L", t, uln=40.0),
            LabResult("AST", 22.0, "U/L", t, uln=40.0),
            LabResult("bilirubin", 0.6, "mg/dL", t, uln=1.2))


def decide(as_of: str, doses: tuple[tuple[str, int], ...] = (), *, labs=(), events=()
           ) -> Decision:
    given = tuple(Administration(at(w), mg) for w, mg in doses)
    return evaluate(CourseInput(at(as_of), NY, ADULT, given, tuple(events), tuple(labs)))


C1 = (("2026-12-01 09:00", 1), ("2026-12-08 09:00", 10))
CRS_2 = AdverseEvent(EventType.CRS, 2, at("2026-12-09 01:00"))  # ongoing
CRS_4 = AdverseEvent(EventType.CRS, 4, at("2026-12-09 01:00"), at("2026-12-10 12:00"))

#: C1D1 due today, labs drawn at 06:00: GIVE 1 mg
GIVE_C1D1 = decide("2026-12-01 09:05", labs=panel("2026-12-01 06:00"))
#: the same morning with no labs on file
NO_LABS_C1D1 = decide("2026-12-01 07:30")
#: four days after the 1 mg dose: C1D8 not due until 2026-12-08
WAIT_C1D8 = decide("2026-12-05 09:00", C1[:1], labs=panel("2026-12-05 06:00"))
#: C1D8 due today
GIVE_C1D8 = decide("2026-12-08 09:05", C1[:1], labs=panel("2026-12-08 06:00"))
#: C1D15 due, grade 2 CRS since the night after C1D8 still ongoing: HOLD
HOLD_CRS = decide("2026-12-15 07:30", C1, labs=panel("2026-12-15 06:00"), events=[CRS_2])
#: the same, and this morning's ANC is 0.4 x 10^9/L (below 0.5): a second hold reason
HOLD_CRS_ANC = decide("2026-12-15 07:30", C1, labs=panel("2026-12-15 06:00", anc=0.4),
                      events=[CRS_2])
#: the same hold, with no labs drawn since C1D8
HOLD_CRS_NO_LABS = decide("2026-12-15 07:30", C1, events=[CRS_2])
#: grade 4 CRS: permanently discontinued
STOPPED = decide("2026-12-15 07:30", C1, labs=panel("2026-12-15 06:00"), events=[CRS_4])

CRS_RELEASE = Release("C1D15", frozenset({"T5-CRS-G2"}), frozenset(),
                      "grade 2 CRS fully resolved clinically, tocilizumab given")


def refusals(gate: Gate) -> list[tuple[str, str, str]]:
    return [(r.rule, r.field, r.text) for r in gate.refusals]


def rules_refused(gate: Gate) -> list[str]:
    return [r.rule for r in gate.refusals]


# --------------------------------------------------------------------------- the decisions used


def test_the_decisions_used_below_are_what_the_engine_says() -> None:
    assert (GIVE_C1D1.action, GIVE_C1D1.next_dose.slot.label, GIVE_C1D1.next_dose.dose_mg,
            GIVE_C1D1.pending_checks) == (DecisionAction.GIVE, "C1D1", 1, ())
    assert NO_LABS_C1D1.pending_checks == ("CBC", "ALT", "AST", "bilirubin")
    assert (WAIT_C1D8.action, WAIT_C1D8.next_dose.due_date) == (DecisionAction.WAIT,
                                                                date(2026, 12, 8))
    assert (HOLD_CRS.action, HOLD_CRS.next_dose.slot.label) == (DecisionAction.HOLD, "C1D15")
    assert STOPPED.action is DecisionAction.DISCONTINUE and STOPPED.next_dose is None


def test_hold_rules_name_every_rule_holding_the_dose_and_nothing_when_it_is_given() -> None:
    assert hold_rules(HOLD_CRS) == frozenset({"T5-CRS-G2"})
    assert hold_rules(HOLD_CRS_ANC) == frozenset({"T5-CRS-G2", "T7-NEUT"})
    assert hold_rules(GIVE_C1D1) == frozenset()


def test_every_gate_rule_id_is_documented() -> None:
    assert set(GATE_RULES) == {
        "GATE-DISCONTINUED", "GATE-HOLD", "GATE-NOT-DUE", "GATE-LABS-MISSING", "GATE-DOSE",
        "GATE-BAG-REQUIRED", "GATE-BAG-PATIENT", "GATE-BAG-DOSE", "GATE-BAG-CHECKED",
        "GATE-BAG-STATE", "GATE-BAG-CLOCK", "GATE-ID-WRISTBAND", "GATE-ID-BAG",
        "GATE-ID-EXCEPTION", "GATE-PREP-EVENT", "GATE-PREP-TIME", "GATE-PREP-SCAN",
        "GATE-PREP-STEPS", "GATE-PREP-CLOCK", "GATE-PREP-HANG", "GATE-CHECK-FOUR-EYES",
        "GATE-CHECK-ONCE", "GATE-CHECK-STATE", "GATE-KIT-ONCE", "GATE-KIT-EXCURSION",
        "GATE-RESOLVE", "GATE-PRINT"}


def test_a_gate_message_lists_each_refusal_with_its_rule() -> None:
    gate = Gate((Refusal("GATE-DOSE", "dose_mg", "wrong dose"),
                 Refusal("GATE-BAG-STATE", "bag_scan", "in the fridge")), ("GATE-DOSE",))
    assert not gate.allowed
    assert gate.message == "wrong dose [GATE-DOSE]; in the fridge [GATE-BAG-STATE]"
    assert Gate((), ()).allowed


# --------------------------------------------------------------------------- may it be prepared


def test_a_due_dose_with_its_labs_on_file_may_be_prepared_and_names_its_rows() -> None:
    gate = may_start_preparation(GIVE_C1D1, ())
    assert gate.allowed
    assert {"T1-C1D1", "LAB-TO-C5D15"} <= set(gate.rules)


def test_missing_labs_stop_the_preparation_until_recorded_or_released() -> None:
    gate = may_start_preparation(NO_LABS_C1D1, ())
    assert refusals(gate) == [(
        "GATE-LABS-MISSING", "labs", "labs required before C1D1 are missing (ALT, AST, CBC, "
        "bilirubin): record them, or a physician releases the dose with a reason, before it "
        "is prepared")]
    released = Release("C1D1", frozenset(), frozenset({"CBC", "ALT", "AST", "bilirubin"}),
                       "labs drawn, lab system down; physician reviewed point-of-care CBC")
    assert may_start_preparation(NO_LABS_C1D1, (released,)).allowed
    part = replace(released, covers_labs=frozenset({"CBC"}))
    assert rules_refused(may_start_preparation(NO_LABS_C1D1, (part,))) == ["GATE-LABS-MISSING"]


def test_a_dose_not_yet_due_is_never_prepared_and_no_release_changes_that() -> None:
    expected = [("GATE-NOT-DUE", "decision", "C1D8 is not due until 2026-12-08: it may not be "
                 "prepared before then")]
    assert refusals(may_start_preparation(WAIT_C1D8, ())) == expected
    anything = Release("C1D8", frozenset({"T5-CRS-G2"}), frozenset({"CBC"}), "x" * 20)
    assert refusals(may_start_preparation(WAIT_C1D8, (anything,))) == expected


def test_a_held_dose_is_prepared_only_under_a_release_naming_every_hold_rule() -> None:
    assert refusals(may_start_preparation(HOLD_CRS, ())) == [(
        "GATE-HOLD", "decision", "the dose is on HOLD (T5-CRS-G2): it may not be prepared "
        "unless a physician releases it with a reason for today")]
    gate = may_start_preparation(HOLD_CRS, (CRS_RELEASE,))
    assert gate.allowed and "T5-CRS-G2" in gate.rules


def test_a_release_of_the_crs_hold_does_not_cover_a_new_anc_hold_the_same_day() -> None:
    gate = may_start_preparation(HOLD_CRS_ANC, (CRS_RELEASE,))
    assert refusals(gate) == [(
        "GATE-HOLD", "decision", "the dose is on HOLD (T5-CRS-G2, T7-NEUT): it may not be "
        "prepared unless a physician releases it with a reason for today; today's release does "
        "not cover T7-NEUT (a new hold reason needs a new release)")]
    both = Release("C1D15", frozenset({"T5-CRS-G2", "T7-NEUT"}), frozenset(), "x" * 20)
    assert may_start_preparation(HOLD_CRS_ANC, (CRS_RELEASE, both)).allowed


def test_a_release_covers_only_its_own_slot_and_not_the_missing_labs_it_did_not_name() -> None:
    other_slot = replace(CRS_RELEASE, slot="C1D8")
    assert rules_refused(may_start_preparation(HOLD_CRS, (other_slot,))) == ["GATE-HOLD"]
    assert rules_refused(may_start_preparation(HOLD_CRS_NO_LABS, (CRS_RELEASE,))) == [
        "GATE-LABS-MISSING"]


def test_a_discontinued_course_gets_no_dose_whatever_is_released() -> None:
    gate = release_gate(STOPPED, (CRS_RELEASE,), "prepared")
    assert refusals(gate) == [("GATE-DISCONTINUED", "decision", "the course is permanently "
                               "discontinued: no dose may be prepared")]
    assert "T5-CRS-G4" in gate.rules


# --------------------------------------------------------------------------- may it be given

CHECKED_1MG = Bag(
    preparation_id=7, course_id=1, dose_mg=1, slot="C1D1", status="checked", prepared_by=11,
    checked_by=12, created_at=at("2026-12-01 07:35"),
    events=(ClockEvent(EventKind.RECONSTITUTED, at("2026-12-01 07:40")),
            ClockEvent(EventKind.BAG_PREPARED, at("2026-12-01 08:00"))),
    compounded_by=frozenset({11}))
GOOD_EXCEPTION = ScanException("wristband printer down; identity confirmed verbally", True)


def chart(decision: Decision = GIVE_C1D1, *, bag: Bag | None = CHECKED_1MG,
          started: str = "2026-12-01 09:00", now: str = "2026-12-01 09:05",
          patient_scan: str | None = "MRN1", bag_scan: str | None = "PREP-7",
          dose_mg: int | None = None, releases: tuple[Release, ...] = (),
          exception: ScanException | None = None) -> Gate:
    return may_administer(decision=decision, releases=releases, course_id=1, dose_mg=dose_mg,
                          started_at=at(started), now=at(now), zone=NY, bag=bag,
                          patient_scan=patient_scan, bag_scan=bag_scan, mrn="MRN1",
                          patient_name="Doe, Jane", exception=exception)


def test_the_right_checked_bag_for_the_due_dose_with_both_scans_may_be_hung() -> None:
    gate = chart()
    assert gate.allowed
    assert {"GATE-DOSE", "T1-C1D1", "GATE-BAG-PATIENT", "GATE-BAG-DOSE", "GATE-BAG-CHECKED",
            "GATE-BAG-STATE", "GATE-BAG-CLOCK"} <= set(gate.rules)


def test_the_dose_cross_check_refuses_10_mg_where_1_mg_is_due() -> None:
    assert refusals(chart(dose_mg=10)) == [("GATE-DOSE", "dose_mg", "10 mg is not the dose "
                                            "due: the engine's next dose is C1D1 1 mg")]
    assert chart(dose_mg=1).allowed


def test_a_checked_10_mg_bag_is_not_the_1_mg_step_up_dose() -> None:
    ten = replace(CHECKED_1MG, dose_mg=10, slot="C1D8")
    assert refusals(chart(bag=ten)) == [("GATE-BAG-DOSE", "bag_scan", "bag PREP-7 holds 10 mg "
                                         "for C1D8; the dose due is C1D1 1 mg")]
    same_slot = replace(CHECKED_1MG, dose_mg=10)
    assert rules_refused(chart(bag=same_slot)) == ["GATE-BAG-DOSE"]


def test_another_patients_bag_is_a_hard_stop() -> None:
    theirs = replace(CHECKED_1MG, course_id=2)
    assert refusals(chart(bag=theirs)) == [("GATE-BAG-PATIENT", "bag_scan", "bag PREP-7 was "
                                            "prepared for another patient's course: STOP, do "
                                            "not hang it")]


@pytest.mark.parametrize("bag,expected", [
    (replace(CHECKED_1MG, status="prepared", checked_by=None),
     [("GATE-BAG-CHECKED", "bag_scan", "bag PREP-7 has not been checked by a second "
       "pharmacist"), ("GATE-BAG-STATE", "bag_scan", "bag PREP-7 is prepared: it cannot be "
                       "hung")]),
    (replace(CHECKED_1MG, checked_by=11),
     [("GATE-BAG-CHECKED", "bag_scan", "bag PREP-7 has not been checked by a second "
       "pharmacist")]),
    (replace(CHECKED_1MG, status="stored"),
     [("GATE-BAG-STATE", "bag_scan", "bag PREP-7 is in the refrigerator: record it taken out "
       "(it must reach room temperature) before hanging it")]),
    (replace(CHECKED_1MG, status="in_use"),
     [("GATE-BAG-STATE", "bag_scan", "bag PREP-7 is in use: it cannot be hung")]),
    (replace(CHECKED_1MG, status="discarded"),
     [("GATE-BAG-STATE", "bag_scan", "bag PREP-7 is discarded: it cannot be hung")]),
], ids=["unchecked", "checked-by-its-preparer", "in-the-fridge", "already-hung", "discarded"])
def test_only_a_checked_bag_out_of_the_refrigerator_is_hung(bag: Bag, expected) -> None:
    assert refusals(chart(bag=bag)) == expected


def test_a_dose_with_no_bag_at_all_is_refused_even_under_a_documented_exception() -> None:
    gate = chart(bag=None, bag_scan=None, exception=GOOD_EXCEPTION)
    assert refusals(gate) == [("GATE-BAG-REQUIRED", "bag_scan", "no bag: scan the bag's label "
                               "(every dose is given from a prepared, checked bag)")]
    unknown = chart(bag=None, bag_scan="XYZ-1")
    assert refusals(unknown) == [("GATE-BAG-REQUIRED", "bag_scan", "'XYZ-1' is not the label "
                                  "of a bag prepared here: STOP, do not hang it")]


def test_the_wrong_wristband_is_a_hard_stop_naming_the_patient() -> None:
    assert refusals(chart(patient_scan="MRN2")) == [(
        "GATE-ID-WRISTBAND", "patient_scan", "wristband MRN MRN2 is not this patient (MRN MRN1, "
        "Doe, Jane)")]


def test_a_bag_label_of_another_preparation_is_not_this_bag() -> None:
    gate = chart(bag_scan="PREP-8")  # the bag judged is PREP-7, the label says PREP-8
    assert refusals(gate) == [("GATE-ID-BAG", "bag_scan", "bag label PREP-8 is not the bag "
                               "prepared for this dose (PREP-7)")]


@pytest.mark.parametrize("patient_scan,bag_scan,exception,expected", [
    (None, None, None,
     [("GATE-ID-EXCEPTION", "patient_scan", "scan the wristband and the bag label (charting "
       "without the scans needs a documented reason and a second nurse's confirmation)")]),
    ("MRN1", None, None,
     [("GATE-ID-EXCEPTION", "bag_scan", "scan the bag label (charting without the scans needs "
       "a documented reason and a second nurse's confirmation)")]),
    (None, None, ScanException("broken", True),
     [("GATE-ID-EXCEPTION", "scan_exception.reason", "write why the scans cannot be done (10 "
       "characters or more)")]),
    (None, None, ScanException("   too short   ", True),
     [("GATE-ID-EXCEPTION", "scan_exception.reason", "write why the scans cannot be done (10 "
       "characters or more)")]),
    (None, None, replace(GOOD_EXCEPTION, witness_is_other_nurse=False),
     [("GATE-ID-EXCEPTION", "scan_exception.witness", "a second nurse (not the one charting) "
       "must confirm the exception")]),
    ("MRN2", None, GOOD_EXCEPTION,
     [("GATE-ID-WRISTBAND", "patient_scan", "wristband MRN MRN2 is not this patient (MRN MRN1, "
       "Doe, Jane)")]),
], ids=["no-scans", "no-bag-scan", "short-reason", "blank-padded-reason", "no-second-nurse",
        "wrong-wristband-under-exception"])
def test_charting_without_the_scans_needs_a_reason_and_a_second_nurse(
        patient_scan, bag_scan, exception, expected) -> None:
    assert refusals(chart(patient_scan=patient_scan, bag_scan=bag_scan,
                          exception=exception)) == expected


def test_a_documented_exception_confirmed_by_a_second_nurse_lets_the_bag_be_hung() -> None:
    gate = chart(patient_scan=None, bag_scan=None, exception=GOOD_EXCEPTION)
    assert gate.allowed and "GATE-ID-EXCEPTION" in gate.rules


def test_a_held_dose_is_recorded_only_under_a_release() -> None:
    bag = replace(CHECKED_1MG, dose_mg=10, slot="C1D15", created_at=at("2026-12-15 07:35"),
                  events=(ClockEvent(EventKind.RECONSTITUTED, at("2026-12-15 07:40")),
                          ClockEvent(EventKind.BAG_PREPARED, at("2026-12-15 08:00"))))
    held = chart(HOLD_CRS, bag=bag, started="2026-12-15 09:00", now="2026-12-15 09:05")
    assert refusals(held) == [("GATE-HOLD", "decision", "the dose is on HOLD (T5-CRS-G2): it "
                               "may not be recorded as given unless a physician releases it "
                               "with a reason for today")]
    assert chart(HOLD_CRS, bag=bag, started="2026-12-15 09:00", now="2026-12-15 09:05",
                 releases=(CRS_RELEASE,)).allowed
    anc = chart(HOLD_CRS_ANC, bag=bag, started="2026-12-15 09:00", now="2026-12-15 09:05",
                releases=(CRS_RELEASE,))
    assert rules_refused(anc) == ["GATE-HOLD"]


def test_a_dose_started_the_day_before_it_is_due_is_refused() -> None:
    bag = replace(CHECKED_1MG, dose_mg=10, slot="C1D8", created_at=at("2026-12-07 22:00"),
                  events=(ClockEvent(EventKind.RECONSTITUTED, at("2026-12-07 22:05")),
                          ClockEvent(EventKind.BAG_PREPARED, at("2026-12-07 22:25"))))
    gate = chart(GIVE_C1D8, bag=bag, started="2026-12-07 23:30")
    assert refusals(gate) == [("GATE-NOT-DUE", "started_at", "C1D8 is due on 2026-12-08: a dose "
                               "started 2026-12-07 would come inside the interval after the "
                               "previous dose")]


def test_an_infusion_cannot_start_before_the_bags_last_clock_event() -> None:
    assert refusals(chart(started="2026-12-01 07:59")) == [(
        "GATE-PREP-TIME", "started_at", "the infusion cannot start before the bag's last clock "
        "event")]


EARLY_BAG = replace(CHECKED_1MG, created_at=at("2026-12-01 00:00"),
                    events=(ClockEvent(EventKind.RECONSTITUTED, at("2026-12-01 00:00")),
                            ClockEvent(EventKind.BAG_PREPARED, at("2026-12-01 00:30"))))


def test_a_bag_past_its_8_hours_at_room_temperature_is_not_hung() -> None:
    # reconstituted 00:00 and never refrigerated: discard at 08:00
    gate = chart(bag=EARLY_BAG, started="2026-12-01 08:30", now="2026-12-01 08:35")
    assert refusals(gate) == [("GATE-BAG-CLOCK", "bag_scan", "the bag's in-use clock is in "
                               "violation (infusion started at or after the discard time): it "
                               "may not be hung")]
    assert "PREP-INFUSE-WITHIN-8H" in gate.rules


def test_a_bag_is_hung_no_later_than_its_discard_time_minus_the_1_hour_infusion() -> None:
    # discard at 08:00, so the last safe start is 07:00 (the infusion ends at 08:00)
    assert chart(bag=EARLY_BAG, started="2026-12-01 07:00", now="2026-12-01 07:00").allowed
    late = chart(bag=EARLY_BAG, started="2026-12-01 07:30", now="2026-12-01 07:30")
    assert refusals(late) == [("GATE-BAG-CLOCK", "bag_scan", "the infusion (60 min) would end "
                               "after the bag's discard time (2026-12-01 08:00): the last safe "
                               "start was 2026-12-01 07:00, so it may not be hung")]
    assert "PREP-LATEST-START" in late.rules


def test_a_timely_infusion_charted_at_the_end_of_the_shift_is_accepted() -> None:
    # reconstituted 07:40 (discard 15:40); hung at 09:00, charted at 17:30
    assert chart(started="2026-12-01 09:00", now="2026-12-01 17:30").allowed


def test_a_re_refrigerated_bag_is_in_violation_and_is_not_hung() -> None:
    bag = replace(CHECKED_1MG, events=(
        ClockEvent(EventKind.RECONSTITUTED, at("2026-12-01 07:00")),
        ClockEvent(EventKind.BAG_PREPARED, at("2026-12-01 07:20")),
        ClockEvent(EventKind.REFRIGERATED, at("2026-12-01 07:30")),
        ClockEvent(EventKind.REMOVED_FROM_REFRIGERATOR, at("2026-12-01 08:00")),
        ClockEvent(EventKind.REFRIGERATED, at("2026-12-01 08:10")),
        ClockEvent(EventKind.REMOVED_FROM_REFRIGERATOR, at("2026-12-01 08:40"))))
    gate = chart(bag=bag)
    assert refusals(gate) == [(
        "GATE-BAG-CLOCK", "bag_scan", "the bag's in-use clock is in violation (the bag was put "
        "back into the refrigerator after being taken out: do not re-refrigerate (this time "
        "counts as room temperature)): it may not be hung")]
    assert "PREP-NO-RE-REFRIGERATION" in gate.rules


# --------------------------------------------------------------------------- doses given elsewhere


def test_a_dose_given_elsewhere_is_judged_as_of_its_start() -> None:
    first = decide("2026-11-24 09:00")  # nothing given yet: C1D1 1 mg is due that day
    assert may_administer_elsewhere(decision=first, dose_mg=1, started_at=at("2026-11-24 09:00"),
                                    zone=NY).allowed
    assert refusals(may_administer_elsewhere(
        decision=first, dose_mg=10, started_at=at("2026-11-24 09:00"), zone=NY)) == [(
            "GATE-DOSE", "dose_mg", "10 mg is not the dose that was due: the engine's next dose "
            "was C1D1 1 mg")]
    early = decide("2026-11-28 09:00", (("2026-11-24 09:00", 1),))
    assert refusals(may_administer_elsewhere(
        decision=early, dose_mg=10, started_at=at("2026-11-28 09:00"), zone=NY)) == [(
            "GATE-NOT-DUE", "started_at", "C1D8 was not due until 2026-12-01")]


def test_a_dose_given_elsewhere_during_a_hold_or_after_a_discontinuation_is_refused() -> None:
    assert refusals(may_administer_elsewhere(
        decision=HOLD_CRS, dose_mg=10, started_at=at("2026-12-15 07:30"), zone=NY)) == [(
            "GATE-HOLD", "started_at", "the dose was on HOLD then (T5-CRS-G2)")]
    assert refusals(may_administer_elsewhere(
        decision=STOPPED, dose_mg=10, started_at=at("2026-12-15 07:30"), zone=NY)) == [(
            "GATE-DISCONTINUED", "started_at", "the course was permanently discontinued by then")]


# --------------------------------------------------------------------------- the bench clock

ORDERED = Bag(7, 1, 1, "C1D1", "ordered", 11, None, (), at("2026-12-01 07:35"))
RECON = ClockEvent(EventKind.RECONSTITUTED, at("2026-12-01 07:40"))
PREPARED = replace(ORDERED, status="prepared",
                   events=(RECON, ClockEvent(EventKind.BAG_PREPARED, at("2026-12-01 08:00"))))


def advance(bag: Bag, event: str, when: str, *, now: str | None = None,
            scanned: str | None = "2026-12-01 07:37", missing: tuple[str, ...] = (),
            via_administration: bool = False) -> Gate:
    return may_advance(bag=bag, event=event, at=at(when), now=at(now or when), zone=NY,
                       drug_scan_accepted_at=at(scanned) if scanned else None,
                       missing_steps=missing, via_administration=via_administration)


@pytest.mark.parametrize("status,event,checked,to", [
    ("ordered", "reconstituted", False, "in_preparation"),
    ("in_preparation", "bag_prepared", False, "prepared"),
    ("prepared", "refrigerated", False, "stored"),
    ("checked", "refrigerated", True, "stored"),
    ("stored", "removed_from_refrigerator", False, "prepared"),
    ("stored", "removed_from_refrigerator", True, "checked"),
    ("checked", "infusion_started", True, "in_use"),
    ("in_use", "infusion_completed", True, "administered"),
    ("stored", "discarded", True, "discarded"),
    ("prepared", "infusion_started", False, None),
    ("stored", "refrigerated", True, None),
    ("ordered", "bag_prepared", False, None),
    ("administered", "discarded", True, None),
])
def test_each_event_leads_from_the_statuses_it_may_follow(status, event, checked, to) -> None:
    assert next_status(status, event, checked) == to


def test_reconstitution_needs_the_accepted_drug_scan_and_the_water_step() -> None:
    assert advance(ORDERED, "reconstituted", "2026-12-01 07:40").allowed
    assert refusals(advance(ORDERED, "reconstituted", "2026-12-01 07:40", scanned=None)) == [(
        "GATE-PREP-SCAN", "scan", "scan the drug vial first: it must be accepted for the "
        "ordered 1 mg dose before reconstitution")]
    assert refusals(advance(ORDERED, "reconstituted", "2026-12-01 07:40",
                            scanned="2026-12-01 07:45")) == [(
        "GATE-PREP-TIME", "at", "reconstitution cannot be dated before the accepted drug-vial "
        "scan")]
    assert refusals(advance(ORDERED, "reconstituted", "2026-12-01 07:40",
                            missing=("water_added",))) == [(
        "GATE-PREP-STEPS", "step", "confirm the bench steps first: water_added")]


def test_clock_events_are_not_dated_before_the_preparation_or_the_previous_event() -> None:
    assert advance(ORDERED, "reconstituted", "2026-12-01 07:36",
                   scanned="2026-12-01 07:30").allowed  # the preparation was started at 07:35
    assert refusals(advance(ORDERED, "reconstituted", "2026-12-01 07:30",
                            scanned="2026-12-01 07:20")) == [(
        "GATE-PREP-TIME", "at", "2026-12-01 07:30 is before the preparation was started")]
    assert refusals(advance(PREPARED, "refrigerated", "2026-12-01 07:50")) == [(
        "GATE-PREP-TIME", "at", "is before the previous event (bag_prepared)")]


def test_the_bench_never_hangs_a_bag() -> None:
    checked = replace(PREPARED, status="checked", checked_by=12)
    assert refusals(advance(checked, "infusion_started", "2026-12-01 09:00")) == [(
        "GATE-PREP-HANG", "event", "a bag is hung by charting the dose at the bedside (scan the "
        "wristband and the bag): that records the infusion start")]
    assert advance(checked, "infusion_started", "2026-12-01 09:00",
                   via_administration=True).allowed


def test_an_event_out_of_order_is_refused() -> None:
    assert refusals(advance(ORDERED, "bag_prepared", "2026-12-01 07:50")) == [(
        "GATE-PREP-EVENT", "event", "bag_prepared cannot follow status ordered")]
    assert refusals(advance(PREPARED, "infusion_started", "2026-12-01 09:00",
                            via_administration=True)) == [(
        "GATE-PREP-EVENT", "event", "infusion_started cannot follow status prepared (a second "
        "pharmacist must check the bag first)")]


def test_a_bag_diluted_more_than_4_hours_after_reconstitution_is_refused() -> None:
    vial = replace(ORDERED, status="in_preparation", events=(RECON,))
    assert advance(vial, "bag_prepared", "2026-12-01 11:40").allowed  # exactly 4 h: in time
    gate = advance(vial, "bag_prepared", "2026-12-01 11:41")
    assert refusals(gate) == [(
        "GATE-PREP-CLOCK", "event", "the bag's in-use clock is in violation (diluted 4 h 01 min "
        "after reconstitution: the vial had to be diluted within 4 h, or discarded): it may not "
        "be bag prepared")]
    assert "PREP-DILUTE-4H" in gate.rules


def test_a_bag_taken_out_of_the_refrigerator_is_never_refrigerated_again() -> None:
    out = replace(PREPARED, events=(
        *PREPARED.events, ClockEvent(EventKind.REFRIGERATED, at("2026-12-01 08:10")),
        ClockEvent(EventKind.REMOVED_FROM_REFRIGERATOR, at("2026-12-02 08:00"))))
    gate = advance(out, "refrigerated", "2026-12-02 08:30")
    assert refusals(gate) == [(
        "GATE-PREP-CLOCK", "event", "the bag's in-use clock is in violation (the bag was put "
        "back into the refrigerator after being taken out: do not re-refrigerate (this time "
        "counts as room temperature)): it may not be refrigerated")]
    assert "PREP-NO-RE-REFRIGERATION" in gate.rules


def test_an_expired_bag_is_not_refrigerated() -> None:
    bag = replace(EARLY_BAG, status="prepared", checked_by=None)
    assert refusals(advance(bag, "refrigerated", "2026-12-01 08:30")) == [(
        "GATE-PREP-CLOCK", "event", "the bag is past its discard time (2026-12-01 08:00): it "
        "may not be refrigerated")]
    assert advance(bag, "refrigerated", "2026-12-01 07:59").allowed


# --------------------------------------------------------------------------- the check


def test_the_independent_check_is_by_a_pharmacist_who_neither_started_nor_compounded() -> None:
    bag = replace(PREPARED, compounded_by=frozenset({11, 13}))
    assert may_check(bag=bag, checker_id=12, now=at("2026-12-01 08:10"), zone=NY).allowed
    four_eyes = [("GATE-CHECK-FOUR-EYES", "checked_by", "the independent check must be done by "
                  "a pharmacist who neither started nor compounded this bag")]
    for who in (11, 13):
        assert refusals(may_check(bag=bag, checker_id=who, now=at("2026-12-01 08:10"),
                                  zone=NY)) == four_eyes


def test_a_bag_is_checked_once_and_only_when_prepared() -> None:
    checked = replace(PREPARED, status="checked", checked_by=12)
    assert refusals(may_check(bag=checked, checker_id=14, now=at("2026-12-01 08:10"),
                              zone=NY)) == [
        ("GATE-CHECK-ONCE", "preparation_id", "bag PREP-7 is already checked"),
        ("GATE-CHECK-STATE", "preparation_id", "bag PREP-7 is checked: only a prepared bag can "
         "be checked")]
    assert rules_refused(may_check(bag=ORDERED, checker_id=12, now=at("2026-12-01 08:10"),
                                   zone=NY)) == ["GATE-CHECK-STATE"]
    stored = replace(PREPARED, status="stored", events=(
        *PREPARED.events, ClockEvent(EventKind.REFRIGERATED, at("2026-12-01 08:05"))))
    assert may_check(bag=stored, checker_id=12, now=at("2026-12-03 08:00"), zone=NY).allowed


def test_a_bag_past_its_discard_time_is_not_checked() -> None:
    bag = replace(EARLY_BAG, status="prepared", checked_by=None)
    assert refusals(may_check(bag=bag, checker_id=12, now=at("2026-12-01 08:10"),
                              zone=NY)) == [
        ("GATE-PREP-CLOCK", "preparation_id", "the bag is past its discard time (2026-12-01 "
         "08:00): it may not be checked")]


# --------------------------------------------------------------------------- kits and events


def test_a_kit_serial_fills_one_bag() -> None:
    assert refusals(may_accept_kit(consumed_by=[3, 7], preparation_id=7, excursion=None)) == [
        ("GATE-KIT-ONCE", "scan", "this kit serial was already used for preparation PREP-3: a "
         "kit fills one bag")]
    assert may_accept_kit(consumed_by=[7, 7], preparation_id=7, excursion=None).allowed
    assert may_accept_kit(consumed_by=[], preparation_id=7, excursion=None).allowed


def _carton(*stretches: tuple[str, str]) -> list[ExcursionEvent]:
    out = []
    for start, end in stretches:
        out += [ExcursionEvent(ExcursionKind.OUT_OF_REFRIGERATOR, at(start)),
                ExcursionEvent(ExcursionKind.INTO_REFRIGERATOR, at(end))]
    return out


def test_a_kit_whose_excursions_add_up_past_24_hours_is_refused() -> None:
    now = at("2026-12-01 07:00")
    # 22 h + 3 h = 25 h out of the refrigerator in two stretches
    spoilt = evaluate_excursion(_carton(("2026-11-28 08:00", "2026-11-29 06:00"),
                                        ("2026-11-30 08:00", "2026-11-30 11:00")), now, NY)
    gate = may_accept_kit(consumed_by=[], preparation_id=7, excursion=spoilt)
    assert refusals(gate) == [("GATE-KIT-EXCURSION", "scan", "this kit must be discarded (1 day, "
                               "1:00:00 at room temperature: more than 24 h)")]
    assert {"S-INTACT", "PREP-INTACT-CUMULATIVE"} <= set(gate.rules)
    # 22 h + 2 h = exactly 24 h: still within "up to 24 hours"
    limit = evaluate_excursion(_carton(("2026-11-28 08:00", "2026-11-29 06:00"),
                                       ("2026-11-30 08:00", "2026-11-30 10:00")), now, NY)
    assert may_accept_kit(consumed_by=[], preparation_id=7, excursion=limit).allowed


def test_only_a_physician_ends_an_event_that_holds_a_dose() -> None:
    assert refusals(may_resolve_event(actor_is_physician=False, event_holds=True)) == [
        ("GATE-RESOLVE", "actor", "only a physician ends an event that holds a dose; the "
         "nurse's entry waits for a physician's confirmation")]
    assert may_resolve_event(actor_is_physician=True, event_holds=True).allowed
    assert may_resolve_event(actor_is_physician=False, event_holds=False).allowed


def test_timestamps_in_this_file_are_new_york_winter_time() -> None:
    assert at("2026-12-01 09:00").utcoffset() == timedelta(hours=-5)


def test_a_kit_used_at_another_site_is_refused_without_naming_that_sites_preparation() -> None:
    gate = may_accept_kit(consumed_by=[0], preparation_id=5, excursion=None)
    assert refusals(gate) == [("GATE-KIT-ONCE", "scan", "this kit serial was already used for "
                                                       "another preparation: a kit fills one bag")]


def test_nothing_is_printed_before_reconstitution_and_a_label_only_for_a_usable_prepared_bag(
        ) -> None:
    assert refusals(may_print(bag=ORDERED, kind="worksheet", now=at("2026-12-01 07:40"),
                              zone=NY)) == [
        ("GATE-PRINT", "preparation_id", "nothing to print before the vial is reconstituted "
                                         "(the clock starts then)")]
    assert may_print(bag=PREPARED, kind="label", now=at("2026-12-01 08:10"), zone=NY).allowed
    # 8 h of room temperature from the 07:40 reconstitution ran out at 15:40 (label-facts §4)
    late = refusals(may_print(bag=PREPARED, kind="label", now=at("2026-12-01 15:41"), zone=NY))
    assert late == [("GATE-PRINT", "preparation_id",
                     "no bag label: the preparation is not usable (clock expired, bag)")]
    assert may_print(bag=PREPARED, kind="worksheet", now=at("2026-12-01 15:41"), zone=NY).allowed
