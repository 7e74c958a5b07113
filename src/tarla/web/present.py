"""Screen models built from records + core results (the core decides; this only gathers).

:func:`prep_summary` runs the in-use clock (:func:`tarla.domain.clock.evaluate_clock`) over a
preparation's stored events, to show it; :func:`patient_view` gathers one patient's course for
the timeline; :func:`next_dose_if` asks the course engine what a bedside grade means for the
next dose; :func:`refusal_view` puts a service's refusal (:class:`Refused`) in a nurse's or a
pharmacist's words. None of them allows or refuses anything: the services do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.domain.clock import ClockEvent, EventKind, evaluate_clock
from tarla.domain.errors import InvalidInput
from tarla.label.toxicity import EventType
from tarla.schemas.course import decision_to_json
from tarla.schemas.pharmacy import clock_to_json
from tarla.services._common import (
    course_input,
    course_or_404,
    history_for,
    rules_for,
    zone_of,
)
from tarla.services.ports import UnitOfWork
from tarla.services.scope import Scope

__all__ = ["prep_summary", "next_dose_if", "patient_view", "refusal_view",
           "REFUSAL_HEADLINES", "DONE_STATUSES"]

DONE_STATUSES = frozenset({"administered", "discarded"})


def prep_summary(prep: dict[str, Any], now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Status, the clock (when started) and the deadline to count down to."""
    events = [ClockEvent(EventKind(e["event"]), e["at"]) for e in prep.get("events", [])]
    out: dict[str, Any] = {"id": prep["id"], "status": prep["status"],
                           "dose_mg": prep["dose_mg"], "version": prep["version"],
                           "slot": prep.get("slot"),
                           "prepared_by": prep["prepared_by"], "checked_by": prep["checked_by"],
                           "clock": None, "deadline": None, "deadline_label": None,
                           "clock_error": None}
    if not any(e.kind is EventKind.RECONSTITUTED for e in events):
        return out
    try:
        report = evaluate_clock(events, now, zone)
    except InvalidInput as exc:  # stored events the clock refuses: show, never hide
        out["clock_error"] = f"{exc.field}: {exc.message}"
        return out
    clock = clock_to_json(report, label_version=prep["label_version"])  # the course's
    out["clock"] = clock
    if prep["status"] in DONE_STATUSES:
        return out
    if clock["state"] == "reconstituted_vial":
        out["deadline"], out["deadline_label"] = report.dilute_by, "Dilute into the bag by"
    else:
        out["deadline"], out["deadline_label"] = report.discard_at, "Discard after"
    out["latest_start"] = report.latest_infusion_start
    return out


def next_dose_if(uow: UnitOfWork, *, course_id: int, kind: str, grade: int,
                 now: datetime, viewer: Scope) -> dict[str, Any]:
    """What a CRS/ICANS ``grade`` found now would do to the next dose, from the course engine:
    the decision while the event is ongoing, and once it has resolved. The label rows for the
    event and grade are listed with their tags. Nothing is written."""
    etype = EventType(kind)
    with uow.readonly():
        course = course_or_404(uow, course_id, viewer)
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        h = history_for(uow, course)
    base = course_input(h, now, zone)
    rules = [{"rule": r.rule_id, "tag": str(r.tag), "text": r.text}
             for r in base.rules.rules_for_event(etype, grade)] if grade >= 1 else []
    out: dict[str, Any] = {"rules": rules, "ongoing": None, "resolved": None,
                           "timezone": site.timezone}
    if grade < 1:
        out["resolved"] = decision_to_json(core.evaluate(base), zone)
        return out
    onset = now
    ongoing = dataclasses.replace(
        base, adverse_events=(*base.adverse_events, core.AdverseEvent(etype, grade, onset, None)))
    out["ongoing"] = decision_to_json(core.evaluate(ongoing), zone)
    resolved = dataclasses.replace(
        base, adverse_events=(*base.adverse_events, core.AdverseEvent(etype, grade, onset, now)))
    out["resolved"] = decision_to_json(core.evaluate(resolved), zone)
    return out


def _projected(course_start: Any, next_dose: dict[str, Any] | None, count: int,
               rules: core.Rules) -> list[dict[str, Any]]:
    """The planned doses after the next one: the core's uninterrupted plan, shifted so that
    it passes through the next dose's due date ("dates move with actual doses"). Only for a
    next dose on the planned sequence; after a restart step-up the plan is re-decided."""
    from datetime import date

    from tarla.schemas.course import care_to_json

    if next_dose is None or next_dose["kind"] not in ("planned", "restart_continue"):
        return []
    cycles = max(2, int(next_dose["cycle"]) + 3)
    plan = core.plan_course(course_start, cycles, rules)
    idx = next((i for i, p in enumerate(plan) if p.slot.label == next_dose["slot"]), None)
    if idx is None:
        return []
    shift = date.fromisoformat(next_dose["due_date"]) - plan[idx].date
    out = []
    for p in plan[idx + 1: idx + 1 + count]:
        out.append({"slot": p.slot.label, "cycle": p.slot.cycle, "day": p.slot.day,
                    "dose_mg": p.slot.dose_mg, "due_date": (p.date + shift).isoformat(),
                    "care": care_to_json(p.care), "kind": "planned"})
    return out


def patient_view(uow: UnitOfWork, read: Any, *, patient_id: int, now: datetime,
                 viewer: Scope, projected: int = 4) -> dict[str, Any]:
    """Everything the patient page shows, gathered in one read."""
    from tarla.services._common import patient_or_404
    from tarla.services.queries import evaluate_patient

    with uow.readonly():
        patient = patient_or_404(uow, patient_id, viewer)
        site = uow.sites.get(patient.site_id)
        assert site is not None
        courses = uow.courses.for_patient(patient_id)
        course = next((c for c in reversed(courses) if c.status != "discontinued"),
                      courses[-1] if courses else None)
        admins = uow.administrations.for_course(course.id) if course else []  # type: ignore[arg-type]
        events = uow.events.for_course(course.id) if course else []  # type: ignore[arg-type]
        labs = uow.labs.for_patient(patient_id)
        course_rules = rules_for(uow, course.label_version) if course else None
    zone = zone_of(site)
    decision = (evaluate_patient(uow, now=now, viewer=viewer, course_id=course.id)
                if course else None)
    assessments = read.assessments(course.id) if course else []
    preps = read.preparations_for_courses([course.id]).get(course.id, []) if course else []
    names = read.user_names([a.nurse_id for a in admins] + [e.charted_by for e in events]
                            + [x["charted_by"] for x in assessments])
    timeline: list[dict[str, Any]] = []
    slots = {h["input_index"]: h for h in (decision or {}).get("history", [])}
    for i, a in enumerate(admins):
        h = slots.get(i, {})
        timeline.append({"at": a.started_at, "kind": "restart" if h.get("kind", a.kind)
                         .startswith("restart") else "given",
                         "title": f"{a.slot} · {a.dose_mg} mg given",
                         "detail": (f"{a.kind.replace('_', ' ')}; nurse "
                                    f"{names.get(a.nurse_id, a.nurse_id)}"
                                    + (f"; ended {a.ended_at.astimezone(zone):%H:%M}"
                                       if a.ended_at else ""))})
    for e in events:
        end = (f"resolved {e.resolved_at.astimezone(zone):%a %d %b %H:%M}" if e.resolved_at
               else "ONGOING")
        timeline.append({"at": e.onset, "kind": "held" if e.resolved_at is None else "event",
                         "title": f"{e.type.replace('_', ' ')} grade {e.grade}",
                         "detail": f"{end}; charted by {names.get(e.charted_by, e.charted_by)}"})
    timeline.sort(key=lambda t: t["at"])
    upcoming = []
    if decision and decision.get("next_dose"):
        upcoming.append({**decision["next_dose"], "care": decision["care"],
                         "decision": decision["decision"], "next": True})
        if decision["decision"] in ("give", "wait"):
            upcoming += _projected(course.start_date, decision["next_dose"], projected,  # type: ignore[union-attr]
                                   course_rules)  # type: ignore[arg-type]
    lab_rows = sorted(labs, key=lambda x: x.collected_at, reverse=True)
    panels: dict[datetime, dict[str, Any]] = {}
    for lab in lab_rows:  # one row per draw, one column per test
        panels.setdefault(lab.collected_at, {})[lab.test] = lab
    order = ["ANC", "platelets", "hemoglobin", "ALT", "AST", "bilirubin"]
    tests = order + sorted({x.test for x in lab_rows} - set(order))
    tests = [t for t in tests if any(t in p for p in panels.values())]
    return {"patient": patient, "site": site, "zone": zone, "course": course,
            "course_label_version": course.label_version if course else None,
            "courses": courses, "decision": decision, "timeline": timeline,
            "upcoming": upcoming, "labs": lab_rows, "assessments": assessments,
            "lab_panels": list(panels.items()), "lab_tests": tests,
            "preparations": [prep_summary(p, now, zone) for p in preps], "names": names}


#: the headline a hard-stop banner gives each gate of :mod:`tarla.domain.release` (the rule
#: ids it refuses with); the service's own text says the details
REFUSAL_HEADLINES: Mapping[str, str] = MappingProxyType({
    "GATE-ID-WRISTBAND": "Wrong patient: the wristband scanned is not this patient's",
    "GATE-ID-BAG": "Wrong bag: the label scanned is not the bag prepared for this dose",
    "GATE-BAG-PATIENT": "Wrong patient: this bag was prepared for another patient",
    "GATE-BAG-DOSE": "Wrong dose: this bag was prepared for another dose",
    "GATE-BAG-REQUIRED": "No bag: every dose is given from a prepared, checked bag",
    "GATE-BAG-CHECKED": "Bag not checked by a second pharmacist",
    "GATE-BAG-STATE": "This bag cannot be hung now",
    "GATE-BAG-CLOCK": "The bag's in-use clock does not allow this infusion",
    "GATE-ID-EXCEPTION": "Bedside scans missing",
    "GATE-HOLD": "Dose on HOLD",
    "GATE-NOT-DUE": "Dose not due yet",
    "GATE-LABS-MISSING": "Labs missing",
    "GATE-DOSE": "Not the dose due",
    "GATE-DISCONTINUED": "Course permanently discontinued",
    "GATE-PREP-EVENT": "Not the next step of this preparation",
    "GATE-PREP-TIME": "Time out of order",
    "GATE-PREP-SCAN": "Drug vial not scanned",
    "GATE-PREP-STEPS": "Bench steps not confirmed",
    "GATE-PREP-CLOCK": "The bag's in-use clock does not allow it",
    "GATE-PREP-HANG": "Recorded at the bedside, not on the bench",
    "GATE-CHECK-FOUR-EYES": "The check needs another pharmacist",
    "GATE-CHECK-ONCE": "Already checked",
    "GATE-CHECK-STATE": "Nothing to check yet",
    "GATE-KIT-ONCE": "Kit already used",
    "GATE-KIT-EXCURSION": "Kit spoilt by a temperature excursion",
    "GATE-RESOLVE": "A physician must confirm",
})


def refusal_view(exc: Any) -> list[dict[str, str]]:
    """Each (rule, field, text) of a :class:`tarla.services.errors.Refused` with the headline
    of its rule, in the order the service gave them (one headline per rule). A conflict (the
    dose already on record, a record changed meanwhile) is shown the same way, without a rule."""
    from tarla.services.errors import AlreadyRecorded

    if not hasattr(exc, "refusals"):
        headline = ("Already on record" if isinstance(exc, AlreadyRecorded)
                    else "Changed by someone else: reload the page")
        return [{"rule": "", "field": exc.field, "text": exc.message, "headline": headline}]
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for rule, field, text in exc.refusals:
        headline = REFUSAL_HEADLINES.get(rule, "Refused") if rule not in seen else ""
        seen.add(rule)
        out.append({"rule": rule, "field": field, "text": text, "headline": headline})
    return out
