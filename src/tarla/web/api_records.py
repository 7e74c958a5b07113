"""Records API under ``/api/v1``: worklist, patients, labs, administrations, assessments and
preparations. Each write is one use case of :mod:`tarla.services` (with its audit entry); the
route checks the role first and the service checks it again.

Roles: enrol = physician/scheduler/admin; labs = nurse/physician/pharmacist; administrations
= nurse; assessments = nurse/physician; preparations (start, events, scans, check) =
pharmacist, and the independent check must be a different pharmacist than the preparer;
moving a course to another label version = physician (password re-entered).

Sites are walls (:mod:`tarla.services.scope`): a user reads and writes their own site's
records only; another site's patient, course, event or preparation is 404, exactly as one
that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt

from tarla.adapters.webhook import post_alert
from tarla.domain.grading import grade_crs, grade_icans
from tarla.domain.identification import label_barcode, wristband_barcode
from tarla.schemas.toxicity import CrsInput, IcansInput
from tarla.services import alerts, clinical, label, monitoring, pharmacy, queries
from tarla.services.audit import jsonable
from tarla.services.queries import evaluate_patient, worklist
from tarla.services.vocab import Role
from tarla.web.api import ok, with_etag
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.esign import signing
from tarla.web.pages.common import Signature, site_in_view, web_of
from tarla.web.pages.patient import ENROL_ROLES
from tarla.web.present import prep_summary

__all__ = ["router"]

_P = {"description": "Problem details (RFC 9457)",
      "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
router = APIRouter(prefix="/api/v1", tags=["records"],
                   responses={code: _P for code in (400, 401, 403, 404, 409, 422)})
reader = allow(*ANY_ROLE)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnrolIn(_In):
    mrn: str = Field(min_length=1, max_length=64)
    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    diagnosis: str = Field(min_length=1, max_length=100)
    progressed_after_platinum: bool
    start_date: date
    off_label_reason: str | None = Field(default=None, max_length=2000)
    site: str | None = Field(default=None, max_length=32)


class LabIn(_In):
    test: str = Field(min_length=1, max_length=32)
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=32)
    collected_at: AwareDatetime
    uln: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    lln: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    baseline: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ScanExceptionIn(_In):
    reason: str = Field(min_length=1, max_length=2000,
                        description="why the wristband or bag could not be scanned")
    witness: str | None = Field(default=None, max_length=64,
                                description="username of the second nurse who confirmed it "
                                            "(refused by the gate GATE-ID-EXCEPTION when "
                                            "missing)")
    witness_password: str | None = Field(default=None, max_length=1024,
                                         description="the second nurse's own password: their "
                                                     "e-signature of the exception")


class AdministrationIn(_In):
    started_at: AwareDatetime
    patient_scan: str | None = Field(default=None, max_length=200,
                                     description="raw text scanned from the wristband")
    bag_scan: str | None = Field(default=None, max_length=200,
                                 description="raw text scanned from the bag label")
    dose_mg: StrictInt | None = Field(default=None, description="cross-check: refused unless "
                                      "it is the engine's next dose")
    ended_at: AwareDatetime | None = None
    slot: str | None = Field(default=None, max_length=16)
    infusion_site: str | None = Field(default=None, max_length=64)
    preparation_id: StrictInt | None = Field(default=None, description="the bag, when charting "
                                             "under a scan exception")
    scan_exception: ScanExceptionIn | None = None
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100)


class CompletedIn(_In):
    ended_at: AwareDatetime | None = None
    expected_version: StrictInt | None = None


_SIGN = ("the signer's password, re-entered: the e-signature (not needed within the site's "
         "few minutes after signing in, TARLA_ESIGN_FRESH_MINUTES)")


class ReleaseIn(_In):
    reason: str = Field(min_length=1, max_length=2000)
    password: str | None = Field(default=None, max_length=1024, description=_SIGN)


class LabelVersionIn(_In):
    label_version: str = Field(min_length=1, max_length=32,
                               description="a registered label version of the course's drug")
    reason: str = Field(min_length=1, max_length=2000,
                        description="why this course moves (kept in the audit trail)")
    password: str = Field(min_length=1, max_length=1000,
                          description="the physician's password, re-entered: the e-signature "
                                      "of the decision (wrong ones count toward the sign-in "
                                      "limit)")


class ResolveIn(_In):
    resolved_at: AwareDatetime
    expected_version: StrictInt | None = None


class CrsAssessmentIn(_In):
    kind: Literal["CRS"]
    inputs: CrsInput
    assessed_at: AwareDatetime
    grade: StrictInt | None = Field(default=None, description="the grade the assessor saw; "
                                    "refused if the inputs give another")


class IcansAssessmentIn(_In):
    kind: Literal["ICANS"]
    inputs: IcansInput
    assessed_at: AwareDatetime
    grade: StrictInt | None = None


AssessmentIn = Annotated[CrsAssessmentIn | IcansAssessmentIn, Field(discriminator="kind")]


class PreparationIn(_In):
    course_id: StrictInt
    dose_mg: StrictInt | None = Field(default=None, description="cross-check only: the dose "
                                      "is the engine's")


class PreparationEventIn(_In):
    event: Literal["reconstituted", "bag_prepared", "refrigerated", "removed_from_refrigerator",
                   "infusion_started", "infusion_completed", "discarded"]
    at: AwareDatetime | None = None
    expected_version: StrictInt | None = None


class ScanIn(_In):
    scan: str = Field(min_length=1, max_length=500)
    component: Literal["drug", "ivss"] = "drug"


class StepIn(_In):
    step: Literal["water_added", "inspected", "saline_withdrawn", "ivss_added", "drug_added",
                  "air_removed"]
    measured_ml: float | None = Field(default=None, allow_inf_nan=False)
    inspection: dict[str, bool] | None = None
    note: str | None = Field(default=None, max_length=500)


class CheckIn(_In):
    expected_version: StrictInt | None = None
    password: str | None = Field(default=None, max_length=1024, description=_SIGN)


def scan_json(r: pharmacy.ScanResult) -> dict[str, Any]:
    return {"scan_id": r.scan_id, "verdict": r.verdict, "gtin": r.gtin,
            "component": r.component, "lot": r.lot, "expiry": r.expiry, "serial": r.serial,
            "reasons": list(r.reasons), "replayed": r.replayed}


def _created(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(jsonable(body), status_code=201)


# --------------------------------------------------------------------------- worklist, patients


@router.get("/worklist", summary="Doses due at a site on a date, each with its decision",
            description="Sorted (give, hold, error, wait, discontinue; then due date, name) "
                        "and paged by the database (`offset`, `limit`); `total` and `counts` "
                        "are the whole list's. Today's list is served from the decisions kept "
                        "current on every write. The answer carries an `ETag`: send it back "
                        "in `If-None-Match` and an unchanged list is `304 Not Modified`.",
            responses={304: {"description": "The list is unchanged since that ETag"}})
def api_worklist(request: Request, site: str | None = Query(default=None, max_length=32),
                 on: date | None = Query(default=None, alias="date"),
                 offset: int = Query(default=0, ge=0, le=1_000_000),
                 limit: int | None = Query(default=None, ge=1, le=10_000),
                 user: CurrentUser = reader) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    wl = worklist(web.uow(), site_code=chosen.code, now=web.now(), viewer=user.scope,
                  on=on, offset=offset, limit=limit)
    # the stored items go out as stored; the tag leaves out the instant of the read
    return with_etag(request, wl.to_json_bytes(), wl.to_json_bytes(with_as_of=False))


@router.get("/board", summary="The unit board: every patient present today by state")
def api_board(request: Request, site: str | None = Query(default=None, max_length=32),
              user: CurrentUser = reader) -> JSONResponse:
    from tarla.services.board import unit_board

    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    return ok(unit_board(web.uow(), site_code=chosen.code, now=web.now(),
                         viewer=user.scope).to_json())


@router.get("/patients", summary="Search patients by name or MRN")
def api_patients(request: Request, q: str = Query(default="", max_length=100),
                 site: str | None = Query(default=None, max_length=32),
                 user: CurrentUser = reader) -> JSONResponse:
    chosen, _ = site_in_view(request, user, site)
    rows = web_of(request).read.search_patients(chosen.id, q)
    return ok({"site": chosen.code, "patients": jsonable(rows)})


@router.post("/patients", status_code=201, summary="Enrol a patient and open a course")
def api_enrol(req: EnrolIn, request: Request,
              user: CurrentUser = allow(*ENROL_ROLES)) -> JSONResponse:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, req.site)
    if (req.off_label_reason or "").strip() and not user.has(Role.PHYSICIAN):
        from tarla.web.problems import Problem

        raise Problem(403, "Forbidden", "only a physician documents the reason for off-label "
                      "use (it overrides the off-label warning)",
                      [{"field": "off_label_reason", "message": "needs physician"}], kind="role")
    r = clinical.enrol_patient(
        web.uow(), site_code=chosen.code, mrn=req.mrn, family_name=req.family_name,
        given_name=req.given_name, birth_date=req.birth_date, diagnosis=req.diagnosis,
        progressed_after_platinum=req.progressed_after_platinum, start_date=req.start_date,
        actor=user.username, now=web.now(), off_label_reason=req.off_label_reason)
    return _created({"patient_id": r.patient_id, "course_id": r.course_id,
                     "next_due_date": r.next_due_date, "warnings": list(r.warnings)})


@router.get("/patients/{patient_id}", summary="One patient, the courses and the decision now")
def api_patient(patient_id: int, request: Request,
                user: CurrentUser = reader) -> JSONResponse:
    web = web_of(request)
    patient, courses = queries.patient_of(web.uow(), patient_id=patient_id, viewer=user.scope)
    evaluation = evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                                  patient_id=patient_id) if courses else None
    return ok({"patient": jsonable(patient), "wristband_barcode": wristband_barcode(patient.mrn),
               "courses": jsonable(courses), "evaluation": evaluation})


@router.get("/patients/{patient_id}/evaluation", summary="The evaluate contract for the "
            "patient's current course, from the records")
def api_evaluation(patient_id: int, request: Request,
                   user: CurrentUser = reader) -> JSONResponse:
    web = web_of(request)
    return ok(evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                               patient_id=patient_id))


@router.get("/patients/{patient_id}/labs", summary="Every lab on record, with CTCAE grades")
def api_labs(patient_id: int, request: Request, user: CurrentUser = reader) -> JSONResponse:
    labs = queries.labs_of(web_of(request).uow(), patient_id=patient_id, viewer=user.scope)
    return ok({"patient_id": patient_id, "labs": jsonable(labs)})


@router.post("/patients/{patient_id}/labs", status_code=201, summary="Chart one lab value")
def api_record_lab(patient_id: int, req: LabIn, request: Request,
                   user: CurrentUser = allow(Role.NURSE, Role.PHYSICIAN, Role.PHARMACIST),
                   ) -> JSONResponse:
    web = web_of(request)
    r = clinical.record_lab(web.uow(), patient_id=patient_id, test=req.test, value=req.value,
                            unit=req.unit, collected_at=req.collected_at, actor=user.username,
                            now=web.now(), uln=req.uln, lln=req.lln, baseline=req.baseline)
    return _created({"lab_id": r.lab_id, "test": r.test, "ctcae_grade": r.ctcae_grade,
                     "ctcae_term": r.ctcae_term})


# --------------------------------------------------------------------------- courses


@router.get("/courses/{course_id}/administrations", summary="Doses given in a course")
def api_administrations(course_id: int, request: Request,
                        user: CurrentUser = reader) -> JSONResponse:
    rows = queries.administrations_of(web_of(request).uow(), course_id=course_id,
                                      viewer=user.scope)
    return ok({"course_id": course_id, "administrations": jsonable(rows)})


@router.post("/courses/{course_id}/administrations", status_code=201,
             summary="Record a dose as given (idempotent with idempotency_key)")
def api_record_administration(course_id: int, req: AdministrationIn, request: Request,
                              user: CurrentUser = allow(Role.NURSE)) -> JSONResponse:
    web = web_of(request)
    exc = req.scan_exception
    with signing(request, user, exc.witness_password if exc else None) as witness_signature:
        r = clinical.record_administration(
            web.uow(), course_id=course_id, started_at=req.started_at, dose_mg=req.dose_mg,
            actor=user.username, now=web.now(), ended_at=req.ended_at, slot=req.slot,
            infusion_site=req.infusion_site, preparation_id=req.preparation_id,
            patient_scan=req.patient_scan, bag_scan=req.bag_scan,
            scan_exception_reason=exc.reason if exc else None,
            witness=exc.witness if exc else None, idempotency_key=req.idempotency_key,
            witness_signature=witness_signature)
    response = _created(_administration_json(r))
    if r.replayed:
        response.status_code = 200
    return response


def _administration_json(r: clinical.AdministrationResult) -> dict[str, Any]:
    return {"administration_id": r.administration_id, "course_id": r.course_id,
            "slot": r.slot, "cycle": r.cycle, "day": r.day, "dose_mg": r.dose_mg,
            "kind": r.kind, "started_at": r.started_at, "next_due_date": r.next_due_date,
            "course_status": r.course_status, "warnings": list(r.warnings),
            "replayed": r.replayed, "preparation_id": r.preparation_id}


@router.post("/courses/{course_id}/releases", status_code=201,
             summary="A physician releases today's held dose (or one whose labs are missing) "
                     "with a reason; it covers exactly the hold rules and labs present now")
def api_release(course_id: int, req: ReleaseIn, request: Request,
                user: CurrentUser = allow(Role.PHYSICIAN)) -> JSONResponse:
    web = web_of(request)
    with signing(request, user, req.password) as signature:
        r = clinical.release_dose(web.uow(), course_id=course_id, reason=req.reason,
                                  actor=user.username, now=web.now(), signature=signature)
    return _created({"release_id": r.release_id, "course_id": r.course_id, "slot": r.slot,
                     "for_date": r.for_date, "covers_rules": list(r.covers_rules),
                     "covers_labs": list(r.covers_labs)})


@router.post("/courses/{course_id}/label-version",
             summary="A physician moves the course to another registered label version of its "
                     "drug, with a reason and their password re-entered (audited)")
def api_move_label_version(course_id: int, req: LabelVersionIn, request: Request,
                           user: CurrentUser = allow(*label.MOVE_ROLES)) -> JSONResponse:
    web = web_of(request)
    signature = Signature(request, user)
    try:
        r = label.move_course_to_version(web.uow(), course_id=course_id,
                                         label_version=req.label_version, actor=user.username,
                                         reason=req.reason, password=req.password,
                                         password_check=signature, now=web.now())
    finally:
        signature.record()
    return ok(jsonable({"course_id": r.course_id, "previous": r.previous,
                        "label_version": r.label_version, "status": r.status,
                        "next_due_date": r.next_due_date}))


@router.post("/adverse-events/{event_id}/resolve",
             summary="End an adverse event: a physician resolves it; a nurse's entry awaits a "
                     "physician's confirmation")
def api_resolve(event_id: int, req: ResolveIn, request: Request,
                user: CurrentUser = allow(Role.NURSE, Role.PHYSICIAN)) -> JSONResponse:
    web = web_of(request)
    status = clinical.resolve_adverse_event(web.uow(), event_id=event_id,
                                            resolved_at=req.resolved_at, actor=user.username,
                                            now=web.now(), expected_version=req.expected_version)
    uow = web.uow()
    with uow.readonly():
        event = uow.events.get(event_id)
    return ok({"adverse_event": jsonable(event), "course_status": status})


@router.post("/preparations/{preparation_id}/completed",
             summary="Infusion completed: the bag's clock and the administration's end time")
def api_infusion_completed(preparation_id: int, req: CompletedIn, request: Request,
                           user: CurrentUser = allow(Role.NURSE)) -> JSONResponse:
    web = web_of(request)
    r = clinical.complete_infusion(web.uow(), preparation_id=preparation_id,
                                   ended_at=req.ended_at or web.now(), actor=user.username,
                                   now=web.now(), expected_version=req.expected_version)
    return ok(jsonable(_administration_json(r)))


@router.get("/courses/{course_id}/assessments", summary="CRS/ICANS assessments of a course")
def api_assessments(course_id: int, request: Request,
                    user: CurrentUser = reader) -> JSONResponse:
    web = web_of(request)
    queries.course_of(web.uow(), course_id=course_id, viewer=user.scope)
    return ok({"course_id": course_id, "assessments": jsonable(web.read.assessments(course_id))})


@router.post("/courses/{course_id}/assessments", status_code=201,
             summary="Record a CRS or ICANS assessment (graded by ASTCT 2019)")
def api_record_assessment(course_id: int, req: AssessmentIn,
                          request: Request,
                          user: CurrentUser = allow(Role.NURSE, Role.PHYSICIAN)) -> JSONResponse:
    web = web_of(request)
    # Grade here first with the contract's models, so bad inputs name their field.
    if isinstance(req, CrsAssessmentIn):
        grade_crs(**req.inputs.model_dump())
    else:
        grade_icans(**req.inputs.model_dump())
    r = clinical.record_assessment(
        web.uow(), course_id=course_id, kind=req.kind,
        inputs=req.inputs.model_dump(mode="json", exclude_none=True),
        assessed_at=req.assessed_at, actor=user.username, now=web.now(), grade=req.grade,
        notify=post_alert)
    return _created({"assessment_id": r.assessment_id, "kind": r.kind, "grade": r.grade,
                     "system": r.system, "drivers": list(r.drivers),
                     "adverse_event_id": r.adverse_event_id, "course_status": r.course_status})


# --------------------------------------------------------------------------- monitoring, alerts


class VitalsIn(_In):
    """One vital-signs set (issue 11). The plausible ranges are the service's to judge (a
    reading outside one is refused as 422 naming its field, never clamped)."""

    taken_at: AwareDatetime
    temperature_c: float | None = Field(default=None, allow_inf_nan=False, description="°C; "
                                        "may be left out only when fever_masked")
    systolic_mmhg: StrictInt
    diastolic_mmhg: StrictInt
    heart_rate: StrictInt
    spo2: StrictInt
    respiratory_rate: StrictInt | None = None
    oxygen_device: str = Field(default="none", max_length=32, description="as in grade/crs "
                               "'oxygen': none, low_flow, high_flow, facemask, ...")
    oxygen_l_min: float | None = Field(default=None, allow_inf_nan=False)
    hypotension: bool = Field(default=False, description="the nurse's finding (ASTCT gives no "
                              "fixed systolic cut-off)")
    vasopressors: StrictInt = 0
    vasopressin: bool = False
    fever_masked: bool = False
    administration_id: StrictInt | None = None
    charted_crs_grade: StrictInt | None = Field(default=None, description="omit (or equal the "
                                                "proposed grade) to confirm; another grade "
                                                "corrects it and needs correction_reason")
    correction_reason: str | None = Field(default=None, max_length=2000)


@router.get("/alerts", summary="The site's escalation alerts, newest first (nurse, physician)")
def api_alerts(request: Request, unacknowledged: bool = False,
               course_id: int | None = Query(default=None),
               user: CurrentUser = allow(*alerts.ALERT_VIEW_ROLES)) -> JSONResponse:
    web = web_of(request)
    if course_id is not None:  # another site's course: 404, as one that does not exist
        queries.course_of(web.uow(), course_id=course_id, viewer=user.scope)
    views = alerts.list_alerts(web.uow(), viewer=user.scope, now=web.now(),
                               unacknowledged=unacknowledged, course_id=course_id)
    return ok(jsonable({"alerts": [alerts.alert_payload(v) for v in views],
                        "unacknowledged": alerts.unacknowledged_count(web.uow(),
                                                                      viewer=user.scope)}))


@router.post("/alerts/{alert_id}/acknowledge", summary="A physician acknowledges an alert")
def api_acknowledge_alert(alert_id: int, request: Request,
                          user: CurrentUser = allow(Role.PHYSICIAN)) -> JSONResponse:
    web = web_of(request)
    view = alerts.acknowledge_alert(web.uow(), alert_id=alert_id, actor=user.username,
                                    now=web.now())
    return ok(jsonable(alerts.alert_payload(view)))


@router.get("/courses/{course_id}/flowsheet", summary="Vital-signs sets of a course and when "
            "the next set is due")
def api_flowsheet(course_id: int, request: Request,
                  user: CurrentUser = allow(Role.NURSE, Role.PHYSICIAN)) -> JSONResponse:
    web = web_of(request)
    sheet = monitoring.flowsheet(web.uow(), course_id=course_id, viewer=user.scope,
                                 now=web.now())
    return ok(jsonable({"course_id": course_id, "patient_id": sheet.course.patient_id,
                        "mrn": sheet.mrn, "timezone": sheet.zone,
                        "sets": list(sheet.sets), "status": sheet.status}))


@router.post("/courses/{course_id}/vitals", status_code=201,
             summary="Chart a vital-signs set: the proposed ASTCT CRS grade is confirmed or "
                     "corrected; a grade >= 1 is charted as a CRS assessment; alerts are "
                     "raised and posted to the site's webhook")
def api_chart_vitals(course_id: int, req: VitalsIn, request: Request,
                     user: CurrentUser = allow(Role.NURSE, Role.PHYSICIAN)) -> JSONResponse:
    web = web_of(request)
    values = req.model_dump(exclude={"taken_at", "administration_id", "charted_crs_grade",
                                     "correction_reason"}, exclude_none=True)
    if req.temperature_c is None:
        values["temperature_c"] = None  # the service says whether that is allowed
    r = monitoring.chart_vitals(
        web.uow(), course_id=course_id, taken_at=req.taken_at, actor=user.username,
        now=web.now(), values=values, administration_id=req.administration_id,
        charted_crs_grade=req.charted_crs_grade, correction_reason=req.correction_reason,
        notify=post_alert)
    return _created({"vitals": r.vitals, "proposed_drivers": list(r.proposed_drivers),
                     "assessment_id": r.assessment_id, "adverse_event_id": r.adverse_event_id,
                     "course_status": r.course_status, "alert_ids": list(r.alert_ids)})


# --------------------------------------------------------------------------- preparations


def _prep_json(request: Request, user: CurrentUser, preparation_id: int) -> dict[str, Any]:
    web = web_of(request)
    prep = queries.preparation_of(web.uow(), preparation_id=preparation_id, viewer=user.scope)
    uow = web.uow()
    with uow.readonly():
        site = uow.sites.get(prep.site_id)
        assert site is not None
    zone = ZoneInfo(site.timezone)
    rows = web.read.preparations_for_courses([prep.course_id]).get(prep.course_id, [])
    row = next(r for r in rows if r["id"] == preparation_id)
    summary = prep_summary(row, web.now(), zone)
    return {"preparation": jsonable(prep), "events": jsonable(row["events"]),
            "clock": summary["clock"], "clock_error": summary["clock_error"],
            "scans": jsonable(web.read.scans(preparation_id)), "timezone": site.timezone,
            "label_barcode": label_barcode(preparation_id)}


@router.post("/preparations", status_code=201,
             summary="Start a preparation of the course's next dose (pharmacist)")
def api_start_preparation(req: PreparationIn, request: Request,
                          user: CurrentUser = allow(Role.PHARMACIST)) -> JSONResponse:
    web = web_of(request)
    r = pharmacy.start_preparation(web.uow(), course_id=req.course_id, dose_mg=req.dose_mg,
                                   actor=user.username, now=web.now())
    return JSONResponse(jsonable(_prep_json(request, user, r.preparation_id)),
                        status_code=200 if r.existing else 201)


@router.get("/preparations/{preparation_id}", summary="A preparation, its events, clock, scans")
def api_preparation(preparation_id: int, request: Request,
                    user: CurrentUser = reader) -> JSONResponse:
    return ok(_prep_json(request, user, preparation_id))


@router.post("/preparations/{preparation_id}/events",
             summary="Record an in-use clock event (bench events: pharmacist; infusion "
                     "start/complete: nurse or pharmacist)")
def api_preparation_event(preparation_id: int, req: PreparationEventIn, request: Request,
                          user: CurrentUser = allow(Role.PHARMACIST, Role.NURSE),
                          ) -> JSONResponse:
    web = web_of(request)
    if req.event == "infusion_completed":
        clinical.complete_infusion(web.uow(), preparation_id=preparation_id,
                                   ended_at=req.at or web.now(), actor=user.username,
                                   now=web.now(), expected_version=req.expected_version)
        return ok(_prep_json(request, user, preparation_id))
    pharmacy.advance_preparation(web.uow(), preparation_id=preparation_id, event=req.event,
                                 at=req.at or web.now(), actor=user.username, now=web.now(),
                                 expected_version=req.expected_version)
    return ok(_prep_json(request, user, preparation_id))


@router.post("/preparations/{preparation_id}/scans", status_code=201,
             summary="Verify a scanned component against the preparation's dose and store it; "
                     "a refusal is stored too (verdict 'refuse'), an unreadable scan is 422")
def api_preparation_scan(preparation_id: int, req: ScanIn, request: Request,
                         user: CurrentUser = allow(Role.PHARMACIST)) -> JSONResponse:
    web = web_of(request)
    r = pharmacy.record_scan(web.uow(), preparation_id=preparation_id, raw=req.scan,
                             component=req.component, actor=user.username, now=web.now())
    return JSONResponse(jsonable(scan_json(r)), status_code=200 if r.replayed else 201)


@router.post("/preparations/{preparation_id}/steps",
             summary="Confirm the next bench step of the recipe (pharmacist): measured volume "
                     "within the site tolerance, or the visual inspection's three answers")
def api_preparation_step(preparation_id: int, req: StepIn, request: Request,
                         user: CurrentUser = allow(Role.PHARMACIST)) -> JSONResponse:
    from tarla.services import bench

    web = web_of(request)
    steps = bench.confirm_step(web.uow(), preparation_id=preparation_id, step=req.step,
                               actor=user.username, now=web.now(),
                               measured_ml=req.measured_ml, inspection=req.inspection,
                               note=req.note)
    return JSONResponse(jsonable({"preparation_id": preparation_id, "steps": steps}),
                        status_code=201)


@router.post("/preparations/{preparation_id}/check",
             summary="The independent check by a second pharmacist (not the preparer)")
def api_preparation_check(preparation_id: int, req: CheckIn, request: Request,
                          user: CurrentUser = allow(Role.PHARMACIST)) -> JSONResponse:
    web = web_of(request)
    with signing(request, user, req.password) as signature:
        pharmacy.check_preparation(web.uow(), preparation_id=preparation_id,
                                   actor=user.username, now=web.now(),
                                   expected_version=req.expected_version, signature=signature)
    return ok(_prep_json(request, user, preparation_id))


# --------------------------------------------------------------------------- care (issue 11)


class PremedicationIn(_In):
    given_at: AwareDatetime
    rule_id: str | None = Field(default=None, max_length=64, description="the premedication "
                                "row of the dose's care (default: its first)")


class WaiverIn(_In):
    reason: str = Field(min_length=1, max_length=2000)
    rule_id: str | None = Field(default=None, max_length=64)


class PostInfusionIn(_In):
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    rule_id: str | None = Field(default=None, max_length=64)


class PostInfusionEndIn(_In):
    ended_at: AwareDatetime


class DischargeIn(_In):
    discharged_at: AwareDatetime
    patient_counselled_at: AwareDatetime | None = None
    caregiver_counselled_at: AwareDatetime | None = None
    no_driving_counselled: bool = False
    caregiver_name: str | None = Field(default=None, max_length=200)
    caregiver_phone: str | None = Field(default=None, max_length=64)
    stay_address: str | None = Field(default=None, max_length=2000)
    stay_address_confirmed: bool = False
    reproductive_potential: bool | None = Field(default=None, description="recorded on the "
                                                "patient when given")
    contraception_counselled: bool = False
    password: str | None = Field(default=None, max_length=1024, description=_SIGN)


@router.get("/courses/{course_id}/care", summary="The care of the course's current dose: "
            "premedication, infusion, saline, discharge checklist")
def api_dose_care(course_id: int, request: Request, user: CurrentUser = reader) -> JSONResponse:
    from tarla.services import care

    web = web_of(request)
    return ok(care.dose_care(web.uow(), course_id=course_id, now=web.now(),
                             viewer=user.scope).to_json())


@router.post("/courses/{course_id}/premedications", status_code=201,
             summary="Chart a premedication of the dose due as given (nurse)")
def api_premedication(course_id: int, req: PremedicationIn, request: Request,
                      user: CurrentUser = allow(Role.NURSE)) -> JSONResponse:
    from tarla.services import care

    web = web_of(request)
    r = care.chart_premedication(web.uow(), course_id=course_id, given_at=req.given_at,
                                 rule_id=req.rule_id, actor=user.username, now=web.now())
    return _created(r.to_json())


@router.post("/courses/{course_id}/premedications/waive", status_code=201,
             summary="A physician waives a premedication of the dose due, with a reason")
def api_waive_premedication(course_id: int, req: WaiverIn, request: Request,
                            user: CurrentUser = allow(Role.PHYSICIAN)) -> JSONResponse:
    from tarla.services import care

    web = web_of(request)
    r = care.waive_premedication(web.uow(), course_id=course_id, reason=req.reason,
                                 rule_id=req.rule_id, actor=user.username, now=web.now())
    return _created(r.to_json())


@router.post("/courses/{course_id}/post-infusion", status_code=201,
             summary="Chart the start (and end) of the post-infusion fluid of the last dose")
def api_post_infusion(course_id: int, req: PostInfusionIn, request: Request,
                      user: CurrentUser = allow(Role.NURSE)) -> JSONResponse:
    from tarla.services import care

    web = web_of(request)
    r = care.start_post_infusion(web.uow(), course_id=course_id, started_at=req.started_at,
                                 ended_at=req.ended_at, rule_id=req.rule_id,
                                 actor=user.username, now=web.now())
    return _created(r.to_json())


@router.post("/medications/{entry_id}/end", summary="The end of a running post-infusion fluid")
def api_post_infusion_end(entry_id: int, req: PostInfusionEndIn, request: Request,
                          user: CurrentUser = allow(Role.NURSE)) -> JSONResponse:
    from tarla.services import care

    web = web_of(request)
    r = care.end_post_infusion(web.uow(), entry_id=entry_id, ended_at=req.ended_at,
                               actor=user.username, now=web.now())
    return ok(r.to_json())


@router.post("/courses/{course_id}/discharge", status_code=201,
             summary="Discharge after the last dose: refused (409, each missing checklist item "
                     "with its rule id) until the checklist of the dose's care is complete")
def api_discharge(course_id: int, req: DischargeIn, request: Request,
                  user: CurrentUser = allow(Role.NURSE, Role.PHYSICIAN)) -> JSONResponse:
    from tarla.services import care

    web = web_of(request)
    facts = req.model_dump()
    password = facts.pop("password", None)
    with signing(request, user, password) as signature:
        r = care.discharge(web.uow(), course_id=course_id, actor=user.username,
                           now=web.now(), signature=signature, **facts)
    return _created(r.to_json())
