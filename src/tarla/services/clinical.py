"""Clinical use cases: enrol a patient, chart labs and CRS/ICANS assessments, record a dose.

Each is one transaction: primitives in, the records written, exactly one audit entry, commit.
Anything refused raises before the commit, so nothing (not even the audit entry) is kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tarla.domain import course as core
from tarla.domain import release
from tarla.domain.errors import InvalidInput
from tarla.domain.identification import ID_BAG, normalise_scan, read_label_barcode
from tarla.domain.infusion import short_infusion
from tarla.domain.toxicity import GRADED_TESTS
from tarla.label.products import DOSES_MG
from tarla.label.toxicity import EventType
from tarla.services import alerts, audit, care, signatures
from tarla.services._common import (
    actor_with,
    aware,
    bag_of,
    course_or_404,
    decide,
    event_or_404,
    not_after,
    patient_or_404,
    preparation_or_404,
    record_json,
    refresh_course,
    releases_on,
    rules_for,
    site_for,
    zone_of,
)
from tarla.services.errors import AlreadyRecorded, Conflict, Refused
from tarla.services.label import ensure_label_version, version_for_new_course
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    AdverseEventRecord,
    AlertRecord,
    AssessmentRecord,
    CourseRecord,
    DoseReleaseRecord,
    LabRecord,
    PatientRecord,
    PreparationEventRecord,
    PreparationRecord,
    UserRecord,
)
from tarla.services.scope import scope_of
from tarla.services.signatures import SignatureIn
from tarla.services.vocab import AssessmentKind, CourseStatus, Role

__all__ = ["EnrolResult", "enrol_patient", "LabResultOut", "record_lab", "record_lab_panel",
           "chart_lab_panel",
           "AssessmentResult", "chart_assessment", "record_adverse_event",
           "record_assessment", "resolve_adverse_event", "AdministrationResult",
           "record_administration", "complete_infusion", "ReleaseResult", "release_dose",
           "record_external_dose"]

_CLINICIANS = (Role.NURSE, Role.PHYSICIAN, Role.PHARMACIST)


# --------------------------------------------------------------------------- enrol


@dataclass(frozen=True, slots=True)
class EnrolResult:
    patient_id: int
    course_id: int
    next_due_date: date | None
    warnings: tuple[dict[str, str], ...]  # eligibility warnings from the core (off-label ...)


def enrol_patient(uow: UnitOfWork, *, site_code: str, mrn: str, family_name: str,
                  given_name: str, birth_date: date, diagnosis: str,
                  progressed_after_platinum: bool, start_date: date, actor: str, now: datetime,
                  off_label_reason: str | None = None,
                  policy: dict[str, Any] | None = None) -> EnrolResult:
    """Register the patient and open a treatment course starting on ``start_date``.

    Off-label use is not blocked: the core's eligibility warnings are returned, and a
    documented prescriber reason is required for them (label-facts §1)."""
    now = aware(now, "now")
    if not mrn.strip():
        raise InvalidInput("mrn", "is required")
    with uow:
        user = actor_with(uow, actor, (Role.PHYSICIAN, Role.SCHEDULER, Role.ADMIN),
                          "enrol patients")
        site = site_for(uow, site_code, scope_of(user))  # enrolled at the user's own site only
        zone_of(site)  # refuse a site whose time zone is broken before writing anything
        warnings = core.eligibility_warnings(
            core.Patient(birth_date, diagnosis, progressed_after_platinum,
                         off_label_reason=off_label_reason), start_date)
        if warnings and not (off_label_reason or "").strip():
            codes = ", ".join(w.code for w in warnings)
            raise InvalidInput("off_label_reason", f"off-label use ({codes}): a documented "
                                                   "prescriber reason is required")
        known = {f.name for f in dataclasses.fields(core.Policy)}
        from tarla.services.passport import SITE_SETTINGS  # the wallet card's, not the engine's

        course_policy = {**{k: v for k, v in site.policy.items()
                            if k not in SITE_SETTINGS and k not in alerts.SITE_SETTINGS},
                         **(policy or {})}
        for key in course_policy:
            if key not in known:
                raise InvalidInput(f"policy.{key}", "is not a known site policy")
        ensure_label_version(uow, now)
        label_version = version_for_new_course(uow, site)  # the site's setting; kept for good
        patient = uow.patients.add(PatientRecord(
            site_id=site.id, mrn=mrn.strip(), family_name=family_name, given_name=given_name,  # type: ignore[arg-type]
            birth_date=birth_date, diagnosis=diagnosis,
            progressed_after_platinum=progressed_after_platinum, created_at=now, updated_at=now,
            off_label_reason=off_label_reason))
        course = uow.courses.add(CourseRecord(
            patient_id=patient.id, site_id=site.id, label_version=label_version,  # type: ignore[arg-type]
            status=CourseStatus.ACTIVE.value, start_date=start_date, created_at=now,
            updated_at=now, policy=course_policy, next_due_date=start_date))
        audit.append(uow, actor=user.username, action="patient.enrol", entity_type="patient",
                     entity_id=patient.id, at=now,
                     after={"patient": record_json(patient), "course": record_json(course),
                            "warnings": [w.code for w in warnings]})
        uow.commit()
    return EnrolResult(patient.id, course.id, course.next_due_date,  # type: ignore[arg-type]
                       tuple({"code": w.code, "rule": w.rule, "text": w.text} for w in warnings))


def _open_courses(uow: UnitOfWork, patient_id: int) -> list[CourseRecord]:
    return [c for c in uow.courses.for_patient(patient_id)
            if c.status != CourseStatus.DISCONTINUED]


# --------------------------------------------------------------------------- labs


@dataclass(frozen=True, slots=True)
class LabResultOut:
    lab_id: int
    test: str
    ctcae_grade: int | None
    ctcae_term: str | None


def record_lab(uow: UnitOfWork, *, patient_id: int, test: str, value: float, unit: str,
               collected_at: datetime, actor: str, now: datetime, uln: float | None = None,
               lln: float | None = None, baseline: float | None = None) -> LabResultOut:
    """Chart one lab value with its CTCAE v5.0 grade; the patient's open course is re-decided."""
    now = aware(now, "now")
    collected_at = not_after(collected_at, now, "collected_at")
    grade: int | None = None
    term: str | None = None
    if test in GRADED_TESTS:
        from tarla.domain.grading import grade_lab

        graded = grade_lab(test, value, unit, uln=uln, lln=lln, baseline=baseline)
        grade, term = graded.grade, str(graded.term)
    with uow:
        user = actor_with(uow, actor, _CLINICIANS, "chart labs")
        patient = patient_or_404(uow, patient_id, scope_of(user))
        lab = uow.labs.add(LabRecord(patient_id=patient.id, test=test, value=value, unit=unit,  # type: ignore[arg-type]
                                     collected_at=collected_at, charted_by=user.id,  # type: ignore[arg-type]
                                     charted_at=now, uln=uln, lln=lln, baseline=baseline,
                                     ctcae_grade=grade, ctcae_term=term))
        courses = _refresh_open(uow, patient, now)
        audit.append(uow, actor=user.username, action="lab.record", entity_type="lab_result",
                     entity_id=lab.id, at=now,
                     after={"lab": record_json(lab), "courses": courses})
        uow.commit()
    return LabResultOut(lab.id, test, grade, term)  # type: ignore[arg-type]


def _refresh_open(uow: UnitOfWork, patient: PatientRecord, now: datetime) -> list[Any]:
    site = uow.sites.get(patient.site_id)
    assert site is not None
    out = []
    for course in _open_courses(uow, patient.id):  # type: ignore[arg-type]
        updated, decision = refresh_course(uow, course, now, zone_of(site))
        out.append(_course_summary(updated, decision))
    return out


def _course_summary(course: CourseRecord, decision: core.Decision) -> dict[str, Any]:
    return {"course_id": course.id, "status": course.status, "decision": str(decision.action),
            "next_due_date": course.next_due_date, "version": course.version}


# --------------------------------------------------------------------------- CRS / ICANS


@dataclass(frozen=True, slots=True)
class AssessmentResult:
    assessment_id: int
    kind: str
    grade: int
    system: str
    drivers: tuple[dict[str, Any], ...]
    adverse_event_id: int | None
    course_status: str
    alert_ids: tuple[int, ...] = ()


def _grade(kind: AssessmentKind, inputs: dict[str, Any]) -> tuple[int, str, list[Any]]:
    from tarla.domain import grading

    fn = grading.grade_crs if kind is AssessmentKind.CRS else grading.grade_icans
    try:
        result = fn(**inputs)
    except TypeError as exc:  # an unknown or missing input name
        raise InvalidInput("inputs", f"not valid {kind.value} inputs: {exc}") from None
    drivers = [d.as_dict() for d in result.drivers]
    return int(result.grade), str(result.system), drivers


def record_assessment(uow: UnitOfWork, *, course_id: int, kind: str, inputs: dict[str, Any],
                      assessed_at: datetime, actor: str, now: datetime,
                      grade: int | None = None,
                      notify: alerts.AlertNotifier | None = None) -> AssessmentResult:
    """Store a CRS or ICANS assessment (inputs + ASTCT 2019 grade + drivers). Grade 1 or more
    opens an adverse event of that type, or raises the grade of the one still ongoing.
    ``grade``, when given, must equal the computed grade (a cross-check of the bedside form).
    An escalation (:mod:`tarla.services.alerts`) is raised in the same transaction; after the
    commit it is posted to the site's webhook through ``notify``, if any."""
    now = aware(now, "now")
    assessed_at = not_after(assessed_at, now, "assessed_at")
    try:
        akind = AssessmentKind(kind)
    except ValueError:
        raise InvalidInput("kind", f"{kind!r} is not CRS or ICANS") from None
    if not isinstance(inputs, dict):
        raise InvalidInput("inputs", "must be an object")
    computed, _, _ = _grade(akind, inputs)
    if grade is not None and grade != computed:
        raise InvalidInput("grade", f"the inputs give {akind.value} grade {computed}, not {grade}")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE, Role.PHYSICIAN), "chart assessments")
        course = course_or_404(uow, course_id, scope_of(user))
        result, raised = chart_assessment(uow, user=user, course=course, kind=akind,
                                          inputs=inputs, assessed_at=assessed_at, now=now)
        uow.commit()
    alerts.deliver(uow, raised, notify, now)
    return result


def chart_assessment(uow: UnitOfWork, *, user: UserRecord, course: CourseRecord,
                     kind: AssessmentKind, inputs: dict[str, Any], assessed_at: datetime,
                     now: datetime, audit_extra: dict[str, Any] | None = None,
                     corrected: tuple[int, str] | None = None, escalate: bool = True,
                     ) -> tuple[AssessmentResult, list[AlertRecord]]:
    """The write of :func:`record_assessment` inside the caller's open unit of work (the
    caller checked the actor and the course's site, and commits): the assessment, the adverse
    event opened or raised, the course re-decided, the alerts raised (unless ``escalate`` is
    false: the caller raises them for its own record), one audit entry. ``corrected`` is a
    nurse's correction of the computed grade (grade, reason): the assessment keeps the
    computed drivers and one more naming the correction."""
    computed, system, drivers = _grade(kind, inputs)
    if corrected is not None and corrected[0] != computed:
        drivers = [*drivers, {"criterion": "correction", "detail": corrected[1],
                              "grade": corrected[0],
                              "source": f"charted by the nurse instead of the proposed grade "
                                        f"{computed}"}]
        computed = corrected[0]
    site = uow.sites.get(course.site_id)
    assert site is not None
    assessment = uow.events.add_assessment(AssessmentRecord(
        course_id=course.id, kind=kind.value, inputs=dict(inputs), grade=computed,  # type: ignore[arg-type]
        system=system, drivers=drivers, assessed_at=assessed_at, charted_by=user.id,  # type: ignore[arg-type]
        charted_at=now))
    event = None
    if computed >= 1:
        ongoing = [e for e in uow.events.for_course(course.id)  # type: ignore[arg-type]
                   if e.type == kind.value and e.resolved_at is None]
        if ongoing:
            current = ongoing[-1]
            event = current
            if computed > current.grade:
                event = uow.events.update(dataclasses.replace(
                    current, grade=computed, assessment_id=assessment.id))
        else:
            event = uow.events.add(AdverseEventRecord(
                course_id=course.id, type=EventType(kind.value).value, grade=computed,  # type: ignore[arg-type]
                onset=assessed_at, charted_by=user.id, charted_at=now,  # type: ignore[arg-type]
                assessment_id=assessment.id))
    updated, decision = refresh_course(uow, course, now, zone_of(site))
    temperature = inputs.get("temperature_c") if kind is AssessmentKind.CRS else None
    raised = [] if not escalate else alerts.raise_alerts(
        uow, site=site, course=updated, source="assessment", source_id=assessment.id,  # type: ignore[arg-type]
        now=now, actor=user.username,
        crs_grade=computed if kind is AssessmentKind.CRS else None,
        icans_grade=computed if kind is AssessmentKind.ICANS else None,
        temperature_c=temperature if isinstance(temperature, int | float) else None)
    audit.append(uow, actor=user.username, action="assessment.record",
                 entity_type="assessment", entity_id=assessment.id, at=now,
                 after={"assessment": record_json(assessment),
                        "adverse_event": None if event is None else record_json(event),
                        "course": _course_summary(updated, decision), **(audit_extra or {})})
    return AssessmentResult(assessment.id, kind.value, computed, system, tuple(drivers),  # type: ignore[arg-type]
                            None if event is None else event.id, updated.status,
                            tuple(a.id for a in raised)), raised  # type: ignore[misc]


def record_adverse_event(uow: UnitOfWork, *, course_id: int, type: str, grade: int,
                         onset: datetime, actor: str, now: datetime,
                         resolved_at: datetime | None = None) -> int:
    """Chart an adverse event graded elsewhere (CTCAE terms: neutropenia, infection ...)."""
    now = aware(now, "now")
    onset = not_after(onset, now, "onset")
    try:
        etype = EventType(type)
    except ValueError:
        raise InvalidInput("type", f"{type!r} is not a known event type") from None
    if isinstance(grade, bool) or not isinstance(grade, int) or not 1 <= grade <= 5:
        raise InvalidInput("grade", f"{grade!r} is not a grade from 1 to 5")
    if resolved_at is not None and not_after(resolved_at, now, "resolved_at") < onset:
        raise InvalidInput("resolved_at", "is before onset")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE, Role.PHYSICIAN), "chart adverse events")
        course = course_or_404(uow, course_id, scope_of(user))
        site = uow.sites.get(course.site_id)
        assert site is not None
        event = uow.events.add(AdverseEventRecord(
            course_id=course.id, type=etype.value, grade=grade, onset=onset,  # type: ignore[arg-type]
            charted_by=user.id, charted_at=now, resolved_at=resolved_at))  # type: ignore[arg-type]
        updated, decision = refresh_course(uow, course, now, zone_of(site))
        audit.append(uow, actor=user.username, action="adverse_event.record",
                     entity_type="adverse_event", entity_id=event.id, at=now,
                     after={"adverse_event": record_json(event),
                            "course": _course_summary(updated, decision)})
        uow.commit()
    return event.id  # type: ignore[return-value]


def resolve_adverse_event(uow: UnitOfWork, *, event_id: int, resolved_at: datetime, actor: str,
                          now: datetime, expected_version: int | None = None) -> str:
    """End an adverse event. A physician's entry resolves it (or confirms a nurse's entry,
    keeping the nurse's time when ``resolved_at`` is that time); a nurse's entry is recorded as
    a proposal that a physician confirms, and the event keeps holding the dose until then
    (:func:`tarla.domain.release.may_resolve_event`). Returns the course's status."""
    now = aware(now, "now")
    resolved_at = not_after(resolved_at, now, "resolved_at")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE, Role.PHYSICIAN), "chart adverse events")
        event, course = event_or_404(uow, event_id, scope_of(user))
        if expected_version is not None and expected_version != event.version:
            raise Conflict("version", f"adverse event {event_id} was changed by someone else "
                                      f"(version {event.version}, you had {expected_version})")
        if event.resolved_at is not None:
            raise AlreadyRecorded("resolved_at", f"adverse event {event_id} is already resolved")
        if resolved_at < event.onset:
            raise InvalidInput("resolved_at", "is before the event's onset")
        physician = Role.PHYSICIAN.value in user.roles
        gate = release.may_resolve_event(actor_is_physician=physician, event_holds=True)
        if gate.allowed:
            changed = dataclasses.replace(event, resolved_at=resolved_at, resolved_by=user.id)
            action = "adverse_event.resolve"
        else:  # a nurse's entry: a proposal a physician confirms
            if event.resolution_proposed_at is not None:
                raise AlreadyRecorded("resolved_at", f"adverse event {event_id} already awaits "
                                                     "a physician's confirmation")
            changed = dataclasses.replace(event, resolution_proposed_at=resolved_at,
                                          resolution_proposed_by=user.id)
            action = "adverse_event.propose_resolution"
        updated_event = uow.events.update(changed)
        site = uow.sites.get(course.site_id)
        assert site is not None
        updated, decision = refresh_course(uow, course, now, zone_of(site))
        audit.append(uow, actor=user.username, action=action,
                     entity_type="adverse_event", entity_id=event.id, at=now,
                     before=record_json(event),
                     after={"adverse_event": record_json(updated_event),
                            "course": _course_summary(updated, decision),
                            "rules": list(gate.rules)})
        uow.commit()
    return updated.status


def record_external_dose(uow: UnitOfWork, *, course_id: int, started_at: datetime,
                         dose_mg: int, source: str, actor: str, now: datetime,
                         ended_at: datetime | None = None) -> AdministrationResult:
    """A dose given elsewhere (another centre, before the patient came here), entered by a
    physician from that centre's record. No bag of ours is hung, so the bedside checks do not
    apply; the engine still judges it as of its start: it must be the engine's next dose, not
    before it was due, not on a HOLD nor after a discontinuation. The source is required."""
    now = aware(now, "now")
    started_at = not_after(started_at, now, "started_at")
    if ended_at is not None and not_after(ended_at, now, "ended_at") < started_at:
        raise InvalidInput("ended_at", "is before started_at")
    if len((source or "").strip()) < release.MIN_REASON_LENGTH:
        raise InvalidInput("source", "name where the dose was given and the record it comes "
                                     f"from ({release.MIN_REASON_LENGTH} characters or more)")
    with uow:
        user = actor_with(uow, actor, (Role.PHYSICIAN,), "enter doses given elsewhere")
        course = course_or_404(uow, course_id, scope_of(user))
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        given = uow.administrations.for_course(course.id)  # type: ignore[arg-type]
        if given and started_at <= given[-1].started_at:
            raise AlreadyRecorded("started_at", f"{given[-1].slot} of this course is on record "
                                                "at or after that time")
        decision = decide(uow, course, started_at, zone)
        gate = release.may_administer_elsewhere(decision=decision, dose_mg=dose_mg,
                                                started_at=started_at, zone=zone)
        if not gate.allowed:
            raise Refused.of(gate)
        derived, warnings = core.derive_slots(
            tuple(core.Administration(a.started_at, a.dose_mg, a.ended_at) for a in given)
            + (core.Administration(started_at, dose_mg, ended_at),), zone,
            rules=rules_for(uow, course.label_version))
        new = max(derived, key=lambda g: g.input_index)
        record = uow.administrations.add(AdministrationRecord(
            course_id=course.id, slot_seq=len(given), slot=new.slot.label,  # type: ignore[arg-type]
            cycle=new.slot.cycle, day=new.slot.day, dose_mg=dose_mg, kind=str(new.kind),
            started_at=started_at, nurse_id=user.id, recorded_at=now, ended_at=ended_at,  # type: ignore[arg-type]
            scan_exception_reason=f"given elsewhere: {source.strip()}"))
        updated, after = refresh_course(uow, course, now, zone)
        own = [w.text for w in warnings if w.text.startswith(new.slot.label)]
        audit.append(uow, actor=user.username, action="administration.external",
                     entity_type="administration", entity_id=record.id, at=now,
                     after={"administration": record_json(record), "source": source.strip(),
                            "course": _course_summary(updated, after),
                            "rules": list(gate.rules)})
        uow.commit()
    return AdministrationResult(record.id, course.id, record.slot, record.cycle, record.day,  # type: ignore[arg-type]
                                dose_mg, record.kind, started_at, updated.next_due_date,
                                updated.status, tuple(own))


# --------------------------------------------------------------------------- doses


@dataclass(frozen=True, slots=True)
class AdministrationResult:
    administration_id: int
    course_id: int
    slot: str
    cycle: int
    day: int
    dose_mg: int
    kind: str
    started_at: datetime
    next_due_date: date | None
    course_status: str
    warnings: tuple[str, ...] = ()
    replayed: bool = False  # True: the idempotency key was seen before; nothing was written
    preparation_id: int | None = None


def _replay(a: AdministrationRecord, course: CourseRecord | None) -> AdministrationResult:
    return AdministrationResult(a.id, a.course_id, a.slot, a.cycle, a.day, a.dose_mg, a.kind,  # type: ignore[arg-type]
                                a.started_at, course.next_due_date if course else None,
                                course.status if course else "", (), True, a.preparation_id)


def _check_replay(a: AdministrationRecord, course_id: int, dose_mg: int | None,
                  started_at: datetime) -> None:
    # a retry repeats the request: same course and start (dose_mg is an optional cross-check)
    if a.course_id != course_id:  # another course, perhaps of another site: named by no one
        raise Conflict("idempotency_key", "this key was already used for a different "
                                          "administration, of another course")
    if a.started_at != started_at or (dose_mg is not None and a.dose_mg != dose_mg):
        raise Conflict("idempotency_key", "this key was already used for a different "
                                          f"administration ({a.slot} of course {a.course_id})")


def _replayed(uow: UnitOfWork, first: AdministrationRecord, actor: str, course_id: int,
              dose_mg: int | None, started_at: datetime) -> AdministrationResult:
    """The first result of a retried request: for the same nurse's scope and the same course
    (a course outside the nurse's site is not found, whoever used the key)."""
    user = actor_with(uow, actor, (Role.NURSE,), "record administrations")
    course = course_or_404(uow, course_id, scope_of(user))
    _check_replay(first, course_id, dose_mg, started_at)
    return _replay(first, course)


def record_administration(uow: UnitOfWork, *, course_id: int, started_at: datetime,
                          actor: str, now: datetime, dose_mg: int | None = None,
                          patient_scan: str | None = None, bag_scan: str | None = None,
                          preparation_id: int | None = None,
                          scan_exception_reason: str | None = None,
                          witness: str | None = None,
                          ended_at: datetime | None = None, slot: str | None = None,
                          infusion_site: str | None = None,
                          idempotency_key: str | None = None,
                          witness_signature: SignatureIn | None = None,
                          ) -> AdministrationResult:
    """Chart a dose as given from a bag, and hang the bag (its ``infusion_started`` clock
    event) in the same transaction.

    Judged here, on what this transaction reads (:func:`tarla.domain.release.may_administer`):
    today's decision is GIVE or a physician's release covers the hold rules and missing labs
    present now; the dose is the engine's next dose and not before it is due; the bag (from the
    scanned label, or ``preparation_id`` under a documented scan exception) is this patient's,
    for this dose, checked by a second pharmacist, out of the refrigerator, and its in-use
    clock allows the infusion to start at ``started_at``; the wristband scanned is this
    patient's. ``dose_mg`` and ``slot``, when sent, are cross-checks of what the nurse saw.
    Under a scan exception the second nurse signs it with their own password
    (``witness_signature``; e-signature "witnessed scan exception"; refused on
    ``scan_exception.witness_password`` otherwise). The same ``idempotency_key`` records once
    and returns the first result."""
    now = aware(now, "now")
    started_at = not_after(started_at, now, "started_at")
    if ended_at is not None and not_after(ended_at, now, "ended_at") < started_at:
        raise InvalidInput("ended_at", "is before started_at")
    if dose_mg is not None and (isinstance(dose_mg, bool) or dose_mg not in DOSES_MG):
        allowed = " or ".join(str(d) for d in DOSES_MG)
        raise InvalidInput("dose_mg", f"{dose_mg} is not a tarlatamab dose ({allowed})")
    facts = _BedsideFacts(patient_scan, bag_scan, preparation_id, scan_exception_reason,
                          witness, witness_signature)
    try:
        return _record_administration(uow, course_id, started_at, dose_mg, actor, now,
                                      ended_at, slot, infusion_site, facts, idempotency_key)
    except (AlreadyRecorded, Refused):
        if idempotency_key is None:
            raise
        # A concurrent request with the same key may have won the race (the database reports
        # whichever unique index it checked first, or the gate saw the bag already hung by
        # it): answer with its result if so; nothing is written either way.
        with uow.readonly():
            first = uow.administrations.by_key(idempotency_key)
            if first is None:
                raise
            return _replayed(uow, first, actor, course_id, dose_mg, started_at)


@dataclass(frozen=True, slots=True)
class _BedsideFacts:
    patient_scan: str | None
    bag_scan: str | None
    preparation_id: int | None
    exception_reason: str | None
    witness: str | None
    witness_signature: SignatureIn | None = None


def _scanned_bag(uow: UnitOfWork, site_id: int, facts: _BedsideFacts,
                 ) -> PreparationRecord | None:
    """The preparation the bag label names (only a bag of this site), else the one named by
    ``preparation_id`` when charting under a scan exception."""
    if (facts.bag_scan or "").strip():
        pid = read_label_barcode(normalise_scan(facts.bag_scan or ""))
        prep = uow.preparations.get(pid) if pid is not None else None
        if prep is None or prep.site_id != site_id:
            return None
        if facts.preparation_id is not None and facts.preparation_id != prep.id:
            # the bag chosen for this dose is not the bag in the nurse's hand: a hard stop
            raise Refused([(ID_BAG, "bag_scan", f"bag label PREP-{prep.id} is not the bag "
                            f"chosen for this dose (PREP-{facts.preparation_id}): STOP, do not "
                            "hang it")])
        return prep
    if facts.preparation_id is None:
        return None
    prep = uow.preparations.get(facts.preparation_id)
    return prep if prep is not None and prep.site_id == site_id else None


def _exception_of(uow: UnitOfWork, user: UserRecord,
                  facts: _BedsideFacts) -> tuple[release.ScanException | None, int | None]:
    if facts.exception_reason is None and facts.witness is None:
        return None, None
    witness = uow.users.by_username(facts.witness) if facts.witness else None
    ok = (witness is not None and witness.active and witness.id != user.id
          and Role.NURSE.value in witness.roles and scope_of(user).covers(witness.site_id))
    return (release.ScanException(facts.exception_reason or "", ok),
            witness.id if ok and witness is not None else None)


def _record_administration(uow: UnitOfWork, course_id: int, started_at: datetime,
                           dose_mg: int | None, actor: str, now: datetime,
                           ended_at: datetime | None, slot: str | None,
                           infusion_site: str | None, facts: _BedsideFacts,
                           idempotency_key: str | None) -> AdministrationResult:
    with uow:
        if idempotency_key is not None:
            first = uow.administrations.by_key(idempotency_key)
            if first is not None:
                return _replayed(uow, first, actor, course_id, dose_mg, started_at)
        user = actor_with(uow, actor, (Role.NURSE,), "record administrations")
        scope = scope_of(user)
        course = course_or_404(uow, course_id, scope)
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        patient = patient_or_404(uow, course.patient_id, scope)
        given = uow.administrations.for_course(course.id)  # type: ignore[arg-type]
        if given and started_at <= given[-1].started_at:
            a = given[-1]
            raise AlreadyRecorded("started_at", f"{a.slot} of this course is on record as "
                                  f"given {a.started_at.astimezone(zone):%Y-%m-%d %H:%M}; a "
                                  "dose cannot be charted at or before it")
        decision = decide(uow, course, now, zone)
        prep = _scanned_bag(uow, course.site_id, facts)
        exception, witness_id = _exception_of(uow, user, facts)
        witness_method = None
        if witness_id is not None:  # a valid second nurse: they sign with their password
            witness_user = uow.users.get(witness_id)
            assert witness_user is not None
            offered = facts.witness_signature
            if offered is not None:  # the second nurse's own password; never the session's
                offered = dataclasses.replace(offered, authenticated_at=None)
            witness_method = signatures.verify(witness_user, offered, now,
                                               field="scan_exception.witness_password",
                                               act="witness the scan exception")
        bag = bag_of(uow, prep) if prep is not None else None
        gate = release.may_administer(
            decision=decision, releases=releases_on(uow, course.id, decision.as_of_date),  # type: ignore[arg-type]
            course_id=course.id, dose_mg=dose_mg, started_at=started_at, now=now,  # type: ignore[arg-type]
            zone=zone, bag=bag, patient_scan=facts.patient_scan, bag_scan=facts.bag_scan,
            mrn=patient.mrn, patient_name=f"{patient.family_name}, {patient.given_name}",
            exception=exception)
        # the infusion start gate of the dose's premedication (label-facts §3, CARE-PREMED)
        started = care.premedication_gate(uow, course, decision, started_at, zone)
        gate = release.Gate(gate.refusals + started.refusals, gate.rules + started.rules)
        if not gate.allowed:
            raise Refused.of(gate)
        nd = decision.next_dose
        assert nd is not None and prep is not None and bag is not None
        if slot is not None and slot != nd.slot.label:
            raise InvalidInput("slot", f"the dose due is {nd.slot.label}, not {slot}")
        derived, warnings = core.derive_slots(
            tuple(core.Administration(a.started_at, a.dose_mg, a.ended_at) for a in given)
            + (core.Administration(started_at, nd.dose_mg, ended_at),), zone,
            rules=rules_for(uow, course.label_version))
        new = max(derived, key=lambda g: g.input_index)
        record = uow.administrations.add(AdministrationRecord(
            course_id=course.id, slot_seq=len(given), slot=new.slot.label,  # type: ignore[arg-type]
            cycle=new.slot.cycle, day=new.slot.day, dose_mg=nd.dose_mg, kind=str(new.kind),
            started_at=started_at, nurse_id=user.id, recorded_at=now, ended_at=ended_at,  # type: ignore[arg-type]
            infusion_site=infusion_site, preparation_id=prep.id,
            idempotency_key=idempotency_key,
            patient_scan=(facts.patient_scan or "").strip()[:200] or None,
            bag_scan=(facts.bag_scan or "").strip()[:200] or None,
            scan_exception_reason=(facts.exception_reason or "").strip() or None
            if exception is not None else None, witness_id=witness_id))
        if witness_method is not None:
            signatures.sign(uow, signer=witness_user,
                            meaning=signatures.Meaning.WITNESSED_SCAN_EXCEPTION,
                            entity_type="administration", entity_id=record.id,  # type: ignore[arg-type]
                            content=record_json(record), method=witness_method, now=now)
        own = [w.text for w in warnings if w.text.startswith(new.slot.label)]
        hung = _hang(uow, prep, bag, started_at, ended_at, user, now, zone)
        own.extend(hung)
        updated, after = refresh_course(uow, course, now, zone)
        audit.append(uow, actor=user.username, action="administration.record",
                     entity_type="administration", entity_id=record.id, at=now,
                     after={"administration": record_json(record),
                            "course": _course_summary(updated, after), "warnings": own,
                            "rules": list(gate.rules),
                            "witness": facts.witness if witness_id else None})
        uow.commit()
    return AdministrationResult(record.id, course.id, record.slot, record.cycle, record.day,  # type: ignore[arg-type]
                                record.dose_mg, record.kind, started_at, updated.next_due_date,
                                updated.status, tuple(own), preparation_id=prep.id)


def _hang(uow: UnitOfWork, prep: PreparationRecord, bag: release.Bag, started_at: datetime,
          ended_at: datetime | None, user: UserRecord, now: datetime,
          zone: ZoneInfo) -> list[str]:
    """The bag's ``infusion_started`` (and ``infusion_completed`` when the end is known) on its
    clock, in the administration's transaction. Returns warnings (a short infusion)."""
    status = "in_use"
    uow.preparations.add_event(PreparationEventRecord(
        preparation_id=prep.id, event="infusion_started", at=started_at,  # type: ignore[arg-type]
        recorded_by=user.id, recorded_at=now))  # type: ignore[arg-type]
    warnings: list[str] = []
    if ended_at is not None:
        status = "administered"
        uow.preparations.add_event(PreparationEventRecord(
            preparation_id=prep.id, event="infusion_completed", at=ended_at,  # type: ignore[arg-type]
            recorded_by=user.id, recorded_at=now))  # type: ignore[arg-type]
        warnings.extend(_short(started_at, ended_at))
    uow.preparations.update(dataclasses.replace(prep, status=status, updated_at=now))
    return warnings


def _short(started_at: datetime, ended_at: datetime) -> list[str]:
    flag = short_infusion(started_at, ended_at)
    return [] if flag is None else [f"{flag.text} [{flag.rule}]"]


def complete_infusion(uow: UnitOfWork, *, preparation_id: int, ended_at: datetime, actor: str,
                      now: datetime, expected_version: int | None = None) -> AdministrationResult:
    """"Infusion completed": the bag's clock event and the administration's end time, in one
    transaction; an infusion much shorter than the label's 1 hour is flagged (a warning)."""
    now = aware(now, "now")
    ended_at = not_after(ended_at, now, "ended_at")
    with uow:
        user = actor_with(uow, actor, (Role.NURSE,), "record the end of an infusion")
        prep = preparation_or_404(uow, preparation_id, scope_of(user))
        if expected_version is not None and expected_version != prep.version:
            raise Conflict("version", f"preparation {preparation_id} was changed by someone "
                                      "else; reload and retry")
        admin = next((a for a in uow.administrations.for_course(prep.course_id)
                      if a.preparation_id == prep.id), None)
        if admin is None or prep.status != "in_use":
            raise Refused([("GATE-PREP-EVENT", "preparation_id",
                            f"bag PREP-{prep.id} is not running (status "
                            f"{prep.status.replace('_', ' ')}): nothing to complete")])
        if ended_at < admin.started_at:
            raise InvalidInput("ended_at", "is before the infusion started")
        course = course_or_404(uow, prep.course_id, scope_of(user))
        site = uow.sites.get(course.site_id)
        assert site is not None
        uow.preparations.add_event(PreparationEventRecord(
            preparation_id=prep.id, event="infusion_completed", at=ended_at,  # type: ignore[arg-type]
            recorded_by=user.id, recorded_at=now))  # type: ignore[arg-type]
        uow.preparations.update(dataclasses.replace(prep, status="administered",
                                                    updated_at=now))
        ended = uow.administrations.set_ended(admin.id, ended_at)  # type: ignore[arg-type]
        updated, decision = refresh_course(uow, course, now, zone_of(site))
        warnings = _short(admin.started_at, ended_at)
        audit.append(uow, actor=user.username, action="administration.complete",
                     entity_type="administration", entity_id=admin.id, at=now,
                     before={"ended_at": admin.ended_at},
                     after={"ended_at": ended_at, "preparation_id": prep.id,
                            "warnings": warnings})
        uow.commit()
    return AdministrationResult(ended.id, course.id, ended.slot, ended.cycle, ended.day,  # type: ignore[arg-type]
                                ended.dose_mg, ended.kind, ended.started_at,
                                updated.next_due_date, updated.status, tuple(warnings),
                                preparation_id=prep.id)


# --------------------------------------------------------------------------- releases


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    release_id: int
    course_id: int
    slot: str
    for_date: date
    covers_rules: tuple[str, ...]
    covers_labs: tuple[str, ...]


def release_dose(uow: UnitOfWork, *, course_id: int, reason: str, actor: str,
                 now: datetime, signature: SignatureIn | None = None) -> ReleaseResult:
    """A physician releases today's due dose despite its HOLD and/or missing labs. The
    release names exactly the hold rules and missing labs present now (read here, never
    sent by the caller): a new hold reason later needs a new release. The physician signs
    it (e-signature "released hold"): refused (``password``) unless they re-entered their
    password or signed in moments ago."""
    now = aware(now, "now")
    text = (reason or "").strip()
    if len(text) < release.MIN_REASON_LENGTH:
        raise InvalidInput("reason", "write the clinical reason "
                                     f"({release.MIN_REASON_LENGTH} characters or more)")
    if len(text) > 2000:
        raise InvalidInput("reason", "is too long (2000 characters at most)")
    with uow:
        user = actor_with(uow, actor, (Role.PHYSICIAN,), "release a held dose")
        method = signatures.verify(user, signature, now, act="sign the release")
        course = course_or_404(uow, course_id, scope_of(user))
        site = uow.sites.get(course.site_id)
        assert site is not None
        decision = decide(uow, course, now, zone_of(site))
        nd = decision.next_dose
        if decision.action is core.DecisionAction.DISCONTINUE or nd is None:
            raise Refused([("GATE-DISCONTINUED", "decision", "the course is permanently "
                            "discontinued: a discontinuation is never released")])
        held = sorted(release.hold_rules(decision))
        missing = sorted(decision.pending_checks)
        if not held and not missing:
            raise InvalidInput("decision", f"the decision is {decision.action}, with the labs "
                                           "on file: nothing to release")
        rec = uow.releases.add(DoseReleaseRecord(
            course_id=course.id, for_date=decision.as_of_date, slot=nd.slot.label,  # type: ignore[arg-type]
            reason=text, covers_rules=held, covers_labs=missing, decided_by=user.id,  # type: ignore[arg-type]
            decided_at=now))
        signed = signatures.sign(uow, signer=user, meaning=signatures.Meaning.RELEASED_HOLD,
                                 entity_type="dose_release", entity_id=rec.id,  # type: ignore[arg-type]
                                 content=record_json(rec), method=method, now=now)
        audit.append(uow, actor=user.username, action="course.release_dose",
                     entity_type="course", entity_id=course.id, at=now,
                     after={**record_json(rec),
                            "signature": {"meaning": signed.meaning, "method": method,
                                          "content_hash": signed.content_hash}})
        uow.commit()
    return ReleaseResult(rec.id, course.id, rec.slot, rec.for_date, tuple(held),  # type: ignore[arg-type]
                         tuple(missing))


def record_lab_panel(uow: UnitOfWork, *, patient_id: int, results: list[dict[str, Any]],
                     collected_at: datetime, actor: str, now: datetime) -> list[LabResultOut]:
    """Chart a panel drawn together (one transaction, one audit entry). Each result is
    ``{"test", "value", "unit"[, "uln", "lln", "baseline"]}``."""
    now = aware(now, "now")
    collected_at = not_after(collected_at, now, "collected_at")
    graded = _graded_panel(results)
    with uow:
        user = actor_with(uow, actor, _CLINICIANS, "chart labs")
        patient = patient_or_404(uow, patient_id, scope_of(user))
        labs = _write_panel(uow, user, patient, graded, collected_at, now, None)
        uow.commit()
    return [LabResultOut(x.id, x.test, x.ctcae_grade, x.ctcae_term) for x in labs]  # type: ignore[arg-type]


def chart_lab_panel(uow: UnitOfWork, *, user: UserRecord, patient: PatientRecord,
                    results: list[dict[str, Any]], collected_at: datetime, now: datetime,
                    source: dict[str, Any]) -> list[LabRecord]:
    """:func:`record_lab_panel` inside a unit of work the caller holds open (labs arriving by
    interface, :mod:`tarla.services.labs_in`): the same checks and grades, the same writes
    and audit entry (with ``source`` naming the message), no commit. ``user`` and
    ``patient`` were read in this transaction by the caller."""
    now = aware(now, "now")
    collected_at = not_after(collected_at, now, "collected_at")
    return _write_panel(uow, user, patient, _graded_panel(results), collected_at, now, source)


def _graded_panel(results: list[dict[str, Any]]
                  ) -> list[tuple[dict[str, Any], int | None, str | None]]:
    from tarla.domain.grading import grade_lab

    if not results:
        raise InvalidInput("results", "the panel is empty")
    graded: list[tuple[dict[str, Any], int | None, str | None]] = []
    for i, r in enumerate(results):
        try:
            test, value, unit = r["test"], r["value"], r["unit"]
        except KeyError as exc:
            raise InvalidInput(f"results[{i}].{exc.args[0]}", "is required") from None
        grade = term = None
        if test in GRADED_TESTS:
            try:
                g = grade_lab(test, value, unit, uln=r.get("uln"), lln=r.get("lln"),
                              baseline=r.get("baseline"))
            except InvalidInput as exc:
                raise InvalidInput(f"results[{i}].{exc.field}", exc.message) from None
            grade, term = g.grade, str(g.term)
        graded.append((r, grade, term))
    return graded


def _write_panel(uow: UnitOfWork, user: UserRecord, patient: PatientRecord,
                 graded: list[tuple[dict[str, Any], int | None, str | None]],
                 collected_at: datetime, now: datetime,
                 source: dict[str, Any] | None) -> list[LabRecord]:
    labs = [uow.labs.add(LabRecord(
        patient_id=patient.id, test=r["test"], value=r["value"], unit=r["unit"],  # type: ignore[arg-type]
        collected_at=collected_at, charted_by=user.id, charted_at=now,  # type: ignore[arg-type]
        uln=r.get("uln"), lln=r.get("lln"), baseline=r.get("baseline"), ctcae_grade=grade,
        ctcae_term=term)) for r, grade, term in graded]
    courses = _refresh_open(uow, patient, now)
    after: dict[str, Any] = {"labs": [record_json(x) for x in labs], "courses": courses}
    if source is not None:
        after["source"] = source
    audit.append(uow, actor=user.username, action="lab.record_panel",
                 entity_type="patient", entity_id=patient.id, at=now, after=after)
    return labs
