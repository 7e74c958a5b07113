"""The unit board: every patient present at the site today, by where they are in their dose.

Present today: a course due today that has not started its dose (waiting, or premedicated),
and a dose started today or whose monitoring reaches into today (a 22-24 h bed that began
yesterday) — infusing, in observation, in a monitoring bed, ready for discharge, discharged.
Besides them, every ongoing CRS or ICANS of the site's courses, with grade and onset, whoever
it is (the patient may have gone home or be on another ward).

The state of a dose is the pure :func:`tarla.domain.board.place`; the monitoring a dose was
given with is the course engine's decision just before it started (its care, including the
22-24 h after a grade 2 toxicity), never re-derived here. The worklist (its decision, hold
reasons and pending labs) gives the waiting rows. Reads only; scoped to the viewer's sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain.board import STATE_ORDER, BoardState, DoseOnBoard, Placement, place
from tarla.label.schedule import INFUSION
from tarla.label.toxicity import EventType
from tarla.services._common import aware, decide, site_for, zone_of
from tarla.services.ports import UnitOfWork
from tarla.services.queries import worklist
from tarla.services.records import AdministrationRecord
from tarla.services.scope import Scope

__all__ = ["Ongoing", "BoardRow", "Board", "unit_board", "CareFacts"]

#: The events the board lists as ongoing (label-facts §6: where CRS and ICANS get caught).
_WATCHED = (EventType.CRS.value, EventType.ICANS.value)
_TICK = timedelta(microseconds=1)
#: How far back a dose can have started and still be in a monitoring bed today (the longest
#: facility monitoring is 24 h from the start; a day and a bit covers a bed across midnight).
_LOOK_BACK = timedelta(hours=26)


@dataclass(frozen=True, slots=True)
class Ongoing:
    event_id: int
    course_id: int
    patient_id: int
    name: str
    mrn: str
    type: str
    grade: int
    onset: datetime

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        return {"event_id": self.event_id, "course_id": self.course_id,
                "patient_id": self.patient_id, "name": self.name, "mrn": self.mrn,
                "type": self.type, "grade": self.grade,
                "onset": self.onset.astimezone(zone).isoformat()}


@dataclass(frozen=True, slots=True)
class CareFacts:
    """What the nurses charted around one course's dose of today (premedication, saline,
    discharge, vital signs), as the care services report it. Every field optional."""

    premedicated_at: datetime | None = None
    discharged_at: datetime | None = None
    notes: tuple[str, ...] = ()  # e.g. "saline due", "vital signs overdue since 10:15"
    overdue: bool = False  # a check (vital signs, saline) is overdue


@dataclass(frozen=True, slots=True)
class BoardRow:
    course_id: int
    patient_id: int
    mrn: str
    name: str
    state: BoardState
    placement: Placement
    slot: str | None = None
    dose_mg: int | None = None
    monitoring: str | None = None  # the tier in words, e.g. "facility 22-24 h"
    decision: str | None = None  # waiting rows: the worklist's decision
    hold_reasons: tuple[str, ...] = ()
    pending_checks: tuple[str, ...] = ()
    ongoing: tuple[Ongoing, ...] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    notes: tuple[str, ...] = ()
    overdue: bool = False

    def to_json(self, zone: ZoneInfo) -> dict[str, Any]:
        """Times in the site's zone."""
        p = self.placement

        def iso(v: datetime | None) -> str | None:
            return None if v is None else v.astimezone(zone).isoformat()

        return {"course_id": self.course_id, "patient_id": self.patient_id, "mrn": self.mrn,
                "name": self.name, "state": self.state.value, "slot": self.slot,
                "dose_mg": self.dose_mg, "monitoring": self.monitoring,
                "monitoring_rule": p.rule, "since": iso(p.since), "ends_at": iso(p.ends_at),
                "latest_end": iso(p.latest_end),
                "remaining_minutes": None if p.remaining is None
                else int(p.remaining.total_seconds() // 60),
                "infusion_overrun": p.overrun, "decision": self.decision,
                "hold_reasons": list(self.hold_reasons),
                "pending_checks": list(self.pending_checks),
                "ongoing": [o.to_json(zone) for o in self.ongoing],
                "started_at": iso(self.started_at), "ended_at": iso(self.ended_at),
                "notes": list(self.notes), "overdue": self.overdue}


@dataclass(frozen=True, slots=True)
class Board:
    site: str
    timezone: str
    as_of: datetime
    rows: tuple[BoardRow, ...] = field(default_factory=tuple)
    ongoing: tuple[Ongoing, ...] = field(default_factory=tuple)

    def groups(self) -> list[tuple[BoardState, list[BoardRow]]]:
        return [(s, [r for r in self.rows if r.state is s]) for s in STATE_ORDER]

    def to_json(self) -> dict[str, Any]:
        zone = ZoneInfo(self.timezone)
        return {"site": self.site, "timezone": self.timezone,
                "as_of": self.as_of.astimezone(zone).isoformat(),
                "rows": [r.to_json(zone) for r in self.rows],
                "ongoing": [o.to_json(zone) for o in self.ongoing],
                "counts": {s.value: len(rs) for s, rs in self.groups()}}


def _words(kind: Any, lo: float, hi: float) -> str:
    return f"{kind} {lo:g}-{hi:g} h" if lo != hi else f"{kind} {lo:g} h"


def _care_facts(uow: UnitOfWork, course_ids: list[int], since: datetime,
                now: datetime) -> dict[int, CareFacts]:
    """The care services' facts of each course (premedication, saline, discharge), inside the
    caller's open unit of work."""
    from tarla.services.care import board_facts  # that module builds CareFacts of this one

    return dict(board_facts(uow, course_ids, since, now))


def _checks(uow: UnitOfWork, course_ids: list[int], viewer: Scope, now: datetime,
            zone: ZoneInfo) -> dict[int, tuple[str, bool]]:
    """Per course on the board with a dose: the vital-signs check due (the flowsheet's
    schedule), in words, and whether it is overdue."""
    from tarla.services.monitoring import monitoring_status

    def at(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%H:%M")

    out: dict[int, tuple[str, bool]] = {}
    for cid in course_ids:
        for st in monitoring_status(uow, viewer=viewer, now=now, course_id=cid):
            words: list[str] = []
            if st.next_due is not None:
                words.append(f"vital signs OVERDUE (due {at(st.next_due)})" if st.overdue
                             else f"vital signs due {at(st.next_due)}")
            if st.ice_next_due is not None:
                words.append(f"ICE OVERDUE (due {at(st.ice_next_due)})" if st.ice_overdue
                             else f"ICE due {at(st.ice_next_due)}")
            if words:
                out[cid] = ("; ".join(words), st.overdue or st.ice_overdue)
    return out


def unit_board(uow: UnitOfWork, *, site_code: str, now: datetime, viewer: Scope) -> Board:
    """The board of the site as of ``now``."""
    now = aware(now, "now")
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        zone: ZoneInfo = zone_of(site)
        midnight = datetime.combine(now.astimezone(zone).date(), time(0), zone)
        latest: dict[int, AdministrationRecord] = {}
        for a in uow.administrations.started_at_site(site.id, midnight - _LOOK_BACK):  # type: ignore[arg-type]
            if a.started_at <= now:
                latest[a.course_id] = a  # by start: the last one wins
        events = [e for e in uow.events.ongoing_at_site(site.id, _WATCHED, now)]  # type: ignore[arg-type]
        course_ids = sorted(set(latest) | {e.course_id for e in events})
        courses = {c: uow.courses.get(c) for c in course_ids}
        patients = {c.patient_id: uow.patients.get(c.patient_id)
                    for c in courses.values() if c is not None}
        decisions = {cid: decide(uow, courses[cid], a.started_at - _TICK, zone)  # type: ignore[arg-type]
                     for cid, a in latest.items()}
        facts = _care_facts(uow, course_ids, midnight - _LOOK_BACK, now)
    checks = _checks(uow, sorted(latest), viewer, now, zone)

    def who(course_id: int) -> tuple[int, str, str]:
        course = courses[course_id]
        assert course is not None
        p = patients[course.patient_id]
        assert p is not None
        return p.id, f"{p.family_name}, {p.given_name}", p.mrn  # type: ignore[return-value]

    def ongoing_of(e: Any) -> Ongoing:
        pid, name, mrn = who(e.course_id)
        return Ongoing(e.id, e.course_id, pid, name, mrn, e.type, e.grade, e.onset)

    ongoing = tuple(ongoing_of(e) for e in events)
    by_course: dict[int, list[Ongoing]] = {}
    for o in ongoing:
        by_course.setdefault(o.course_id, []).append(o)

    rows: list[BoardRow] = []
    for cid, a in latest.items():
        d = decisions[cid]
        care = d.care
        mon = care.monitoring if care is not None else None
        f = facts.get(cid, CareFacts())
        placement = place(DoseOnBoard(a.started_at, a.ended_at, INFUSION.minutes, mon,
                                      discharged_at=f.discharged_at), now)
        if placement.state is BoardState.DISCHARGED:
            end_of_stay = placement.since or a.started_at  # discharged today: still listed
        else:
            end_of_stay = placement.latest_end or a.ended_at or a.started_at
        if a.started_at < midnight and placement.state in (BoardState.READY,
                                                           BoardState.DISCHARGED) \
                and end_of_stay < midnight and cid not in by_course:
            continue  # went home before today
        pid, name, mrn = who(cid)
        check, late = checks.get(cid, (None, False))
        if placement.state not in (BoardState.DISCHARGED, BoardState.READY) and check:
            f = CareFacts(f.premedicated_at, f.discharged_at, (*f.notes, check),
                          f.overdue or late)
        rows.append(BoardRow(
            cid, pid, mrn, name, placement.state, placement, slot=a.slot, dose_mg=a.dose_mg,
            monitoring=None if mon is None else _words(mon.kind, mon.hours_min, mon.hours_max),
            ongoing=tuple(by_course.get(cid, ())), started_at=a.started_at,
            ended_at=a.ended_at, notes=f.notes, overdue=f.overdue))

    on_board = {r.course_id for r in rows}
    started_today = {cid for cid, a in latest.items() if a.started_at >= midnight}
    wl = worklist(uow, site_code=site.code, now=now, viewer=viewer)
    with uow.readonly():
        waiting_facts = _care_facts(uow, [i.course_id for i in wl.items], midnight, now)
    for item in wl.items:
        if item.course_id in on_board or item.course_id in started_today:
            continue
        if item.decision not in ("give", "hold", "error"):
            continue
        f = waiting_facts.get(item.course_id, CareFacts())
        placement = place(DoseOnBoard(None, None, INFUSION.minutes, None,
                                      premedicated_at=f.premedicated_at), now)
        rows.append(BoardRow(
            item.course_id, item.patient_id, item.mrn, item.name, placement.state, placement,
            slot=item.slot, dose_mg=item.dose_mg, monitoring=item.monitoring,
            decision=item.decision, hold_reasons=item.hold_reasons,
            pending_checks=item.pending_checks, ongoing=tuple(by_course.get(item.course_id, ())),
            notes=f.notes, overdue=f.overdue))
    order = {s: i for i, s in enumerate(STATE_ORDER)}
    rows.sort(key=lambda r: (order[r.state], r.placement.ends_at or now, r.name))
    return Board(site.code, site.timezone, now, tuple(rows), ongoing)
