"""The lean course engine decides exactly as a plain reference does (issue 14).

``engine_reference.evaluate_reference`` computes from the label rows without the engine's
shortcuts (every instant by ``timestamp()``, no inlined step, no lazy text, no memo). Hypothesis
draws histories around DST transitions (wall times in the fall-back fold and the spring-forward
gap), doses recorded in other zones, late doses and restarts, wrong doses, events and labs; the
two must give equal decisions (action, next dose, care, reasons with rule ids and texts,
warnings, pending checks, history, lab grades) or refuse with the same field and message.
Resuming from a stored dose (``CourseInput.prior`` + the doses since) must give the same
decision as the full history.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from course_builders import ADULT
from engine_reference import derive, evaluate_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tarla.domain.care import _care_for, care_for
from tarla.domain.course import (
    Administration,
    AdverseEvent,
    CourseInput,
    Decision,
    LabResult,
    Patient,
    Policy,
    eligibility_warnings,
    evaluate,
    resume_point,
)
from tarla.domain.errors import InvalidInput
from tarla.label.rules import BUILTIN_RULES
from tarla.label.toxicity import EventType

NY = ZoneInfo("America/New_York")
SITES = ("America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Chicago")
#: Zones a dose may be recorded in besides the site's (UTC from a database, a fixed offset
#: from an interface, another region's zone).
ELSEWHERE = (UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)),
             ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles"))
#: The 2026 DST changes of the site zones (US 8 Mar / 1 Nov, EU 29 Mar / 25 Oct, Lord Howe
#: 5 Apr / 4 Oct), so that histories start on or cross them.
DST_DAYS = (date(2026, 3, 8), date(2026, 11, 1), date(2026, 3, 29), date(2026, 10, 25),
            date(2026, 4, 5), date(2026, 10, 4))
#: Wall times, including the repeated hour of a fall-back night (01:15-01:45, fold 0 and 1)
#: and the spring-forward gap (02:30 does not exist in the US and EU on those nights).
WALL_TIMES = (time(0, 30), time(1, 15, fold=1), time(1, 30), time(1, 30, fold=1), time(1, 45),
              time(2, 30), time(3, 10), time(9, 0), time(13, 15), time(23, 30))
#: Each site zone's 2026 fall-back night (a repeated hour) and spring-forward night (a gap).
FALL_BACK = {"America/New_York": date(2026, 11, 1), "America/Chicago": date(2026, 11, 1),
             "Europe/London": date(2026, 10, 25), "Australia/Lord_Howe": date(2026, 4, 5)}
SPRING_FORWARD = {"America/New_York": date(2026, 3, 8), "America/Chicago": date(2026, 3, 8),
                  "Europe/London": date(2026, 3, 29), "Australia/Lord_Howe": date(2026, 10, 4)}
#: Wall times of such a night, in and around the repeated hour (Lord Howe repeats only
#: 01:30-02:00) or the gap, for the two doses the night's history starts with.
NIGHT_TIMES = (time(0, 50), time(1, 15, fold=1), time(1, 30, fold=1), time(1, 40), time(1, 45),
               time(1, 50, fold=1), time(2, 10), time(2, 30), time(3, 10))
GAPS = (0, 1, 2, 6, 7, 8, 13, 14, 15, 20, 21, 22, 28, 29, 35, 60)
LAB_KINDS = (("ANC", "10*9/L", (0.2, 0.4, 0.6, 1.2, 3.0), {"lln": 1.8}),
             ("ANC", "10*9/L", (0.4, 2.0), {}),
             ("platelets", "10*9/L", (20, 40, 60, 120, 300), {"lln": 150}),
             ("hemoglobin", "g/dL", (7.0, 9.5, 13.0), {"lln": 12.0}),
             ("ALT", "U/L", (30, 130, 250, 900), {"uln": 40}),
             ("AST", "U/L", (30, 130, 250), {"uln": 40}),
             ("bilirubin", "mg/dL", (0.8, 2.0, 4.0, 12.0), {"uln": 1.2}),
             ("CRP", "mg/L", (5.0,), {}))


@st.composite
def course_inputs(draw: st.DrawFn) -> CourseInput:
    site_name = draw(st.sampled_from(SITES))
    site = ZoneInfo(site_name)
    night = draw(st.sampled_from(("fold", "gap", None, None)))
    if night is None:
        day = draw(st.sampled_from(DST_DAYS)) + timedelta(days=draw(st.sampled_from(
            (0, 0, 0, -7, -1, 1, 7))))
    else:  # the history starts with two doses on that night, minutes apart
        day = (FALL_BACK if night == "fold" else SPRING_FORWARD)[site_name]
    mixed = draw(st.booleans())
    # One input in ten carries one invalid value somewhere (both engines must refuse alike).
    broken = draw(st.sampled_from((None, "dose", "ended", "naive", None, None, None, None, None,
                                   None, None, None)))
    given: list[Administration] = []
    for i in range(draw(st.integers(0, 10))):
        if i and not (night and i == 1):
            day += timedelta(days=draw(st.sampled_from(GAPS)))
        times = NIGHT_TIMES if night and i < 2 else WALL_TIMES
        started = datetime.combine(day, draw(st.sampled_from(times)), tzinfo=site)
        if mixed and draw(st.booleans()):
            started = started.astimezone(draw(st.sampled_from(ELSEWHERE)))
        dose = draw(st.sampled_from((1, 10, 10, 10, 10, 10, 10, 10, 10)))
        ended = draw(st.sampled_from((None, started + timedelta(hours=1))))
        given.append(Administration(started, dose, ended))
    if broken and given:
        i = draw(st.integers(0, len(given) - 1))
        started = given[i].started_at
        given[i] = dataclasses.replace(given[i], **{
            "dose": {"dose_mg": 5}, "naive": {"started_at": started.replace(tzinfo=None)},
            "ended": {"ended_at": started - timedelta(minutes=1)}}[broken])
    as_of = datetime.combine(day + timedelta(days=draw(st.sampled_from((0, 1, 7, 14, 15, 22)))),
                             draw(st.sampled_from(WALL_TIMES)), tzinfo=site)
    anchors = [a.started_at for a in given] + [as_of]
    events = []
    for _ in range(draw(st.integers(0, 2))):
        onset = draw(st.sampled_from(anchors)) + timedelta(hours=draw(st.sampled_from((-30, 6))))
        resolved = draw(st.sampled_from((None, onset + timedelta(days=2), as_of)))
        events.append(AdverseEvent(draw(st.sampled_from(list(EventType))),
                                   draw(st.integers(1, 4)), onset, resolved))
    labs = []
    for _ in range(draw(st.integers(0, 5))):
        test, unit, values, limits = draw(st.sampled_from(LAB_KINDS))
        drawn = as_of - timedelta(hours=draw(st.sampled_from((2, 20, 200, 2000))))
        labs.append(LabResult(test, draw(st.sampled_from(values)), unit, drawn, **limits))
    patient = Patient(draw(st.sampled_from((date(1958, 4, 2), date(2012, 6, 1)))),
                      draw(st.sampled_from(("ES-SCLC", "NSCLC"))), draw(st.booleans()),
                      pregnant=draw(st.sampled_from((None, True))))
    return CourseInput(as_of, site, patient, tuple(draw(st.permutations(given))), tuple(events),
                       tuple(labs), Policy(draw(st.booleans())),
                       start_date=draw(st.sampled_from((None, day + timedelta(days=3)))))


def decide(engine, inp: CourseInput) -> Decision | tuple[str, str]:  # type: ignore[no-untyped-def]
    try:
        return engine(inp)
    except InvalidInput as exc:
        return (exc.field, exc.message)


def as_compared(d: Decision | tuple[str, str]) -> object:
    """Everything a caller can read, texts included (a citation's text read explicitly)."""
    if isinstance(d, tuple):
        return d
    return (dataclasses.replace(d, reasons=(), hold_reasons=()),
            [(r.rule, r.tag, r.text) for r in d.reasons],
            [(r.rule, r.tag, r.text) for r in d.hold_reasons],
            None if d.care is None else [(r.rule, r.tag, r.text) for r in d.care.reasons])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(course_inputs())
def test_the_lean_engine_decides_exactly_as_the_plain_reference(inp: CourseInput) -> None:
    assert as_compared(decide(evaluate, inp)) == as_compared(decide(evaluate_reference, inp))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(course_inputs(), st.data())
def test_resuming_from_a_stored_dose_decides_as_the_full_history(inp: CourseInput,
                                                                 data: st.DataObject) -> None:
    full = decide(evaluate, inp)
    if isinstance(full, tuple) or not full.history:
        return  # refused input or no dose yet: nothing to resume from
    k = data.draw(st.integers(1, len(full.history)), label="doses already stored")
    stored = full.history[k - 1]
    prior = resume_point(stored.started_at, stored.dose_mg, stored.slot.index, stored.kind,
                         stored.restart_step, inp.zone, inp.rules)
    since = tuple(inp.administrations[g.input_index] for g in full.history[k:])
    resumed = evaluate(dataclasses.replace(inp, administrations=since, prior=prior))

    # The doses since are derived as in the full history (indices now count from 0).
    assert resumed.history == tuple(g._replace(input_index=j)
                                    for j, g in enumerate(full.history[k:]))
    # Deviations of the doses already stored were reported when they were stored; every
    # other warning is the same.
    first_k = tuple(inp.administrations[g.input_index] for g in full.history[:k])
    stored_deviations = len(derive(first_k, list(range(k)), inp.zone, None, inp.rules)[1])
    n_elig = len(eligibility_warnings(inp.patient, full.as_of_date, inp.rules))
    assert resumed.warnings == (full.warnings[:n_elig]
                                + full.warnings[n_elig + stored_deviations:])
    same = dataclasses.replace(resumed, history=full.history, warnings=full.warnings)
    assert as_compared(same) == as_compared(full)


def test_the_precomputed_care_of_every_planned_slot_is_the_care_worked_out_from_the_rows(
        ) -> None:
    for slot in BUILTIN_RULES.planned:
        assert care_for(slot.cycle, slot.day) == _care_for(slot.cycle, slot.day, BUILTIN_RULES)


# --- the DST cases the lean ordering must get right, worked by hand ----------------------


def test_doses_in_the_repeated_hour_are_ordered_by_instant_not_by_wall_time() -> None:
    # 1 Nov 2026, New York: 01:45 EDT (05:45Z) comes before 01:15 EST (06:15Z).
    later = Administration(datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=NY), 10)
    earlier = Administration(datetime(2026, 11, 1, 1, 45, tzinfo=NY), 1)
    d = evaluate(CourseInput(datetime(2026, 11, 2, 9, 0, tzinfo=NY), NY, ADULT,
                             (later, earlier)))
    assert [g.input_index for g in d.history] == [1, 0]
    assert [g.dose_mg for g in d.history] == [1, 10]


def test_the_same_instant_in_two_zones_is_refused_as_a_duplicate() -> None:
    ny = Administration(datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), 1)  # 06:30Z
    utc = Administration(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 1)
    with pytest.raises(InvalidInput) as err:
        evaluate(CourseInput(datetime(2026, 11, 2, 9, 0, tzinfo=NY), NY, ADULT, (ny, utc)))
    assert (err.value.field, err.value.message) == (
        "administrations[1].started_at", "duplicates administrations[0] (same start time)")


def test_a_dose_in_the_spring_forward_gap_is_ordered_by_its_instant() -> None:
    # 8 Mar 2026, New York: 02:30 does not exist; fold=0 reads it with the EST offset
    # (07:30Z), after 03:10 EDT (07:10Z).
    gap = Administration(datetime(2026, 3, 8, 2, 30, tzinfo=NY), 10)
    after = Administration(datetime(2026, 3, 8, 3, 10, tzinfo=NY), 1)
    d = evaluate(CourseInput(datetime(2026, 3, 9, 9, 0, tzinfo=NY), NY, ADULT, (gap, after)))
    assert [g.input_index for g in d.history] == [1, 0]
