"""Screen models built from records + core results (the core decides; this only gathers).

:func:`prep_summary` runs the in-use clock (:func:`tarla.domain.clock.evaluate_clock`) over a
preparation's stored events; :func:`patient_view` gathers one patient's course for the
timeline; :func:`grading_preview` grades a bedside form and asks the course engine what the
result means for the next dose.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.domain.clock import ClockEvent, EventKind, evaluate_clock
from tarla.domain.errors import InvalidInput
from tarla.label.toxicity import EventType, rules_for_event
from tarla.schemas.course import decision_to_json
from tarla.schemas.pharmacy import clock_to_json
from tarla.services._common import course_input, course_or_404, history_for, zone_of
from tarla.services.ports import UnitOfWork

__all__ = ["prep_summary", "next_dose_if", "DONE_STATUSES"]

DONE_STATUSES = frozenset({"administered", "discarded"})


def prep_summary(prep: dict[str, Any], now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Status, the clock (when started) and the deadline to count down to."""
    events = [ClockEvent(EventKind(e["event"]), e["at"]) for e in prep.get("events", [])]
    out: dict[str, Any] = {"id": prep["id"], "status": prep["status"],
                           "dose_mg": prep["dose_mg"], "version": prep["version"],
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
    clock = clock_to_json(report)
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
                 now: datetime) -> dict[str, Any]:
    """What a CRS/ICANS ``grade`` found now would do to the next dose, from the course engine:
    the decision while the event is ongoing, and once it has resolved. The label rows for the
    event and grade are listed with their tags. Nothing is written."""
    etype = EventType(kind)
    rules = [{"rule": r.rule_id, "tag": str(r.tag), "text": r.text}
             for r in rules_for_event(etype, grade)] if grade >= 1 else []
    with uow.readonly():
        course = course_or_404(uow, course_id)
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        h = history_for(uow, course)
    base = course_input(h, now, zone)
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
