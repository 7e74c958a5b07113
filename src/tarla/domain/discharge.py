"""Discharge after a dose: the checklist of the dose's care tier, and the gate.

Source: label-facts §3 (the monitoring tiers, the 48 h proximity rule of C1D1/C1D8 care,
"counsel patient *and* caregiver on CRS and ICANS signs before discharge; no driving or
hazardous machinery until neurologic symptoms resolve" ``SEED``, embryo-fetal risk ``SEED``).
The numbers (hours) come from the care the course engine gave the dose
(:class:`tarla.domain.care.Monitoring`, :class:`tarla.label.monitoring.Proximity`), never
from here.

Readings chosen here (documented, not label text):
- the monitoring period has elapsed at its *minimum* hours: facility monitoring counts from
  the infusion start, observation from the infusion end; the infusion must have ended either
  way;
- the counselling of patient and caregiver is recorded with when each was counselled; both
  are required for every dose (the label names both);
- for a dose with the proximity rule, the caregiver is named with a phone number for the
  window and the stay address within the stated distance of care is confirmed;
- contraception counselling is required when the patient is of reproductive potential; a
  patient whose reproductive potential is not recorded cannot be discharged until it is.

Pure: standard library only; times passed in, tz-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from types import MappingProxyType

from tarla.domain.care import Monitoring
from tarla.domain.release import Gate, Refusal
from tarla.label.monitoring import Anchor, Proximity

__all__ = ["DISCHARGE_RULES", "DischargeFacts", "Item", "discharge_from", "checklist",
           "may_discharge"]

DISCHARGE_RULES: MappingProxyType[str, str] = MappingProxyType({
    "DISCHARGE-INFUSION-ENDED": "A patient is discharged only after the infusion's end is on "
                                "record.",
    "DISCHARGE-MONITORING": "The dose's monitoring period (its minimum hours, from its anchor) "
                            "has elapsed.",
    "DISCHARGE-COUNSEL-PATIENT": "The patient was counselled on the signs of CRS and ICANS.",
    "DISCHARGE-COUNSEL-CAREGIVER": "The caregiver was counselled on the signs of CRS and "
                                   "ICANS.",
    "DISCHARGE-NO-DRIVING": "The patient was told not to drive or use hazardous machinery "
                            "until neurologic symptoms resolve.",
    "DISCHARGE-CAREGIVER": "For the proximity window, a caregiver is named with a phone "
                           "number.",
    "DISCHARGE-STAY-ADDRESS": "For the proximity window, the address where the patient stays, "
                              "within the stated distance of care, is confirmed.",
    "DISCHARGE-CONTRACEPTION": "A patient of reproductive potential was counselled on "
                               "contraception (whether they are is recorded first).",
})


@dataclass(frozen=True, slots=True)
class DischargeFacts:
    """What was charted for the discharge of one dose (raw facts)."""

    patient_counselled_at: datetime | None = None
    caregiver_counselled_at: datetime | None = None
    no_driving_counselled: bool = False
    caregiver_name: str | None = None
    caregiver_phone: str | None = None
    stay_address: str | None = None
    stay_address_confirmed: bool = False
    reproductive_potential: bool | None = None
    contraception_counselled: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    rule: str
    field: str
    text: str  # what is needed, in words a nurse understands
    done: bool
    applies: tuple[str, ...] = ()  # the label rows it applies


def discharge_from(monitoring: Monitoring, started_at: datetime,
                   ended_at: datetime | None) -> datetime | None:
    """The earliest discharge the monitoring allows (None: the infusion has not ended)."""
    if ended_at is None:
        return None
    anchor = started_at if monitoring.anchor is Anchor.INFUSION_START else ended_at
    return max(anchor + timedelta(hours=monitoring.hours_min), ended_at)


def _when(moment: datetime, zone: tzinfo | None) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" if zone else moment.isoformat()


def checklist(*, monitoring: Monitoring, proximity: Proximity | None, proximity_rule: str | None,
              started_at: datetime, ended_at: datetime | None, at: datetime,
              facts: DischargeFacts, contraception_rule: str | None = None,
              zone: tzinfo | None = None) -> tuple[Item, ...]:
    """Every item of the dose's discharge checklist as of ``at``, with whether it is done."""
    items: list[Item] = []
    if ended_at is None:
        items.append(Item("DISCHARGE-INFUSION-ENDED", "ended_at", "record the end of the "
                          "infusion", False))
    else:
        items.append(Item("DISCHARGE-INFUSION-ENDED", "ended_at", "the infusion ended", True))
    earliest = discharge_from(monitoring, started_at, ended_at)
    span = (f"{monitoring.hours_min}-{monitoring.hours_max} h" if monitoring.hours_min
            != monitoring.hours_max else f"{monitoring.hours_min} h")
    base = "the infusion start" if monitoring.anchor is Anchor.INFUSION_START else \
        "the infusion end"
    text = f"{monitoring.kind} monitoring of {span} from {base}"
    if earliest is None:
        items.append(Item("DISCHARGE-MONITORING", "discharged_at", f"{text}: the infusion has "
                          "not ended", False, (monitoring.rule,)))
    else:
        done = at >= earliest
        items.append(Item("DISCHARGE-MONITORING", "discharged_at", f"{text}: "
                          + ("elapsed" if done else f"not before {_when(earliest, zone)}"),
                          done, (monitoring.rule,)))
    items.append(Item("DISCHARGE-COUNSEL-PATIENT", "patient_counselled_at", "counsel the "
                      "patient on the signs of CRS and ICANS (when)",
                      facts.patient_counselled_at is not None))
    items.append(Item("DISCHARGE-COUNSEL-CAREGIVER", "caregiver_counselled_at", "counsel the "
                      "caregiver on the signs of CRS and ICANS (when)",
                      facts.caregiver_counselled_at is not None))
    items.append(Item("DISCHARGE-NO-DRIVING", "no_driving_counselled", "tell the patient: no "
                      "driving or hazardous machinery until neurologic symptoms resolve",
                      facts.no_driving_counselled))
    if proximity is not None:
        applies = (proximity_rule,) if proximity_rule else ()
        if proximity.caregiver:
            items.append(Item("DISCHARGE-CAREGIVER", "caregiver", "name the caregiver who stays "
                              f"with the patient until {proximity.until_hours_from_start} h "
                              "from the infusion start, with a phone number",
                              bool((facts.caregiver_name or "").strip()
                                   and (facts.caregiver_phone or "").strip()), applies))
        items.append(Item("DISCHARGE-STAY-ADDRESS", "stay_address", "confirm the address where "
                          f"the patient stays, within {proximity.within_hours} h of an "
                          "appropriate healthcare setting, until "
                          f"{proximity.until_hours_from_start} h from the infusion start",
                          bool((facts.stay_address or "").strip())
                          and facts.stay_address_confirmed, applies))
    applies = (contraception_rule,) if contraception_rule else ()
    if facts.reproductive_potential is None:
        items.append(Item("DISCHARGE-CONTRACEPTION", "reproductive_potential", "record whether "
                          "the patient is of reproductive potential", False, applies))
    elif facts.reproductive_potential:
        items.append(Item("DISCHARGE-CONTRACEPTION", "contraception_counselled", "counsel on "
                          "effective contraception during treatment and after the last dose",
                          facts.contraception_counselled, applies))
    return tuple(items)


def may_discharge(*, monitoring: Monitoring, proximity: Proximity | None,
                  proximity_rule: str | None, started_at: datetime, ended_at: datetime | None,
                  at: datetime, facts: DischargeFacts, contraception_rule: str | None = None,
                  zone: tzinfo | None = None) -> Gate:
    """The discharge gate: refused, each missing item named with its rule id, until every
    item of :func:`checklist` (same arguments) is done."""
    items = checklist(monitoring=monitoring, proximity=proximity, proximity_rule=proximity_rule,
                      started_at=started_at, ended_at=ended_at, at=at, facts=facts,
                      contraception_rule=contraception_rule, zone=zone)
    rules: list[str] = []
    for i in items:
        rules.extend(r for r in (i.rule, *i.applies) if r not in rules)
    refusals = tuple(Refusal(i.rule, i.field, i.text) for i in items if not i.done)
    return Gate(refusals, tuple(rules))
