"""Capacity planning: chairs, monitoring beds, nurses and compounding, planned together (issue 12).

The core builds a *model*: pure data in integer minutes from the horizon start (local midnight of
the first day in the site's zone). Local wall times (opening hours, shifts, due dates) become
absolute minutes through :mod:`zoneinfo`, so a DST week has a 23 h and a 25 h day and an
elapsed-time stay (22-24 h in a bed) keeps its length in absolute time.

A demand is one due dose: labs drawn just before the dose (``labs_minutes``), the infusion
(``infusion_minutes``), then ``after_minutes``: the chair observation after the infusion, or, for
a bed, the rest of the stay counted from the infusion start (so the bed is held from the infusion
start for ``after_minutes``). The durations are the engine's care for that dose (label §3); this
module invents none.

Rules (hard): no dose before its due date nor before ``now``; the labs and the infusion inside the
opening hours of the day; a chair stay may run past closing by at most the site's overtime
allowance (counted as overtime); a bed stay crosses midnight and needs nurses on shift all along;
at every minute: chairs/beds in use <= chairs/beds, patients in care <= nurses x patients per
nurse, bags in compounding (the hour before each start) <= compounding per hour.

A dose after another in the same course (``follows``) is due ``planned_interval`` days after the
day that one is booked (label §3: dates move with actual doses), never fewer than
``min_days_after``.

Objective (lexicographic): placed demands, then lateness in days, then overtime minutes, then bed
nights, then the soft preferences (weekdays, earliest hour).

:func:`first_come_first_served` is the baseline (earliest due first, each at its first feasible
time); :func:`longest_first` a better greedy plan (a solver's warm start); a solver behind
:class:`PlanSolver` (CP-SAT in ``tarla.adapters.cpsat``) does the rest.
:func:`check_booking` judges a booking moved by hand with the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from tarla.domain.errors import InvalidInput

__all__ = ["OpeningHours", "NurseShift", "Centre", "Demand", "Booking", "Shortage", "Plan",
           "Refusal", "Candidate", "Model", "PlanSolver", "Usage", "build_model",
           "first_come_first_served", "longest_first", "check_booking", "plan_from_starts", "diagnose",
           "planned_interval", "overdue_on",
           "COMPOUNDING_LEAD_MINUTES", "Resource", "Status"]

Resource = Literal["chair", "bed"]
Status = Literal["optimal", "feasible", "infeasible", "unknown"]

# The bag is compounded in the hour before the infusion start (issue 12).
COMPOUNDING_LEAD_MINUTES = 60


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """The infusion centre is open on ``weekday`` (0 = Monday) from ``opens`` to ``closes``."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class NurseShift:
    """``nurses`` on duty on ``weekday`` from ``starts``; ``ends`` <= ``starts`` crosses midnight."""

    weekday: int
    starts: time
    ends: time
    nurses: int


@dataclass(frozen=True, slots=True)
class Centre:
    """A site's resources. ``overtime_allowance_minutes`` (site policy) is how long a chair stay
    may run past closing; every such minute is overtime."""

    site_tz: str
    chairs: int
    beds: int
    hours: tuple[OpeningHours, ...]
    shifts: tuple[NurseShift, ...]
    patients_per_nurse: int
    compounding_per_hour: int
    overtime_allowance_minutes: int = 120


@dataclass(frozen=True, slots=True)
class Demand:
    """One due dose to place. ``after_minutes``: chair observation after the infusion, or the
    bed stay from the infusion start (a bed stay crosses midnight)."""

    key: str
    patient: str
    course_id: int
    slot: str
    due: date
    kind: Resource
    labs_minutes: int
    infusion_minutes: int
    after_minutes: int
    preferred_weekdays: frozenset[int] | None = None
    earliest: time | None = None
    pinned_start: datetime | None = None
    # the dose after ``follows`` (another demand's key) in the same course: at least
    # ``min_days_after`` local days after it (the label's interval; the planner invents none)
    follows: str | None = None
    min_days_after: int = 0

    @property
    def occupies_minutes(self) -> int:
        """How long the chair or bed is held from the infusion start."""
        if self.kind == "bed":
            return max(self.after_minutes, self.infusion_minutes)
        return self.infusion_minutes + self.after_minutes


@dataclass(frozen=True, slots=True)
class Booking:
    key: str
    resource: Resource
    unit: int
    labs_start: datetime
    start: datetime
    end: datetime
    late_days: int
    overtime_minutes: int


@dataclass(frozen=True, slots=True)
class Shortage:
    """``resource`` ('chair', 'bed', 'nurse', 'compounding', 'hours') is short on ``day``:
    ``needed`` at the peak against ``available``."""

    resource: str
    day: date
    needed: int
    available: int
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """A proposed plan. ``lateness_days`` sums each dose's own delay: from its due date, or,
    for a dose after another (``Demand.follows``), from the day that one is booked plus the
    planned interval (dates move with actual doses); ``Booking.late_days`` is always counted
    from the demand's due date. ``unplaced``: doses with no room in the horizon (each named in
    ``shortages``); ``deferred``: doses whose dose before them was booked so late that they
    fall due after the horizon. ``objective``/``bound``/``gap``: the solver's, when there is
    one (``gap`` relative to the objective); ``status`` 'infeasible' means a dose was proved
    impossible to place (or pinned bookings already clash)."""

    status: Status
    bookings: tuple[Booking, ...]
    shortages: tuple[Shortage, ...]
    lateness_days: int
    overtime_minutes: int
    bed_nights: int
    objective: int | None
    bound: int | None
    gap: float | None
    solve_seconds: float
    unplaced: tuple[str, ...] = ()
    preference_misses: int = 0
    stage_gaps: tuple[float | None, ...] = ()  # a staged (lexicographic) solver's gap per stage
    # not placed because the dose before them moved them past the horizon (not a shortage)
    deferred: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    message: str
    rule: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A day a demand may be placed on: its start lies in [earliest, latest] (absolute minutes),
    it is ``late_days`` after the due date; ``closes`` is that day's closing minute."""

    day: int
    earliest: int
    latest: int
    closes: int
    late_days: int
    preferred: bool
    preferred_from: int  # starts before this minute miss the "earliest hour" preference


@dataclass(frozen=True, slots=True)
class Model:
    """Pure data for a solver. Minutes are absolute, from ``origin`` (local midnight of ``start``).

    ``midnights[d]`` is the minute of local midnight starting day ``d`` (``days + 3`` of them, so
    a bed stay on the last day can be counted); ``windows[d]`` is ``(opens, closes)`` or None;
    ``nurse_capacity`` is a step function of patients that nurses can care for, as
    ``(from, to, patients)`` segments covering ``[0, midnights[-1])``; ``candidates[i]`` are the
    days demand ``i`` may take (empty: it cannot be placed in the horizon)."""

    centre: Centre
    demands: tuple[Demand, ...]
    start: date
    days: int
    now: datetime
    origin: datetime
    grid: int
    now_minute: int
    midnights: tuple[int, ...]
    windows: tuple[tuple[int, int] | None, ...]
    nurse_capacity: tuple[tuple[int, int, int], ...]
    candidates: tuple[tuple[Candidate, ...], ...]
    pinned: tuple[int | None, ...]
    span: tuple[int, int]  # every array of minutes covers [span[0], span[1])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.centre.site_tz)

    @property
    def end_minute(self) -> int:
        return self.midnights[-1]

    def at(self, minute: int) -> datetime:
        """The aware local datetime of an absolute minute."""
        return (self.origin.astimezone(UTC) + timedelta(minutes=minute)).astimezone(
            self.zone)

    def minute(self, when: datetime) -> int:
        if when.tzinfo is None:
            raise InvalidInput("start", "must be timezone-aware")
        return _minutes(when, self.origin)

    def day_of(self, minute: int) -> int:
        """Index of the local day holding ``minute`` (may be < 0 or >= days)."""
        return (self.at(minute).date() - self.start).days

    def capacity(self, resource: Resource) -> int:
        return self.centre.chairs if resource == "chair" else self.centre.beds


class PlanSolver(Protocol):
    """A planner that turns a model into a plan (CP-SAT in ``tarla.adapters.cpsat``)."""

    def solve(self, model: Model, *, time_limit_s: float = 20.0, workers: int = 2) -> Plan: ...


def _minutes(when: datetime, origin: datetime) -> int:
    """Absolute minutes from ``origin`` (in UTC: aware datetimes sharing a zone would otherwise
    subtract as wall clocks and lose the DST hour)."""
    return int((when.astimezone(UTC) - origin.astimezone(UTC)).total_seconds() // 60)


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _check_centre(centre: Centre) -> ZoneInfo:
    try:
        zone = ZoneInfo(centre.site_tz)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput("site_tz", f"unknown time zone {centre.site_tz!r}") from exc
    for name in ("chairs", "beds", "patients_per_nurse", "compounding_per_hour",
                 "overtime_allowance_minutes"):
        if getattr(centre, name) < 0:
            raise InvalidInput(name, "must not be negative")
    seen: set[int] = set()
    for i, h in enumerate(centre.hours):
        if not 0 <= h.weekday <= 6:
            raise InvalidInput(f"hours[{i}].weekday", "must be 0 (Monday) to 6 (Sunday)")
        if h.weekday in seen:
            raise InvalidInput(f"hours[{i}].weekday", f"{_WEEKDAYS[h.weekday]} is given twice")
        seen.add(h.weekday)
        if h.closes <= h.opens:
            raise InvalidInput(f"hours[{i}].closes", "must be after the opening time")
    for i, s in enumerate(centre.shifts):
        if not 0 <= s.weekday <= 6:
            raise InvalidInput(f"shifts[{i}].weekday", "must be 0 (Monday) to 6 (Sunday)")
        if s.nurses < 0:
            raise InvalidInput(f"shifts[{i}].nurses", "must not be negative")
    return zone


def _check_demands(demands: Sequence[Demand]) -> None:
    keys: set[str] = set()
    for i, d in enumerate(demands):
        if d.key in keys:
            raise InvalidInput(f"demands[{i}].key", f"{d.key!r} is given twice")
        keys.add(d.key)
        if d.kind not in ("chair", "bed"):
            raise InvalidInput(f"demands[{i}].kind", "must be 'chair' or 'bed'")
        for name in ("labs_minutes", "infusion_minutes", "after_minutes"):
            if getattr(d, name) < 0:
                raise InvalidInput(f"demands[{i}].{name}", "must not be negative")
        if d.infusion_minutes == 0:
            raise InvalidInput(f"demands[{i}].infusion_minutes", "must be positive")
        if d.pinned_start is not None and d.pinned_start.tzinfo is None:
            raise InvalidInput(f"demands[{i}].pinned_start", "must be timezone-aware")
        if d.preferred_weekdays is not None and not d.preferred_weekdays <= set(range(7)):
            raise InvalidInput(f"demands[{i}].preferred_weekdays", "must be 0 (Monday) to 6")
        if d.min_days_after < 0:
            raise InvalidInput(f"demands[{i}].min_days_after", "must not be negative")
    by_key = {d.key: d for d in demands}
    for i, d in enumerate(demands):
        if d.follows is None:
            continue
        before = by_key.get(d.follows)
        if before is None:
            raise InvalidInput(f"demands[{i}].follows", f"no demand {d.follows!r}")
        if (before.due, before.key) >= (d.due, d.key):
            raise InvalidInput(f"demands[{i}].follows", f"{d.follows!r} must be due before it")


def _ceil(value: int, grid: int) -> int:
    return -((-value) // grid) * grid


def build_model(centre: Centre, demands: Sequence[Demand], start: date, days: int = 28, *,
                now: datetime, grid: int = 15) -> Model:
    """The planning model for ``days`` days from ``start`` (local dates in the site's zone)."""
    zone = _check_centre(centre)
    _check_demands(demands)
    if days < 1:
        raise InvalidInput("days", "must be at least 1")
    if grid < 1:
        raise InvalidInput("grid", "must be at least 1 minute")
    if now.tzinfo is None:
        raise InvalidInput("now", "must be timezone-aware")
    origin = datetime.combine(start, time(0), zone)

    def wall(day: int, at: time) -> int:
        local = datetime.combine(start + timedelta(days=day), at, zone)
        return _minutes(local, origin)

    midnights = tuple(wall(d, time(0)) for d in range(days + 3))
    span = (wall(-2, time(0)), wall(days + 5, time(0)))
    by_weekday = {h.weekday: h for h in centre.hours}
    windows: list[tuple[int, int] | None] = []
    for d in range(days + 2):
        h = by_weekday.get((start + timedelta(days=d)).weekday())
        windows.append(None if h is None else (wall(d, h.opens), wall(d, h.closes)))

    # nurses on shift as a step function, shifts crossing midnight included
    steps: dict[int, int] = {span[0]: 0, span[1]: 0}
    for d in range(-3, days + 5):
        weekday = (start + timedelta(days=d)).weekday()
        for s in centre.shifts:
            if s.weekday != weekday or s.nurses == 0:
                continue
            a = wall(d, s.starts)
            b = wall(d + 1, s.ends) if s.ends <= s.starts else wall(d, s.ends)
            a, b = max(a, span[0]), min(b, span[1])
            if a < b:
                steps[a] = steps.get(a, 0) + s.nurses
                steps[b] = steps.get(b, 0) - s.nurses
    segments: list[tuple[int, int, int]] = []
    level = 0
    points = sorted(steps)
    for a, b in zip(points, points[1:]):
        level += steps[a]
        patients = level * centre.patients_per_nurse
        if segments and segments[-1][2] == patients:
            segments[-1] = (segments[-1][0], b, patients)
        else:
            segments.append((a, b, patients))

    now_minute = _minutes(now, origin)
    candidates: list[tuple[Candidate, ...]] = []
    pinned: list[int | None] = []
    for dem in demands:
        if dem.pinned_start is not None:
            p = _minutes(dem.pinned_start, origin)
            day = (dem.pinned_start.astimezone(zone).date() - start).days
            win = windows[day] if 0 <= day < len(windows) else None
            closes = win[1] if win else p + dem.occupies_minutes
            pinned.append(p)
            candidates.append((Candidate(day, p, p, closes, (start + timedelta(days=day)
                                                             - dem.due).days, True, p),))
            continue
        pinned.append(None)
        options: list[Candidate] = []
        for d in range(days):
            today = start + timedelta(days=d)
            win = windows[d]
            if today < dem.due or win is None:
                continue
            opens, closes = win
            earliest = _ceil(max(opens, now_minute) + dem.labs_minutes, grid)
            latest = closes - dem.infusion_minutes
            if dem.kind == "chair":
                latest = min(latest, closes + centre.overtime_allowance_minutes
                             - dem.occupies_minutes)
            latest -= latest % grid
            if earliest > latest:
                continue
            preferred = dem.preferred_weekdays is None or today.weekday() in dem.preferred_weekdays
            pref_from = earliest if dem.earliest is None else max(earliest, wall(d, dem.earliest))
            options.append(Candidate(d, earliest, latest, closes, (today - dem.due).days,
                                     preferred, pref_from))
        candidates.append(tuple(options))
    return Model(centre=centre, demands=tuple(demands), start=start, days=days, now=now,
                 origin=origin, grid=grid, now_minute=now_minute, midnights=midnights,
                 windows=tuple(windows), nurse_capacity=tuple(segments),
                 candidates=tuple(candidates), pinned=tuple(pinned), span=span)


class Usage:
    """Minute-by-minute use of each resource: the baseline's bookkeeping and the hand check."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.lo, hi = model.span
        n = hi - self.lo
        self.used: dict[str, list[int]] = {r: [0] * n for r in
                                           ("chair", "bed", "nurse", "compounding")}
        self.caps: dict[str, int] = {"chair": model.centre.chairs, "bed": model.centre.beds,
                                     "compounding": model.centre.compounding_per_hour}

    def _clip(self, a: int, b: int) -> tuple[int, int]:
        return max(a, self.lo) - self.lo, min(b, self.lo + len(self.used["chair"])) - self.lo

    def add(self, resource: Resource, start: int, end: int, sign: int = 1) -> None:
        for name, a, b in ((resource, start, end), ("nurse", start, end),
                           ("compounding", start - COMPOUNDING_LEAD_MINUTES, start)):
            arr = self.used[name]
            i, j = self._clip(a, b)
            for m in range(i, j):
                arr[m] += sign

    def first_full(self, name: str, a: int, b: int) -> tuple[int, int] | None:
        """The first minute in [a, b) where ``name`` has no room left, with its capacity."""
        arr = self.used[name]
        if name == "nurse":
            pieces = [(max(a, s), min(b, e), cap) for s, e, cap in self.model.nurse_capacity
                      if s < b and e > a]
            covered = sum(e - s for s, e, _ in pieces)
            if covered < b - a:  # outside the span: nobody is known to be on shift
                return (a, 0)
        else:
            pieces = [(a, b, self.caps[name])]
        for s, e, cap in pieces:
            i, j = self._clip(s, e)
            if i < j and max(arr[i:j]) >= cap:
                return next(m + self.lo for m in range(i, j) if arr[m] >= cap), cap
        return None

    def blocker(self, resource: Resource, start: int, end: int) -> tuple[str, int, int] | None:
        """The first resource with no room for a stay [start, end): (name, minute, capacity)."""
        for name, a, b in ((resource, start, end), ("nurse", start, end),
                           ("compounding", start - COMPOUNDING_LEAD_MINUTES, start)):
            full = self.first_full(name, a, b)
            if full is not None:
                return name, full[0], full[1]
        return None

    def peak(self, name: str, a: int, b: int) -> int:
        i, j = self._clip(a, b)
        return max(self.used[name][i:j], default=0)


def _stay(model: Model, i: int, start: int) -> tuple[int, int]:
    return start, start + model.demands[i].occupies_minutes


def first_come_first_served(model: Model) -> Plan:
    """The baseline: pinned bookings first, then earliest due first (key breaks ties), each at
    the first start (day by day, on the grid) where it fits."""
    usage = Usage(model)
    starts: dict[str, int] = {}
    for i, p in enumerate(model.pinned):
        if p is not None:
            dem = model.demands[i]
            usage.add(dem.kind, *_stay(model, i, p))
            starts[dem.key] = p
    order = sorted((i for i, p in enumerate(model.pinned) if p is None),
                   key=lambda i: (model.demands[i].due, model.demands[i].key))
    for i in order:
        dem = model.demands[i]
        first_day = 0
        if dem.follows is not None:
            if dem.follows not in starts:
                continue  # the dose before it is not placed: neither is this one
            first_day = model.day_of(starts[dem.follows]) + planned_interval(model, i)
        found = next((s for c in model.candidates[i] if c.day >= first_day
                      for s in range(c.earliest, c.latest + 1, model.grid)
                      if usage.blocker(dem.kind, *_stay(model, i, s)) is None), None)
        if found is not None:
            usage.add(dem.kind, *_stay(model, i, found))
            starts[dem.key] = found
    return plan_from_starts(model, starts, status="feasible", objective=None, bound=None,
                            solve_seconds=0.0)


def longest_first(model: Model) -> Plan:
    """A constructive plan (the planner's warm start): day by day, the doses ready that day
    (due, and the dose before them booked long enough ago) go most overdue first, bed stays
    next, then the longest stay first, each at its first start that needs no overtime (a
    start honouring the earliest-hour preference first), else its first start at all; what
    does not fit waits for the next day."""
    usage = Usage(model)
    starts: dict[str, int] = {}
    for i, p in enumerate(model.pinned):
        if p is not None:
            usage.add(model.demands[i].kind, *_stay(model, i, p))
            starts[model.demands[i].key] = p
    by_day = [{c.day: c for c in cands} for cands in model.candidates]
    pending = [i for i, p in enumerate(model.pinned) if p is None]
    for day in range(model.days):
        ready: list[tuple[int, int]] = []  # (days overdue, index)
        for i in pending:
            overdue = overdue_on(model, i, day, starts, by_day)
            if overdue is not None:
                ready.append((overdue, i))
        ready.sort(key=lambda r: (-r[0], model.demands[r[1]].kind != "bed",
                                  -model.demands[r[1]].occupies_minutes,
                                  model.demands[r[1]].key))
        for _, i in ready:
            c = by_day[i][day]
            dem = model.demands[i]
            times = range(c.earliest, c.latest + 1, model.grid)
            fits = [t for t in times if usage.blocker(dem.kind, *_stay(model, i, t)) is None]
            calm = [t for t in fits if dem.kind == "bed" or t + dem.occupies_minutes <= c.closes]
            liked = [t for t in calm if t >= c.preferred_from]
            options = liked or calm or fits
            if options:
                chosen = options[0]
                usage.add(dem.kind, *_stay(model, i, chosen))
                starts[dem.key] = chosen
        pending = [i for i in pending if model.demands[i].key not in starts]
    return plan_from_starts(model, starts, status="feasible", objective=None, bound=None,
                            solve_seconds=0.0)


def overdue_on(model: Model, i: int, day: int, starts: Mapping[str, int],
               by_day: Sequence[Mapping[int, Candidate]]) -> int | None:
    """How many days dose ``i`` is overdue on horizon ``day``, or None when it is not ready
    that day: no start is possible then, or it follows a dose not booked yet or booked less
    than the label's interval before (the constructive passes of both planners use this)."""
    c = by_day[i].get(day)
    if c is None:
        return None
    follows = model.demands[i].follows
    if follows is None:
        return c.late_days
    if follows not in starts:
        return None
    due_day = model.day_of(starts[follows]) + planned_interval(model, i)
    return None if day < due_day else day - due_day


def _closes_on(model: Model, minute: int) -> int | None:
    day = model.day_of(minute)
    win = model.windows[day] if 0 <= day < len(model.windows) else None
    return None if win is None else win[1]


def _nights(model: Model, start: int, end: int) -> int:
    return sum(1 for m in model.midnights if start < m < end)


def plan_from_starts(model: Model, starts: dict[str, int], *, status: Status,
                     objective: int | None, bound: int | None, solve_seconds: float) -> Plan:
    """A plan from chosen infusion starts (absolute minutes): units assigned (first free unit,
    in start order), lateness, overtime and bed nights counted, the unplaced diagnosed."""
    placed = sorted((starts[d.key], i) for i, d in enumerate(model.demands) if d.key in starts)
    free_at: dict[str, list[int]] = {"chair": [model.span[0]] * model.centre.chairs,
                                     "bed": [model.span[0]] * model.centre.beds}
    bookings: list[Booking] = []
    late = overtime = nights = misses = 0
    for s, i in placed:
        dem = model.demands[i]
        end = s + dem.occupies_minutes
        units = free_at[dem.kind]
        unit = next((u for u, t in enumerate(units) if t <= s), None)
        if unit is None:  # over capacity (only a pinned booking can do that): unit beyond range
            unit = len(units)
            units.append(end)
        units[unit] = end
        local = model.at(s)
        late_days = (local.date() - dem.due).days
        before = starts.get(dem.follows) if dem.follows is not None else None
        closes = _closes_on(model, s)
        ot = max(0, end - closes) if dem.kind == "chair" and closes is not None else 0
        if dem.kind == "bed":
            nights += _nights(model, s, end)
        if before is not None:  # the course's own delay: from the dose before it, as planned
            late += max(0, model.day_of(s) - model.day_of(before) - planned_interval(model, i))
        else:
            late += max(0, late_days)
        overtime += ot
        if (dem.preferred_weekdays is not None
                and local.weekday() not in dem.preferred_weekdays) or \
                (dem.earliest is not None and local.time() < dem.earliest):
            misses += 1
        bookings.append(Booking(key=dem.key, resource=dem.kind, unit=unit + 1,
                                labs_start=model.at(s - dem.labs_minutes), start=local,
                                end=model.at(end), late_days=late_days, overtime_minutes=ot))
    deferred = [d for i, d in enumerate(model.demands)
                if d.key not in starts and _deferred(model, i, starts)]
    unplaced = [d for i, d in enumerate(model.demands)
                if d.key not in starts and not _deferred(model, i, starts)]
    shortages = diagnose(model, bookings, unplaced)
    gap = None
    if objective is not None and bound is not None:
        gap = 0.0 if objective == bound else abs(objective - bound) / max(1, abs(objective))
    return Plan(status=status, bookings=tuple(bookings), shortages=shortages,
                lateness_days=late, overtime_minutes=overtime, bed_nights=nights,
                objective=objective, bound=bound, gap=gap, solve_seconds=solve_seconds,
                unplaced=tuple(d.key for d in unplaced), preference_misses=misses,
                deferred=tuple(d.key for d in deferred))


def planned_interval(model: Model, i: int) -> int:
    """Days from the dose ``follows`` names to demand ``i``: the planned interval (their due
    dates), never less than ``min_days_after``. Dates move with actual doses (label §3): the
    demand falls due this many days after the day the dose before it is booked."""
    dem = model.demands[i]
    before = next(d for d in model.demands if d.key == dem.follows)
    return max(dem.min_days_after, (dem.due - before.due).days)


def _deferred(model: Model, i: int, starts: dict[str, int]) -> bool:
    """Demand ``i`` is no longer due in the horizon: the dose before it is not placed, or is
    placed so late that this one falls due after the last day."""
    dem = model.demands[i]
    if dem.follows is None:
        return False
    before = starts.get(dem.follows)
    if before is None:
        return True
    return model.day_of(before) + planned_interval(model, i) > model.days - 1


def _usage_of(model: Model, bookings: Sequence[Booking], skip: str | None = None) -> Usage:
    usage = Usage(model)
    for b in bookings:
        if b.key != skip:
            usage.add(b.resource, model.minute(b.start), model.minute(b.end))
    return usage


def diagnose(model: Model, bookings: Sequence[Booking],
             unplaced: Sequence[Demand]) -> tuple[Shortage, ...]:
    """Which resource is short on which day for the demands left unplaced: for each, the day it
    was first allowed on and the resource that blocked most of that day's starts."""
    usage = _usage_of(model, bookings)
    found: dict[tuple[str, date], list[int]] = {}  # -> [count, peak, capacity]
    reasons: dict[tuple[str, date], str] = {}
    index = {d.key: i for i, d in enumerate(model.demands)}
    horizon_end = model.start + timedelta(days=model.days - 1)
    for dem in unplaced:
        options = model.candidates[index[dem.key]]
        if not options:
            day = max(dem.due, model.start)
            if dem.due > horizon_end:
                why = f"due {dem.due}, after the last day of the horizon ({horizon_end})"
            else:
                why = f"no open day with room for the labs and the infusion from {day} " \
                      f"to {horizon_end}"
            key = ("hours", min(day, horizon_end) if dem.due <= horizon_end else dem.due)
            found.setdefault(key, [0, 0, 0])[0] += 1
            reasons[key] = why
            continue
        first = options[0]
        counts: dict[str, int] = {}
        peak_cap: dict[str, tuple[int, int]] = {}
        for s in range(first.earliest, first.latest + 1, model.grid):
            block = usage.blocker(dem.kind, *_stay(model, index[dem.key], s))
            name = block[0] if block else dem.kind
            counts[name] = counts.get(name, 0) + 1
            if block:
                peak_cap[name] = (max(peak_cap.get(name, (0, 0))[0], block[2]), block[2])
        name = max(counts, key=lambda n: counts[n])
        day = model.start + timedelta(days=first.day)
        key = (name, day)
        cap = peak_cap.get(name, (0, model.capacity(dem.kind)))[1]
        entry = found.setdefault(key, [0, cap, cap])
        entry[0] += 1
        reasons[key] = f"no {name} free from {day} to the end of the horizon ({horizon_end})"
    return tuple(Shortage(resource=r, day=d, needed=v[1] + v[0], available=v[2],
                          reason=f"{v[0]} dose(s) left unplaced: {reasons[(r, d)]}")
                 for (r, d), v in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0])))


def _hm(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M %Z")


def check_booking(model: Model, existing: tuple[Booking, ...], demand: Demand,
                  start: datetime) -> tuple[Refusal, ...]:
    """Why ``demand`` may not start at ``start`` given the other bookings (a booking with the
    same key is the one being moved and is left out). Empty: the move is allowed."""
    if start.tzinfo is None:
        raise InvalidInput("start", "must be timezone-aware")
    out: list[Refusal] = []
    s = model.minute(start)
    local = start.astimezone(model.zone)
    end = s + demand.occupies_minutes
    if local.date() < demand.due:
        out.append(Refusal("start", f"{demand.slot} is due on {demand.due}; "
                                    f"{_hm(local)} is before its due date", "capacity.due"))
    if s - demand.labs_minutes < model.now_minute:
        out.append(Refusal("start", f"the labs at {_hm(model.at(s - demand.labs_minutes))} "
                                    f"would be in the past", "capacity.past"))
    before = next((b for b in existing if demand.follows is not None
                   and b.key == demand.follows), None)
    if before is not None:
        gap = (local.date() - before.start.astimezone(model.zone).date()).days
        if gap < demand.min_days_after:
            out.append(Refusal("start", f"{demand.slot} must be at least {demand.min_days_after}"
                                        f" days after the dose before it "
                                        f"({_hm(before.start.astimezone(model.zone))}); "
                                        f"{_hm(local)} is {gap} days after",
                               "capacity.interval"))
    day = model.day_of(s)
    if not 0 <= day < len(model.windows):
        out.append(Refusal("start", f"{local.date()} is outside the planning horizon "
                                    f"({model.start} + {model.days} days)", "capacity.horizon"))
        return tuple(out)
    win = model.windows[day]
    if win is None:
        out.append(Refusal("start", f"the centre is closed on {_WEEKDAYS[local.weekday()]} "
                                    f"{local.date()}", "capacity.hours"))
    else:
        opens, closes = win
        if s - demand.labs_minutes < opens:
            out.append(Refusal("start", f"the labs at {_hm(model.at(s - demand.labs_minutes))} "
                                        f"would start before opening at {_hm(model.at(opens))}",
                               "capacity.hours"))
        if s + demand.infusion_minutes > closes:
            out.append(Refusal("start", f"the infusion would end at "
                                        f"{_hm(model.at(s + demand.infusion_minutes))}, after "
                                        f"closing at {_hm(model.at(closes))}", "capacity.hours"))
        allowance = model.centre.overtime_allowance_minutes
        if demand.kind == "chair" and end > closes + allowance:
            out.append(Refusal("start", f"the chair stay would end at {_hm(model.at(end))}, "
                                        f"{end - closes} min after closing at "
                                        f"{_hm(model.at(closes))} (the site allows {allowance} "
                                        f"min of overtime)", "capacity.overtime"))
    usage = _usage_of(model, existing, skip=demand.key)
    nouns = {"chair": "chairs", "bed": "beds"}
    full = usage.first_full(demand.kind, s, end)
    if full is not None:
        out.append(Refusal("start", f"all {full[1]} {nouns[demand.kind]} are taken at "
                                    f"{_hm(model.at(full[0]))}", f"capacity.{demand.kind}"))
    full = usage.first_full("nurse", s, end)
    if full is not None:
        out.append(Refusal("start", f"the nurses on shift at {_hm(model.at(full[0]))} can care "
                                    f"for {full[1]} patient(s) and all are taken",
                           "capacity.nurses"))
    full = usage.first_full("compounding", s - COMPOUNDING_LEAD_MINUTES, s)
    if full is not None:
        out.append(Refusal("start", f"the pharmacy compounds {full[1]} bag(s) per hour and is "
                                    f"full at {_hm(model.at(full[0]))}", "capacity.compounding"))
    return tuple(out)
