"""Small centres and demands for the capacity tests (New York site, literal dates), and an
independent checker of a plan that reads only the centre, the demands and the bookings.

Durations are the label's (label-facts.md §3): infusion 60 min; observation 2 h, 4 h or 8 h
(the upper end of each tier); a step-up bed held 24 h from the infusion start. The 30 min
labs draw is a site-policy default used only in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tarla.domain.capacity import (
    COMPOUNDING_LEAD_MINUTES,
    Centre,
    Demand,
    NurseShift,
    OpeningHours,
    Plan,
)

NY = ZoneInfo("America/New_York")
MONDAY = date(2026, 12, 7)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=NY)  # the Friday before
LABS, INFUSION = 30, 60
OBSERVE_2H, OBSERVE_4H, OBSERVE_8H, BED_24H = 120, 240, 480, 1440


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), NY)


def centre(*, chairs: int = 2, beds: int = 1, opens: time = time(8), closes: time = time(18),
           weekdays: Sequence[int] = range(5), day_nurses: int = 4, night_nurses: int = 1,
           per_nurse: int = 4, compounding: int = 4, allowance: int = 120) -> Centre:
    """Open on ``weekdays``; day nurses 07:00-19:00 on those days, night nurses 19:00-07:00
    every day (the shift crosses midnight), one nurse on the other days' daytime."""
    shifts = [NurseShift(d, time(7), time(19), day_nurses) for d in weekdays]
    shifts += [NurseShift(d, time(19), time(7), night_nurses) for d in range(7) if night_nurses]
    shifts += [NurseShift(d, time(7), time(19), 1) for d in range(7) if d not in weekdays]
    return Centre(site_tz="America/New_York", chairs=chairs, beds=beds,
                  hours=tuple(OpeningHours(d, opens, closes) for d in weekdays),
                  shifts=tuple(shifts), patients_per_nurse=per_nurse,
                  compounding_per_hour=compounding, overtime_allowance_minutes=allowance)


def dose(key: str, due: date, *, kind: str = "chair", after: int = OBSERVE_2H,
         **more: object) -> Demand:
    if kind == "bed" and after == OBSERVE_2H:
        after = BED_24H
    return Demand(key=key, patient=f"pt-{key}", course_id=1, slot="C5D1", due=due,
                  kind=kind, labs_minutes=LABS, infusion_minutes=INFUSION,  # type: ignore
                  after_minutes=after, **more)  # type: ignore[arg-type]


def violations(c: Centre, demands: Sequence[Demand], plan: Plan, now: datetime) -> list[str]:
    """Everything wrong with ``plan``, checked minute by minute from the raw inputs only."""
    zone = ZoneInfo(c.site_tz)
    by_key = {d.key: d for d in demands}
    out: list[str] = []
    use: dict[tuple[str, datetime], int] = {}
    booked = {}
    minute = timedelta(minutes=1)
    hours = {h.weekday: h for h in c.hours}
    for b in plan.bookings:
        d = by_key[b.key]
        start = b.start.astimezone(zone)
        b_start, b_end = b.start.astimezone(UTC), b.end.astimezone(UTC)  # absolute time
        booked[b.key] = start
        stay = d.infusion_minutes + d.after_minutes if d.kind == "chair" else d.after_minutes
        if b_end - b_start != timedelta(minutes=stay):
            out.append(f"{b.key}: stay of {b_end - b_start}, not {stay} min")
        if start.date() < d.due:
            out.append(f"{b.key}: starts {start} before its due date {d.due}")
        if b_start - timedelta(minutes=d.labs_minutes) < now:
            out.append(f"{b.key}: labs before now")
        if d.pinned_start is None:
            h = hours.get(start.weekday())
            labs = (start - timedelta(minutes=d.labs_minutes)).time()
            end_inf = (b_start + timedelta(minutes=d.infusion_minutes)).astimezone(zone)
            if h is None or labs < h.opens or end_inf.date() != start.date() \
                    or end_inf.time() > h.closes:
                out.append(f"{b.key}: outside opening hours at {start}")
            elif d.kind == "chair":
                close = datetime.combine(start.date(), h.closes, zone)
                if b_end > close + timedelta(minutes=c.overtime_allowance_minutes):
                    out.append(f"{b.key}: ends {b.end} past the overtime allowance")
        t = b_start
        while t < b_end:
            for name in (b.resource, "nurse"):
                use[name, t] = use.get((name, t), 0) + 1
            t += minute
        t = b_start - timedelta(minutes=COMPOUNDING_LEAD_MINUTES)
        while t < b_start:
            use["compounding", t] = use.get(("compounding", t), 0) + 1
            t += minute
    for d in demands:
        if d.follows and d.key in booked and d.follows in booked:
            if (booked[d.key].date() - booked[d.follows].date()).days < d.min_days_after:
                out.append(f"{d.key}: too soon after {d.follows}")
    for (name, t), n in use.items():
        if name == "nurse":
            cap = _nurses_on(c, t.astimezone(zone)) * c.patients_per_nurse
        else:
            cap = {"chair": c.chairs, "bed": c.beds, "compounding": c.compounding_per_hour}[name]
        if n > cap:
            out.append(f"{name}: {n} in use at {t.astimezone(zone)}, capacity {cap}")
    return out


def _nurses_on(c: Centre, t: datetime) -> int:
    on = 0
    for s in c.shifts:
        for back in (0, 1):
            day = t.date() - timedelta(days=back)
            if day.weekday() != s.weekday:
                continue
            begin = datetime.combine(day, s.starts, t.tzinfo)
            end_day = day + timedelta(days=1) if s.ends <= s.starts else day
            if begin <= t < datetime.combine(end_day, s.ends, t.tzinfo):
                on += s.nurses
    return on
