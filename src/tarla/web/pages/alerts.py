"""Alerts and order sets (issue 11).

- ``/alerts``: the site's escalation alerts, newest first, each with the patient, the kind and
  grade, when it was raised, "Stop the infusion now" when the infusion was running, and the
  management steps of the site's order set (or the note that the site writes its own). Nurses
  and physicians read; a physician acknowledges with one button.
- ``/order-sets``: the site's order sets (seeded from the manufacturer's management text,
  label-facts §6a, ``HCP``). A pharmacist or physician writes a new version; it takes effect
  once a pharmacist or physician signs it off with their password re-entered (the sign-in's
  rate limit counts wrong passwords, as on the Rules page).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import alerts
from tarla.services.errors import NotFound, ServiceError
from tarla.services.vocab import Role
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import (
    FormErrors,
    Signature,
    errors_of,
    form_status,
    render,
    site_in_view,
    web_of,
)

__all__ = ["router", "KIND_WORDS", "stop_infusion_alerts"]

router = APIRouter(include_in_schema=False)
readers = allow(*alerts.ALERT_VIEW_ROLES)
KIND_WORDS = {"crs": "CRS", "icans": "ICANS", "fever": "Fever during the infusion"}
_ALERT_FLASH = {"acknowledged": "Alert acknowledged."}
_SET_FLASH = {"edited": "New version written: it takes effect once a pharmacist or physician "
                        "signs it off.",
              "signed": "Order set signed off: it is now in effect."}


# --------------------------------------------------------------------------- alerts


def stop_infusion_alerts(request: Request, user: CurrentUser,
                         course_id: int) -> list[alerts.AlertView]:
    """The course's unacknowledged alerts raised while its infusion was running (the bedside
    and the flowsheet say "Stop the infusion now" for them)."""
    if not user.has(*alerts.ALERT_VIEW_ROLES):
        return []
    web = web_of(request)
    return [v for v in alerts.list_alerts(web.uow(), viewer=user.scope, now=web.now(),
                                          unacknowledged=True, course_id=course_id)
            if v.alert.infusion_running]


def _alerts_page(request: Request, user: CurrentUser, *, status: int = 200,
                 show: str | None = None, **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    views = alerts.list_alerts(web.uow(), viewer=user.scope, now=web.now(),
                               unacknowledged=show == "open")
    names = web.read.user_names([v.alert.acknowledged_by for v in views])
    ctx: dict[str, Any] = {"nav": "alerts", "site": site, "views": views, "names": names,
                           "show": show or "all", "KIND_WORDS": KIND_WORDS,
                           "can_acknowledge": user.has(Role.PHYSICIAN), "errors": FormErrors()}
    ctx.update(extra)
    return render(request, "alerts.html", ctx, status=status)


@router.get("/alerts")
def alerts_page(request: Request, show: str | None = None, done: str | None = None,
                user: CurrentUser = readers) -> Response:
    return _alerts_page(request, user, show=show if show == "open" else None,
                        flash=_ALERT_FLASH.get(done or ""))


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(request: Request, alert_id: int,
                      user: CurrentUser = allow(Role.PHYSICIAN)) -> Response:
    await request.form()  # the CSRF field is read by the auth dependency
    return await run_in_threadpool(_acknowledge, request, user, alert_id)


def _acknowledge(request: Request, user: CurrentUser, alert_id: int) -> Response:
    web = web_of(request)
    try:
        alerts.acknowledge_alert(web.uow(), alert_id=alert_id, actor=user.username,
                                 now=web.now())
    except NotFound:
        raise  # another site's alert is answered as one that does not exist
    except (InvalidInput, ServiceError) as exc:
        return _alerts_page(request, user, status=form_status(exc), errors=errors_of(exc))
    return RedirectResponse("/alerts?done=acknowledged", status_code=303)


# --------------------------------------------------------------------------- order sets


def _sets_page(request: Request, user: CurrentUser, *, status: int = 200,
               **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    view = alerts.order_sets_overview(web.uow(), viewer=user.scope, roles=user.roles,
                                      now=web.now())
    people = [o.created_by for o in view.history] + [o.signed_by for o in view.history]
    audit = [a for a in web.read.audit_for(["order_set.edit", "order_set.sign_off"])
             if (a["after"] or {}).get("site_id") == site.id]
    ctx: dict[str, Any] = {"nav": "order_sets", "site": site, "view": view,
                           "names": web.read.user_names(people), "audit": audit,
                           "errors": FormErrors(), "v": {}, "signing": None}
    ctx.update(extra)
    return render(request, "order_sets.html", ctx, status=status)


@router.get("/order-sets")
def order_sets_page(request: Request, done: str | None = None,
                    user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return _sets_page(request, user, flash=_SET_FLASH.get(done or ""))


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _grade_field(form: Any, name: str) -> int:
    raw = _field(form, name)
    if not raw.isdigit():
        raise InvalidInput(name, f"{raw!r} is not a grade from 1 to 5" if raw else "is required")
    return int(raw)


@router.post("/order-sets")
async def edit_order_set(request: Request,
                         user: CurrentUser = allow(*alerts.ORDER_SET_ROLES)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_edit, request, user, form)


def _edit(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("event", "min_grade", "max_grade", "text")}
    try:
        alerts.edit_order_set(web.uow(), actor=user.username, event=v["event"],
                              min_grade=_grade_field(form, "min_grade"),
                              max_grade=_grade_field(form, "max_grade"), text=v["text"],
                              now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _sets_page(request, user, status=form_status(exc), errors=errors_of(exc), v=v)
    return RedirectResponse("/order-sets?done=edited", status_code=303)


@router.post("/order-sets/{order_set_id}/sign-off")
async def sign_off(request: Request, order_set_id: int,
                   user: CurrentUser = allow(*alerts.ORDER_SET_ROLES)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_sign_off, request, user, order_set_id, form)


def _sign_off(request: Request, user: CurrentUser, order_set_id: int, form: Any) -> Response:
    web = web_of(request)
    password = form.get("password")
    try:
        signature = Signature(request, user)
        try:
            alerts.sign_off_order_set(web.uow(), order_set_id=order_set_id,
                                      actor=user.username,
                                      password=password if isinstance(password, str) else "",
                                      verify=signature, now=web.now())
        finally:
            signature.record()
    except NotFound:
        raise  # another site's order set is answered as one that does not exist
    except (InvalidInput, ServiceError) as exc:
        return _sets_page(request, user, status=form_status(exc), errors=errors_of(exc),
                          signing=order_set_id)
    return RedirectResponse("/order-sets?done=signed", status_code=303)
