"""Patients: search, enrol, one patient's course (timeline, decisions, labs, calendar), the
patient's wristband, and a physician's move of the course to another label version."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.services import clinical, label, queries
from tarla.services.errors import ServiceError
from tarla.services.label import version_for_new_course
from tarla.services.vocab import Role
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.calendar import course_calendar
from tarla.web.pages.common import (
    Signature,
    errors_of,
    form_status,
    render,
    site_in_view,
    web_of,
)
from tarla.web.present import patient_view

__all__ = ["router", "ENROL_ROLES"]

router = APIRouter(include_in_schema=False)
ENROL_ROLES = (Role.PHYSICIAN, Role.SCHEDULER, Role.ADMIN)


@router.get("/patients")
def patients(request: Request, q: str = "", site: str | None = None,
             user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    web = web_of(request)
    chosen, sites = site_in_view(request, user, site)
    rows = web.read.search_patients(chosen.id, q[:100])
    return render(request, "patients.html", {"nav": "patients", "rows": rows, "q": q,
                                             "site": chosen, "sites": sites,
                                             "can_enrol": user.has(*ENROL_ROLES)})


def _enrol_form(request: Request, values: dict[str, Any], errors: dict[str, str],
                status: int = 200, site: Any = None) -> Response:
    version = None
    if site is not None:  # the version the course enrolled here will start on (footer)
        uow = web_of(request).uow()
        with uow.readonly():
            version = version_for_new_course(uow, site)
    return render(request, "enrol.html", {"nav": "patients", "v": values, "errors": errors,
                                          "site": site, "new_course_label_version": version},
                  status=status)


@router.get("/patients/new")
def enrol_page(request: Request, user: CurrentUser = allow(*ENROL_ROLES)) -> Response:
    chosen, _ = site_in_view(request, user)
    today = web_of(request).now().astimezone(ZoneInfo(chosen.timezone))
    return _enrol_form(request, {"start_date": today.date().isoformat(),
                                 "diagnosis": "ES-SCLC", "progressed": "yes"}, {}, site=chosen)


def _parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(field, "is not a date (YYYY-MM-DD)" if text.strip()
                           else "is required") from None


@router.post("/patients/new")
def enrol_submit(request: Request, mrn: str = Form(""), family_name: str = Form(""),
                 given_name: str = Form(""), birth_date: str = Form(""),
                 diagnosis: str = Form(""), progressed: str = Form(""),
                 start_date: str = Form(""), off_label_reason: str = Form(""),
                 user: CurrentUser = allow(*ENROL_ROLES)) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user)
    values = {"mrn": mrn, "family_name": family_name, "given_name": given_name,
              "birth_date": birth_date, "diagnosis": diagnosis, "progressed": progressed,
              "start_date": start_date, "off_label_reason": off_label_reason}
    errors: dict[str, str] = {}
    for name in ("mrn", "family_name", "given_name", "diagnosis"):
        if not values[name].strip():
            errors[name] = "is required"
        elif len(values[name]) > 100:
            errors[name] = "is too long (100 characters at most)"
    if progressed not in ("yes", "no"):
        errors["progressed"] = "answer yes or no"
    if off_label_reason.strip() and not user.has(Role.PHYSICIAN):
        errors["off_label_reason"] = "only a physician documents the reason for off-label use"
    parsed: dict[str, date] = {}
    for name in ("birth_date", "start_date"):
        try:
            parsed[name] = _parse_date(values[name], name)
        except InvalidInput as exc:
            errors[name] = exc.message
    if errors:
        return _enrol_form(request, values, errors, 422, chosen)
    try:
        result = clinical.enrol_patient(
            web.uow(), site_code=chosen.code, mrn=mrn.strip(), family_name=family_name.strip(),
            given_name=given_name.strip(), birth_date=parsed["birth_date"],
            diagnosis=diagnosis.strip(), progressed_after_platinum=progressed == "yes",
            start_date=parsed["start_date"], actor=user.username, now=web.now(),
            off_label_reason=off_label_reason.strip() or None)
    except (InvalidInput, NotEnoughInformation, ServiceError, ValidationError) as exc:
        return _enrol_form(request, values, errors_of(exc), 409 if isinstance(
            exc, ServiceError) else 422, chosen)
    return RedirectResponse(f"/patients/{result.patient_id}?enrolled=1", status_code=303)


@router.get("/patients/{patient_id}")
def patient_page(request: Request, patient_id: int, enrolled: int = 0, moved: int = 0,
                 user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    flash = "Patient enrolled." if enrolled else None
    return _patient_page(request, user, patient_id, flash=flash, moved=bool(moved))


def _patient_page(request: Request, user: CurrentUser, patient_id: int, *, status: int = 200,
                  flash: str | None = None, moved: bool = False,
                  move_errors: dict[str, str] | None = None,
                  move_v: dict[str, str] | None = None) -> Response:
    web = web_of(request)
    view = patient_view(web.uow(), web.read, patient_id=patient_id, now=web.now(),
                        viewer=user.scope)
    course = view["course"]
    if moved and course is not None:
        flash = f"This course is now on label version {course.label_version}."
    can_move = course is not None and user.has(*label.MOVE_ROLES)
    choices = (label.versions_to_move_to(web.uow(), course_id=course.id, viewer=user.scope)
               if can_move else ())
    return render(request, "patient.html", {
        "nav": "patients", **view, "flash": flash, "can_move": can_move,
        "move_options": [("", "choose a version"), *((v, v) for v in choices)],
        "move_errors": move_errors or {}, "move_v": move_v or {}},
        status=status)


@router.post("/courses/{course_id}/label-version")
def move_label_version(request: Request, course_id: int, label_version: str = Form(""),
                       reason: str = Form(""), password: str = Form(""),
                       user: CurrentUser = allow(*label.MOVE_ROLES)) -> Response:
    """A physician moves this course to another label version of its drug: their decision,
    with a reason and their password re-entered (an e-signature)."""
    web = web_of(request)
    course = queries.course_of(web.uow(), course_id=course_id, viewer=user.scope)
    try:
        signature = Signature(request, user)
        try:
            label.move_course_to_version(web.uow(), course_id=course_id,
                                         label_version=label_version, actor=user.username,
                                         reason=reason, password=password,
                                         password_check=signature, now=web.now())
        finally:
            signature.record()
    except (InvalidInput, ServiceError) as exc:
        return _patient_page(request, user, course.patient_id, status=form_status(exc),
                             move_errors=errors_of(exc),
                             move_v={"label_version": label_version, "reason": reason})
    return RedirectResponse(f"/patients/{course.patient_id}?moved=1#label-version",
                            status_code=303)


@router.get("/patients/{patient_id}/course.ics")
def patient_calendar(request: Request, patient_id: int,
                     user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    web = web_of(request)
    now = web.now()
    view = patient_view(web.uow(), web.read, patient_id=patient_id, now=now, viewer=user.scope)
    from tarla.services.capacity import booked_times

    booked = booked_times(web.uow(), patient_id=patient_id, viewer=user.scope)
    body = course_calendar(patient_id=patient_id, upcoming=view["upcoming"], zone=view["zone"],
                           site_name=view["site"].name, now=now,
                           label_version=view["course_label_version"], bookings=booked)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="imdelltra-{patient_id}.ics"'})


@router.get("/patients/{patient_id}/wristband.pdf")
def patient_wristband(request: Request, patient_id: int,
                      user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    """The wristband insert: name, MRN, birth date and the barcode the bedside scan reads."""
    from tarla.adapters import pdf

    patient, _ = queries.patient_of(web_of(request).uow(), patient_id=patient_id,
                                    viewer=user.scope)
    with tempfile.TemporaryDirectory() as tmp:
        out = pdf.render_wristband(patient_name=f"{patient.family_name}, {patient.given_name}",
                                   mrn=patient.mrn, birth_date=patient.birth_date,
                                   out=Path(tmp) / "wristband.pdf")
        body = out.read_bytes()
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="wristband-{patient_id}.pdf"'})
