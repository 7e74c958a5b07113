"""The care around each dose: premedication and post-infusion fluids as charted entries, a
physician's waiver of a premedication, and the discharge after the dose (issue 11).

Each write is one transaction: primitives in, the records written, one audit entry, commit;
anything refused raises before the commit, so nothing is kept. Which dose gets which care is
the course engine's (``Decision.care``), re-read here inside the transaction:

- the dose *due* (``decide`` as of ``now``) for a premedication or its waiver;
- the dose *given* (the course's last administration) for a post-infusion fluid and the
  discharge, with the care it was given with: the engine's decision just before its start
  (the 22-24 h after a grade 2 toxicity included), never a judgement sent by the caller.

The gates are pure (:mod:`tarla.domain.premedication`, :mod:`tarla.domain.discharge`);
:func:`premedication_gate` is the infusion start gate that
:func:`tarla.services.clinical.record_administration` runs in its own transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.domain import premedication as premed
from tarla.domain.care import Care, Medication
from tarla.domain.discharge import DischargeFacts, Item, checklist, discharge_from, may_discharge
from tarla.domain.errors import InvalidInput
from tarla.domain.release import MIN_REASON_LENGTH, Gate
from tarla.services import audit, signatures
from tarla.services._common import (
    actor_with,
    aware,
    course_or_404,
    decide,
    not_after,
    patient_or_404,
    record_json,
    rules_for,
    zone_of,
)
from tarla.services.errors import NotFound, Refused
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    CourseRecord,
    DischargeRecord,
    MedicationEntryRecord,
)
from tarla.services.scope import Scope, scope_of
from tarla.services.signatures import SignatureIn
from tarla.services.vocab import Role

__all__ = ["PREMEDICATION", "POST_INFUSION", "MedicationResult", "chart_premedication",
           "waive_premedication", "start_post_infusion", "end_post_infusion",
           "DischargeResult", "discharge", "DoseCare", "dose_care", "care_board",
           "premedication_gate", "charted_for", "board_facts", "DISCHARGE_ROLES",
           "premedication_due"]

PREMEDICATION = "premedication"
POST_INFUSION = "post_infusion"
DISCHARGE_ROLES = (Role.NURSE, Role.PHYSICIAN)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class MedicationResult:
    entry_id: int
    course_id: int
    slot: str
    kind: str
    rule_id: str
    drug: str
    dose: str
    route: str
    given_at: datetime | None
    ended_at: datetime | None
    waived: bool
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "course_id": self.course_id, "slot": self.slot,
                "kind": self.kind, "rule_id": self.rule_id, "drug": self.drug,
                "dose": self.dose, "route": self.route,
                "given_at": None if self.given_at is None else self.given_at.isoformat(),
                "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
                "waived": self.waived, "warnings": list(self.warnings)}


def _result(e: MedicationEntryRecord, warnings: tuple[str, ...] = ()) -> MedicationResult:
    return MedicationResult(e.id, e.course_id, e.slot, e.kind, e.rule_id, e.drug, e.dose,  # type: ignore[arg-type]
                            e.route, e.given_at, e.ended_at, e.waived_by is not None, warnings)


def _course_and_zone(uow: UnitOfWork, course_id: int, scope: Scope,
                     ) -> tuple[CourseRecord, ZoneInfo]:
    course = course_or_404(uow, course_id, scope)
    site = uow.sites.get(course.site_id)
    assert site is not None
    return course, zone_of(site)


def charted_for(uow: UnitOfWork, course_id: int, slot: str,
                kind: str = PREMEDICATION) -> tuple[premed.Charted, ...]:
    """The entries of one dose as the gates see them (re-read)."""
    return tuple(premed.Charted(e.rule_id, e.given_at, e.ended_at, e.waived_by is not None)
                 for e in uow.care.medications(course_id) if e.slot == slot and e.kind == kind)


def premedication_gate(uow: UnitOfWork, course: CourseRecord, decision: core.Decision,
                       started_at: datetime, zone: ZoneInfo) -> Gate:
    """The infusion start gate for the dose due: every premedication its care lists is charted
    in its window before ``started_at`` or waived (inside the caller's transaction)."""
    if decision.care is None or decision.next_dose is None or not decision.care.premedication:
        return Gate((), ())
    return premed.may_start_infusion(
        premedication=decision.care.premedication,
        charted=charted_for(uow, course.id, decision.next_dose.slot.label),  # type: ignore[arg-type]
        started_at=started_at, zone=zone)


def _due_row(decision: core.Decision, rule_id: str | None) -> Medication:
    nd, care = decision.next_dose, decision.care
    if nd is None or care is None:
        raise Refused([("GATE-DISCONTINUED", "decision", "the course is permanently "
                        "discontinued: no dose is due")])
    rows = care.premedication
    if not rows:
        raise InvalidInput("rule_id", f"the dose due ({nd.slot.label}) gets no premedication "
                                      "in its care")
    if rule_id is None:
        return rows[0]
    found = next((m for m in rows if m.rule == rule_id), None)
    if found is None:
        raise InvalidInput("rule_id", f"{rule_id} is not a premedication of {nd.slot.label} "
                                      f"(its care lists {', '.join(m.rule for m in rows)})")
    return found


def _after_last_dose(uow: UnitOfWork, course_id: int, moment: datetime, field: str) -> None:
    given = uow.administrations.for_course(course_id)
    if given and moment <= given[-1].started_at:
        raise InvalidInput(field, f"is not after the previous dose ({given[-1].slot}) started")


def chart_premedication(uow: UnitOfWork, *, course_id: int, given_at: datetime, actor: str,
                        now: datetime, rule_id: str | None = None) -> MedicationResult:
    """A nurse charts a premedication of the dose due (the row ``rule_id`` of its care; the
    first when None) as given at ``given_at``."""
    now = aware(now, "now")
    given_at = not_after(given_at, now, "given_at")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE,), "chart medications")
        course, zone = _course_and_zone(uow, course_id, scope_of(user))
        decision = decide(uow, course, now, zone)
        row = _due_row(decision, rule_id)
        _after_last_dose(uow, course.id, given_at, "given_at")  # type: ignore[arg-type]
        assert decision.next_dose is not None
        entry = uow.care.add_medication(MedicationEntryRecord(
            course_id=course.id, slot=decision.next_dose.slot.label, kind=PREMEDICATION,  # type: ignore[arg-type]
            rule_id=row.rule, drug=row.drug, dose=row.dose, route=row.route, recorded_at=now,
            given_at=given_at, nurse_id=user.id))
        audit.append(uow, actor=user.username, action="medication.premedication",
                     entity_type="medication_administration", entity_id=entry.id, at=now,
                     after={"entry": record_json(entry), "rule": row.rule, "tag": row.tag})
        uow.commit()
    return _result(entry)


def waive_premedication(uow: UnitOfWork, *, course_id: int, reason: str, actor: str,
                        now: datetime, rule_id: str | None = None) -> MedicationResult:
    """A physician waives a premedication of the dose due, with a reason (audited)."""
    now = aware(now, "now")
    text = (reason or "").strip()
    if len(text) < MIN_REASON_LENGTH:
        raise InvalidInput("reason", f"write the clinical reason ({MIN_REASON_LENGTH} "
                                     "characters or more)")
    if len(text) > 2000:
        raise InvalidInput("reason", "is too long (2000 characters at most)")
    with uow:
        user = actor_with(uow, actor, (Role.PHYSICIAN,), "waive a premedication")
        course, zone = _course_and_zone(uow, course_id, scope_of(user))
        decision = decide(uow, course, now, zone)
        row = _due_row(decision, rule_id)
        assert decision.next_dose is not None
        entry = uow.care.add_medication(MedicationEntryRecord(
            course_id=course.id, slot=decision.next_dose.slot.label, kind=PREMEDICATION,  # type: ignore[arg-type]
            rule_id=row.rule, drug=row.drug, dose=row.dose, route=row.route, recorded_at=now,
            waived_by=user.id, waiver_reason=text))
        audit.append(uow, actor=user.username, action="medication.waive",
                     entity_type="medication_administration", entity_id=entry.id, at=now,
                     after={"entry": record_json(entry), "rule": row.rule, "tag": row.tag,
                            "gate_rule": "CARE-PREMED-WAIVED"})
        uow.commit()
    return _result(entry)


def _given_dose(uow: UnitOfWork, course: CourseRecord, zone: ZoneInfo,
                ) -> tuple[AdministrationRecord, Care | None]:
    """The course's last dose given and the care it was given with (the engine's decision
    just before its start)."""
    given = uow.administrations.for_course(course.id)  # type: ignore[arg-type]
    if not given:
        raise InvalidInput("course_id", "no dose of this course is on record yet")
    last = given[-1]
    return last, decide(uow, course, last.started_at - _TICK, zone).care


def _post_row(care: Care | None, dose: AdministrationRecord, rule_id: str | None) -> Medication:
    rows = care.post_infusion if care is not None else ()
    if not rows:
        raise InvalidInput("rule_id", f"{dose.slot} gets no post-infusion fluid in its care")
    if rule_id is None:
        return rows[0]
    found = next((m for m in rows if m.rule == rule_id), None)
    if found is None:
        raise InvalidInput("rule_id", f"{rule_id} is not a post-infusion fluid of {dose.slot}")
    return found


def start_post_infusion(uow: UnitOfWork, *, course_id: int, started_at: datetime, actor: str,
                        now: datetime, ended_at: datetime | None = None,
                        rule_id: str | None = None) -> MedicationResult:
    """A nurse charts the start (and, when known, the end) of the post-infusion fluid of the
    course's last dose; it starts once the infusion's end is on record."""
    now = aware(now, "now")
    started_at = not_after(started_at, now, "started_at")
    if ended_at is not None:
        ended_at = not_after(ended_at, now, "ended_at")
        if ended_at < started_at:
            raise InvalidInput("ended_at", "is before the fluid started")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE,), "chart medications")
        course, zone = _course_and_zone(uow, course_id, scope_of(user))
        dose, care = _given_dose(uow, course, zone)
        row = _post_row(care, dose, rule_id)
        gate = premed.may_start_post_infusion(med=row, infusion_started_at=dose.started_at,
                                              infusion_ended_at=dose.ended_at)
        if not gate.allowed:
            raise Refused.of(gate)
        assert dose.ended_at is not None
        if started_at < dose.ended_at:
            raise InvalidInput("started_at", "is before the infusion ended (the fluid is given "
                                             f"{row.timing})")
        if any(e.kind == POST_INFUSION and e.rule_id == row.rule and e.slot == dose.slot
               for e in uow.care.medications(course.id)):  # type: ignore[arg-type]
            from tarla.services.errors import AlreadyRecorded

            raise AlreadyRecorded("rule_id", f"{row.drug} of {dose.slot} is already charted")
        warnings = tuple(f"{w.text} [{w.rule}]" for w in premed.duration_warnings(
            row, started_at, ended_at)) if ended_at is not None else ()
        entry = uow.care.add_medication(MedicationEntryRecord(
            course_id=course.id, slot=dose.slot, kind=POST_INFUSION, rule_id=row.rule,  # type: ignore[arg-type]
            drug=row.drug, dose=row.dose, route=row.route, recorded_at=now,
            administration_id=dose.id, given_at=started_at, ended_at=ended_at,
            nurse_id=user.id))
        audit.append(uow, actor=user.username, action="medication.post_infusion",
                     entity_type="medication_administration", entity_id=entry.id, at=now,
                     after={"entry": record_json(entry), "rules": list(gate.rules),
                            "warnings": list(warnings)})
        uow.commit()
    return _result(entry, warnings)


def end_post_infusion(uow: UnitOfWork, *, entry_id: int, ended_at: datetime, actor: str,
                      now: datetime) -> MedicationResult:
    """The end of a running post-infusion fluid; a run outside the row's stated duration is
    a warning (the nurse charts what happened)."""
    now = aware(now, "now")
    ended_at = not_after(ended_at, now, "ended_at")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE,), "chart medications")
        entry = uow.care.medication(entry_id)
        owner = uow.courses.get(entry.course_id) if entry is not None else None
        if entry is None or entry.kind != POST_INFUSION or owner is None \
                or not scope_of(user).covers(owner.site_id):
            raise NotFound("entry_id", f"no post-infusion entry {entry_id}")
        course, zone = _course_and_zone(uow, entry.course_id, scope_of(user))
        if entry.ended_at is not None:
            from tarla.services.errors import AlreadyRecorded

            raise AlreadyRecorded("ended_at", f"{entry.drug} of {entry.slot} has ended already")
        assert entry.given_at is not None
        if ended_at < entry.given_at:
            raise InvalidInput("ended_at", "is before the fluid started")
        row = next((m for m in rules_for(uow, course.label_version).post_infusion
                    if m.rule_id == entry.rule_id), None)
        warnings: tuple[str, ...] = ()
        if row is not None:
            med = Medication(row.drug, row.dose, row.route, row.timing, row.rule_id,
                             str(row.tag), row.anchor, row.window_before_hours,
                             row.duration_min_hours, row.duration_max_hours)
            warnings = tuple(f"{w.text} [{w.rule}]"
                             for w in premed.duration_warnings(med, entry.given_at, ended_at))
        ended = uow.care.end_medication(entry.id, ended_at)  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="medication.post_infusion_end",
                     entity_type="medication_administration", entity_id=entry.id, at=now,
                     before={"ended_at": None},
                     after={"ended_at": ended_at, "warnings": list(warnings)})
        uow.commit()
    return _result(ended, warnings)


# --------------------------------------------------------------------------- discharge


@dataclass(frozen=True, slots=True)
class DischargeResult:
    discharge_id: int
    course_id: int
    patient_id: int
    slot: str
    discharged_at: datetime
    rules: tuple[str, ...]
    passport_url: str

    def to_json(self) -> dict[str, Any]:
        return {"discharge_id": self.discharge_id, "course_id": self.course_id,
                "patient_id": self.patient_id, "slot": self.slot,
                "discharged_at": self.discharged_at.isoformat(), "rules": list(self.rules),
                "passport_url": self.passport_url}


def _contraception_rule(uow: UnitOfWork, course: CourseRecord) -> str | None:
    from tarla.label.eligibility import Concern

    row = rules_for(uow, course.label_version).counselling.get(Concern.PREGNANCY)
    return None if row is None else row.rule_id


def _moment(value: datetime | None, field: str, now: datetime,
            started_at: datetime) -> datetime | None:
    if value is None:
        return None
    value = not_after(value, now, field)
    if value < started_at:
        raise InvalidInput(field, "is before the infusion started")
    return value


def discharge(uow: UnitOfWork, *, course_id: int, discharged_at: datetime, actor: str,
              now: datetime, patient_counselled_at: datetime | None = None,
              caregiver_counselled_at: datetime | None = None,
              no_driving_counselled: bool = False, caregiver_name: str | None = None,
              caregiver_phone: str | None = None, stay_address: str | None = None,
              stay_address_confirmed: bool = False, reproductive_potential: bool | None = None,
              contraception_counselled: bool = False,
              signature: SignatureIn | None = None) -> DischargeResult:
    """Discharge the patient after the course's last dose. Refused (every missing item named
    with its rule id) until the checklist of the dose's care is complete; times in the future
    or before the infusion are invalid. ``reproductive_potential``, when given, is recorded on
    the patient in the same transaction (it decides the contraception item). The nurse or
    physician signs the discharge (e-signature "discharged"): refused (``password``) unless
    they re-entered their password or signed in moments ago."""
    now = aware(now, "now")
    discharged_at = not_after(discharged_at, now, "discharged_at")
    with uow:
        user = actor_with(uow, actor, DISCHARGE_ROLES, "discharge patients")
        method = signatures.verify(user, signature, now, act="sign the discharge")
        scope = scope_of(user)
        course, zone = _course_and_zone(uow, course_id, scope)
        patient = patient_or_404(uow, course.patient_id, scope)
        dose, care = _given_dose(uow, course, zone)
        if discharged_at < dose.started_at:
            raise InvalidInput("discharged_at", "is before the infusion started")
        if dose.ended_at is not None and discharged_at < dose.ended_at:
            raise InvalidInput("discharged_at", "is before the infusion ended")
        facts = DischargeFacts(
            patient_counselled_at=_moment(patient_counselled_at, "patient_counselled_at", now,
                                          dose.started_at),
            caregiver_counselled_at=_moment(caregiver_counselled_at, "caregiver_counselled_at",
                                            now, dose.started_at),
            no_driving_counselled=no_driving_counselled,
            caregiver_name=(caregiver_name or "").strip() or None,
            caregiver_phone=(caregiver_phone or "").strip() or None,
            stay_address=(stay_address or "").strip() or None,
            stay_address_confirmed=stay_address_confirmed,
            reproductive_potential=patient.reproductive_potential
            if reproductive_potential is None else reproductive_potential,
            contraception_counselled=contraception_counselled)
        if care is None:
            raise Refused([("GATE-DISCONTINUED", "decision", "the dose was given after the "
                            "course was discontinued: no care tier to discharge by")])
        gate = may_discharge(monitoring=care.monitoring, proximity=care.proximity,
                             proximity_rule=care.monitoring.rule, started_at=dose.started_at,
                             ended_at=dose.ended_at, at=discharged_at, facts=facts,
                             contraception_rule=_contraception_rule(uow, course), zone=zone)
        if not gate.allowed:
            raise Refused.of(gate)
        if any(d.administration_id == dose.id for d in uow.care.discharges(course.id)):  # type: ignore[arg-type]
            from tarla.services.errors import AlreadyRecorded

            raise AlreadyRecorded("administration", f"the discharge after {dose.slot} is "
                                                    "already on record")
        if reproductive_potential is not None \
                and reproductive_potential != patient.reproductive_potential:
            before = patient.reproductive_potential
            patient = uow.patients.update(dataclasses.replace(
                patient, reproductive_potential=reproductive_potential, updated_at=now))
            audit.append(uow, actor=user.username, action="patient.reproductive_potential",
                         entity_type="patient", entity_id=patient.id, at=now,
                         before={"reproductive_potential": before},
                         after={"reproductive_potential": reproductive_potential})
        assert facts.patient_counselled_at is not None
        assert facts.caregiver_counselled_at is not None
        rec = uow.care.add_discharge(DischargeRecord(
            course_id=course.id, administration_id=dose.id, slot=dose.slot,  # type: ignore[arg-type]
            discharged_at=discharged_at, discharged_by=user.id, recorded_at=now,  # type: ignore[arg-type]
            patient_counselled_at=facts.patient_counselled_at,
            caregiver_counselled_at=facts.caregiver_counselled_at,
            no_driving_counselled=facts.no_driving_counselled,
            contraception_counselled=facts.contraception_counselled
            if facts.reproductive_potential else None,
            caregiver_name=facts.caregiver_name, caregiver_phone=facts.caregiver_phone,
            stay_address=facts.stay_address,
            stay_address_confirmed=facts.stay_address_confirmed, rules=list(gate.rules)))
        signed = signatures.sign(uow, signer=user, meaning=signatures.Meaning.DISCHARGED,
                                 entity_type="discharge", entity_id=rec.id,  # type: ignore[arg-type]
                                 content=record_json(rec), method=method, now=now)
        audit.append(uow, actor=user.username, action="patient.discharge",
                     entity_type="discharge", entity_id=rec.id, at=now,
                     after={**record_json(rec),
                            "signature": {"meaning": signed.meaning, "method": method,
                                          "content_hash": signed.content_hash}})
        uow.commit()
    return DischargeResult(rec.id, course.id, patient.id, rec.slot, discharged_at,  # type: ignore[arg-type]
                           tuple(gate.rules), f"/patients/{patient.id}/passport.pdf")


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class DoseCare:
    """Where the care of one course's current dose stands (for the bedside page and the
    board): the dose due (not started) or the last dose given."""

    course_id: int
    slot: str | None
    given: bool  # the dose is on record (started)
    premedication: tuple[Medication, ...]
    premedicated_at: datetime | None
    premedication_waived: bool
    premedicated: bool  # every premedication charted (or waived); True when none is needed
    infusing: bool
    started_at: datetime | None
    ended_at: datetime | None
    post_infusion: tuple[Medication, ...]
    saline: premed.PostInfusionState
    saline_entry_id: int | None
    discharge_from: datetime | None
    checklist: tuple[Item, ...]
    discharged_at: datetime | None
    proximity: bool
    entries: tuple[MedicationEntryRecord, ...] = ()

    @property
    def discharge_complete(self) -> bool:
        return self.discharged_at is not None

    def to_json(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return None if v is None else v.isoformat()

        return {"course_id": self.course_id, "slot": self.slot, "given": self.given,
                "premedication": [m.rule for m in self.premedication],
                "premedicated": self.premedicated, "premedicated_at": iso(self.premedicated_at),
                "premedication_waived": self.premedication_waived, "infusing": self.infusing,
                "started_at": iso(self.started_at), "ended_at": iso(self.ended_at),
                "saline": self.saline.value,
                "saline_due": self.saline is premed.PostInfusionState.DUE,
                "saline_running": self.saline is premed.PostInfusionState.RUNNING,
                "discharge_from": iso(self.discharge_from),
                "discharge_checklist": [{"rule": i.rule, "field": i.field, "text": i.text,
                                         "done": i.done} for i in self.checklist],
                "discharge_complete": self.discharge_complete,
                "discharged_at": iso(self.discharged_at)}


def _dose_care(uow: UnitOfWork, course: CourseRecord, zone: ZoneInfo, now: datetime,
               entries: Sequence[MedicationEntryRecord] | None = None,
               discharges: Sequence[DischargeRecord] | None = None) -> DoseCare:
    entries = list(uow.care.medications(course.id) if entries is None else entries)  # type: ignore[arg-type]
    discharges = list(uow.care.discharges(course.id) if discharges is None else discharges)  # type: ignore[arg-type]
    given = [a for a in uow.administrations.for_course(course.id)  # type: ignore[arg-type]
             if a.started_at <= now]
    last = given[-1] if given else None
    done = next((d for d in discharges if last is not None and d.administration_id == last.id),
                None)
    # The last dose given stays the current one on its own (site-local) day and on the day
    # of its discharge, and while it is not discharged and no dose is due yet (a 22-24 h bed
    # across midnight); then the dose due is (its premedication is charted on its day).
    decision = decide(uow, course, now, zone)
    due_today = decision.next_dose is not None \
        and decision.next_dose.due_date <= core.local_date(now, zone)
    today = core.local_date(now, zone)
    if last is not None and (core.local_date(last.started_at, zone) == today
                             or (done is not None and done.discharged_at <= now
                                 and core.local_date(done.discharged_at, zone) == today)
                             or (not due_today and (done is None or done.discharged_at > now))):
        care = decide(uow, course, last.started_at - _TICK, zone).care
        slot: str | None = last.slot
    else:
        care = decision.care
        slot = decision.next_dose.slot.label if decision.next_dose else None
        last, done = None, None
    mine = [e for e in entries if e.slot == slot]
    pre = care.premedication if care is not None else ()
    post = care.post_infusion if care is not None else ()
    pre_entries = [e for e in mine if e.kind == PREMEDICATION]
    given_at = [e.given_at for e in pre_entries if e.given_at is not None]
    waived = any(e.waived_by is not None for e in pre_entries)
    covered = {e.rule_id for e in pre_entries}
    post_charted = [premed.Charted(e.rule_id, e.given_at, e.ended_at)
                    for e in mine if e.kind == POST_INFUSION]
    saline = premed.post_infusion_state(post_infusion=post, charted=post_charted,
                                        infusion_ended_at=last.ended_at if last else None,
                                        now=now) if last is not None else (
        premed.PostInfusionState.NOT_NEEDED if not post else premed.PostInfusionState.WAITING)
    running = next((e.id for e in mine if e.kind == POST_INFUSION and e.ended_at is None), None)
    items: tuple[Item, ...] = ()
    ready = None
    if last is not None and care is not None:
        ready = discharge_from(care.monitoring, last.started_at, last.ended_at)
        patient = uow.patients.get(course.patient_id)
        items = checklist(monitoring=care.monitoring, proximity=care.proximity,
                          proximity_rule=care.monitoring.rule, started_at=last.started_at,
                          ended_at=last.ended_at, at=now, facts=DischargeFacts(
                              reproductive_potential=None if patient is None
                              else patient.reproductive_potential),
                          contraception_rule=_contraception_rule(uow, course), zone=zone)
    return DoseCare(
        course.id, slot, last is not None, pre, max(given_at) if given_at else None, waived,  # type: ignore[arg-type]
        {m.rule for m in pre} <= covered, last is not None and last.ended_at is None,
        last.started_at if last else None, last.ended_at if last else None, post, saline,
        running, ready, items,
        done.discharged_at if done is not None and done.discharged_at <= now else None,
        care is not None and care.proximity is not None, tuple(mine))


def premedication_due(uow: UnitOfWork, *, course_id: int, now: datetime,
                      viewer: Scope) -> tuple[Medication, ...]:
    """The premedication rows of the dose due as of ``now`` not yet charted or waived."""
    now = aware(now, "now")
    with uow.readonly():
        course, zone = _course_and_zone(uow, course_id, viewer)
        decision = decide(uow, course, now, zone)
        if decision.care is None or decision.next_dose is None:
            return ()
        done = {c.rule for c in charted_for(uow, course.id, decision.next_dose.slot.label)}  # type: ignore[arg-type]
        return tuple(m for m in decision.care.premedication if m.rule not in done)


def dose_care(uow: UnitOfWork, *, course_id: int, now: datetime, viewer: Scope) -> DoseCare:
    """The care of the course's current dose as of ``now`` (a read)."""
    now = aware(now, "now")
    with uow.readonly():
        course, zone = _course_and_zone(uow, course_id, viewer)
        return _dose_care(uow, course, zone, now)


def care_board(uow: UnitOfWork, *, course_ids: Sequence[int], now: datetime,
               viewer: Scope) -> dict[int, DoseCare]:
    """The board's read: per course (those the viewer may see; others are left out) —
    premedicated?, infusing?, saline due/running?, discharge checklist, discharged at."""
    now = aware(now, "now")
    out: dict[int, DoseCare] = {}
    with uow.readonly():
        bulk = uow.care.for_courses(list(course_ids))
        for cid in course_ids:
            course = uow.courses.get(cid)
            if course is None or not viewer.covers(course.site_id):
                continue
            site = uow.sites.get(course.site_id)
            assert site is not None
            entries, discharges = bulk.get(cid, ([], []))
            out[cid] = _dose_care(uow, course, zone_of(site), now, entries, discharges)
    return out


def board_facts(uow: UnitOfWork, course_ids: Sequence[int], since: datetime,
                now: datetime) -> dict[int, Any]:
    """The unit board's care facts (``tarla.services.board.CareFacts``) of each course, read
    inside the caller's open unit of work (the board scopes the courses)."""
    from tarla.services.board import CareFacts

    out: dict[int, Any] = {}
    bulk = uow.care.for_courses(list(course_ids))
    for cid in course_ids:
        course = uow.courses.get(cid)
        if course is None:
            continue
        site = uow.sites.get(course.site_id)
        assert site is not None
        entries, discharges = bulk.get(cid, ([], []))
        c = _dose_care(uow, course, zone_of(site), now, entries, discharges)
        notes: list[str] = []
        if c.saline is premed.PostInfusionState.DUE:
            notes.append("saline due")
        elif c.saline is premed.PostInfusionState.RUNNING:
            notes.append("saline running")
        if not c.given and c.premedication and not c.premedicated:
            notes.append("premedication not charted")
        premedicated_at = c.premedicated_at if c.premedicated and c.premedication else None
        out[cid] = CareFacts(premedicated_at=premedicated_at, discharged_at=c.discharged_at,
                             notes=tuple(notes),
                             overdue=c.saline is premed.PostInfusionState.DUE)
    return out
