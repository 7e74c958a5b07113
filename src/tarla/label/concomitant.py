"""Concomitant medications and hydration around each dose (PI Table 3).

Source: label-facts.md §3 "Before and around each dose" (version US-PI-2025-11). The days
(C1D1 and C1D8) are SEED; the drugs, doses and timing are UNVERIFIED.

Each medication's time window is structured data (the numbers of label-facts §3, in its
units): ``anchor`` names the moment it is timed against (the infusion's start or its end),
``window_before_hours`` how long before that moment it may be given ("within 1 hour before"),
``duration_min_hours``/``duration_max_hours`` how long it runs ("over 4-5 hours"). ``None``:
the row states no such number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tarla.label.monitoring import Anchor
from tarla.label.rows import Provenance

__all__ = ["Timing", "Medication", "PREMEDICATION", "POST_INFUSION", "CONCOMITANT_DAYS",
           "HYDRATION", "Note"]


class Timing(StrEnum):
    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class Note:
    rule_id: str
    tag: Provenance
    text: str


@dataclass(frozen=True, slots=True)
class ConcomitantDays:
    rule_id: str
    tag: Provenance
    text: str
    cycle: int
    days: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Medication:
    rule_id: str
    tag: Provenance
    text: str
    when: Timing
    drug: str
    dose: str
    route: str
    timing: str
    anchor: Anchor
    window_before_hours: int | None
    duration_min_hours: int | None
    duration_max_hours: int | None


CONCOMITANT_DAYS = ConcomitantDays(
    "T3-DAYS", Provenance.SEED,
    "Concomitant medications before and after the Cycle 1 Day 1 and Cycle 1 Day 8 infusions only",
    cycle=1, days=(1, 8),
)

PREMEDICATION: tuple[Medication, ...] = (
    Medication("T3-DEXAMETHASONE", Provenance.UNVERIFIED,
               "Dexamethasone 8 mg IV within 1 hour before the infusion",
               when=Timing.BEFORE, drug="dexamethasone", dose="8 mg", route="IV",
               timing="within 1 hour before the infusion",
               anchor=Anchor.INFUSION_START, window_before_hours=1,
               duration_min_hours=None, duration_max_hours=None),
)

POST_INFUSION: tuple[Medication, ...] = (
    Medication("T3-SALINE", Provenance.UNVERIFIED,
               "0.9% sodium chloride 1 L IV over 4-5 hours immediately after the infusion",
               when=Timing.AFTER, drug="0.9% sodium chloride", dose="1 L", route="IV",
               timing="over 4-5 hours, immediately after the infusion",
               anchor=Anchor.INFUSION_END, window_before_hours=None,
               duration_min_hours=4, duration_max_hours=5),
)

HYDRATION = Note("T3-HYDRATION", Provenance.SEED,
                 "Make sure the patient is well hydrated before every dose")
