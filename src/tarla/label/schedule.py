"""Dosing slots and intervals (PI Table 1).

Source: label-facts.md §3 (version US-PI-2025-11). One cycle is 28 days. The planned interval
is measured from the dose actually given (a project design rule stated in §3).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tarla.label.rows import Provenance

__all__ = ["DoseSlot", "SLOT_RULES", "CYCLE_LENGTH", "PlannedSlot", "planned_slots",
           "planned_slot", "INFUSION", "Infusion", "INFUSION_SHORT", "ShortInfusion"]


@dataclass(frozen=True, slots=True)
class DoseSlot:
    """A day of a cycle that gets a dose. ``last_cycle`` None means every cycle from ``first_cycle``."""

    rule_id: str
    tag: Provenance
    text: str
    first_cycle: int
    last_cycle: int | None
    day: int
    dose_mg: int
    interval_days: int | None  # from the previous dose actually given; None for the first dose
    step_up: bool = False

    def covers(self, cycle: int) -> bool:
        return self.first_cycle <= cycle and (self.last_cycle is None or cycle <= self.last_cycle)


SLOT_RULES: tuple[DoseSlot, ...] = (
    DoseSlot("T1-C1D1", Provenance.SEED, "Cycle 1 Day 1: 1 mg step-up dose",
             first_cycle=1, last_cycle=1, day=1, dose_mg=1, interval_days=None, step_up=True),
    DoseSlot("T1-C1D8", Provenance.SEED, "Cycle 1 Day 8: 10 mg, 7 days after the 1 mg dose",
             first_cycle=1, last_cycle=1, day=8, dose_mg=10, interval_days=7),
    DoseSlot("T1-C1D15", Provenance.SEED, "Cycle 1 Day 15: 10 mg, 7 days after the Day 8 dose",
             first_cycle=1, last_cycle=1, day=15, dose_mg=10, interval_days=7),
    DoseSlot("T1-Q2W-D1", Provenance.SEED,
             "From Cycle 2: 10 mg on Day 1, every 2 weeks (14 days after the previous dose)",
             first_cycle=2, last_cycle=None, day=1, dose_mg=10, interval_days=14),
    DoseSlot("T1-Q2W-D15", Provenance.SEED,
             "From Cycle 2: 10 mg on Day 15, every 2 weeks (14 days after the previous dose)",
             first_cycle=2, last_cycle=None, day=15, dose_mg=10, interval_days=14),
)


@dataclass(frozen=True, slots=True)
class CycleLength:
    rule_id: str
    tag: Provenance
    text: str
    days: int


CYCLE_LENGTH = CycleLength("T1-CYCLE", Provenance.DERIVED,
                           "One cycle is 28 days: Cycle 2 Day 1 falls 14 days after Cycle 1 Day 15",
                           days=28)


@dataclass(frozen=True, slots=True)
class Infusion:
    rule_id: str
    tag: Provenance
    text: str
    minutes: int
    volume_ml: int
    rate_ml_per_h: int


INFUSION = Infusion("T1-INFUSION", Provenance.SEED,
                    "Every dose is a 1-hour IV infusion of the 250 mL preparation at 250 mL/h",
                    minutes=60, volume_ml=250, rate_ml_per_h=250)


@dataclass(frozen=True, slots=True)
class ShortInfusion:
    """A site-policy threshold, not a label fact: an infusion that ran less than ``minutes``
    (start to end) is reported as much shorter than the label's 1 hour (:data:`INFUSION`)."""

    rule_id: str
    tag: Provenance
    text: str
    minutes: int


INFUSION_SHORT = ShortInfusion(
    "INFUSION-SHORT", Provenance.UNVERIFIED,
    "Site-policy default (UNVERIFIED, not from the label): an infusion that ran less than 45 "
    "minutes from start to end is much shorter than the label's 1-hour infusion; check the "
    "rate and the bag and tell the prescriber",
    minutes=45)


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """The n-th dose of an uninterrupted course (index 0 is C1D1)."""

    index: int
    cycle: int
    day: int
    rule: DoseSlot

    @property
    def label(self) -> str:
        return f"C{self.cycle}D{self.day}"

    @property
    def dose_mg(self) -> int:
        return self.rule.dose_mg


def _cycle_rules(cycle: int, rules: tuple[DoseSlot, ...]) -> tuple[DoseSlot, ...]:
    return tuple(sorted((r for r in rules if r.covers(cycle)), key=lambda r: r.day))


def planned_slots(rules: tuple[DoseSlot, ...] = SLOT_RULES) -> Iterator[PlannedSlot]:
    """Every slot of the planned course of ``rules`` (a label's Table 1 rows), in order,
    without end."""
    index = 0
    cycle = 1
    while True:
        for rule in _cycle_rules(cycle, rules):
            yield PlannedSlot(index, cycle, rule.day, rule)
            index += 1
        cycle += 1


def _steady(rules: tuple[DoseSlot, ...]) -> tuple[int, tuple[DoseSlot, ...], int]:
    """From the returned cycle on every cycle has the same rows (no row starts or ends later),
    so a slot's cycle and row follow from its index by arithmetic: (that cycle, its rows, the
    index of its first slot)."""
    cycle = max(b for r in rules for b in (r.first_cycle, (r.last_cycle or 0) + 1))
    return cycle, _cycle_rules(cycle, rules), sum(len(_cycle_rules(c, rules))
                                                  for c in range(1, cycle))


def planned_slot(index: int, rules: tuple[DoseSlot, ...] = SLOT_RULES) -> PlannedSlot:
    """The ``index``-th slot of the planned course (0 is C1D1): ``planned_slots()`` at
    ``index``, computed without walking the course."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"slot index {index!r} is not a whole number, 0 or more")
    steady_cycle, steady_rules, steady_first = _steady(rules)
    if not steady_rules:
        raise ValueError("the schedule has no dose in its repeating cycles")
    if index >= steady_first:
        cycles, position = divmod(index - steady_first, len(steady_rules))
        rule = steady_rules[position]
        return PlannedSlot(index, steady_cycle + cycles, rule.day, rule)
    first = 0
    for cycle in range(1, steady_cycle):
        in_cycle = _cycle_rules(cycle, rules)
        if index < first + len(in_cycle):
            rule = in_cycle[index - first]
            return PlannedSlot(index, cycle, rule.day, rule)
        first += len(in_cycle)
    raise AssertionError("unreachable: the steady cycles start at their first index")
