"""Capacity planning (issue 12): a site's resources, and appointments tied to the course.

**Resources** (admin, own site): chairs, monitoring beds, pharmacy compounding per hour,
patients per nurse, opening hours per weekday, nurse shifts; plus three planning settings of
the site: the labs draw before a dose (``labs_minutes``, default 30, an UNVERIFIED site-policy
default, not a label fact), how long a chair stay may run past closing (``overtime_minutes``)
and the planner's time limit. Every number here is the site's policy.

**Appointments**: each course whose next dose falls in the horizon becomes one demand whose
durations are the engine's care for that dose (:func:`tarla.domain.booking.stay_for`: the
1-hour infusion ``T1-INFUSION``, then chair observation for the tier's upper bound, or a
monitoring bed for 24 h from the infusion start for facility monitoring), computed with the
rows of the course's pinned label version (:func:`tarla.services._common.decide`).

Each booking keeps the decision fingerprint it was planned on (action, dose, slot, care, due
date). Every read recomputes the decision and flags a booking whose fingerprint changed, with
the reason (:func:`tarla.domain.booking.changes`); a hold, a discontinuation, another dose or
another care means the booking cannot be kept: the planner re-plans it (it is no longer pinned)
and accepting the new plan supersedes or cancels it.

- propose (scheduler): read the resources, the demands and the accepted bookings (pinned
  unless flagged), solve outside any transaction (a :class:`~tarla.domain.capacity.PlanSolver`,
  CP-SAT in production), then store the proposal (its bookings as ``proposed`` appointments);
- accept (scheduler): one transaction re-reads every decision, refuses the whole plan if a
  booking's decision changed or a gate refuses it (held, not due: ``BOOK-*``; hours, chairs,
  beds, nurses, compounding: :func:`tarla.domain.capacity.check_booking`), else supersedes the
  bookings it replaces, cancels those that cannot be kept and accepts the proposal;
- move (scheduler): the same gates inside the writing transaction, refused with the resource
  and the time named; cancel (scheduler) with a reason.

Each write is one transaction with one audit entry; a refusal writes nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import booking as gate
from tarla.domain import capacity as cap
from tarla.domain.course import Decision, DecisionAction
from tarla.domain.errors import InvalidInput
from tarla.services import audit
from tarla.services._common import actor_with, aware, decide, site_for, zone_of
from tarla.services.capacity_ports import (
    AppointmentRecord,
    HoursRecord,
    PlanRecord,
    ResourcesRecord,
    ShiftRecord,
)
from tarla.services.errors import Conflict, NotFound, Refused
from tarla.services.ports import UnitOfWork
from tarla.services.records import CourseRecord, SiteRecord
from tarla.services.scope import Scope, scope_of
from tarla.services.vocab import Role

__all__ = ["SCHEDULERS", "ADMINS", "DEFAULTS", "WEEKDAYS", "CentreSetup", "setup_of",
           "set_resources", "set_hours", "set_shift", "remove_shift", "AppointmentView",
           "appointments", "DayBoard", "day_board", "Week", "week", "PlanReview", "propose",
           "review", "accept", "move", "cancel", "latest_plan", "booked_for_course",
           "demands_of"]

SCHEDULERS = (Role.SCHEDULER,)
ADMINS = (Role.ADMIN,)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Planning settings a site gets until it sets its own (site policy, UNVERIFIED: not from the
#: label). ``labs_minutes``: the labs draw booked before the dose.
DEFAULTS = {"labs_minutes": 30, "overtime_minutes": 120, "plan_time_limit_s": 10,
            "compounding_per_hour": 4, "patients_per_nurse": 4}
_WORDS = {"hold": "held", "discontinue": "discontinued"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_LIMITS = {"chairs": 500, "beds": 500, "compounding_per_hour": 500, "patients_per_nurse": 50,
           "labs_minutes": 240, "overtime_minutes": 720, "plan_time_limit_s": 600}


# --------------------------------------------------------------------------- resources


@dataclass(frozen=True, slots=True)
class CentreSetup:
    site: SiteRecord
    resources: ResourcesRecord | None
    hours: tuple[HoursRecord, ...]
    shifts: tuple[ShiftRecord, ...]

    @property
    def configured(self) -> bool:
        return self.resources is not None

    def to_json(self) -> dict[str, Any]:
        r = self.resources
        return {"site": self.site.code, "timezone": self.site.timezone,
                "resources": None if r is None else {
                    "chairs": r.chairs, "beds": r.beds,
                    "compounding_per_hour": r.compounding_per_hour,
                    "patients_per_nurse": r.patients_per_nurse,
                    "labs_minutes": r.labs_minutes, "overtime_minutes": r.overtime_minutes,
                    "plan_time_limit_s": r.plan_time_limit_s, "version": r.version},
                "hours": [{"weekday": WEEKDAYS[h.weekday], "opens": h.opens,
                           "closes": h.closes} for h in self.hours],
                "shifts": [{"name": s.name, "weekdays": [WEEKDAYS[int(d)] for d in s.weekdays],
                            "starts": s.starts, "ends": s.ends, "nurses": s.nurses}
                           for s in self.shifts],
                "policy_note": "site policy, not label facts; labs_minutes defaults to "
                               f"{DEFAULTS['labs_minutes']} (UNVERIFIED)"}


def _setup(uow: UnitOfWork, site: SiteRecord) -> CentreSetup:
    sid: int = site.id  # type: ignore[assignment]
    return CentreSetup(site, uow.capacity.resources(sid), tuple(uow.capacity.hours(sid)),
                       tuple(uow.capacity.shifts(sid)))


def setup_of(uow: UnitOfWork, *, site_code: str, viewer: Scope) -> CentreSetup:
    with uow.readonly():
        return _setup(uow, site_for(uow, site_code, viewer))


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidInput(name, f"{value!r} is not a whole number")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise InvalidInput(name, f"{value!r} is not a whole number >= 0")
        value = int(value.strip())
    if not isinstance(value, int) or value < 0:
        raise InvalidInput(name, f"{value!r} is not a whole number >= 0")
    if value > _LIMITS.get(name, 500):
        raise InvalidInput(name, f"{value} is more than {_LIMITS.get(name, 500)}")
    if name in ("patients_per_nurse", "plan_time_limit_s") and value < 1:
        raise InvalidInput(name, "must be at least 1")
    return value


def hhmm(name: str, value: Any) -> time:
    text = str(value or "").strip()
    m = _HHMM.match(text)
    if m is None:
        raise InvalidInput(name, f"{value!r} is not a time of day as HH:MM (00:00-23:59)")
    return time(int(m.group(1)), int(m.group(2)))


def weekday_of(name: str, value: Any) -> int:
    text = str(value).strip().lower()
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    if text[:3] in WEEKDAYS and len(text) >= 3:
        return WEEKDAYS.index(text[:3])
    raise InvalidInput(name, f"{value!r} is not a weekday (mon..sun or 0..6, 0 is Monday)")


def _admin_site(uow: UnitOfWork, site_code: str, actor: str) -> tuple[Any, SiteRecord]:
    user = actor_with(uow, actor, ADMINS, "set the site's resources")
    return user, site_for(uow, site_code, scope_of(user))


def set_resources(uow: UnitOfWork, *, site_code: str, actor: str, now: datetime,
                  **values: Any) -> CentreSetup:
    """Set some of: chairs, beds, compounding_per_hour, patients_per_nurse, labs_minutes,
    overtime_minutes, plan_time_limit_s (the others keep their value)."""
    now = aware(now, "now")
    unknown = sorted(set(values) - set(_LIMITS))
    if unknown:
        raise InvalidInput(unknown[0], "is not a resource (one of: " + ", ".join(_LIMITS) + ")")
    checked = {k: _count(k, v) for k, v in values.items() if v is not None}
    with uow:
        user, site = _admin_site(uow, site_code, actor)
        old = uow.capacity.resources(site.id)  # type: ignore[arg-type]
        if old is None:
            for need in ("chairs", "beds"):
                if need not in checked:
                    raise InvalidInput(need, "is required the first time a site's resources "
                                             "are set")
            base = ResourcesRecord(site.id, checked["chairs"], checked["beds"],  # type: ignore[arg-type]
                                   DEFAULTS["compounding_per_hour"],
                                   DEFAULTS["patients_per_nurse"], DEFAULTS["labs_minutes"],
                                   DEFAULTS["overtime_minutes"], DEFAULTS["plan_time_limit_s"],
                                   now, user.id)
        else:
            base = old
        new = uow.capacity.put_resources(dataclasses.replace(base, **checked, updated_at=now,
                                                             updated_by=user.id))
        audit.append(uow, actor=user.username, action="capacity.resources",
                     entity_type="site", entity_id=site.code, at=now,
                     before=None if old is None else dataclasses.asdict(old),
                     after=dataclasses.asdict(new))
        uow.commit()
        return _setup(uow, site)


def set_hours(uow: UnitOfWork, *, site_code: str, weekday: Any, opens: Any, closes: Any,
              actor: str, now: datetime) -> CentreSetup:
    """Opening hours of one weekday; ``opens`` and ``closes`` empty: closed that day."""
    now = aware(now, "now")
    day = weekday_of("weekday", weekday)
    if not str(opens or "").strip() and not str(closes or "").strip():
        o = c = None
    else:
        to, tc = hhmm("opens", opens), hhmm("closes", closes)
        if tc <= to:
            raise InvalidInput("closes", f"{closes} is not after opening at {opens} (opening "
                                         "hours end on the day they start)")
        o, c = to.strftime("%H:%M"), tc.strftime("%H:%M")
    with uow:
        user, site = _admin_site(uow, site_code, actor)
        uow.capacity.set_hours(site.id, day, o, c)  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="capacity.hours", entity_type="site",
                     entity_id=site.code, at=now, before=None,
                     after={"weekday": WEEKDAYS[day], "opens": o, "closes": c})
        uow.commit()
        return _setup(uow, site)


def _weekdays(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput("weekdays", "name the weekdays of the shift (e.g. mon-fri)")
    parts: list[Any] = value.split(",") if isinstance(value, str) else list(value)
    days: set[int] = set()
    for p in parts:
        text = str(p).strip().lower()
        if "-" in text:
            a, b = (weekday_of("weekdays", x) for x in text.split("-", 1))
            if b < a:
                raise InvalidInput("weekdays", f"{p!r}: the range runs backwards")
            days.update(range(a, b + 1))
        else:
            days.add(weekday_of("weekdays", text))
    return "".join(str(d) for d in sorted(days))


def set_shift(uow: UnitOfWork, *, site_code: str, name: str, weekdays: Any, starts: Any,
              ends: Any, nurses: Any, actor: str, now: datetime) -> CentreSetup:
    """Add or replace the site's nurse shift ``name`` (``ends`` <= ``starts``: overnight)."""
    now = aware(now, "now")
    label = str(name or "").strip()
    if not label or len(label) > 32:
        raise InvalidInput("name", "a shift needs a name of 1-32 characters")
    days = _weekdays(weekdays)
    s, e = hhmm("starts", starts), hhmm("ends", ends)
    if s == e:
        raise InvalidInput("ends", "a shift cannot end when it starts")
    n = _count("nurses", nurses)
    with uow:
        user, site = _admin_site(uow, site_code, actor)
        new = uow.capacity.put_shift(ShiftRecord(site.id, label, days, s.strftime("%H:%M"),  # type: ignore[arg-type]
                                                 e.strftime("%H:%M"), n))
        audit.append(uow, actor=user.username, action="capacity.shift", entity_type="site",
                     entity_id=site.code, at=now, before=None, after=dataclasses.asdict(new))
        uow.commit()
        return _setup(uow, site)


def remove_shift(uow: UnitOfWork, *, site_code: str, name: str, actor: str,
                 now: datetime) -> CentreSetup:
    now = aware(now, "now")
    with uow:
        user, site = _admin_site(uow, site_code, actor)
        if not uow.capacity.remove_shift(site.id, name):  # type: ignore[arg-type]
            raise NotFound("name", f"no shift named {name!r} at {site.code}")
        audit.append(uow, actor=user.username, action="capacity.shift.remove",
                     entity_type="site", entity_id=site.code, at=now, before={"name": name},
                     after=None)
        uow.commit()
        return _setup(uow, site)


def _centre(setup: CentreSetup) -> cap.Centre:
    r = setup.resources
    if r is None:
        raise InvalidInput("resources", f"{setup.site.code} has no resources set (chairs, beds, "
                                        "hours, shifts): an administrator sets them first")
    shifts = tuple(cap.NurseShift(int(d), hhmm("starts", s.starts), hhmm("ends", s.ends),
                                  s.nurses) for s in setup.shifts for d in s.weekdays)
    hours = tuple(cap.OpeningHours(h.weekday, hhmm("opens", h.opens), hhmm("closes", h.closes))
                  for h in setup.hours)
    return cap.Centre(setup.site.timezone, r.chairs, r.beds, hours, shifts,
                      r.patients_per_nurse, r.compounding_per_hour, r.overtime_minutes)


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class _Due:
    course: CourseRecord
    mrn: str
    patient: str
    decision: Decision | None
    error: str | None = None

    @property
    def print(self) -> gate.Fingerprint | None:
        return None if self.decision is None else gate.fingerprint(self.decision)


class _Decisions:
    """The engine's decision per course, as of ``now``, computed once per use case."""

    def __init__(self, uow: UnitOfWork, site: SiteRecord, now: datetime) -> None:
        self.uow, self.site, self.now, self.zone = uow, site, now, zone_of(site)
        self.seen: dict[int, _Due] = {}

    def of(self, course_id: int) -> _Due:
        found = self.seen.get(course_id)
        if found is not None:
            return found
        course = self.uow.courses.get(course_id)
        assert course is not None and course.site_id == self.site.id
        patient = self.uow.patients.get(course.patient_id)
        assert patient is not None
        name = f"{patient.family_name}, {patient.given_name}"
        try:
            due = _Due(course, patient.mrn, name, decide(self.uow, course, self.now, self.zone))
        except InvalidInput as exc:  # that course's error (e.g. its label cannot be read)
            due = _Due(course, patient.mrn, name, None, f"{exc.field}: {exc.message}")
        self.seen[course_id] = due
        return due

    def given(self, course_id: int, slot: str) -> bool:
        return any(a.slot == slot for a in self.uow.administrations.for_course(course_id))


def _hold_words(decision: Decision | None) -> tuple[str, ...]:
    if decision is None:
        return ()
    return tuple(dict.fromkeys(f"{c.rule}: {c.text}" for c in decision.hold_reasons))


def _change(d: _Decisions, a: AppointmentRecord) -> gate.Change | None:
    due = d.of(a.course_id)
    if due.decision is None:
        return gate.Change((f"the course's decision cannot be computed ({due.error})",), False)
    return gate.changes(gate.Fingerprint.from_json(a.fingerprint), gate.fingerprint(due.decision),
                        _hold_words(due.decision))


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class AppointmentView:
    record: AppointmentRecord
    mrn: str
    patient: str
    patient_id: int
    flag: gate.Change | None
    given: bool
    zone: ZoneInfo

    @property
    def local_start(self) -> datetime:
        return self.record.start_at.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.record.end_at.astimezone(self.zone)

    @property
    def local_labs(self) -> datetime | None:
        a = self.record.labs_at
        return None if a is None else a.astimezone(self.zone)

    @property
    def crosses_midnight(self) -> bool:
        return self.local_end.date() > self.local_start.date()

    @property
    def unit(self) -> int:
        return int(self.record.resource.split()[-1])

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {"id": r.id, "course_id": r.course_id, "patient_id": self.patient_id,
                "patient_mrn": self.mrn, "patient": self.patient, "status": r.status,
                "plan_id": r.plan_id, "slot": r.slot, "dose_mg": r.dose_mg,
                "due_date": r.due_date.isoformat(), "care_kind": r.care_kind,
                "resource": r.resource,
                "labs_at": None if self.local_labs is None else self.local_labs.isoformat(),
                "start": self.local_start.isoformat(), "end": self.local_end.isoformat(),
                "chair_until": None if r.chair_until is None
                else r.chair_until.astimezone(self.zone).isoformat(),
                "crosses_midnight": self.crosses_midnight, "rules": list(r.rules),
                "planned_on": r.fingerprint, "given": self.given, "note": r.note,
                "flagged": self.flag is not None,
                "flag": None if self.flag is None else {"reasons": list(self.flag.reasons),
                                                        "can_keep": self.flag.keep}}


def _view(d: _Decisions, a: AppointmentRecord) -> AppointmentView:
    due = d.of(a.course_id)
    given = d.given(a.course_id, a.slot)
    flag = None if given or a.status not in ("accepted", "proposed") else _change(d, a)
    return AppointmentView(a, due.mrn, due.patient, due.course.patient_id, flag, given,
                           d.zone)


_FIRST, _LAST = date(2000, 1, 1), date(2999, 12, 31)


def check_day(name: str, day: date) -> date:
    """A calendar day the planner can count from (and a few weeks past)."""
    if not _FIRST <= day <= _LAST:
        raise InvalidInput(name, f"{day.isoformat()} is outside {_FIRST.isoformat()} to "
                                 f"{_LAST.isoformat()}")
    return day


def _local_range(zone: ZoneInfo, start: date, end: date) -> tuple[datetime, datetime]:
    return (datetime.combine(start, time(0), zone),
            datetime.combine(end + timedelta(days=1), time(0), zone))


def appointments(uow: UnitOfWork, *, site_code: str, start: date, end: date, viewer: Scope,
                 now: datetime, statuses: Sequence[str] = ("accepted",),
                 ) -> list[AppointmentView]:
    """The site's appointments whose stay overlaps ``start``..``end`` (site-local, inclusive),
    each with its flag against the current decision."""
    now = aware(now, "now")
    check_day("from", start)
    check_day("to", end)
    if end < start:
        raise InvalidInput("to", f"{end} is before {start}")
    if (end - start).days > 92:
        raise InvalidInput("to", "at most 93 days at a time")
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        d = _Decisions(uow, site, now)
        since, until = _local_range(d.zone, start, end)
        rows = uow.capacity.appointments(site.id, statuses=statuses, since=since, until=until)  # type: ignore[arg-type]
        return [_view(d, a) for a in rows]


def booked_for_course(uow: UnitOfWork, *, course_id: int, site_id: int,
                      ) -> list[AppointmentRecord]:
    """The course's accepted appointments (inside the caller's unit of work), by start."""
    rows = uow.capacity.appointments(site_id, statuses=("accepted",))
    return [a for a in rows if a.course_id == course_id]


@dataclass(frozen=True, slots=True)
class DayBoard:
    site: SiteRecord
    day: date
    setup: CentreSetup
    chairs: tuple[tuple[int, tuple[AppointmentView, ...]], ...]
    beds: tuple[tuple[int, tuple[AppointmentView, ...]], ...]
    window: tuple[datetime, datetime]  # chairs: the day
    bed_window: tuple[datetime, datetime]  # beds: noon to noon across the night
    flagged: tuple[AppointmentView, ...]

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site.code, "day": self.day.isoformat(),
                "chairs": [{"unit": u, "appointments": [v.to_json() for v in vs]}
                           for u, vs in self.chairs],
                "beds": [{"unit": u, "appointments": [v.to_json() for v in vs]}
                         for u, vs in self.beds],
                "flagged": [v.to_json() for v in self.flagged]}


def day_board(uow: UnitOfWork, *, site_code: str, day: date, viewer: Scope,
              now: datetime) -> DayBoard:
    """Chairs x hours of ``day`` and beds x the night from ``day`` into the next day."""
    now = aware(now, "now")
    check_day("date", day)
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        setup = _setup(uow, site)
        d = _Decisions(uow, site, now)
        zone = d.zone
        window = _local_range(zone, day, day)
        bed_window = (datetime.combine(day, time(6), zone),
                      datetime.combine(day + timedelta(days=1), time(18), zone))
        rows = uow.capacity.appointments(site.id, statuses=("accepted",),  # type: ignore[arg-type]
                                         since=min(window[0], bed_window[0]),
                                         until=max(window[1], bed_window[1]))
        views = [_view(d, a) for a in rows]
        upcoming = uow.capacity.appointments(site.id, statuses=("accepted",), since=now)  # type: ignore[arg-type]
        flagged = tuple(v for v in (_view(d, a) for a in upcoming) if v.flag is not None)
    r = setup.resources
    n_chairs = r.chairs if r else 0
    n_beds = r.beds if r else 0

    def lanes(kind: str, n: int, span: tuple[datetime, datetime],
              ) -> tuple[tuple[int, tuple[AppointmentView, ...]], ...]:
        mine = [v for v in views if v.record.care_kind == kind
                and v.record.end_at > span[0] and v.record.start_at < span[1]]
        top = max([n, *(v.unit for v in mine)])
        return tuple((u, tuple(v for v in mine if v.unit == u)) for u in range(1, top + 1))

    return DayBoard(site, day, setup, lanes("chair", n_chairs, window),
                    lanes("bed", n_beds, bed_window), window, bed_window, flagged)


@dataclass(frozen=True, slots=True)
class Week:
    site: SiteRecord
    start: date
    days: tuple[tuple[date, tuple[AppointmentView, ...], int], ...]  # day, starts, beds at night

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site.code, "from": self.start.isoformat(),
                "days": [{"day": d.isoformat(), "beds_overnight": n,
                          "appointments": [v.to_json() for v in vs]} for d, vs, n in self.days]}


def week(uow: UnitOfWork, *, site_code: str, start: date, viewer: Scope,
         now: datetime) -> Week:
    views = appointments(uow, site_code=site_code, start=start,
                         end=start + timedelta(days=6), viewer=viewer, now=now)
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
    zone = zone_of(site)
    out = []
    for i in range(7):
        day = start + timedelta(days=i)
        midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
        starts = tuple(v for v in views if v.local_start.date() == day)
        night = sum(1 for v in views if v.record.care_kind == "bed"
                    and v.record.start_at < midnight < v.record.end_at)
        out.append((day, starts, night))
    return Week(site, start, tuple(out))


# --------------------------------------------------------------------------- planning


def _demand(due: _Due, stay: gate.Stay, pinned: datetime | None = None,
            key: str | None = None) -> cap.Demand:
    assert due.decision is not None and due.decision.next_dose is not None
    n = due.decision.next_dose
    return cap.Demand(key or f"C{due.course.id}", due.mrn, due.course.id,  # type: ignore[arg-type]
                      n.slot.label, n.due_date, "bed" if stay.kind == "bed" else "chair",
                      stay.labs_minutes, stay.infusion_minutes, stay.after_minutes,
                      pinned_start=pinned)


def _booking(a: AppointmentRecord, due_on: date, key: str | None = None) -> cap.Booking:
    return cap.Booking(key or f"A{a.id}", "bed" if a.care_kind == "bed" else "chair",
                       int(a.resource.split()[-1]), a.labs_at or a.start_at, a.start_at,
                       a.end_at, (a.start_at.date() - due_on).days, 0)


@dataclass(frozen=True, slots=True)
class _Inputs:
    site: SiteRecord
    setup: CentreSetup
    demands: tuple[cap.Demand, ...]
    stays: dict[int, gate.Stay]
    prints: dict[int, gate.Fingerprint]
    kept: dict[int, int]  # course id -> accepted appointment id kept (pinned)
    notes: tuple[dict[str, Any], ...]  # courses not planned, with why


def demands_of(uow: UnitOfWork, site: SiteRecord, start: date, days: int, now: datetime,
               ) -> _Inputs:
    """Inside ``uow``: the demands of the horizon (pinned: the accepted bookings still valid)."""
    setup = _setup(uow, site)
    r = setup.resources
    labs = r.labs_minutes if r is not None else DEFAULTS["labs_minutes"]
    d = _Decisions(uow, site, now)
    end = start + timedelta(days=days - 1)
    since, until = _local_range(d.zone, start, end)
    accepted = uow.capacity.appointments(site.id, statuses=("accepted",))  # type: ignore[arg-type]
    by_course: dict[int, list[AppointmentRecord]] = {}
    for a in accepted:
        by_course.setdefault(a.course_id, []).append(a)
    demands: list[cap.Demand] = []
    stays: dict[int, gate.Stay] = {}
    prints: dict[int, gate.Fingerprint] = {}
    kept: dict[int, int] = {}
    notes: list[dict[str, Any]] = []
    for course in uow.courses.due(site.id, end):  # type: ignore[arg-type]
        due = d.of(course.id)  # type: ignore[arg-type]
        dec = due.decision
        if dec is None:
            notes.append({"course_id": course.id, "patient_mrn": due.mrn,
                          "reason": due.error})
            continue
        if dec.action in (DecisionAction.HOLD, DecisionAction.DISCONTINUE) \
                or dec.next_dose is None or dec.care is None:
            why = "; ".join(_hold_words(dec)) or str(dec.action)
            notes.append({"course_id": course.id, "patient_mrn": due.mrn,
                          "reason": f"not booked: the dose is "
                                    f"{_WORDS.get(str(dec.action), str(dec.action))} ({why})"})
            continue
        stay = gate.stay_for(dec.care, labs)
        stays[course.id] = stay  # type: ignore[index]
        prints[course.id] = gate.fingerprint(dec)  # type: ignore[index]
        pin = None
        for a in by_course.get(course.id, []):  # type: ignore[arg-type]
            if d.given(a.course_id, a.slot) or _change(d, a) is not None:
                continue  # given already, or flagged: re-planned
            if a.start_at < since:
                pin = "before"
                break
            if a.start_at < until:
                pin = a
                break
        if pin == "before":
            notes.append({"course_id": course.id, "patient_mrn": due.mrn,
                          "reason": "booked before this horizon"})
            continue
        if isinstance(pin, AppointmentRecord):
            kept[course.id] = pin.id  # type: ignore[index, assignment]
            demands.append(_demand(due, stay, pin.start_at))
        else:
            demands.append(_demand(due, stay))
    return _Inputs(site, setup, tuple(demands), stays, prints, kept, tuple(notes))


def _summary(plan: cap.Plan, inputs: _Inputs) -> dict[str, Any]:
    return {"status": plan.status, "lateness_days": plan.lateness_days,
            "overtime_minutes": plan.overtime_minutes, "bed_nights": plan.bed_nights,
            "gap": plan.gap, "solve_seconds": round(plan.solve_seconds, 3),
            "demands": len(inputs.demands), "kept": {str(k): v for k, v in inputs.kept.items()},
            "unplaced": list(plan.unplaced),
            "shortages": [{"resource": s.resource, "day": s.day.isoformat(),
                           "needed": s.needed, "available": s.available, "reason": s.reason}
                          for s in plan.shortages],
            "not_planned": list(inputs.notes)}


def propose(uow: UnitOfWork, *, site_code: str, start: date, days: int, actor: str,
            now: datetime, solver: cap.PlanSolver, workers: int = 2) -> PlanReview:
    """Plan ``days`` days from ``start`` and store the proposal (nothing is booked yet)."""
    now = aware(now, "now")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 28:
        raise InvalidInput("days", f"{days!r} must be 1 to 28")
    check_day("from", start)
    with uow.readonly():
        user = actor_with(uow, actor, SCHEDULERS, "plan appointments")
        site = site_for(uow, site_code, scope_of(user))
        inputs = demands_of(uow, site, start, days, now)
        centre = _centre(inputs.setup)
        limit = inputs.setup.resources.plan_time_limit_s  # type: ignore[union-attr]
    model = cap.build_model(centre, inputs.demands, start, days, now=now)
    plan = solver.solve(model, time_limit_s=float(limit), workers=workers)
    by_key = {dm.key: dm for dm in inputs.demands}
    with uow:
        user = actor_with(uow, actor, SCHEDULERS, "plan appointments")
        site = site_for(uow, site_code, scope_of(user))
        for old in uow.capacity.plans(site.id, "proposed"):  # type: ignore[arg-type]
            _supersede_plan(uow, old, now)
        record = uow.capacity.add_plan(PlanRecord(
            site.id, start, days, "proposed", plan.status, user.id, now,  # type: ignore[arg-type]
            _summary(plan, inputs)))
        for b in plan.bookings:
            dem = by_key[b.key]
            if dem.course_id in inputs.kept:
                continue  # the accepted booking stays as it is
            stay = inputs.stays[dem.course_id]
            uow.capacity.add_appointment(_appointment(
                site, dem, stay, inputs.prints[dem.course_id], b, "proposed", user.id, now,
                plan_id=record.id))
        audit.append(uow, actor=user.username, action="capacity.propose", entity_type="plan",
                     entity_id=record.id, at=now, before=None,
                     after={"site": site.code, "from": start, "days": days,
                            **record.summary})
        uow.commit()
        return _review(uow, record, now)


def _appointment(site: SiteRecord, dem: cap.Demand, stay: gate.Stay, fp: gate.Fingerprint,
                 b: cap.Booking, status: str, user_id: int, now: datetime,
                 plan_id: int | None = None) -> AppointmentRecord:
    chair_until = (b.start.astimezone(UTC) + timedelta(minutes=stay.infusion_minutes
                                                       + stay.after_minutes)
                   ).astimezone(b.start.tzinfo) if stay.kind == "chair" else None
    assert fp.dose_mg is not None and fp.due_date is not None
    return AppointmentRecord(site.id, dem.course_id, status, dem.slot, fp.dose_mg,  # type: ignore[arg-type]
                             fp.due_date, stay.kind, b.start, b.end, f"{stay.kind} {b.unit}",
                             fp.to_json(), user_id, now, now,
                             labs_at=b.labs_start if stay.labs_minutes else None,
                             chair_until=chair_until, rules=list(stay.rules), plan_id=plan_id)


def _supersede_plan(uow: UnitOfWork, plan: PlanRecord, now: datetime) -> None:
    uow.capacity.update_plan(dataclasses.replace(plan, status="superseded", decided_at=now))
    for a in uow.capacity.appointments(plan.site_id, statuses=("proposed",),
                                       plan_id=plan.id):
        uow.capacity.update_appointment(dataclasses.replace(a, status="superseded",
                                                            updated_at=now))


@dataclass(frozen=True, slots=True)
class ReviewRow:
    course_id: int
    mrn: str
    patient: str
    change: str  # new / moved / kept / cancelled / unplaced
    current: AppointmentView | None
    proposed: AppointmentView | None
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"course_id": self.course_id, "patient_mrn": self.mrn, "patient": self.patient,
                "change": self.change, "reasons": list(self.reasons),
                "current": None if self.current is None else self.current.to_json(),
                "proposed": None if self.proposed is None else self.proposed.to_json()}


@dataclass(frozen=True, slots=True)
class PlanReview:
    plan: PlanRecord
    site: SiteRecord
    rows: tuple[ReviewRow, ...]

    @property
    def shortages(self) -> list[dict[str, Any]]:
        return list(self.plan.summary.get("shortages", []))

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {"id": p.id, "site": self.site.code, "from": p.start_date.isoformat(),
                "days": p.days, "status": p.status, "solver_status": p.solver_status,
                "created_at": p.created_at.isoformat(),
                "summary": p.summary, "rows": [r.to_json() for r in self.rows]}


def _review(uow: UnitOfWork, plan: PlanRecord, now: datetime) -> PlanReview:
    site = uow.sites.get(plan.site_id)
    assert site is not None
    d = _Decisions(uow, site, now)
    proposed = {a.course_id: a for a in uow.capacity.appointments(
        site.id, statuses=("proposed", "accepted", "superseded"), plan_id=plan.id)}  # type: ignore[arg-type]
    current: dict[int, AppointmentRecord] = {}
    since, until = _local_range(d.zone, plan.start_date,
                                plan.start_date + timedelta(days=plan.days - 1))
    for a in uow.capacity.appointments(site.id, statuses=("accepted",), since=since,  # type: ignore[arg-type]
                                       until=until):
        if a.plan_id != plan.id and not d.given(a.course_id, a.slot):
            current.setdefault(a.course_id, a)
    kept = {int(k) for k in plan.summary.get("kept", {})}
    rows: list[ReviewRow] = []
    for cid in sorted(set(proposed) | set(current) | kept):
        due = d.of(cid)
        cur = current.get(cid)
        new = proposed.get(cid)
        cv = None if cur is None else _view(d, cur)
        nv = None if new is None else _view(d, new)
        reasons = cv.flag.reasons if cv is not None and cv.flag is not None else ()
        if new is None and cid in kept:
            change = "kept"
        elif new is None:
            change = "cancelled"
        elif cur is None:
            change = "new"
        elif (cur.start_at, cur.resource) == (new.start_at, new.resource):
            change = "kept"
        else:
            change = "moved"
        rows.append(ReviewRow(cid, due.mrn, due.patient, change, cv, nv, reasons))
    for key in plan.summary.get("unplaced", []):
        cid = int(str(key).lstrip("C"))
        due = d.of(cid)
        rows.append(ReviewRow(cid, due.mrn, due.patient, "unplaced", None, None,
                              ("no room in the horizon: see the shortages",)))
    return PlanReview(plan, site, tuple(rows))


def _plan_or_404(uow: UnitOfWork, plan_id: int, viewer: Scope) -> PlanRecord:
    plan = uow.capacity.plan(plan_id)
    if plan is None or not viewer.covers(plan.site_id):
        raise NotFound("plan_id", f"no plan {plan_id}")
    return plan


def review(uow: UnitOfWork, *, plan_id: int, viewer: Scope, now: datetime) -> PlanReview:
    now = aware(now, "now")
    with uow.readonly():
        return _review(uow, _plan_or_404(uow, plan_id, viewer), now)


def latest_plan(uow: UnitOfWork, *, site_code: str, viewer: Scope) -> PlanRecord | None:
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        plans = uow.capacity.plans(site.id)  # type: ignore[arg-type]
        return plans[0] if plans else None


def _gates(d: _Decisions, setup: CentreSetup, a: AppointmentRecord, start: datetime,
           others: Sequence[AppointmentRecord], now: datetime,
           ) -> tuple[list[tuple[str, str, str]], gate.Stay | None, cap.Booking | None]:
    """Every refusal of booking ``a``'s course at ``start`` (the decision re-read now), and
    the stay and booking when there is none."""
    due = d.of(a.course_id)
    if due.decision is None:
        return [("BOOK-NO-DOSE", "course_id", str(due.error))], None, None
    local = start.astimezone(d.zone)
    out = [(r.rule, r.field, r.text) for r in gate.booking_gate(due.decision, local.date())]
    if out or due.decision.care is None or due.decision.next_dose is None:
        return out or [("BOOK-NO-DOSE", "course_id", gate.BOOKING_RULES["BOOK-NO-DOSE"])], \
            None, None
    labs = setup.resources.labs_minutes if setup.resources else DEFAULTS["labs_minutes"]
    stay = gate.stay_for(due.decision.care, labs)
    demand = _demand(due, stay, key=f"A{a.id}")
    first = min(local.date(), now.astimezone(d.zone).date()) - timedelta(days=1)
    span = (local.date() - first).days + 3
    model = cap.build_model(_centre(setup), [demand], first, span, now=now)
    existing = tuple(_booking(o, o.due_date) for o in others if o.id != a.id)
    for r in cap.check_booking(model, existing, demand, local):
        out.append((r.rule, r.field, r.message))
    if out:
        return out, stay, None
    # Elapsed time is absolute: add in UTC (a 24 h bed stay over a DST night ends at the
    # same instant 24 h later, not at the same wall-clock time).
    end = (local.astimezone(UTC) + timedelta(minutes=stay.occupies_minutes)).astimezone(local.tzinfo)
    busy = {int(o.resource.split()[-1]) for o in others if o.id != a.id
            and o.care_kind == stay.kind and o.start_at < end and o.end_at > local}
    count = setup.resources.chairs if stay.kind == "chair" else setup.resources.beds  # type: ignore[union-attr]
    unit = next((u for u in range(1, count + 1) if u not in busy), None)
    if unit is None:
        return [(f"capacity.{stay.kind}", "start",
                 f"no single {stay.kind} is free from {local:%Y-%m-%d %H:%M} to "
                 f"{end:%Y-%m-%d %H:%M %Z}")], stay, None
    labs_at = (local.astimezone(UTC) - timedelta(minutes=stay.labs_minutes)).astimezone(local.tzinfo)
    return [], stay, cap.Booking(f"A{a.id}", stay.kind, unit, labs_at, local, end,  # type: ignore[arg-type]
                                 0, 0)


def accept(uow: UnitOfWork, *, plan_id: int, actor: str, now: datetime) -> PlanReview:
    """Book the proposal: all of it or nothing (one transaction, every booking re-judged)."""
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, SCHEDULERS, "accept a plan")
        plan = _plan_or_404(uow, plan_id, scope_of(user))
        if plan.status != "proposed":
            raise Conflict("plan_id", f"plan {plan_id} is {plan.status}, not a proposal: "
                                      "propose again")
        site = uow.sites.get(plan.site_id)
        assert site is not None
        setup = _setup(uow, site)
        d = _Decisions(uow, site, now)
        mine = uow.capacity.appointments(site.id, statuses=("proposed",), plan_id=plan.id)  # type: ignore[arg-type]
        courses = {a.course_id for a in mine}
        accepted = uow.capacity.appointments(site.id, statuses=("accepted",))  # type: ignore[arg-type]
        stays, dropped = [], []
        for a in accepted:
            if a.course_id in courses or d.given(a.course_id, a.slot):
                continue
            change = _change(d, a)
            if change is not None and not change.keep:
                dropped.append((a, change))  # cannot be kept: cancelled below
            else:
                stays.append(a)
        replaced = [a for a in accepted if a.course_id in courses
                    and not d.given(a.course_id, a.slot)]
        refusals: list[tuple[str, str, str]] = []
        for a in mine:
            due = d.of(a.course_id)
            if due.decision is not None:
                change = gate.changes(gate.Fingerprint.from_json(a.fingerprint),
                                      gate.fingerprint(due.decision), _hold_words(due.decision))
                if change is not None:
                    refusals.append(("BOOK-DECISION-CHANGED", f"appointments[{a.id}]",
                                     f"{due.mrn}: {'; '.join(change.reasons)} since the "
                                     "proposal: propose again"))
                    continue
            for rule, _, text in _gates(d, setup, a, a.start_at, [*stays, *mine], now)[0]:
                refusals.append((rule, f"appointments[{a.id}]", f"{due.mrn}: {text}"))
        if refusals:
            raise Refused(refusals)
        for a in replaced:
            uow.capacity.update_appointment(dataclasses.replace(
                a, status="superseded", updated_at=now,
                note=f"replaced by plan {plan.id}"))
        cancelled = []
        for a, change in dropped:
            cancelled.append(a.id)
            uow.capacity.update_appointment(dataclasses.replace(
                a, status="cancelled", updated_at=now, note="; ".join(change.reasons)))
        for a in mine:
            uow.capacity.update_appointment(dataclasses.replace(a, status="accepted",
                                                                updated_at=now))
        plan = uow.capacity.update_plan(dataclasses.replace(
            plan, status="accepted", decided_by=user.id, decided_at=now))
        audit.append(uow, actor=user.username, action="capacity.accept", entity_type="plan",
                     entity_id=plan.id, at=now, before=None,
                     after={"booked": [a.id for a in mine],
                            "superseded": [a.id for a in replaced], "cancelled": cancelled})
        uow.commit()
        return _review(uow, plan, now)


def _appointment_or_404(uow: UnitOfWork, appointment_id: int, scope: Scope,
                        ) -> AppointmentRecord:
    a = uow.capacity.appointment(appointment_id)
    if a is None or not scope.covers(a.site_id):
        raise NotFound("appointment_id", f"no appointment {appointment_id}")
    return a


def move(uow: UnitOfWork, *, appointment_id: int, start: datetime, actor: str, now: datetime,
         reason: str | None = None) -> AppointmentView:
    """Move an accepted booking to ``start`` (the infusion start), judged by the gates inside
    this transaction; the durations are re-read from the engine's care now."""
    now = aware(now, "now")
    start = aware(start, "start")
    check_day("start", start.date())
    with uow:
        user = actor_with(uow, actor, SCHEDULERS, "move an appointment")
        a = _appointment_or_404(uow, appointment_id, scope_of(user))
        if a.status != "accepted":
            raise Conflict("appointment_id", f"appointment {appointment_id} is {a.status}")
        site = uow.sites.get(a.site_id)
        assert site is not None
        d = _Decisions(uow, site, now)
        if d.given(a.course_id, a.slot):
            raise Conflict("appointment_id", f"{a.slot} was given already")
        others = uow.capacity.appointments(site.id, statuses=("accepted",))  # type: ignore[arg-type]
        refusals, stay, b = _gates(d, _setup(uow, site), a, start, others, now)
        if refusals:
            raise Refused(refusals)
        assert stay is not None and b is not None
        due = d.of(a.course_id)
        assert due.decision is not None
        fp = gate.fingerprint(due.decision)
        new = uow.capacity.update_appointment(dataclasses.replace(
            _appointment(site, _demand(due, stay), stay, fp, b, "accepted", a.created_by,
                         a.created_at, plan_id=a.plan_id),
            id=a.id, version=a.version, updated_at=now,
            note=(reason or "").strip() or "moved by hand"))
        audit.append(uow, actor=user.username, action="capacity.move",
                     entity_type="appointment", entity_id=a.id, at=now,
                     before={"start": a.start_at, "resource": a.resource},
                     after={"start": new.start_at, "resource": new.resource,
                            "reason": new.note})
        uow.commit()
        return _view(d, new)


def cancel(uow: UnitOfWork, *, appointment_id: int, actor: str, now: datetime,
           reason: str) -> AppointmentView:
    now = aware(now, "now")
    why = (reason or "").strip()
    if not why:
        raise InvalidInput("reason", "is required to cancel an appointment")
    with uow:
        user = actor_with(uow, actor, SCHEDULERS, "cancel an appointment")
        a = _appointment_or_404(uow, appointment_id, scope_of(user))
        if a.status not in ("accepted", "proposed"):
            raise Conflict("appointment_id", f"appointment {appointment_id} is {a.status}")
        new = uow.capacity.update_appointment(dataclasses.replace(
            a, status="cancelled", updated_at=now, note=why))
        audit.append(uow, actor=user.username, action="capacity.cancel",
                     entity_type="appointment", entity_id=a.id, at=now,
                     before={"status": a.status}, after={"status": "cancelled", "reason": why})
        uow.commit()
        site = uow.sites.get(a.site_id)
        assert site is not None
        return _view(_Decisions(uow, site, now), new)


__all__ += ["ReviewRow", "hhmm", "weekday_of", "check_day"]


def booked_times(uow: UnitOfWork, *, patient_id: int, viewer: Scope,
                 ) -> dict[str, tuple[datetime | None, datetime, datetime]]:
    """The patient's accepted bookings by dose slot: (labs, infusion start, end of the stay),
    for the patient's calendar. A patient of another site is not found."""
    from tarla.services._common import patient_or_404

    with uow.readonly():
        patient = patient_or_404(uow, patient_id, viewer)
        courses = {c.id for c in uow.courses.for_patient(patient_id)}
        out: dict[str, tuple[datetime | None, datetime, datetime]] = {}
        for a in uow.capacity.appointments(patient.site_id, statuses=("accepted",)):
            if a.course_id in courses:
                out[a.slot] = (a.labs_at, a.start_at, a.chair_until or a.end_at)
        return out


__all__ += ["booked_times"]
