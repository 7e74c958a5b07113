"""The monitoring flowsheet (issue 11): vital-signs sets, the CRS grade each proposes, the
grade the nurse charts, and when the next set is due.

A charted CRS grade of 1 or more is charted as a CRS assessment by
:func:`tarla.services.clinical.chart_assessment` in the same transaction (the adverse event
opens or rises, the course is re-decided), and the escalation rules
(:mod:`tarla.services.alerts`) run on the set in that transaction too. The site's webhook is
posted after the commit. ICE for patients in 22-24 h monitoring is charted with the ICANS
assessment (``clinical.record_assessment``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tarla.domain.care import care_for
from tarla.domain.errors import InvalidInput
from tarla.domain.vitals import (
    CareTier,
    VitalSigns,
    charted_grade,
    check_vitals,
    checks_due,
    ice_interval_from_policy,
    intervals_from_policy,
    propose_crs,
)
from tarla.label.monitoring import EXTENDED_AFTER_TOXICITY, MONITORING_TIERS
from tarla.label.toxicity import EventType
from tarla.services import alerts, audit
from tarla.services._common import (
    actor_with,
    aware,
    course_or_404,
    decide,
    not_after,
    record_json,
    rules_for,
    zone_of,
)
from tarla.services.clinical import chart_assessment
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    CourseRecord,
    SiteRecord,
    VitalSignsRecord,
)
from tarla.services.scope import Scope, scope_of
from tarla.services.vocab import AssessmentKind, Role

__all__ = ["VitalsResult", "propose", "chart_vitals", "flowsheet", "Flowsheet",
           "MonitoringStatus", "monitoring_status"]

_CHARTERS = (Role.NURSE, Role.PHYSICIAN)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class VitalsResult:
    vitals: VitalSignsRecord
    proposed_drivers: tuple[dict[str, Any], ...]
    assessment_id: int | None
    adverse_event_id: int | None
    course_status: str | None
    alert_ids: tuple[int, ...]


def _vitals(values: dict[str, Any]) -> VitalSigns:
    names = VitalSigns.__dataclass_fields__  # the inputs a set takes, nothing else
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise InvalidInput(unknown[0], "is not a vital sign")
    for required in ("temperature_c", "systolic_mmhg", "diastolic_mmhg", "heart_rate", "spo2"):
        if required not in values:
            raise InvalidInput(required, "is required")
    return check_vitals(VitalSigns(**values))


def propose(values: dict[str, Any]) -> tuple[int, tuple[dict[str, Any], ...]]:
    """The CRS grade a set would propose, and why (the live preview of the form)."""
    grade = propose_crs(_vitals(values))
    return grade.grade, tuple(d.as_dict() for d in grade.drivers)


def _crs_inputs(v: VitalSigns) -> dict[str, Any]:
    out: dict[str, Any] = {"temperature_c": v.temperature_c, "hypotension": v.hypotension,
                           "oxygen": v.oxygen_device, "fever_masked": v.fever_masked,
                           "vasopressors": v.vasopressors, "vasopressin": v.vasopressin}
    if v.oxygen_l_min is not None:
        out["oxygen_l_per_min"] = v.oxygen_l_min
    return out


def chart_vitals(uow: UnitOfWork, *, course_id: int, taken_at: datetime, actor: str,
                 now: datetime, values: dict[str, Any], administration_id: int | None = None,
                 charted_crs_grade: int | None = None, correction_reason: str | None = None,
                 notify: alerts.AlertNotifier | None = None) -> VitalsResult:
    """Chart one set. ``values``: temperature_c, systolic_mmhg, diastolic_mmhg, heart_rate,
    spo2 (required), respiratory_rate, oxygen_device, oxygen_l_min, hypotension, vasopressors,
    vasopressin, fever_masked. ``charted_crs_grade`` confirms (None or equal) or corrects the
    proposed grade (a correction needs ``correction_reason``). Nothing is written on a
    refusal."""
    now = aware(now, "now")
    taken_at = not_after(taken_at, now, "taken_at")
    v = _vitals(values)
    proposed = propose_crs(v)
    reason = (correction_reason or "").strip() or None
    grade = charted_grade(proposed.grade, charted_crs_grade, reason)
    with uow:
        user = actor_with(uow, actor, _CHARTERS, "chart vital signs")
        course = course_or_404(uow, course_id, scope_of(user))
        if administration_id is not None:
            dose = next((a for a in uow.administrations.for_course(course.id)  # type: ignore[arg-type]
                         if a.id == administration_id), None)
            if dose is None:
                raise NotFound("administration_id", f"no dose {administration_id} in course "
                                                    f"{course.id}")
            if taken_at < dose.started_at:
                raise InvalidInput("taken_at", f"{taken_at.isoformat()} is before the infusion "
                                               f"of this dose started "
                                               f"({dose.started_at.isoformat()})")
        site = uow.sites.get(course.site_id)
        assert site is not None
        assessment = None
        if grade >= 1:
            assessment, _ = chart_assessment(
                uow, user=user, course=course, kind=AssessmentKind.CRS, inputs=_crs_inputs(v),
                assessed_at=taken_at, now=now, escalate=False,
                corrected=None if grade == proposed.grade else (grade, reason or ""),
                audit_extra={"from": "vital_signs"})
            course = uow.courses.get(course.id) or course  # type: ignore[arg-type]
        rec = uow.monitoring.add_vitals(VitalSignsRecord(
            course_id=course.id, taken_at=taken_at, recorded_at=now, nurse_id=user.id,  # type: ignore[arg-type]
            temperature_c=v.temperature_c, systolic_mmhg=v.systolic_mmhg,
            diastolic_mmhg=v.diastolic_mmhg, heart_rate=v.heart_rate, spo2=v.spo2,
            oxygen_device=v.oxygen_device, oxygen_l_min=v.oxygen_l_min,
            respiratory_rate=v.respiratory_rate, hypotension=v.hypotension,
            vasopressors=v.vasopressors, vasopressin=v.vasopressin,
            fever_masked=v.fever_masked, proposed_crs_grade=proposed.grade,
            charted_crs_grade=grade, correction_reason=reason if grade != proposed.grade
            else None, administration_id=administration_id,
            assessment_id=None if assessment is None else assessment.assessment_id))
        raised = alerts.raise_alerts(uow, site=site, course=course, source="vitals",
                                     source_id=rec.id, now=now, actor=user.username,  # type: ignore[arg-type]
                                     crs_grade=grade, temperature_c=v.temperature_c)
        audit.append(uow, actor=user.username, action="vitals.chart", entity_type="vital_signs",
                     entity_id=rec.id, at=now, after=record_json(rec))
        uow.commit()
    alerts.deliver(uow, raised, notify, now)
    return VitalsResult(rec, tuple(d.as_dict() for d in proposed.drivers),
                        None if assessment is None else assessment.assessment_id,
                        None if assessment is None else assessment.adverse_event_id,
                        None if assessment is None else assessment.course_status,
                        tuple(a.id for a in raised))  # type: ignore[misc]


# --------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class MonitoringStatus:
    course_id: int
    patient_id: int
    tier: str  # tarla.domain.vitals.CareTier value
    administration_id: int | None
    infusion_running: bool
    last_set_at: datetime | None
    next_due: datetime | None
    overdue: bool
    interval_minutes: int | None
    window_ends: datetime | None
    latest_proposed_crs: int | None
    latest_charted_crs: int | None
    ongoing_crs: int | None  # grade of the ongoing CRS adverse event, if any
    ongoing_icans: int | None
    unacknowledged_alerts: int
    #: ICE on a schedule in 22-24 h facility monitoring (None outside it)
    ice_last_at: datetime | None = None
    ice_next_due: datetime | None = None
    ice_overdue: bool = False


def _last_dose(admins: list[AdministrationRecord]) -> AdministrationRecord | None:
    return max(admins, key=lambda a: (a.started_at, a.id or 0)) if admins else None


def _status(uow: UnitOfWork, course: CourseRecord, site: SiteRecord,
            now: datetime) -> MonitoringStatus:
    dose = _last_dose([a for a in uow.administrations.for_course(course.id)  # type: ignore[arg-type]
                       if a.started_at <= now])
    sets = uow.monitoring.vitals(course.id)  # type: ignore[arg-type]
    last = sets[-1] if sets else None
    kind = hours = anchor = None
    if dose is not None:
        # The dose's care is the engine's decision just before it started: that care carries
        # the 22-24 h facility monitoring after a grade >= 2 toxicity, which the slot's
        # default care (care_for) does not know of (as services/board.py reads it).
        decided = decide(uow, course, dose.started_at - _TICK, zone_of(site)).care
        care = decided if decided is not None else care_for(
            dose.cycle, dose.day, rules_for(uow, course.label_version))  # a discontinued course
        kind, hours, anchor = care.monitoring.kind.value, care.monitoring.hours_max, \
            care.monitoring.anchor.value
    due = checks_due(now=now, infusion_started_at=None if dose is None else dose.started_at,
                     infusion_ended_at=None if dose is None else dose.ended_at,
                     monitoring_kind=kind, monitoring_hours_max=hours, anchor=anchor,
                     last_set_at=None if last is None else last.taken_at,
                     intervals=intervals_from_policy(site.policy))
    ongoing = {e.type: e.grade for e in uow.events.for_course(course.id)  # type: ignore[arg-type]
               if e.resolved_at is None and e.type in (EventType.CRS, EventType.ICANS)}
    open_alerts = uow.monitoring.alerts(course.site_id, course_id=course.id, unacknowledged=True)
    ice_last = ice = None
    if due.tier is CareTier.FACILITY and dose is not None:
        ices = uow.events.assessments(course.id, EventType.ICANS.value)  # type: ignore[arg-type]
        ice_last = ices[-1].assessed_at if ices else None
        intervals = intervals_from_policy(site.policy)
        ice = checks_due(now=now, infusion_started_at=dose.started_at,
                         infusion_ended_at=dose.ended_at, monitoring_kind=kind,
                         monitoring_hours_max=hours, anchor=anchor, last_set_at=ice_last,
                         intervals={**intervals, CareTier.FACILITY: ice_interval_from_policy(
                             site.policy, intervals)})
    return MonitoringStatus(
        course.id, course.patient_id, due.tier.value, None if dose is None else dose.id,  # type: ignore[arg-type]
        due.tier is CareTier.INFUSION, None if last is None else last.taken_at, due.next_due,
        due.overdue, due.interval_minutes, due.window_ends,
        None if last is None else last.proposed_crs_grade,
        None if last is None else last.charted_crs_grade,
        ongoing.get(EventType.CRS), ongoing.get(EventType.ICANS), len(open_alerts),
        ice_last, None if ice is None else ice.next_due, bool(ice and ice.overdue))


#: How far back a dose can still be under monitoring: the longest window of the label's tiers
#: (label-facts §3, from the monitoring rows), for the site-wide read.
_LONGEST_WINDOW_H = max(EXTENDED_AFTER_TOXICITY.hours_max,
                        *(t.hours_max for t in MONITORING_TIERS))


def monitoring_status(uow: UnitOfWork, *, viewer: Scope, now: datetime,
                      course_id: int | None = None) -> list[MonitoringStatus]:
    """Per course: the last set, when the next is due and whether it is overdue, the latest
    proposed and charted CRS grade, ongoing CRS / ICANS. One course (``course_id``, 404 outside
    the viewer's site), or every course of the viewer's site with a dose running or still in
    its monitoring window (the infusion's hour plus the label's longest window)."""
    now = aware(now, "now")
    with uow.readonly():
        if course_id is not None:
            course = course_or_404(uow, course_id, viewer)
            site = uow.sites.get(course.site_id)
            assert site is not None
            return [_status(uow, course, site, now)]
        if viewer.site_id is None:
            return []
        site = uow.sites.get(viewer.site_id)
        if site is None:
            return []
        since = now - timedelta(hours=_LONGEST_WINDOW_H + 1)
        ids = uow.monitoring.courses_dosed_since(viewer.site_id, since)
        out = []
        for cid in ids:
            found = uow.courses.get(cid)
            if found is not None:
                out.append(_status(uow, found, site, now))
        return out


@dataclass(frozen=True, slots=True)
class Flowsheet:
    course: CourseRecord
    patient_name: str
    mrn: str
    sets: tuple[VitalSignsRecord, ...]
    doses: tuple[AdministrationRecord, ...]
    status: MonitoringStatus
    zone: str


def flowsheet(uow: UnitOfWork, *, course_id: int, viewer: Scope, now: datetime) -> Flowsheet:
    now = aware(now, "now")
    with uow.readonly():
        course = course_or_404(uow, course_id, viewer)
        site = uow.sites.get(course.site_id)
        patient = uow.patients.get(course.patient_id)
        assert site is not None and patient is not None
        return Flowsheet(course, f"{patient.family_name}, {patient.given_name}", patient.mrn,
                         tuple(uow.monitoring.vitals(course.id)),  # type: ignore[arg-type]
                         tuple(uow.administrations.for_course(course.id)),  # type: ignore[arg-type]
                         _status(uow, course, site, now), site.timezone)
