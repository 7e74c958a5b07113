"""What an interface may read about one patient (FHIR R4 out, CDS Hooks): the records and the
course engine's current decision, scoped to the interface's site.

Read-only; nothing is written and nothing is judged here: the decision is
:func:`tarla.services.queries.evaluate_patient`'s (the engine's), the records are those the
screens show. Another site's patient is :class:`~tarla.services.errors.NotFound`, exactly as a
missing one (:mod:`tarla.services.scope`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tarla.domain import course as core
from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.schemas.course import decision_to_json
from tarla.services._common import course_input, history_for, patient_or_404, zone_of
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    AdverseEventRecord,
    AssessmentRecord,
    CourseRecord,
    LabRecord,
    PatientRecord,
    PreparationRecord,
    ScanRecord,
    SiteRecord,
)
from tarla.services.scope import Scope
from tarla.services.vocab import AssessmentKind

__all__ = ["PatientChart", "patient_chart", "patient_id_by_mrn", "EngineView", "engine_view"]


@dataclass(frozen=True)
class PatientChart:
    site: SiteRecord
    patient: PatientRecord
    courses: list[CourseRecord]
    administrations: dict[int, list[AdministrationRecord]]  # course id -> doses (slot order)
    preparations: dict[int, PreparationRecord]  # preparation id -> bag
    drug_scans: dict[int, list[ScanRecord]]  # preparation id -> accepted drug-vial scans
    labs: list[LabRecord]
    assessments: dict[int, list[AssessmentRecord]]  # course id -> CRS/ICANS assessments
    events: dict[int, list[AdverseEventRecord]]  # course id -> adverse events
    performers: dict[int, str]  # user id -> display name
    #: the engine's decision (the contract's evaluate JSON) for the current course, or None
    #: (no course, or the engine could not decide: ``decision_error`` says why)
    decision: dict[str, Any] | None = None
    decision_error: str | None = None
    as_of: datetime | None = None
    engine: core.Decision | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineView:
    """The engine's decision for a patient's current course, as of ``now``."""

    site: SiteRecord
    patient: PatientRecord
    course: CourseRecord
    decision: core.Decision
    json: dict[str, Any]


def engine_view(uow: UnitOfWork, *, patient_id: int, viewer: Scope,
                now: datetime) -> EngineView:
    """The current course (the last one not discontinued, else the last) and the engine's
    decision on it, from the records as :func:`tarla.services.queries.evaluate_patient` reads
    them. NotFound without a course; the engine's own errors pass through."""
    with uow.readonly():
        patient = patient_or_404(uow, patient_id, viewer)
        courses = uow.courses.for_patient(patient_id)
        if not courses:
            raise NotFound("patient_id", f"patient {patient_id} has no treatment course")
        open_ = [c for c in courses if c.status != "discontinued"]
        course = (open_ or courses)[-1]
        site = uow.sites.get(course.site_id)
        assert site is not None
        zone = zone_of(site)
        h = history_for(uow, course)
    decision = core.evaluate(course_input(h, now, zone))
    out = decision_to_json(decision, zone)
    out.update({"patient_id": patient.id, "course_id": course.id,
                "course_status": course.status, "timezone": site.timezone,
                "course_label_version": course.label_version})
    return EngineView(site, patient, course, decision, out)


def patient_id_by_mrn(uow: UnitOfWork, *, mrn: str, viewer: Scope) -> int:
    """The viewer's site's patient with this MRN (the wristband's identifier)."""
    mrn = (mrn or "").strip()
    if not mrn or viewer.site_id is None:
        raise NotFound("mrn", f"no patient with MRN {mrn!r}")
    with uow.readonly():
        patient = uow.patients.by_mrn(viewer.site_id, mrn)
    if patient is None or patient.id is None or not viewer.covers(patient.site_id):
        raise NotFound("mrn", f"no patient with MRN {mrn!r}")
    return patient.id


def patient_chart(uow: UnitOfWork, *, patient_id: int, viewer: Scope,
                  now: datetime) -> PatientChart:
    with uow.readonly():
        patient = patient_or_404(uow, patient_id, viewer)
        site = uow.sites.get(patient.site_id)
        assert site is not None
        courses = uow.courses.for_patient(patient_id)
        ids = [c.id for c in courses if c.id is not None]
        given = {cid: list(v) for cid, v in uow.administrations.for_courses(ids).items()}
        events = {cid: list(v) for cid, v in uow.events.for_courses(ids).items()}
        assessments: dict[int, list[AssessmentRecord]] = {}
        preparations: dict[int, PreparationRecord] = {}
        scans: dict[int, list[ScanRecord]] = {}
        for cid in ids:
            assessments[cid] = sorted(
                [a for kind in AssessmentKind for a in uow.events.assessments(cid, kind.value)],
                key=lambda a: (a.assessed_at, a.id or 0))
            for prep in uow.preparations.for_course(cid):
                if prep.id is not None:
                    preparations[prep.id] = prep
                    scans[prep.id] = [s for s in uow.preparations.scans(prep.id)
                                      if s.component == "drug" and s.verdict == "accept"]
        labs = uow.labs.for_patient(patient_id)
        user_ids = {a.nurse_id for v in given.values() for a in v}
        user_ids |= {lab.charted_by for lab in labs}
        performers = {}
        for uid in sorted(user_ids):
            user = uow.users.get(uid)
            if user is not None:
                performers[uid] = user.display_name
    view, error = None, None
    if courses:
        try:
            view = engine_view(uow, patient_id=patient_id, viewer=viewer, now=now)
        except (InvalidInput, NotEnoughInformation, NotFound) as exc:
            error = str(exc)
    return PatientChart(site, patient, courses, given, preparations, scans, labs, assessments,
                        events, performers, None if view is None else view.json, error, now,
                        None if view is None else view.decision)
