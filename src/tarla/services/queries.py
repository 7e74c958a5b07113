"""Read-only use cases: one patient's decision, and a site's worklist for a day.

They write nothing (no audit entry: the audit log records changes, not reads).

The worklist reads only the courses due on the day (``next_due_date`` is indexed and kept in
step by every write), then each table once for all of them, and asks the core for each
patient's decision as of that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.domain.errors import InvalidInput
from tarla.schemas.course import decision_to_json
from tarla.services._common import (
    aware,
    course_input,
    course_or_404,
    history_for,
    labs_since,
    patient_or_404,
    site_by_code,
    zone_of,
)
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import CourseHistory
from tarla.services.vocab import CourseStatus

__all__ = ["evaluate_patient", "WorklistItem", "Worklist", "worklist"]


def evaluate_patient(uow: UnitOfWork, *, now: datetime, patient_id: int | None = None,
                     course_id: int | None = None) -> dict[str, Any]:
    """The contract's ``evaluate`` JSON for the patient's current (or the given) course."""
    now = aware(now, "now")
    with uow.readonly():
        if course_id is not None:
            course = course_or_404(uow, course_id)
        elif patient_id is not None:
            patient_or_404(uow, patient_id)
            courses = uow.courses.for_patient(patient_id)
            if not courses:
                raise NotFound("patient_id", f"patient {patient_id} has no treatment course")
            open_ = [c for c in courses if c.status != CourseStatus.DISCONTINUED]
            course = (open_ or courses)[-1]
        else:
            raise InvalidInput("patient_id", "name a patient or a course")
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        h = history_for(uow, course)
    decision = core.evaluate(course_input(h, now, zone))
    out = decision_to_json(decision, zone)
    out.update({"patient_id": h.patient.id, "course_id": course.id,
                "course_status": course.status, "timezone": site.timezone})
    return out


@dataclass(frozen=True, slots=True)
class WorklistItem:
    course_id: int
    patient_id: int
    mrn: str
    name: str
    decision: str  # give | wait | hold | discontinue | error
    slot: str | None = None
    dose_mg: int | None = None
    due_date: date | None = None
    kind: str | None = None
    monitoring: str | None = None
    pending_checks: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # rule ids
    warnings: tuple[str, ...] = ()  # warning codes
    unverified: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"course_id": self.course_id, "patient_id": self.patient_id, "mrn": self.mrn,
                "name": self.name, "decision": self.decision, "slot": self.slot,
                "dose_mg": self.dose_mg,
                "due_date": None if self.due_date is None else self.due_date.isoformat(),
                "kind": self.kind, "monitoring": self.monitoring,
                "pending_checks": list(self.pending_checks), "reasons": list(self.reasons),
                "warnings": list(self.warnings), "unverified": self.unverified,
                "error": self.error}


@dataclass(frozen=True, slots=True)
class Worklist:
    site: str
    timezone: str
    date: date
    as_of: datetime
    items: tuple[WorklistItem, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        zone = ZoneInfo(self.timezone)
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.decision] = counts.get(item.decision, 0) + 1
        return {"site": self.site, "timezone": self.timezone, "date": self.date.isoformat(),
                "as_of": self.as_of.astimezone(zone).isoformat(), "counts": counts,
                "items": [i.to_json() for i in self.items]}


_ORDER = {"give": 0, "hold": 1, "error": 2, "wait": 3, "discontinue": 4}


def _as_of(on: date, now: datetime, zone: ZoneInfo) -> datetime:
    """Today: now. Another day: the end of that local day (what was on record by then)."""
    if now.astimezone(zone).date() == on:
        return now
    return datetime.combine(on, time(23, 59, 59), zone)


def _item(h: CourseHistory, as_of: datetime, zone: ZoneInfo) -> WorklistItem:
    p = h.patient
    base = {"course_id": h.course.id, "patient_id": p.id, "mrn": p.mrn,
            "name": f"{p.family_name}, {p.given_name}"}
    try:
        d = core.evaluate(course_input(h, as_of, zone))
    except InvalidInput as exc:  # bad stored data must show, not vanish from the list
        return WorklistItem(**base, decision="error", error=f"{exc.field}: {exc.message}")  # type: ignore[arg-type]
    nd = d.next_dose
    mon = None
    if d.care is not None:
        m = d.care.monitoring
        mon = f"{m.kind} {m.hours_min:g}-{m.hours_max:g} h"
    return WorklistItem(
        **base, decision=str(d.action),  # type: ignore[arg-type]
        slot=None if nd is None else nd.slot.label, dose_mg=None if nd is None else nd.dose_mg,
        due_date=None if nd is None else nd.due_date, kind=None if nd is None else str(nd.kind),
        monitoring=mon, pending_checks=d.pending_checks,
        reasons=tuple(dict.fromkeys(r.rule for r in d.reasons)),
        warnings=tuple(w.code for w in d.warnings), unverified=d.unverified)


def worklist(uow: UnitOfWork, *, site_code: str, now: datetime,
             on: date | None = None) -> Worklist:
    """Every course due (or overdue) at the site on ``on`` (default: today in the site's
    zone), each with the core's decision for that day."""
    now = aware(now, "now")
    with uow.readonly():
        site = site_by_code(uow, site_code)
        zone = zone_of(site)
        day = on or now.astimezone(zone).date()
        as_of = _as_of(day, now, zone)
        courses = uow.courses.due(site.id, day)  # type: ignore[arg-type]
        ids = [c.id for c in courses]
        admins = uow.administrations.for_courses(ids)  # type: ignore[arg-type]
        events = uow.events.for_courses(ids)  # type: ignore[arg-type]
        since = {c.patient_id: labs_since(admins.get(c.id, []), events.get(c.id, []))  # type: ignore[arg-type]
                 for c in courses}
        labs = uow.labs.for_patients(since)
        patients = uow.patients.many(c.patient_id for c in courses)
    items = []
    for c in courses:
        h = CourseHistory(
            c, patients[c.patient_id],
            tuple(a for a in admins.get(c.id, []) if a.started_at <= as_of),  # type: ignore[arg-type]
            tuple(e for e in events.get(c.id, []) if e.onset <= as_of),  # type: ignore[arg-type]
            tuple(x for x in labs.get(c.patient_id, []) if x.collected_at <= as_of))
        items.append(_item(h, as_of, zone))
    items.sort(key=lambda i: (_ORDER.get(i.decision, 9), i.due_date or day, i.name))
    return Worklist(site.code, site.timezone, day, as_of, tuple(items))
