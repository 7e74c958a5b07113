"""Capacity (issue 12): the scheduler's day board and week, plan -> review -> accept, moving a
booking by hand, the printed day list; the administrator's resources page. Every check is the
service's (:mod:`tarla.services.capacity`): these routes translate and show its refusals.

Pages (any role reads; a scheduler changes; resources: admin):

- ``GET /schedule?date=`` day board (chairs x hours, beds x the night), flags with reasons;
- ``GET /schedule/week?from=``; ``GET /schedule/day.pdf?date=`` the printed day list;
- ``POST /schedule/plans`` propose; ``GET /schedule/plans/{id}`` review;
  ``POST /schedule/plans/{id}/accept``;
- ``POST /schedule/appointments/{id}/move``, ``.../cancel``;
- ``GET /admin/capacity``, ``POST /admin/capacity/resources``, ``.../hours``, ``.../shifts``.

JSON: ``GET /api/v1/appointments?site=&from=&to=``, ``POST /api/v1/plans``,
``GET /api/v1/plans/{id}``, ``POST /api/v1/plans/{id}/accept``,
``POST /api/v1/appointments/{id}/move``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import capacity
from tarla.services.errors import NotFound, ServiceError
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import (
    FormErrors,
    errors_of,
    form_status,
    local_moment,
    render,
    site_in_view,
    web_of,
)

__all__ = ["router", "api_router", "solver_of"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["capacity"])
readers = allow(*Role)
schedulers = allow(*capacity.SCHEDULERS)
admins = allow(*capacity.ADMINS)
_FLASH = {"proposed": "Plan proposed: review it below, then accept.",
          "accepted": "Plan accepted: the bookings are on the board.",
          "moved": "Booking moved.", "cancelled": "Booking cancelled.",
          "resources": "Resources saved.", "hours": "Opening hours saved.",
          "shift": "Shift saved.", "removed": "Shift removed."}


def solver_of(request: Request) -> Any:
    """The planner (CP-SAT); tests may put another on ``web.extra['capacity_solver']``."""
    web = web_of(request)
    solver = web.extra.get("capacity_solver")
    if solver is None:
        from tarla.adapters.cpsat import CpSatPlanner

        solver = web.extra["capacity_solver"] = CpSatPlanner()
    return solver


def _date(raw: str | None, name: str, default: date) -> date:
    if raw is None or not raw.strip():
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _today(request: Request, site: Any) -> date:
    from zoneinfo import ZoneInfo

    return web_of(request).now().astimezone(ZoneInfo(site.timezone)).date()


def _next_monday(day: date) -> date:
    return day + timedelta(days=7 - day.weekday())


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------- day and week


def _board(request: Request, user: CurrentUser, site_code: str | None, raw_day: str | None, *,
           status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user, site_code)
    errors: FormErrors = extra.pop("errors", FormErrors())
    try:
        day = _date(raw_day, "date", _today(request, site))
    except InvalidInput as exc:
        errors[exc.field] = exc.message
        status, day = 422, _today(request, site)
    board = capacity.day_board(web.uow(), site_code=site.code, day=day, viewer=user.scope,
                               now=web.now())
    plan = capacity.latest_plan(web.uow(), site_code=site.code, viewer=user.scope)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(site.timezone)
    chair_from = datetime.combine(day, time(7), zone)
    chair_to = datetime.combine(day, time(21), zone)
    bed_from, bed_to = board.bed_window
    ctx: dict[str, Any] = {
        "chair_lanes": lanes(board.chairs, chair_from, chair_to, 30),
        "chair_cols": columns(chair_from, chair_to, 30),
        "bed_lanes": lanes(board.beds, bed_from, bed_to, 60),
        "bed_cols": columns(bed_from, bed_to, 60),
        "day_views": sorted({v.record.id: v for _, vs in (*board.chairs, *board.beds)
                             for v in vs}.values(), key=lambda v: v.record.start_at),
        "nav": "schedule", "site": site, "board": board, "day": day, "errors": errors,
        "can_plan": user.has(*capacity.SCHEDULERS), "plan": plan,
        "prev_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "week_from": day - timedelta(days=day.weekday()),
        "plan_from": _next_monday(_today(request, site)), "v": {}}
    ctx.update(extra)
    return render(request, "schedule_day.html", ctx, status=status)


@router.get("/schedule")
def schedule_page(request: Request, site: str | None = Query(default=None, max_length=32),
                  date_: str | None = Query(default=None, alias="date", max_length=32),
                  done: str | None = None, user: CurrentUser = readers) -> Response:
    return _board(request, user, site, date_, flash=_FLASH.get(done or ""))


@router.get("/schedule/week")
def week_page(request: Request, site: str | None = Query(default=None, max_length=32),
              from_: str | None = Query(default=None, alias="from", max_length=32),
              user: CurrentUser = readers) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    today = _today(request, chosen)
    start = _date(from_, "from", today - timedelta(days=today.weekday()))
    wk = capacity.week(web.uow(), site_code=chosen.code, start=start, viewer=user.scope,
                       now=web.now())
    return render(request, "schedule_week.html", {
        "nav": "schedule", "site": chosen, "week": wk, "prev": start - timedelta(days=7),
        "next": start + timedelta(days=7)})


@router.get("/schedule/day.pdf")
def day_pdf(request: Request, site: str | None = Query(default=None, max_length=32),
            date_: str | None = Query(default=None, alias="date", max_length=32),
            user: CurrentUser = readers) -> Response:
    from tarla.adapters.day_list_pdf import render_day_list

    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    day = _date(date_, "date", _today(request, chosen))
    board = capacity.day_board(web.uow(), site_code=chosen.code, day=day, viewer=user.scope,
                               now=web.now())
    pdf = render_day_list(board, printed_at=web.now())
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="day-list-{chosen.code}-{day}.pdf"',
        "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- plans


@router.post("/schedule/plans")
async def propose_form(request: Request, user: CurrentUser = schedulers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_propose, request, user, form)


def _propose(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("site", "from", "days", "date")}
    site, _ = site_in_view(request, user, v["site"] or None)
    try:
        start = _date(v["from"], "from", _next_monday(_today(request, site)))
        days_text = v["days"] or "7"
        if not days_text.isdigit():
            raise InvalidInput("days", f"{days_text!r} is not a whole number of days")
        result = capacity.propose(web.uow(), site_code=site.code, start=start,
                                  days=int(days_text), actor=user.username, now=web.now(),
                                  solver=solver_of(request))
    except (InvalidInput, ServiceError) as exc:
        return _board(request, user, site.code, v["date"] or None, status=form_status(exc),
                      errors=errors_of(exc), v=v)
    return RedirectResponse(f"/schedule/plans/{result.plan.id}?done=proposed", status_code=303)


def _review(request: Request, user: CurrentUser, plan_id: int, *, status: int = 200,
            **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    result = capacity.review(web.uow(), plan_id=plan_id, viewer=user.scope, now=web.now())
    return render(request, "schedule_plan.html", {
        "nav": "schedule", "site": site, "review": result,
        "can_plan": user.has(*capacity.SCHEDULERS), "errors": extra.pop("errors", {}),
        **extra}, status=status)


@router.get("/schedule/plans/{plan_id}")
def plan_page(request: Request, plan_id: int, done: str | None = None,
              user: CurrentUser = readers) -> Response:
    return _review(request, user, plan_id, flash=_FLASH.get(done or ""))


@router.post("/schedule/plans/{plan_id}/accept")
async def accept_form(request: Request, plan_id: int,
                      user: CurrentUser = schedulers) -> Response:
    await request.form()
    return await run_in_threadpool(_accept, request, user, plan_id)


def _accept(request: Request, user: CurrentUser, plan_id: int) -> Response:
    web = web_of(request)
    try:
        result = capacity.accept(web.uow(), plan_id=plan_id, actor=user.username,
                                 now=web.now())
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        return _review(request, user, plan_id, status=form_status(exc), errors=errors_of(exc))
    q = urlencode({"date": result.plan.start_date.isoformat(), "done": "accepted"})
    return RedirectResponse(f"/schedule?{q}", status_code=303)


# --------------------------------------------------------------------------- bookings


@router.post("/schedule/appointments/{appointment_id}/move")
async def move_form(request: Request, appointment_id: int,
                    user: CurrentUser = schedulers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_move, request, user, appointment_id, form)


def _move(request: Request, user: CurrentUser, appointment_id: int, form: Any) -> Response:
    from zoneinfo import ZoneInfo

    web = web_of(request)
    v = {k: _field(form, k) for k in ("start", "reason", "date")}
    site, _ = site_in_view(request, user)
    try:
        start = local_moment(v["start"], ZoneInfo(site.timezone), "start")
        moved = capacity.move(web.uow(), appointment_id=appointment_id, start=start,
                              actor=user.username, now=web.now(), reason=v["reason"] or None)
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        errors = errors_of(exc)
        return _board(request, user, site.code, v["date"] or None, status=form_status(exc),
                      errors=errors, v={**v, "appointment_id": appointment_id})
    q = urlencode({"date": moved.local_start.date().isoformat(), "done": "moved"})
    return RedirectResponse(f"/schedule?{q}#appt-{appointment_id}", status_code=303)


@router.post("/schedule/appointments/{appointment_id}/cancel")
async def cancel_form(request: Request, appointment_id: int,
                      user: CurrentUser = schedulers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_cancel, request, user, appointment_id, form)


def _cancel(request: Request, user: CurrentUser, appointment_id: int, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("reason", "date")}
    site, _ = site_in_view(request, user)
    try:
        capacity.cancel(web.uow(), appointment_id=appointment_id, actor=user.username,
                        now=web.now(), reason=v["reason"])
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        return _board(request, user, site.code, v["date"] or None, status=form_status(exc),
                      errors=errors_of(exc), v={**v, "appointment_id": appointment_id})
    q = urlencode({"date": v["date"], "done": "cancelled"})
    return RedirectResponse(f"/schedule?{q}", status_code=303)


# --------------------------------------------------------------------------- resources (admin)


def _resources(request: Request, user: CurrentUser, *, status: int = 200,
               **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    setup = capacity.setup_of(web.uow(), site_code=site.code, viewer=user.scope)
    return render(request, "capacity_admin.html", {
        "nav": "capacity", "site": site, "setup": setup, "WEEKDAYS": capacity.WEEKDAYS,
        "defaults": capacity.DEFAULTS, "errors": extra.pop("errors", FormErrors()),
        "v": extra.pop("v", {}), **extra}, status=status)


@router.get("/admin/capacity")
def resources_page(request: Request, done: str | None = None,
                   user: CurrentUser = admins) -> Response:
    return _resources(request, user, flash=_FLASH.get(done or ""))


_RESOURCE_FIELDS = ("chairs", "beds", "compounding_per_hour", "patients_per_nurse",
                    "labs_minutes", "overtime_minutes", "plan_time_limit_s")


@router.post("/admin/capacity/resources")
async def resources_form(request: Request, user: CurrentUser = admins) -> Response:
    form = await request.form()
    return await run_in_threadpool(_resources_post, request, user, "resources", form)


@router.post("/admin/capacity/hours")
async def hours_form(request: Request, user: CurrentUser = admins) -> Response:
    form = await request.form()
    return await run_in_threadpool(_resources_post, request, user, "hours", form)


@router.post("/admin/capacity/shifts")
async def shifts_form(request: Request, user: CurrentUser = admins) -> Response:
    form = await request.form()
    return await run_in_threadpool(_resources_post, request, user, "shifts", form)


def _resources_post(request: Request, user: CurrentUser, what: str, form: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    v = {k: _field(form, k) for k in (*_RESOURCE_FIELDS, "weekday", "opens", "closes", "name",
                                      "weekdays", "starts", "ends", "nurses", "remove")}
    try:
        if what == "resources":
            capacity.set_resources(web.uow(), site_code=site.code, actor=user.username,
                                   now=web.now(), **{k: v[k] for k in _RESOURCE_FIELDS
                                                     if v[k] != ""})
            done = "resources"
        elif what == "hours":
            capacity.set_hours(web.uow(), site_code=site.code, weekday=v["weekday"],
                               opens=v["opens"], closes=v["closes"], actor=user.username,
                               now=web.now())
            done = "hours"
        elif what == "shifts" and v["remove"]:
            capacity.remove_shift(web.uow(), site_code=site.code, name=v["name"],
                                  actor=user.username, now=web.now())
            done = "removed"
        elif what == "shifts":
            capacity.set_shift(web.uow(), site_code=site.code, name=v["name"],
                               weekdays=v["weekdays"], starts=v["starts"], ends=v["ends"],
                               nurses=v["nurses"], actor=user.username, now=web.now())
            done = "shift"
        else:  # pragma: no cover - the three routes above
            raise NotFound("page", f"no form {what!r}")
    except NotFound as exc:
        if exc.field in ("site", "page"):
            raise
        return _resources(request, user, status=404, errors=errors_of(exc), v=v)
    except (InvalidInput, ServiceError) as exc:
        return _resources(request, user, status=form_status(exc), errors=errors_of(exc), v=v)
    return RedirectResponse(f"/admin/capacity?done={done}", status_code=303)


# --------------------------------------------------------------------------- JSON API


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(max_length=32)
    from_: date = Field(alias="from")
    days: int = Field(default=7, ge=1, le=28)


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: datetime
    reason: str | None = Field(default=None, max_length=500)


@api_router.get("/appointments", summary="A site's accepted appointments over a date range, "
                                         "each flagged when the decision it was planned on "
                                         "changed")
def api_appointments(request: Request, site: str = Query(max_length=32),
                     from_: date = Query(alias="from"), to: date = Query(),
                     user: CurrentUser = readers) -> JSONResponse:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    views = capacity.appointments(web.uow(), site_code=chosen.code, start=from_, end=to,
                                  viewer=user.scope, now=web.now())
    return JSONResponse({"site": chosen.code, "from": from_.isoformat(), "to": to.isoformat(),
                         "appointments": [v.to_json() for v in views]})


@api_router.post("/plans", summary="Propose a plan (CP-SAT) for a site's next days",
                 status_code=201)
def api_propose(request: Request, body: PlanIn,
                user: CurrentUser = schedulers) -> JSONResponse:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, body.site)
    result = capacity.propose(web.uow(), site_code=chosen.code, start=body.from_,
                              days=body.days, actor=user.username, now=web.now(),
                              solver=solver_of(request))
    return JSONResponse(result.to_json(), status_code=201)


@api_router.get("/plans/{plan_id}", summary="A plan with its diff against the current bookings")
def api_plan(request: Request, plan_id: int, user: CurrentUser = readers) -> JSONResponse:
    web = web_of(request)
    return JSONResponse(capacity.review(web.uow(), plan_id=plan_id, viewer=user.scope,
                                        now=web.now()).to_json())


@api_router.post("/plans/{plan_id}/accept", summary="Accept a proposal: all its bookings or none")
def api_accept(request: Request, plan_id: int, user: CurrentUser = schedulers) -> JSONResponse:
    web = web_of(request)
    return JSONResponse(capacity.accept(web.uow(), plan_id=plan_id, actor=user.username,
                                        now=web.now()).to_json())


@api_router.post("/appointments/{appointment_id}/move",
                 summary="Move a booking by hand (refused with the resource and time named)")
def api_move(request: Request, appointment_id: int, body: MoveIn,
             user: CurrentUser = schedulers) -> JSONResponse:
    web = web_of(request)
    if body.start.tzinfo is None:
        raise InvalidInput("start", "must carry its UTC offset (e.g. 2026-12-21T09:00-05:00)")
    moved = capacity.move(web.uow(), appointment_id=appointment_id, start=body.start,
                          actor=user.username, now=web.now(), reason=body.reason)
    return JSONResponse(moved.to_json())



# --------------------------------------------------------------------------- board layout


def lanes(rows: Any, start: datetime, end: datetime, minutes: int) -> list[dict[str, Any]]:
    """Table rows of a board: per unit, cells ``("gap", span)`` or ``("booking", span, view,
    cut_before, cut_after)`` over columns of ``minutes`` from ``start`` to ``end``."""
    n = int((end - start).total_seconds() // 60 // minutes)
    out = []
    for unit, views in rows:
        cells: list[tuple[Any, ...]] = []
        cursor = 0
        for view in sorted(views, key=lambda x: x.record.start_at):
            a = int((view.record.start_at - start).total_seconds() // 60 // minutes)
            b = -(-int((view.record.end_at - start).total_seconds() // 60) // minutes)
            a2, b2 = max(a, cursor, 0), min(b, n)
            if b2 <= a2:
                continue
            if a2 > cursor:
                cells.append(("gap", a2 - cursor))
            cells.append(("booking", b2 - a2, view, a < 0, b > n))
            cursor = b2
        if cursor < n:
            cells.append(("gap", n - cursor))
        out.append({"unit": unit, "cells": cells})
    return out


def columns(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    n = int((end - start).total_seconds() // 60 // minutes)
    return [start + timedelta(minutes=minutes * i) for i in range(n)]
