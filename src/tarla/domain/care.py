"""The care around one dose: premedication, post-infusion fluids, labs, monitoring, proximity.

Pure: reads only the rows of the label passed in (:class:`~tarla.label.rules.Rules`).
``care_for`` answers for a (cycle, day) slot; the course engine decides which slot's care
applies (a restart step-up may borrow Cycle 1 care).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tarla.label import concomitant
from tarla.label.monitoring import (
    Anchor,
    ExtendedMonitoring,
    MonitoringKind,
    MonitoringTier,
    Proximity,
)
from tarla.label.rows import Citation, cite
from tarla.label.rules import BUILTIN_RULES, Rules

__all__ = ["Medication", "Monitoring", "Care", "care_for", "with_extended_monitoring"]


@dataclass(frozen=True, slots=True)
class Medication:
    drug: str
    dose: str
    route: str
    timing: str
    rule: str
    tag: str
    # The row's time window (label-facts §3 via tarla.label.concomitant): the moment it is
    # timed against, how long before it it may be given, how long it runs. None: not stated.
    anchor: Anchor = Anchor.INFUSION_START
    window_before_hours: int | None = None
    duration_min_hours: int | None = None
    duration_max_hours: int | None = None


@dataclass(frozen=True, slots=True)
class Monitoring:
    kind: MonitoringKind
    hours_min: int
    hours_max: int
    anchor: Anchor
    rule: str


@dataclass(frozen=True, slots=True)
class Care:
    premedication: tuple[Medication, ...]
    post_infusion: tuple[Medication, ...]
    labs_before: tuple[str, ...]
    monitoring: Monitoring
    proximity: Proximity | None
    hydration: str
    reasons: tuple[Citation, ...]


def _meds(rows: tuple[concomitant.Medication, ...]) -> tuple[Medication, ...]:
    return tuple(Medication(r.drug, r.dose, r.route, r.timing, r.rule_id, str(r.tag), r.anchor,
                            r.window_before_hours, r.duration_min_hours, r.duration_max_hours)
                 for r in rows)


def _monitoring(tier: MonitoringTier | ExtendedMonitoring) -> Monitoring:
    return Monitoring(tier.kind, tier.hours_min, tier.hours_max, tier.anchor, tier.rule_id)


def care_for(cycle: int, day: int, rules: Rules = BUILTIN_RULES) -> Care:
    """Care the label gives the dose of Cycle ``cycle`` Day ``day`` (no toxicity history)."""
    if rules is BUILTIN_RULES:
        found = _BUILTIN_CARE.get((cycle, day))
        if found is not None:
            return found
    return _care_for(cycle, day, rules)


def _care_for(cycle: int, day: int, rules: Rules) -> Care:
    lab_rule = rules.labs_for(cycle, day)
    tier = rules.tier_for(cycle, day)
    hydration = rules.hydration
    tail = (cite(lab_rule), cite(tier), cite(hydration))
    days = rules.concomitant_days
    if cycle == days.cycle and day in days.days:
        pre, post = _meds(rules.premedication), _meds(rules.post_infusion)
        reasons = (cite(days), *(cite(r) for r in (*rules.premedication, *rules.post_infusion)),
                   *tail)
    else:
        pre, post, reasons = (), (), tail
    return Care(pre, post, lab_rule.tests, _monitoring(tier), tier.proximity, hydration.text,
                reasons)


#: :func:`care_for` of each planned slot of the built-in label, worked out once at import: most
#: courses use that label, and the care of a slot is a value (frozen, tuples only) that every
#: evaluation and thread may share.
_BUILTIN_CARE: Mapping[tuple[int, int], Care] = MappingProxyType({
    (s.cycle, s.day): _care_for(s.cycle, s.day, BUILTIN_RULES) for s in BUILTIN_RULES.planned})


def with_extended_monitoring(care: Care, because: tuple[Citation, ...],
                             rules: Rules = BUILTIN_RULES) -> Care:
    """The same care with the label's post-toxicity facility monitoring (label-facts §3, §6:
    22-24 h for the built-in label)."""
    tier = rules.extended_monitoring
    current = care.monitoring
    if (current.kind is tier.kind and current.hours_min >= tier.hours_min
            and current.hours_max >= tier.hours_max and current.anchor is tier.anchor):
        monitoring_value = current  # already at least as long (C1D1/C1D8 care)
        kept = care.reasons
    else:
        monitoring_value = _monitoring(tier)
        kept = tuple(r for r in care.reasons if r.rule != current.rule)  # superseded tier
    return Care(care.premedication, care.post_infusion, care.labs_before, monitoring_value,
                care.proximity, care.hydration, (*kept, cite(tier), *because))
