"""What an appointment for one due dose needs, and whether it may be kept (issue 12). Pure.

- :func:`stay_for` turns the engine's care for the dose into the booking's durations: the
  labs draw (a site-policy number of minutes, passed in), the 1-hour infusion
  (``T1-INFUSION``), then either chair observation after the infusion (the tier's upper bound,
  e.g. ``T1-MON-C2`` 6-8 h -> 8 h) or, for facility monitoring (``T1-MON-C1D1-D8``, a restart
  step-up's Cycle 1 care, ``T1-MON-AFTER-G2``), a monitoring bed held from the infusion start
  for the upper bound (22-24 h -> 24 h). The upper bound is taken so the stay is never cut
  short by the booking; the rows cited say so.
- :class:`Fingerprint` is what a booking was planned on (action, dose, slot, care kind and
  hours, due date). :func:`changes` compares it with the current decision's and says why in
  words; a hold or a discontinuation means the booking cannot be kept.
- :func:`booking_gate` refuses a booking (moved by hand, or accepted from a proposal) for a
  held or discontinued dose, or on a day before the dose is due (rule ids ``BOOK-*``); the
  capacity rules (hours, full chair or bed, nurses) are :func:`tarla.domain.capacity.
  check_booking`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any

from tarla.domain.care import Care
from tarla.domain.course import Decision, DecisionAction
from tarla.domain.errors import InvalidInput
from tarla.label.monitoring import MonitoringKind
from tarla.label.schedule import INFUSION

__all__ = ["Stay", "stay_for", "Fingerprint", "fingerprint", "Change", "changes",
           "GateRefusal", "booking_gate", "BOOKING_RULES"]

#: The rule ids of this module's refusals.
BOOKING_RULES: Mapping[str, str] = MappingProxyType({
    "BOOK-HELD": "A held dose is not booked: the hold must be released or resolved first",
    "BOOK-DISCONTINUED": "A discontinued course gets no appointment",
    "BOOK-NOT-DUE": "No dose is booked before the day it is due",
    "BOOK-NO-DOSE": "The course has no next dose to book",
})


@dataclass(frozen=True, slots=True)
class Stay:
    """The booking's durations in minutes. ``kind`` 'bed': ``after_minutes`` counts from the
    infusion start (the whole bed stay); 'chair': after the infusion ends."""

    kind: str  # chair / bed
    labs_minutes: int
    infusion_minutes: int
    after_minutes: int
    hours_min: int
    hours_max: int
    rules: tuple[str, ...]

    @property
    def occupies_minutes(self) -> int:
        if self.kind == "bed":
            return max(self.after_minutes, self.infusion_minutes)
        return self.infusion_minutes + self.after_minutes


def stay_for(care: Care, labs_minutes: int) -> Stay:
    """The stay the dose's ``care`` needs; ``labs_minutes`` is the site's labs draw time (site
    policy), used when the care lists labs before the dose."""
    if isinstance(labs_minutes, bool) or not isinstance(labs_minutes, int) or labs_minutes < 0:
        raise InvalidInput("labs_minutes", f"{labs_minutes!r} must be a whole number >= 0")
    mon = care.monitoring
    labs = labs_minutes if care.labs_before else 0
    kind = "bed" if mon.kind is MonitoringKind.FACILITY else "chair"
    return Stay(kind, labs, INFUSION.minutes, mon.hours_max * 60, mon.hours_min, mon.hours_max,
                (INFUSION.rule_id, mon.rule))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a booking was planned on. ``action``: 'give' (to be given when due: the engine's
    give or wait), 'hold' or 'discontinue'."""

    action: str
    dose_mg: int | None
    slot: str | None
    care: str | None  # "chair 8 h" / "bed 24 h"
    due_date: date | None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "dose_mg": self.dose_mg, "slot": self.slot,
                "care": self.care,
                "due_date": None if self.due_date is None else self.due_date.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fingerprint:
        due = data.get("due_date")
        return cls(str(data.get("action")), data.get("dose_mg"), data.get("slot"),
                   data.get("care"), None if due is None else date.fromisoformat(due))


def _care_words(care: Care | None) -> str | None:
    if care is None:
        return None
    mon = care.monitoring
    kind = "bed" if mon.kind is MonitoringKind.FACILITY else "chair"
    return f"{kind} {mon.hours_max} h"


def fingerprint(decision: Decision) -> Fingerprint:
    if decision.action is DecisionAction.DISCONTINUE or decision.next_dose is None:
        return Fingerprint("discontinue", None, None, None, None)
    action = "hold" if decision.action is DecisionAction.HOLD else "give"
    n = decision.next_dose
    return Fingerprint(action, n.dose_mg, n.slot.label, _care_words(decision.care), n.due_date)


@dataclass(frozen=True, slots=True)
class Change:
    """Why a booking no longer matches the decision; ``keep`` False: it cannot be kept."""

    reasons: tuple[str, ...]
    keep: bool


def changes(planned: Fingerprint, now: Fingerprint,
            hold_reasons: tuple[str, ...] = ()) -> Change | None:
    """None when the booking still matches the decision."""
    if planned == now:
        return None
    reasons: list[str] = []
    keep = True
    if now.action == "hold":
        keep = False
        why = "; ".join(hold_reasons) if hold_reasons else "the engine holds it"
        reasons.append(f"the dose is now held ({why})")
    elif now.action == "discontinue":
        keep = False
        reasons.append("the course is discontinued or has no next dose")
    elif planned.action == "hold":
        reasons.append("the hold was lifted: the dose may be given when due")
    if now.action != "discontinue":
        if planned.slot != now.slot or planned.dose_mg != now.dose_mg:
            keep = False
            reasons.append(f"the dose changed from {planned.slot} {planned.dose_mg} mg to "
                           f"{now.slot} {now.dose_mg} mg")
        if planned.care != now.care:
            keep = False
            reasons.append(f"the care changed from {planned.care} to {now.care}")
        if planned.due_date != now.due_date:
            reasons.append(f"the due date moved from {planned.due_date} to {now.due_date}")
            if (planned.due_date is not None and now.due_date is not None
                    and now.due_date > planned.due_date):
                keep = False
    return Change(tuple(reasons), keep)


@dataclass(frozen=True, slots=True)
class GateRefusal:
    rule: str
    field: str
    text: str


def booking_gate(decision: Decision, day: date, *, what: str = "start") -> tuple[GateRefusal, ...]:
    """Whether the dose the engine decides now may be booked on the site-local ``day``."""
    if decision.action is DecisionAction.DISCONTINUE:
        return (GateRefusal("BOOK-DISCONTINUED", "course_id",
                            BOOKING_RULES["BOOK-DISCONTINUED"]),)
    n = decision.next_dose
    if n is None:
        return (GateRefusal("BOOK-NO-DOSE", "course_id", BOOKING_RULES["BOOK-NO-DOSE"]),)
    out: list[GateRefusal] = []
    if decision.action is DecisionAction.HOLD:
        rules = ", ".join(dict.fromkeys(c.rule for c in decision.hold_reasons)) or "hold"
        out.append(GateRefusal("BOOK-HELD", "course_id",
                               f"{n.slot.label} {n.dose_mg} mg is held ({rules}): "
                               f"{BOOKING_RULES['BOOK-HELD'].lower()}"))
    if day < n.due_date:
        out.append(GateRefusal("BOOK-NOT-DUE", what,
                               f"{n.slot.label} is due on {n.due_date.isoformat()}, not "
                               f"{day.isoformat()}"))
    return tuple(out)
