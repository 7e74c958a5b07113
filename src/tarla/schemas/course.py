"""Contract models for ``tarla evaluate`` and ``tarla schedule`` (shared/contracts/README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)

from tarla.domain import course as core
from tarla.domain.care import Care, Medication
from tarla.label import LABEL_VERSION
from tarla.label.products import DOSES_MG
from tarla.label.rows import Citation
from tarla.label.toxicity import EventType
from tarla.schemas import load_zone

__all__ = ["EvaluateRequest", "ScheduleRequest", "decision_to_json", "schedule_to_json",
           "care_to_json", "to_course_input"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientIn(_Model):
    birth_date: date
    diagnosis: str = Field(min_length=1)
    progressed_after_platinum: StrictBool
    pregnant: StrictBool | None = None
    breastfeeding: StrictBool | None = None
    off_label_reason: str | None = None


class AdministrationIn(_Model):
    started_at: AwareDatetime
    dose_mg: float
    ended_at: AwareDatetime | None = None

    @field_validator("dose_mg")
    @classmethod
    def _known_dose(cls, value: int | float) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value not in DOSES_MG:
            allowed = " or ".join(str(d) for d in DOSES_MG)
            raise ValueError(f"{value:g} is not a tarlatamab dose ({allowed})")
        return int(value)


class AdverseEventIn(_Model):
    type: EventType
    grade: StrictInt = Field(ge=1, le=5)
    onset: AwareDatetime
    resolved_at: AwareDatetime | None = None


class LabIn(_Model):
    test: str = Field(min_length=1)
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1)
    collected_at: AwareDatetime
    uln: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    lln: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    baseline: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class PolicyIn(_Model):
    restart_step_up_gets_cycle1_care: StrictBool = core.Policy().restart_step_up_gets_cycle1_care


class EvaluateRequest(_Model):
    as_of: AwareDatetime
    timezone: str
    patient: PatientIn
    administrations: list[AdministrationIn] = Field(default_factory=list)
    adverse_events: list[AdverseEventIn] = Field(default_factory=list)
    labs: list[LabIn] = Field(default_factory=list)
    policy: PolicyIn = Field(default_factory=PolicyIn)
    #: The planned C1D1 date: before any dose, the first dose is due on it (not on as_of).
    start_date: date | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value


class ScheduleRequest(_Model):
    start_date: date
    timezone: str
    cycles: StrictInt = Field(default=2, ge=1, le=200)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value


def to_course_input(req: EvaluateRequest) -> core.CourseInput:
    p = req.patient
    return core.CourseInput(
        as_of=req.as_of,
        zone=ZoneInfo(req.timezone),
        patient=core.Patient(p.birth_date, p.diagnosis, p.progressed_after_platinum,
                             p.pregnant, p.breastfeeding, p.off_label_reason),
        administrations=tuple(core.Administration(a.started_at, int(a.dose_mg), a.ended_at)
                              for a in req.administrations),
        adverse_events=tuple(core.AdverseEvent(e.type, e.grade, e.onset, e.resolved_at)
                             for e in req.adverse_events),
        labs=tuple(core.LabResult(x.test, x.value, x.unit, x.collected_at, x.uln, x.lln,
                                  x.baseline) for x in req.labs),
        policy=core.Policy(req.policy.restart_step_up_gets_cycle1_care),
        start_date=req.start_date,
    )


# --------------------------------------------------------------------------- rendering


def _reason(c: Citation) -> dict[str, Any]:
    return {"rule": c.rule, "tag": str(c.tag), "text": c.text}


def _signed_reason(c: Citation, signed: Mapping[str, tuple[str, date]]) -> dict[str, Any]:
    found = signed.get(c.rule)
    return {**_reason(c), "signed_off": None if found is None else {
        "by": found[0], "on": found[1].isoformat()}}


def _med(m: Medication) -> dict[str, Any]:
    return {"drug": m.drug, "dose": m.dose, "route": m.route, "timing": m.timing,
            "rule": m.rule, "tag": m.tag}


def care_to_json(care: Care) -> dict[str, Any]:
    prox = care.proximity
    return {
        "premedication": [_med(m) for m in care.premedication],
        "post_infusion": [_med(m) for m in care.post_infusion],
        "labs_before": list(care.labs_before),
        "monitoring": {"kind": str(care.monitoring.kind),
                       "hours": [care.monitoring.hours_min, care.monitoring.hours_max],
                       "from": str(care.monitoring.anchor), "rule": care.monitoring.rule},
        "proximity": None if prox is None else {
            "within_hours": prox.within_hours,
            "until_hours_from_start": prox.until_hours_from_start,
            "caregiver": prox.caregiver},
        "hydration": care.hydration,
    }


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def decision_to_json(decision: core.Decision, zone: ZoneInfo,
                     signed: Mapping[str, tuple[str, date]] | None = None) -> dict[str, Any]:
    """The contract's evaluate JSON. ``signed`` (rule id -> signer's name, site-local date)
    are the site's sign-offs of the course's label version: each reason says whether the
    site signed its rule (``signed_off``), and ``unverified_unsigned`` lists the UNVERIFIED
    rules relied on that no one at the site has signed off (all of them without a site)."""
    signed = signed or {}
    nd = decision.next_dose
    labs: list[dict[str, Any]] = []
    for lab in decision.lab_grades:
        grade = lab.grade
        labs.append({
            "index": lab.input_index, "test": lab.test,
            "collected_at": _stamp(lab.collected_at, zone), "value": lab.value,
            "unit": lab.unit, "counts_for_next_dose": lab.counts,
            "term": grade.term if grade else None, "grade": grade.grade if grade else None,
            "system": str(grade.system) if grade else None,
            "drivers": [d.as_dict() for d in grade.drivers] if grade else [],
            "note": lab.note,
        })
    return {
        "label_version": decision.label_version,
        "decision": str(decision.action),
        "next_dose": None if nd is None else {
            "slot": nd.slot.label, "cycle": nd.slot.cycle, "day": nd.slot.day,
            "dose_mg": nd.dose_mg, "due_date": nd.due_date.isoformat(), "kind": str(nd.kind),
            "restart_step": nd.restart_step or None, "days_since_last_dose": nd.days_since_last,
        },
        "care": None if decision.care is None else care_to_json(decision.care),
        "reasons": [_signed_reason(r, signed) for r in decision.reasons],
        "warnings": [{"code": w.code, "rule": w.rule, "tag": str(w.tag), "text": w.text}
                     for w in decision.warnings],
        "pending_checks": list(decision.pending_checks),
        "unverified": decision.unverified,
        "unverified_unsigned": list(dict.fromkeys(
            r.rule for r in decision.reasons if r.unverified and r.rule not in signed)),
        "label_version_checked": decision.label_version_checked,
        "as_of_date": decision.as_of_date.isoformat(),
        "history": [{"input_index": g.input_index, "started_at": _stamp(g.started_at, zone),
                     "dose_mg": g.dose_mg, "slot": g.slot.label, "cycle": g.slot.cycle,
                     "day": g.slot.day, "kind": str(g.kind),
                     "restart_step": g.restart_step or None}
                    for g in decision.history],
        "labs": labs,
    }


def schedule_to_json(req: ScheduleRequest) -> dict[str, Any]:
    planned = core.plan_course(req.start_date, req.cycles)
    reasons: dict[str, Citation] = {}
    slots = []
    for p in planned:
        slots.append({"slot": p.slot.label, "cycle": p.slot.cycle, "day": p.slot.day,
                      "date": p.date.isoformat(), "dose_mg": p.slot.dose_mg,
                      "rule": p.slot.rule.rule_id, "care": care_to_json(p.care)})
        for r in p.care.reasons:
            reasons.setdefault(r.rule, r)
    every = list(reasons.values())
    return {"label_version": LABEL_VERSION, "timezone": req.timezone,
            "start_date": req.start_date.isoformat(), "cycles": req.cycles, "slots": slots,
            "reasons": [_reason(r) for r in every],
            "unverified": any(r.unverified for r in every)}
