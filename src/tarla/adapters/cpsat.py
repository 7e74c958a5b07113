"""The capacity planner on Google OR-Tools CP-SAT (issue 12), behind ``PlanSolver``.

The model (see :mod:`tarla.domain.capacity` for the rules): for each demand and each day it may
take, an *option*: a presence literal, an infusion start on the model's grid (minutes = grid x
slot) inside that day's window, and optional fixed-size intervals: the chair or bed stay (also
the nurses' load) and the hour of compounding before the start. A demand takes at most one
option. Capacities are ``AddCumulative`` constraints stated per day over the options that can
touch that day (a bed stay over midnight counts on both days), which keeps every cumulative
small; the nurses' capacity follows the shifts through fixed intervals that take away what is
off duty (so a bed stay over midnight needs a night shift). Redundant per-day cuts (chair
minutes in hourly windows, compounding slots, bed starts per day) are stated for the LP; they
bound lateness from crowded days and bed queues, not lateness from packing within a day
(``bench/capacity.py`` shows where that leaves the gap).

The objective is lexicographic, solved in two stages (weights stay small, the LP stays exact):
1. unplaced demands (weight larger than any lateness), then lateness in days;
2. with stage 1 held at its best, overtime minutes, then bed nights, then missed preferences.
Every demand may stay unplaced (a slack): the plan then says which resource was short on which
day instead of a bare INFEASIBLE.

Warm start: the best of three constructive plans (first come, first served; ``longest_first``;
and a day-by-day pass of tiny CP-SAT models, see :func:`_day_by_day`) is completed into a full
hint, so the plan is never worse than any of them on stage 1; if the solver finds nothing in
time, that plan is returned with status ``unknown``.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field, replace

from ortools.sat.python import cp_model

from tarla.domain.capacity import (
    COMPOUNDING_LEAD_MINUTES,
    Candidate,
    Model,
    Plan,
    Shortage,
    Status,
    Usage,
    first_come_first_served,
    longest_first,
    overdue_on,
    plan_from_starts,
    planned_interval,
)

__all__ = ["CpSatPlanner", "DAY_EFFORT"]

# deterministic-time budget of each day's small model in the day-by-day pass (CP-SAT's own
# work units, independent of the host's load)
DAY_EFFORT = 0.1


@dataclass
class _Option:
    i: int
    cand: Candidate
    present: cp_model.IntVar | int
    slot: cp_model.IntVar | None  # None: pinned
    start: cp_model.LinearExprT


@dataclass
class _Vars:
    options: dict[int, list[_Option]] = field(default_factory=dict)
    day: dict[int, cp_model.LinearExprT] = field(default_factory=dict)
    placed: dict[int, cp_model.IntVar | int] = field(default_factory=dict)
    lateness: list[cp_model.LinearExprT] = field(default_factory=list)
    unplaced: list[cp_model.LinearExprT] = field(default_factory=list)
    overtime: list[cp_model.LinearExprT] = field(default_factory=list)
    nights: list[cp_model.LinearExprT] = field(default_factory=list)
    misses: list[cp_model.LinearExprT] = field(default_factory=list)
    max_late: int = 0
    unplaced_weight: int = 1  # above the lateness of every demand at once
    max_nights: int = 0
    max_overtime: int = 0
    # (resource, day) -> intervals that may touch that day (each takes one unit)
    load: dict[tuple[str, int], list[cp_model.IntervalVar]] = field(default_factory=dict)
    extent: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)

    def touch(self, model: Model, name: str, iv: cp_model.IntervalVar, lo: int,
              hi: int) -> None:
        """Record ``iv`` (somewhere within [lo, hi)) on every day it may overlap."""
        for d in range(model.day_of(lo), model.day_of(max(lo, hi - 1)) + 1):
            self.load.setdefault((name, d), []).append(iv)
            a, b = self.extent.get((name, d), (lo, hi))
            self.extent[name, d] = (min(a, lo), max(b, hi))


class CpSatPlanner:
    """Plans with CP-SAT (see the module docstring). ``max_late_days``: days after the due date
    offered to the solver (never fewer than the constructive plan needed; a dose that fits in
    none is unplaced and reported as a shortage); ``seed``: the solver's random seed."""

    def __init__(self, *, seed: int = 0, day_share: float = 0.5, stage1_share: float = 0.75,
                 hint: bool = True, max_late_days: int | None = 3) -> None:
        self.seed = seed
        self.day_share = day_share  # of the time limit, for the day-by-day constructive pass
        self.stage1_share = stage1_share
        self.hint = hint
        self.max_late_days = max_late_days  # options later than this are not offered

    def solve(self, model: Model, *, time_limit_s: float = 20.0, workers: int = 2) -> Plan:
        began = _time.monotonic()
        pinned_clash = _pinned_clash(model)
        if pinned_clash:
            return Plan(status="infeasible", bookings=(), shortages=pinned_clash,
                        lateness_days=0, overtime_minutes=0, bed_nights=0, objective=None,
                        bound=None, gap=None, solve_seconds=_time.monotonic() - began,
                        unplaced=tuple(d.key for d in model.demands))
        cp = cp_model.CpModel()
        base = _constructive(model, _day_by_day(model, time_limit_s * self.day_share,
                                                self.seed, workers))
        limit = self.max_late_days
        if limit is not None:  # never offer fewer days than the constructive plan needed
            limit = max([limit, *(b.late_days for b in base.bookings)])
        v = _build(cp, model, limit)
        obj1 = sum(v.unplaced) * v.unplaced_weight + sum(v.lateness)
        cp.Minimize(obj1)
        if self.hint:  # after the objective: the completed hint is the cheapest completion
            _hint(cp, model, v, base, self.seed, workers, max(1.0, 0.1 * time_limit_s))
        spent = _time.monotonic() - began
        solver = _solver(self.seed, max(0.5, time_limit_s * self.stage1_share - spent,
                                        (time_limit_s - spent) * 0.8), workers)
        st1 = solver.Solve(cp)
        if st1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            # nothing in time (or a model error): say so, and give the constructive plan,
            # which keeps every rule, so the scheduler is never left with nothing
            return replace(base, status="unknown", solve_seconds=_time.monotonic() - began)
        best1 = round(solver.ObjectiveValue())
        bound1 = round(solver.BestObjectiveBound())
        starts = _starts(solver, model, v)
        # stage 2: keep stage 1 at its best, then overtime > bed nights > preferences
        cp.Add(obj1 <= best1)
        cp.ClearHints()
        _hint_all(cp, solver)
        w_nights = len(v.misses) + 1
        w_overtime = w_nights * (v.max_nights + 1)
        obj2 = w_overtime * sum(v.overtime) + w_nights * sum(v.nights) + sum(v.misses)
        cp.Minimize(obj2)
        best2, bound2 = round(solver.Value(obj2)), 0  # stage 1's plan, if stage 2 finds none
        left = max(0.5, time_limit_s - (_time.monotonic() - began))
        solver2 = _solver(self.seed, left, workers)
        st2 = solver2.Solve(cp)
        if st2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            starts = _starts(solver2, model, v)
            best2 = round(solver2.ObjectiveValue())
            bound2 = round(solver2.BestObjectiveBound())
        # one lexicographic number: stage 1 above every stage-2 value
        scale = w_overtime * v.max_overtime + w_nights * v.max_nights + len(v.misses) + 1
        proved1 = st1 == cp_model.OPTIMAL
        objective = best1 * scale + best2
        bound = bound1 * scale + (bound2 if proved1 else 0)
        status: Status = "optimal" if proved1 and st2 == cp_model.OPTIMAL else "feasible"
        plan = plan_from_starts(model, starts, status=status, objective=objective, bound=bound,
                                solve_seconds=_time.monotonic() - began)
        if plan.unplaced and proved1:
            status = "infeasible"  # proved: some dose cannot be placed at all
        return replace(plan, status=status, stage_gaps=(_gap(best1, bound1), _gap(best2, bound2)))


def _hint_all(cp: cp_model.CpModel, solver: cp_model.CpSolver) -> None:
    for k in range(len(cp.Proto().variables)):
        var = cp.GetIntVarFromProtoIndex(k)
        cp.AddHint(var, solver.Value(var))


def _gap(objective: int, bound: int) -> float:
    return 0.0 if objective == bound else abs(objective - bound) / max(1, abs(objective))


def _solver(seed: int, limit: float, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, limit)
    solver.parameters.num_workers = max(1, workers)
    solver.parameters.random_seed = seed
    return solver


def _build(cp: cp_model.CpModel, model: Model, max_late_days: int | None) -> _Vars:
    g = model.grid
    v = _Vars()
    lead = COMPOUNDING_LEAD_MINUTES
    for i, dem in enumerate(model.demands):
        occ = dem.occupies_minutes
        pinned = model.pinned[i]
        cands = [c for c in model.candidates[i]
                 if pinned is not None or max_late_days is None or c.late_days <= max_late_days]
        opts: list[_Option] = []
        for c in cands:
            if pinned is not None:
                present: cp_model.IntVar | int = 1
                slot = None
                start: cp_model.LinearExprT = pinned
                stay = cp.NewFixedSizeIntervalVar(pinned, occ, f"stay{i}")
                comp = cp.NewFixedSizeIntervalVar(pinned - lead, lead, f"comp{i}")
            else:
                present = cp.NewBoolVar(f"b{i}_{c.day}")
                slot = cp.NewIntVar(c.earliest // g, c.latest // g, f"s{i}_{c.day}")
                start = slot * g
                stay = cp.NewOptionalFixedSizeIntervalVar(start, occ, present, f"stay{i}_{c.day}")
                comp = cp.NewOptionalFixedSizeIntervalVar(start - lead, lead, present,
                                                          f"comp{i}_{c.day}")
            lo, hi = c.earliest, c.latest
            v.touch(model, dem.kind, stay, lo, hi + occ)
            v.touch(model, "nurse", stay, lo, hi + occ)
            v.touch(model, "compounding", comp, lo - lead, hi)
            opts.append(_Option(i, c, present, slot, start))
            if c.late_days > 0 and pinned is not None:
                v.lateness.append(c.late_days)
            v.max_late = max(v.max_late, c.late_days)
            if pinned is not None:
                end = pinned + occ
                if dem.kind == "chair":
                    v.overtime.append(max(0, end - c.closes))
                    v.max_overtime += max(0, end - c.closes)
                else:
                    crossed = sum(1 for m in model.midnights if pinned < m < end)
                    v.nights.append(crossed)
                    v.max_nights += crossed
                continue
            assert not isinstance(present, int)
            if not c.preferred:
                v.misses.append(present)
            if c.preferred_from > c.earliest:
                early = cp.NewBoolVar(f"early{i}_{c.day}")
                cp.Add(start >= c.preferred_from).OnlyEnforceIf([present, early.Not()])
                v.misses.append(early)
            if dem.kind == "chair":
                worst = max(0, c.latest + occ - c.closes)
                if worst:
                    ot = cp.NewIntVar(0, worst, f"ot{i}_{c.day}")
                    cp.Add(ot >= start + occ - c.closes).OnlyEnforceIf(present)
                    v.overtime.append(ot)
                    v.max_overtime += worst
            else:
                for m in model.midnights:
                    if not c.earliest < m < c.latest + occ:
                        continue  # never crosses this midnight
                    if c.latest < m < c.earliest + occ:
                        v.nights.append(present)  # crosses it wherever it starts that day
                    else:
                        cross = cp.NewBoolVar(f"n{i}_{m}")
                        cp.Add(start + occ <= m).OnlyEnforceIf([present, cross.Not()])
                        v.nights.append(cross)
                    v.max_nights += 1
        v.options[i] = opts
        if pinned is not None:
            v.placed[i] = 1
            v.day[i] = cands[0].day
            continue
        if not opts:
            v.placed[i] = 0
            if dem.follows is None:  # a dose after another may simply fall past the horizon
                v.unplaced.append(1)
            continue
        placed = cp.NewBoolVar(f"placed{i}")
        cp.Add(sum(o.present for o in opts) == placed)
        v.placed[i] = placed
        v.day[i] = sum(o.cand.day * o.present for o in opts)
        if dem.follows is None:
            v.unplaced.append(1 - placed)
            v.lateness.extend(o.cand.late_days * o.present for o in opts if o.cand.late_days > 0)
    v.unplaced_weight = 1 + sum(max((o.cand.late_days for o in opts), default=0)
                                for opts in v.options.values())
    index = {d.key: i for i, d in enumerate(model.demands)}
    for i, dem in enumerate(model.demands):
        if dem.follows is None or model.pinned[i] is not None or not v.options[i]:
            continue
        # the dose after another: due `gap` days after the day that one is booked (dates move
        # with actual doses); its lateness is its own delay; past the horizon it is deferred
        j = index[dem.follows]
        gap = planned_interval(model, i)
        pl_i, pl_j, day_j = v.placed[i], v.placed.get(j, 0), v.day.get(j, 0)
        cp.Add(pl_i <= pl_j)
        for o in v.options[i]:
            cp.Add(day_j <= o.cand.day - gap).OnlyEnforceIf(o.present)
        late = cp.NewIntVar(0, max(o.cand.late_days for o in v.options[i]), f"late{i}")
        cp.Add(late >= v.day[i] - day_j - gap)  # holds trivially when i is not placed
        v.lateness.append(late)
        beyond = cp.NewBoolVar(f"beyond{i}")
        cp.Add(day_j >= model.days - gap).OnlyEnforceIf(beyond)
        short = cp.NewBoolVar(f"short{i}")
        cp.Add(short >= pl_j - pl_i - beyond)
        v.unplaced.append(short)
    _day_cuts(cp, model, v)
    _capacities(cp, model, v)
    return v


def _capacities(cp: cp_model.CpModel, model: Model, v: _Vars) -> None:
    c = model.centre
    caps = {"chair": c.chairs, "bed": c.beds, "compounding": c.compounding_per_hour}
    for (name, day), ivs in sorted(v.load.items()):
        if name != "nurse":
            cp.AddCumulative(ivs, [1] * len(ivs), caps[name])
            continue
        lo, hi = v.extent[name, day]
        pieces = [(max(a, lo), min(b, hi), cap) for a, b, cap in model.nurse_capacity
                  if a < hi and b > lo]
        top = max((cap for _, _, cap in pieces), default=0)
        if top >= len(ivs) and all(cap == top for _, _, cap in pieces) and \
                sum(b - a for a, b, _ in pieces) == hi - lo:
            continue  # room for every option at once: nothing to say
        demands = [1] * len(ivs)
        blockers = [cp.NewFixedSizeIntervalVar(a, b - a, f"off{day}_{a}")
                    for a, b, cap in pieces if cap < top]
        cp.AddCumulative(ivs + blockers, demands + [top - cap for _, _, cap in pieces
                                                   if cap < top], top)


def _day_cuts(cp: cp_model.CpModel, model: Model, v: _Vars) -> None:
    """Redundant per-day constraints the cumulatives imply, so the LP sees them: chair minutes
    within a day's hours (the excess is overtime), compounding slots, bed starts."""
    c = model.centre
    lead = COMPOUNDING_LEAD_MINUTES
    by_day: dict[int, list[_Option]] = {}
    for opts in v.options.values():
        for o in opts:
            by_day.setdefault(o.cand.day, []).append(o)
    excess: list[cp_model.IntVar] = []
    for day, opts in sorted(by_day.items()):
        lo = min(o.cand.earliest for o in opts)
        hi = max(o.cand.latest for o in opts)
        cp.Add(sum(o.present for o in opts) <= c.compounding_per_hour * ((hi - lo + lead) // lead))
        beds = [o for o in opts if model.demands[o.i].kind == "bed"]
        if beds and max(o.cand.latest for o in beds) - min(o.cand.earliest for o in beds) < \
                min(model.demands[o.i].occupies_minutes for o in beds):
            cp.Add(sum(o.present for o in beds) <= c.beds)  # they all overlap at the last start
        chairs = [o for o in opts if model.demands[o.i].kind == "chair"]
        win = model.windows[day] if 0 <= day < len(model.windows) else None
        if not chairs or win is None:
            continue
        _energy(cp, model, chairs, lo, win[1] + c.overtime_allowance_minutes, c.chairs)
        room = c.chairs * max(0, win[1] - lo)
        total = sum(model.demands[o.i].occupies_minutes for o in chairs)
        e = cp.NewIntVar(0, total, f"excess{day}")
        cp.Add(e >= sum(model.demands[o.i].occupies_minutes * o.present for o in chairs) - room)
        excess.append(e)
    if excess:
        cp.Add(sum(v.overtime) >= sum(excess))


def _energy(cp: cp_model.CpModel, model: Model, opts: list[_Option], lo: int, hi: int,
            cap: int) -> None:
    """Energetic cuts on hourly windows [a, b) of the day: the minutes each present stay must
    spend inside the window, whatever its start, fit in ``cap`` x (b - a)."""
    points = sorted({lo, hi, *range(lo - lo % 60 + 60, hi, 60)})
    for x, a in enumerate(points):
        for b in points[x + 1:]:
            if a != lo and b != hi and b - a > 240:
                continue  # anchored windows, and short ones in between
            terms = []
            for o in opts:
                p = model.demands[o.i].occupies_minutes
                must = min(p, b - a, o.cand.earliest + p - a, b - o.cand.latest)
                if must > 0:
                    terms.append(must * o.present)
            if terms:
                cp.Add(sum(terms) <= cap * (b - a))


def _day_by_day(model: Model, budget_s: float, seed: int, workers: int) -> Plan:
    """A constructive plan from small CP-SAT models, one day at a time: the doses ready that
    day (due, and the dose before them booked long enough ago) are packed to place as many as
    possible (the most overdue first, then the least overtime, then the fewest missed
    preferences), around what earlier days
    booked; what does not fit waits for the next day. Each day's model is tiny, so the packing
    is good where a greedy rule is not, and the whole pass takes a fraction of the budget."""
    began = _time.monotonic()
    starts: dict[str, int] = {m.key: p for m, p in zip(model.demands, model.pinned)
                              if p is not None}
    index = {d.key: i for i, d in enumerate(model.demands)}
    by_day = [{c.day: c for c in cands} for cands in model.candidates]
    for day in range(model.days):
        ready: list[tuple[int, int]] = []
        for i, dem in enumerate(model.demands):
            overdue = None if dem.key in starts else overdue_on(model, i, day, starts, by_day)
            if overdue is not None:
                ready.append((i, overdue))
        if not ready:
            continue
        lo, hi = model.midnights[max(0, day - 2)], model.midnights[min(day + 2, model.days)]
        fixed = [(index[k], p) for k, p in starts.items()
                 if p < hi and p + model.demands[index[k]].occupies_minutes > lo]
        demands = tuple(replace(model.demands[i], follows=None) for i, _ in ready) + \
            tuple(replace(model.demands[i], follows=None) for i, _ in fixed)
        cands = tuple((by_day[i][day],) for i, _ in ready) + \
            tuple((_pin(model, i, p),) for i, p in fixed)
        pinned = (None,) * len(ready) + tuple(p for _, p in fixed)
        sub = replace(model, demands=demands, candidates=cands, pinned=pinned)
        greedy = {b.key: sub.minute(b.start) for b in longest_first(sub).bookings}
        left = budget_s - (_time.monotonic() - began)
        if left <= 0:  # out of time: the greedy packing for the remaining days
            for key, at in greedy.items():
                starts.setdefault(key, at)
            continue
        cp = cp_model.CpModel()
        v = _build(cp, sub, None)
        for n, (i, _) in enumerate(ready):  # the greedy packing is the hint
            at = greedy.get(model.demands[i].key)
            (o,) = v.options[n]
            assert o.slot is not None and not isinstance(o.present, int)
            cp.AddHint(o.present, at is not None)
            cp.AddHint(o.slot, (at if at is not None else o.cand.earliest) // model.grid)
        # placing a dose outweighs any overtime, overtime outweighs the preferences
        weights = [1_000_000 + 1_000 * overdue for _, overdue in ready]
        cp.Minimize(sum(w * (1 - v.placed[n]) for n, w in enumerate(weights))
                    + 10 * sum(v.overtime) + sum(v.misses))
        # one worker and a deterministic budget: the same plan whatever else the host runs,
        # unless the wall-clock budget runs out first
        solver = _solver(seed, left, 1)
        solver.parameters.max_deterministic_time = DAY_EFFORT
        found = greedy
        if solver.Solve(cp) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            better = _starts(solver, sub, v)
            if len(better) >= len(greedy):
                found = better
        for key, at in found.items():
            starts.setdefault(key, at)
    return plan_from_starts(model, starts, status="feasible", objective=None, bound=None,
                            solve_seconds=_time.monotonic() - began)


def _pin(model: Model, i: int, at: int) -> Candidate:
    day = model.day_of(at)
    win = model.windows[day] if 0 <= day < len(model.windows) else None
    closes = win[1] if win else at + model.demands[i].occupies_minutes
    return Candidate(day, at, at, closes, 0, True, at)


def _constructive(model: Model, *more: Plan) -> Plan:
    return min((first_come_first_served(model), longest_first(model), *more),
               key=lambda p: (len(p.unplaced), p.lateness_days, p.overtime_minutes))


def _hint(cp: cp_model.CpModel, model: Model, v: _Vars, base: Plan, seed: int,
          workers: int, budget_s: float) -> None:
    """Hint the baseline plan, completed: the baseline's choices are fixed in a copy of the
    model, which the solver completes (auxiliary variables) in a moment; every variable of
    that solution becomes the hint."""
    placed = {b.key: model.minute(b.start) for b in base.bookings}
    fixed = cp.Clone()
    for i, opts in v.options.items():
        at = placed.get(model.demands[i].key)
        for o in opts:
            if o.slot is None:
                continue
            here = at is not None and o.cand.earliest <= at <= o.cand.latest
            present = fixed.GetBoolVarFromProtoIndex(o.present.Index())  # type: ignore
            fixed.Add(present == int(here))
            if here and at is not None:
                fixed.Add(fixed.GetIntVarFromProtoIndex(o.slot.Index()) == at // model.grid)
    solver = _solver(seed, budget_s, workers)
    if solver.Solve(fixed) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return  # the baseline went beyond the options offered: no hint
    _hint_all(cp, solver)


def _starts(solver: cp_model.CpSolver, model: Model, v: _Vars) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, opts in v.options.items():
        for o in opts:
            if o.slot is None:
                out[model.demands[i].key] = int(o.start)  # type: ignore[arg-type]
            elif solver.BooleanValue(o.present):
                out[model.demands[i].key] = solver.Value(o.slot) * model.grid
    return out


def _pinned_clash(model: Model) -> tuple[Shortage, ...]:
    """Pinned bookings that already overload a resource (no plan can keep them all)."""
    usage = Usage(model)
    out: list[Shortage] = []
    for i, p in enumerate(model.pinned):
        if p is None:
            continue
        dem = model.demands[i]
        block = usage.blocker(dem.kind, p, p + dem.occupies_minutes)
        if block is not None:
            name, minute, cap = block
            out.append(Shortage(resource=name, day=model.at(minute).date(), needed=cap + 1,
                                available=cap, reason=f"pinned {dem.key} at "
                                f"{model.at(p):%Y-%m-%d %H:%M} needs a {name} at "
                                f"{model.at(minute):%H:%M} and none is free"))
        usage.add(dem.kind, p, p + dem.occupies_minutes)
    return tuple(out)
