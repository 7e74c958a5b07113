"""Monitoring after each dose and the 48 h proximity rule (PI Table 1 / §2.x).

Source: label-facts.md §3 (version US-PI-2025-11).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tarla.label.rows import Provenance

__all__ = ["MonitoringKind", "Anchor", "Proximity", "MonitoringTier", "MONITORING_TIERS",
           "ExtendedMonitoring", "EXTENDED_AFTER_TOXICITY", "tier_for"]


class MonitoringKind(StrEnum):
    FACILITY = "facility"  # hours from infusion start, in a healthcare setting
    OBSERVE = "observe"  # hours after the infusion ends


class Anchor(StrEnum):
    INFUSION_START = "infusion_start"
    INFUSION_END = "infusion_end"


@dataclass(frozen=True, slots=True)
class Proximity:
    within_hours: int
    until_hours_from_start: int
    caregiver: bool


@dataclass(frozen=True, slots=True)
class MonitoringTier:
    rule_id: str
    tag: Provenance
    text: str
    first_cycle: int
    last_cycle: int | None
    days: tuple[int, ...] | None  # None: every dosing day of those cycles
    kind: MonitoringKind
    hours_min: int
    hours_max: int
    anchor: Anchor
    proximity: Proximity | None = None

    def covers(self, cycle: int, day: int) -> bool:
        in_cycle = self.first_cycle <= cycle and (self.last_cycle is None or cycle <= self.last_cycle)
        return in_cycle and (self.days is None or day in self.days)


_STEP_UP_PROXIMITY = Proximity(within_hours=1, until_hours_from_start=48, caregiver=True)

MONITORING_TIERS: tuple[MonitoringTier, ...] = (
    MonitoringTier("T1-MON-C1D1-D8", Provenance.SEED,
                   "Cycle 1 Day 1 and Day 8: monitor 22-24 h from the start of the infusion in an "
                   "appropriate healthcare setting; then stay within 1 hour of one, with a "
                   "caregiver, until 48 h from the start of the infusion",
                   first_cycle=1, last_cycle=1, days=(1, 8), kind=MonitoringKind.FACILITY,
                   hours_min=22, hours_max=24, anchor=Anchor.INFUSION_START,
                   proximity=_STEP_UP_PROXIMITY),
    MonitoringTier("T1-MON-C1D15", Provenance.PI, "Cycle 1 Day 15: observe 6-8 h after the infusion",
                   first_cycle=1, last_cycle=1, days=(15,), kind=MonitoringKind.OBSERVE,
                   hours_min=6, hours_max=8, anchor=Anchor.INFUSION_END),
    MonitoringTier("T1-MON-C2", Provenance.PI, "Cycle 2: observe 6-8 h after the infusion",
                   first_cycle=2, last_cycle=2, days=None, kind=MonitoringKind.OBSERVE,
                   hours_min=6, hours_max=8, anchor=Anchor.INFUSION_END),
    MonitoringTier("T1-MON-C3-C4", Provenance.PI, "Cycles 3-4: observe 3-4 h after the infusion",
                   first_cycle=3, last_cycle=4, days=None, kind=MonitoringKind.OBSERVE,
                   hours_min=3, hours_max=4, anchor=Anchor.INFUSION_END),
    MonitoringTier("T1-MON-C5", Provenance.PI, "Cycle 5 onwards: observe 2 h after the infusion",
                   first_cycle=5, last_cycle=None, days=None, kind=MonitoringKind.OBSERVE,
                   hours_min=2, hours_max=2, anchor=Anchor.INFUSION_END),
)

@dataclass(frozen=True, slots=True)
class ExtendedMonitoring:
    """The monitoring of the first dose after a toxicity that calls for it (any cycle, any day):
    it replaces the slot's tier unless that tier is already at least as long."""

    rule_id: str
    tag: Provenance
    text: str
    kind: MonitoringKind
    hours_min: int
    hours_max: int
    anchor: Anchor


#: The observation tiers do not apply after grade >= 2 CRS, ICANS or neurologic toxicity with a
#: prior dose; the next dose gets 22-24 h facility monitoring (label-facts §3 and §6).
EXTENDED_AFTER_TOXICITY = ExtendedMonitoring(
    "T1-MON-AFTER-G2", Provenance.PI,
    "After grade 2 or higher CRS, ICANS or neurologic toxicity with a prior dose the observation "
    "tiers do not apply: the next dose is monitored 22-24 h from the start of the infusion in a "
    "healthcare facility",
    kind=MonitoringKind.FACILITY, hours_min=22, hours_max=24, anchor=Anchor.INFUSION_START,
)


def tier_for(cycle: int, day: int,
             tiers: tuple[MonitoringTier, ...] = MONITORING_TIERS) -> MonitoringTier:
    for tier in tiers:
        if tier.covers(cycle, day):
            return tier
    raise LookupError(f"no monitoring tier covers C{cycle}D{day}")
