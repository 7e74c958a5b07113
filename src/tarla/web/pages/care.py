"""Bedside care around the dose (issue 11): chart the premedication of the dose due (nurse),
waive it (physician, with a reason), chart the post-infusion fluid's start and end (nurse),
and discharge the patient through the checklist of the dose's care (nurse or physician).

Each form calls one use case of :mod:`tarla.services.care`; the service judges (the infusion
start gate, the discharge gate) and writes nothing when it refuses. The page is re-rendered
with the refusal's items, each with its rule id (409), or the form's errors (422); a
completed discharge links the patient's wallet card (``/patients/{id}/passport.pdf``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.services import care
from tarla.services.errors import Conflict, Refused, ServiceError
from tarla.services.queries import evaluate_patient
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.esign import signed
from tarla.web.pages.common import FormErrors, errors_of, form_status, local_moment, web_of
from tarla.web.present import refusal_view

__all__ = ["router", "care_context"]

router = APIRouter(include_in_schema=False)
nurse_only = allow(Role.NURSE)
physician_only = allow(Role.PHYSICIAN)
discharger = allow(*care.DISCHARGE_ROLES)


def care_context(request: Request, user: CurrentUser, course_id: int, now: datetime,
                 ) -> dict[str, Any]:
    """What the bedside page's care section shows (a read of the current dose's care)."""
    c = care.dose_care(web_of(request).uow(), course_id=course_id, now=now, viewer=user.scope)
    return {"care": c, "care_errors": {}, "care_refusal": None, "care_v": {},
            "discharged": None}


def _zone(request: Request, user: CurrentUser, course_id: int) -> ZoneInfo:
    web = web_of(request)
    return ZoneInfo(evaluate_patient(web.uow(), now=web.now(), viewer=user.scope,
                                     course_id=course_id)["timezone"])


def _page(request: Request, user: CurrentUser, course_id: int, **extra: Any) -> Response:
    from tarla.web.pages import bedside

    return bedside._page(request, user, course_id, **extra)  # noqa: SLF001


def _moment(values: dict[str, str], name: str, zone: ZoneInfo, errors: FormErrors,
            required: bool = True) -> datetime | None:
    raw = values.get(name, "").strip()
    if not raw:
        if required:
            errors[name] = "is required"
        return None
    try:
        return local_moment(raw, zone, name)
    except InvalidInput as exc:
        errors[exc.field] = exc.message
        return None


def _flag(values: dict[str, str], name: str) -> bool:
    return values.get(name) in ("on", "true", "1", "yes")


def _run(request: Request, user: CurrentUser, course_id: int, values: dict[str, str],
         act: Any, flash: Any) -> Response:
    try:
        result = act()
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, course_id, status=form_status(exc), care_v=values,
                     care_errors=errors_of(exc),
                     care_refusal=refusal_view(exc) if isinstance(exc, Refused | Conflict)
                     else None)
    text, extra = flash(result)
    return _page(request, user, course_id, flash=text,
                 flash_kind="warn" if getattr(result, "warnings", ()) else "ok", **extra)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}


@router.post("/bedside/{course_id}/premedication")
async def premedication(request: Request, course_id: int,
                        user: CurrentUser = nurse_only) -> Response:
    values = await _form(request)
    return await run_in_threadpool(_premedication, request, course_id, user, values)


def _premedication(request: Request, course_id: int, user: CurrentUser,
                   values: dict[str, str]) -> Response:
    web = web_of(request)
    errors = FormErrors()
    given = _moment(values, "given_at", _zone(request, user, course_id), errors)
    if errors:
        return _page(request, user, course_id, status=422, care_v=values, care_errors=errors)
    return _run(request, user, course_id, values, lambda: care.chart_premedication(
        web.uow(), course_id=course_id, given_at=given, actor=user.username,  # type: ignore[arg-type]
        now=web.now(), rule_id=values.get("rule_id") or None),
        lambda r: (f"{r.drug} {r.dose} {r.route} charted as given for {r.slot}.", {}))


@router.post("/bedside/{course_id}/premedication/waive")
async def waive(request: Request, course_id: int,
                user: CurrentUser = physician_only) -> Response:
    values = await _form(request)
    return await run_in_threadpool(_waive, request, course_id, user, values)


def _waive(request: Request, course_id: int, user: CurrentUser,
           values: dict[str, str]) -> Response:
    web = web_of(request)
    return _run(request, user, course_id, values, lambda: care.waive_premedication(
        web.uow(), course_id=course_id, reason=values.get("reason", ""), actor=user.username,
        now=web.now(), rule_id=values.get("rule_id") or None),
        lambda r: (f"{r.drug} waived for {r.slot} by a physician (reason on record).", {}))


@router.post("/bedside/{course_id}/post-infusion")
async def post_infusion(request: Request, course_id: int,
                        user: CurrentUser = nurse_only) -> Response:
    values = await _form(request)
    return await run_in_threadpool(_post_infusion, request, course_id, user, values)


def _post_infusion(request: Request, course_id: int, user: CurrentUser,
                   values: dict[str, str]) -> Response:
    web = web_of(request)
    errors = FormErrors()
    zone = _zone(request, user, course_id)
    started = _moment(values, "started_at", zone, errors)
    ended = _moment(values, "ended_at", zone, errors, required=False)
    if errors:
        return _page(request, user, course_id, status=422, care_v=values, care_errors=errors)
    return _run(request, user, course_id, values, lambda: care.start_post_infusion(
        web.uow(), course_id=course_id, started_at=started, ended_at=ended,  # type: ignore[arg-type]
        actor=user.username, now=web.now(), rule_id=values.get("rule_id") or None),
        lambda r: (f"{r.drug} {r.dose} started for {r.slot}"
                   + (" and ended" if r.ended_at else "") + "."
                   + (" Warning: " + " ".join(r.warnings) if r.warnings else ""), {}))


@router.post("/bedside/{course_id}/post-infusion/{entry_id}/end")
async def post_infusion_end(request: Request, course_id: int, entry_id: int,
                            user: CurrentUser = nurse_only) -> Response:
    values = await _form(request)
    return await run_in_threadpool(_post_infusion_end, request, course_id, entry_id, user,
                                   values)


def _post_infusion_end(request: Request, course_id: int, entry_id: int, user: CurrentUser,
                       values: dict[str, str]) -> Response:
    web = web_of(request)
    errors = FormErrors()
    ended = _moment(values, "ended_at", _zone(request, user, course_id), errors)
    if errors:
        return _page(request, user, course_id, status=422, care_v=values, care_errors=errors)
    return _run(request, user, course_id, values, lambda: care.end_post_infusion(
        web.uow(), entry_id=entry_id, ended_at=ended, actor=user.username,  # type: ignore[arg-type]
        now=web.now()),
        lambda r: (f"{r.drug} ended." + (" Warning: " + " ".join(r.warnings)
                                         if r.warnings else ""), {}))


@router.post("/bedside/{course_id}/discharge")
async def discharge(request: Request, course_id: int,
                    user: CurrentUser = discharger) -> Response:
    values = await _form(request)
    return await run_in_threadpool(_discharge, request, course_id, user, values)


def _discharge(request: Request, course_id: int, user: CurrentUser,
               values: dict[str, str]) -> Response:
    web = web_of(request)
    errors = FormErrors()
    zone = _zone(request, user, course_id)
    at = _moment(values, "discharged_at", zone, errors)
    patient_at = _moment(values, "patient_counselled_at", zone, errors, required=False)
    caregiver_at = _moment(values, "caregiver_counselled_at", zone, errors, required=False)
    potential = {"yes": True, "no": False}.get(values.get("reproductive_potential", ""))
    if errors:
        return _page(request, user, course_id, status=422, care_v=values, care_errors=errors)
    return _run(request, user, course_id, values, lambda: signed(
        request, user, values.get("password"), lambda signature: care.discharge(
            web.uow(), course_id=course_id, discharged_at=at, actor=user.username,  # type: ignore[arg-type]
            now=web.now(), patient_counselled_at=patient_at,
            caregiver_counselled_at=caregiver_at,
            no_driving_counselled=_flag(values, "no_driving_counselled"),
            caregiver_name=values.get("caregiver_name"),
            caregiver_phone=values.get("caregiver_phone"),
            stay_address=values.get("stay_address"),
            stay_address_confirmed=_flag(values, "stay_address_confirmed"),
            reproductive_potential=potential,
            contraception_counselled=_flag(values, "contraception_counselled"),
            signature=signature)),
        lambda r: (f"Discharged after {r.slot}.", {"discharged": r}))
