"""A charted set of vital signs: plausibility, the CRS grade it proposes, and when the next
set is due (issue 11).

Pure. The plausible ranges and the check intervals are **site policy, not label facts**: the
label (label-facts.md §3) says where and for how long a patient is monitored after a dose, never
how often vital signs are taken nor what a plausible heart rate is. The defaults below are
tagged ``UNVERIFIED`` (site-policy defaults): a site overrides them in ``Site.policy`` and
signs its choice off. A reading outside a range is refused (typo, wrong unit), never clamped.

The CRS grade is ASTCT 2019 by :func:`tarla.domain.grading.crs.grade_crs` (fever >= 38.0 °C,
standards.md §1); hypotension is charted by the nurse as a finding, because the ASTCT table
gives no fixed systolic cut-off (standards.md §1, "Hypotension definition").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from tarla.domain.errors import InvalidInput
from tarla.domain.grading.common import check_temperature, finite, fmt
from tarla.domain.grading.crs import CrsGrade, grade_crs

__all__ = ["Range", "PLAUSIBLE_RANGES", "VitalSigns", "check_vitals", "propose_crs",
           "charted_grade", "CareTier", "CHECK_INTERVALS", "intervals_from_policy", "ChecksDue",
           "checks_due", "POLICY_TAG", "ice_interval_from_policy"]

#: The provenance of every default in this module: site policy, not from the label.
POLICY_TAG = "UNVERIFIED"


@dataclass(frozen=True, slots=True)
class Range:
    field: str
    low: float
    high: float
    unit: str
    tag: str = POLICY_TAG  # UNVERIFIED: site-policy default, not a label fact


#: Physiologically plausible readings: outside them a value is refused as a typo or a wrong
#: unit. UNVERIFIED site-policy defaults (no source in label-facts.md or standards.md).
PLAUSIBLE_RANGES: Mapping[str, Range] = MappingProxyType({r.field: r for r in (
    Range("systolic_mmhg", 40.0, 300.0, "mm Hg"),
    Range("diastolic_mmhg", 20.0, 200.0, "mm Hg"),
    Range("heart_rate", 20.0, 250.0, "/min"),
    Range("respiratory_rate", 4.0, 80.0, "/min"),
    Range("spo2", 50.0, 100.0, "%"),
    Range("oxygen_l_min", 0.0, 80.0, "L/min"),
    Range("vasopressors", 0.0, 5.0, "agents"),
)})


@dataclass(frozen=True, slots=True)
class VitalSigns:
    temperature_c: float | None
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate: int
    spo2: int
    oxygen_device: str = "none"
    oxygen_l_min: float | None = None
    respiratory_rate: int | None = None
    hypotension: bool = False
    vasopressors: int = 0
    vasopressin: bool = False
    fever_masked: bool = False


def _in_range(value: object, field: str, whole: bool,
              ranges: Mapping[str, Range]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"{value!r} is not a number")
    if whole and not isinstance(value, int):
        raise InvalidInput(field, f"{value!r} is not a whole number")
    number = finite(float(value), field)
    r = ranges[field]
    if not r.low <= number <= r.high:
        raise InvalidInput(field, f"{fmt(number)} {r.unit} is outside the plausible range "
                                  f"{fmt(r.low)}-{fmt(r.high)} {r.unit} (site policy, "
                                  f"{r.tag}): check the reading and its unit")


def check_vitals(v: VitalSigns, ranges: Mapping[str, Range] = PLAUSIBLE_RANGES) -> VitalSigns:
    """``v`` if every reading is plausible; otherwise :class:`InvalidInput` naming the field."""
    if v.temperature_c is not None:
        if isinstance(v.temperature_c, bool) or not isinstance(v.temperature_c, int | float):
            raise InvalidInput("temperature_c", f"{v.temperature_c!r} is not a number")
        check_temperature(float(v.temperature_c))
    elif not v.fever_masked:
        raise InvalidInput("temperature_c", "is required")
    for field in ("systolic_mmhg", "diastolic_mmhg", "heart_rate", "spo2"):
        _in_range(getattr(v, field), field, True, ranges)
    if v.respiratory_rate is not None:
        _in_range(v.respiratory_rate, "respiratory_rate", True, ranges)
    if v.oxygen_l_min is not None:
        _in_range(v.oxygen_l_min, "oxygen_l_min", False, ranges)
    _in_range(v.vasopressors, "vasopressors", True, ranges)
    if v.diastolic_mmhg >= v.systolic_mmhg:
        raise InvalidInput("diastolic_mmhg", f"{v.diastolic_mmhg} mm Hg is not below the "
                                             f"systolic {v.systolic_mmhg} mm Hg")
    return v


def propose_crs(v: VitalSigns) -> CrsGrade:
    """The ASTCT 2019 CRS grade the set proposes (the grader's own refusals pass through:
    e.g. a flow with oxygen none, vasopressors without hypotension)."""
    return grade_crs(temperature_c=v.temperature_c, hypotension=v.hypotension,
                     oxygen=v.oxygen_device, fever_masked=v.fever_masked,
                     vasopressors=v.vasopressors, vasopressin=v.vasopressin,
                     oxygen_l_per_min=v.oxygen_l_min)


def charted_grade(proposed: int, confirmed: int | None, reason: str | None) -> int:
    """The grade the nurse charts: the proposal confirmed (``confirmed`` None or equal), or a
    correction to another ASTCT CRS grade (0-4), which needs a reason."""
    if confirmed is None or confirmed == proposed:
        return proposed
    if isinstance(confirmed, bool) or not isinstance(confirmed, int) or not 0 <= confirmed <= 4:
        raise InvalidInput("charted_crs_grade", f"{confirmed!r} is not a CRS grade from 0 to 4")
    if not (reason or "").strip():
        raise InvalidInput("correction_reason", f"charting grade {confirmed} instead of the "
                                                f"proposed grade {proposed} needs a reason")
    return confirmed


# --------------------------------------------------------------------------- schedule


class CareTier(StrEnum):
    """Where the patient is in the care around a dose (label-facts §3 gives the windows)."""

    INFUSION = "infusion"  # administration started, not ended
    OBSERVATION = "observation"  # the 6-8 / 3-4 / 2 h observation after the infusion
    FACILITY = "facility"  # the 22-24 h monitoring from infusion start
    NONE = "none"  # no dose on record, or its monitoring window is over


#: Minutes between vital-sign sets per tier. UNVERIFIED site-policy defaults: the label sets
#: the monitoring windows, not the frequency of checks. ``Site.policy["vitals_interval_minutes"]``
#: overrides any of them.
CHECK_INTERVALS: Mapping[CareTier, int] = MappingProxyType({
    CareTier.INFUSION: 15,
    CareTier.OBSERVATION: 30,
    CareTier.FACILITY: 240,
})


def ice_interval_from_policy(policy: Mapping[str, object],
                             intervals: Mapping[CareTier, int]) -> int:
    """Minutes between ICE assessments in 22-24 h facility monitoring: the site's
    ``policy["ice_interval_minutes"]``, else with each vital-signs set of that tier (an
    UNVERIFIED site-policy default, like the intervals it follows)."""
    raw = policy.get("ice_interval_minutes")
    if raw is None:
        return intervals[CareTier.FACILITY]
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise InvalidInput("policy.ice_interval_minutes", f"{raw!r} is not a whole number of "
                                                          "minutes >= 1")
    return raw


def intervals_from_policy(policy: Mapping[str, object]) -> Mapping[CareTier, int]:
    """The site's intervals: the defaults, overridden by ``policy["vitals_interval_minutes"]``
    (tier name -> minutes). A malformed override is refused, never ignored."""
    raw = policy.get("vitals_interval_minutes")
    if raw is None:
        return CHECK_INTERVALS
    if not isinstance(raw, Mapping):
        raise InvalidInput("policy.vitals_interval_minutes", "is not an object of tier: minutes")
    out = dict(CHECK_INTERVALS)
    for key, minutes in raw.items():
        try:
            tier = CareTier(str(key))
        except ValueError:
            raise InvalidInput("policy.vitals_interval_minutes",
                               f"{key!r} is not one of infusion, observation, facility") from None
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise InvalidInput("policy.vitals_interval_minutes",
                               f"{tier.value}: {minutes!r} is not a whole number of minutes >= 1")
        out[tier] = minutes
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class ChecksDue:
    tier: CareTier
    window_ends: datetime | None  # when the tier's monitoring ends (None: no tier)
    next_due: datetime | None  # None: no further set is due in this window
    overdue: bool
    interval_minutes: int | None


def checks_due(*, now: datetime, infusion_started_at: datetime | None,
               infusion_ended_at: datetime | None, monitoring_kind: str | None,
               monitoring_hours_max: int | None, anchor: str | None,
               last_set_at: datetime | None,
               intervals: Mapping[CareTier, int] = CHECK_INTERVALS) -> ChecksDue:
    """When the next vital-signs set is due for the last dose, and whether one is overdue.

    ``monitoring_kind`` / ``monitoring_hours_max`` / ``anchor`` are the dose's care
    (:class:`tarla.domain.care.Monitoring`: ``facility`` or ``observe``, hours, measured from
    ``infusion_start`` or ``infusion_end``). The next set is due one interval of the current
    tier after the last set taken since the infusion started (or after the infusion start when
    none was); none is due past the end of the monitoring window."""
    none = ChecksDue(CareTier.NONE, None, None, False, None)
    if infusion_started_at is None or now < infusion_started_at:
        return none
    if infusion_ended_at is None:
        tier, ends = CareTier.INFUSION, None
    else:
        if monitoring_kind is None or monitoring_hours_max is None:
            return none
        base = infusion_started_at if anchor == "infusion_start" else infusion_ended_at
        ends = base + timedelta(hours=monitoring_hours_max)
        if now >= ends:
            return ChecksDue(CareTier.NONE, ends, None, False, None)
        tier = CareTier.FACILITY if monitoring_kind == "facility" else CareTier.OBSERVATION
    interval = intervals[tier]
    since = (last_set_at if last_set_at is not None and last_set_at >= infusion_started_at
             else infusion_started_at)
    due = since + timedelta(minutes=interval)
    if ends is not None and due > ends:
        return ChecksDue(tier, ends, None, False, interval)
    return ChecksDue(tier, ends, due, now > due, interval)
