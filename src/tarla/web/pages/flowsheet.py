"""The monitoring flowsheet of a course (issue 11): the vital-signs sets charted, when the next
set is due (or overdue), and the form that charts one.

The form posts to ``.../flowsheet/preview`` on every change (HTMX): the preview calls
:func:`tarla.services.monitoring.propose`, the same proposal the service makes when the set is
saved, and shows the ASTCT CRS grade with its drivers. The nurse confirms it or corrects it
(a correction needs a reason). Saving calls :func:`tarla.services.monitoring.chart_vitals`,
which refuses with the field named and writes nothing; a grade >= 1 is charted as a CRS
assessment and the escalation alerts are raised in the same transaction, then posted to the
site's webhook after the commit (:func:`tarla.adapters.webhook.post_alert`).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.adapters.webhook import post_alert
from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.domain.escalation import STOP_INFUSION
from tarla.domain.vitals import PLAUSIBLE_RANGES
from tarla.services import monitoring
from tarla.services.errors import NotFound, ServiceError
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.alerts import stop_infusion_alerts
from tarla.web.pages.bedside import OXYGEN_WORDS
from tarla.web.pages.common import (
    FormErrors,
    errors_of,
    form_status,
    local_moment,
    render,
    wall_now,
    web_of,
)

__all__ = ["router", "FLOWSHEET_ROLES", "vitals_from_form"]

router = APIRouter(include_in_schema=False)
FLOWSHEET_ROLES = (Role.NURSE, Role.PHYSICIAN)
charters = allow(*FLOWSHEET_ROLES)

#: The form's numeric fields: name -> whole number?
_NUMBERS = {"temperature_c": False, "systolic_mmhg": True, "diastolic_mmhg": True,
            "heart_rate": True, "respiratory_rate": True, "spo2": True, "oxygen_l_min": False,
            "vasopressors": True}
_FLAGS = ("hypotension", "vasopressin", "fever_masked")
VASOPRESSOR_WORDS = [("0", "None"), ("1", "One"), ("2", "Two or more")]
#: the form's fields a refusal can name next to its input (others go to the summary only)
VITALS_FIELDS = (*_NUMBERS, "oxygen_device", "taken_at", "charted_crs_grade",
                 "correction_reason", "administration_id")


def _flag(form: Any, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


def vitals_from_form(form: Any, errors: FormErrors) -> dict[str, Any]:
    """The form as the ``values`` of :func:`monitoring.chart_vitals`: numbers parsed (an
    unreadable one is an error on its field), empty optional fields left out; the ranges are
    the service's to judge."""
    values: dict[str, Any] = {}
    for name, whole in _NUMBERS.items():
        raw = str(form.get(name) or "").strip().replace(",", ".")
        if not raw:
            continue
        try:
            number: float | int = int(raw) if whole else float(raw)
        except ValueError:
            errors[name] = f"{raw!r} is not a {'whole ' if whole else ''}number"
            continue
        if number != number or number in (float("inf"), float("-inf")):
            errors[name] = f"{raw!r} is not a number"
            continue
        values[name] = number
    values["oxygen_device"] = str(form.get("oxygen_device") or "none")
    for name in _FLAGS:
        values[name] = _flag(form, name)
    if "temperature_c" not in values and values["fever_masked"] and "temperature_c" not in errors:
        values["temperature_c"] = None  # masked by antipyretics: the grader reads it so
    return values


def _charted(values: dict[str, str], errors: FormErrors) -> int | None:
    """The grade the nurse charts: empty confirms the proposal, a number corrects it."""
    raw = values.get("charted_crs_grade", "").strip()
    if not raw:
        shown = values.get("grade_shown", "").strip()
        # confirming what the preview showed: a different grade now needs a reason
        return int(shown) if shown.isdigit() else None
    if not raw.isdigit():
        errors["charted_crs_grade"] = f"{raw!r} is not a CRS grade from 0 to 4"
        return None
    return int(raw)


def _page(request: Request, user: CurrentUser, course_id: int, *, status: int = 200,
          **extra: Any) -> Response:
    web = web_of(request)
    now = web.now()
    sheet = monitoring.flowsheet(web.uow(), course_id=course_id, viewer=user.scope, now=now)
    zone = ZoneInfo(sheet.zone)
    last_dose = max(sheet.doses, key=lambda a: (a.started_at, a.id or 0)) if sheet.doses else None
    ctx: dict[str, Any] = {
        "nav": "today", "sheet": sheet, "course_id": course_id, "zone": zone,
        "course_label_version": sheet.course.label_version, "status": sheet.status,
        "names": web.read.user_names([s.nurse_id for s in sheet.sets]),
        "doses": sorted(sheet.doses, key=lambda a: a.started_at, reverse=True),
        "stop_alerts": stop_infusion_alerts(request, user, course_id),
        "STOP_INFUSION": STOP_INFUSION, "OXYGEN_WORDS": OXYGEN_WORDS,
        "VASOPRESSOR_WORDS": VASOPRESSOR_WORDS, "RANGES": PLAUSIBLE_RANGES,
        "v": {"taken_at": wall_now(now, zone), "oxygen_device": "none", "vasopressors": "0",
              "administration_id": "" if last_dose is None else str(last_dose.id)},
        "errors": FormErrors(), "VITALS_FIELDS": VITALS_FIELDS,
    }
    ctx.update(extra)
    return render(request, "flowsheet.html", ctx, status=status)


_SAVED = {"charted": "Vital signs charted.",
          "alert": "Vital signs charted. An alert was raised: see it below and on the Alerts "
                   "page."}


@router.get("/courses/{course_id}/flowsheet")
def flowsheet_page(request: Request, course_id: int, saved: str | None = None,
                   user: CurrentUser = charters) -> Response:
    return _page(request, user, course_id, flash=_SAVED.get(saved or ""),
                 flash_kind="warn" if saved == "alert" else "ok")


@router.post("/courses/{course_id}/flowsheet/preview")
async def vitals_preview(request: Request, course_id: int,
                         user: CurrentUser = charters) -> Response:
    form = await request.form()
    return await run_in_threadpool(_preview, request, user, course_id, form)


def _preview(request: Request, user: CurrentUser, course_id: int, form: Any) -> Response:
    web = web_of(request)
    # the course first: another site's (or none) is 404 whatever the form holds
    monitoring.monitoring_status(web.uow(), viewer=user.scope, now=web.now(),
                                 course_id=course_id)
    errors = FormErrors()
    values = vitals_from_form(form, errors)
    grade: int | None = None
    drivers: tuple[dict[str, Any], ...] = ()
    if not errors:
        try:
            grade, drivers = monitoring.propose(values)
        except InvalidInput as exc:
            errors.update(errors_of(exc))
    return render(request, "partials/vitals_grade.html",
                  {"grade": grade, "drivers": drivers, "errors": errors})


@router.post("/courses/{course_id}/vitals")
async def chart_vitals(request: Request, course_id: int,
                       user: CurrentUser = charters) -> Response:
    form = await request.form()
    return await run_in_threadpool(_chart, request, user, course_id, form)


def _chart(request: Request, user: CurrentUser, course_id: int, form: Any) -> Response:
    web = web_of(request)
    now = web.now()
    # the course's site zone (another site's course: 404 here, before anything is read)
    sheet = monitoring.flowsheet(web.uow(), course_id=course_id, viewer=user.scope, now=now)
    zone = ZoneInfo(sheet.zone)
    raw = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors = FormErrors()
    values = vitals_from_form(form, errors)
    charted = _charted(raw, errors)
    dose = raw.get("administration_id", "").strip()
    if dose and not dose.isdigit():
        errors["administration_id"] = "choose a dose from the list"
    taken = None
    try:
        taken = local_moment(raw.get("taken_at", ""), zone, "taken_at")
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    if errors:
        return _page(request, user, course_id, status=422, v=raw, errors=errors)
    try:
        result = monitoring.chart_vitals(
            web.uow(), course_id=course_id, taken_at=taken, actor=user.username, now=now,
            values=values, administration_id=int(dose) if dose else None,
            charted_crs_grade=charted, correction_reason=raw.get("correction_reason"),
            notify=post_alert)
    except NotFound as exc:
        if exc.field != "administration_id":
            raise
        return _page(request, user, course_id, status=422, v=raw, errors=errors_of(exc))
    except (InvalidInput, NotEnoughInformation, ServiceError) as exc:
        return _page(request, user, course_id, status=form_status(exc), v=raw,
                     errors=errors_of(exc))
    saved = "alert" if result.alert_ids else "charted"
    return RedirectResponse(f"/courses/{course_id}/flowsheet?saved={saved}", status_code=303)
