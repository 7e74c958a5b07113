"""Charges (issue 15): billing staff see one encounter per administration of their site over a
date range, with its claim lines computed from the records (:mod:`tarla.services.charges`),
review the flagged ones (accept, or correct the mg given, with a reason), and export the
accepted ones as CSV or JSON, once. The site's administration codes are edited here too.

- ``GET /charges?site=&from=&to=`` (billing, admin), ``GET /api/v1/charges`` (same lines);
- ``POST /charges/review``, ``POST /charges/export`` (billing);
- ``POST /charges/codes``, ``POST /charges/codes/{code_id}/remove`` (billing, admin).

A bad range, an unknown site or a correction without a reason is answered 4xx with the field
named, and nothing is written.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import charges
from tarla.services.errors import NotFound, ServiceError
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import FormErrors, errors_of, form_status, render, site_in_view, web_of

__all__ = ["router", "api_router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["charges"])
readers = allow(*charges.READERS)
reviewers = allow(*charges.REVIEWERS)
editors = allow(*charges.CODE_EDITORS)
_FLASH = {"accept": "Encounter accepted.", "correct": "Correction saved and accepted.",
          "reopen": "Encounter reopened.", "code": "Administration code added.",
          "removed": "Administration code removed.",
          "nothing": "Nothing new to export: every accepted encounter of the range is "
                     "exported already (reopen one to export it again)."}
FLAG_WORDS = {"interrupted_infusion": "Interrupted infusion (no end charted)",
              "bag_wasted": "Bag wasted (prepared, never given)",
              "no_kit_scan": "No kit scan", "exception_charted": "Dose charted by exception"}


def _date(raw: str | None, name: str, default: date) -> date:
    if raw is None or not raw.strip():
        return default
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _range(request: Request, raw_from: str | None, raw_to: str | None) -> tuple[date, date]:
    web = web_of(request)
    today = web.now().date()
    end = _date(raw_to, "to", today)
    return _date(raw_from, "from", end - timedelta(days=30)), end


def _query(site: str, start: date, end: date, **extra: str) -> str:
    return urlencode({"site": site, "from": start.isoformat(), "to": end.isoformat(), **extra})


def _page(request: Request, user: CurrentUser, site_code: str | None, raw_from: str | None,
          raw_to: str | None, *, status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user, site_code)
    errors = extra.pop("errors", FormErrors())
    sheet = None
    try:
        start, end = _range(request, raw_from, raw_to)
        sheet = charges.charge_sheet(web.uow(), site_code=site.code, start=start, end=end,
                                     viewer=user.scope)
    except InvalidInput as exc:
        errors[exc.field] = exc.message
        status = 422
        start = end = web.now().date()
    ctx: dict[str, Any] = {"nav": "charges", "site": site, "sheet": sheet, "errors": errors,
                           "raw_from": raw_from or start.isoformat(),
                           "raw_to": raw_to or end.isoformat(), "FLAG_WORDS": FLAG_WORDS,
                           "can_review": user.has(*charges.REVIEWERS),
                           "can_edit_codes": user.has(*charges.CODE_EDITORS), "v": {}}
    ctx.update(extra)
    return render(request, "charges.html", ctx, status=status)


@router.get("/charges")
def charges_page(request: Request, site: str | None = Query(default=None, max_length=32),
                 from_: str | None = Query(default=None, alias="from", max_length=32),
                 to: str | None = Query(default=None, max_length=32),
                 done: str | None = None, user: CurrentUser = readers) -> Response:
    return _page(request, user, site, from_, to, flash=_FLASH.get(done or ""))


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.post("/charges/review")
async def review(request: Request, user: CurrentUser = reviewers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_review, request, user, form)


def _review(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("site", "from", "to", "encounter_id", "action", "reason",
                                      "administered_mg")}
    site, _ = site_in_view(request, user, v["site"] or None)
    try:
        start, end = _range(request, v["from"], v["to"])
        charges.review(web.uow(), site_code=site.code, encounter_id=v["encounter_id"],
                       action=v["action"], actor=user.username, now=web.now(), start=start,
                       end=end, reason=v["reason"] or None,
                       administered_mg=v["administered_mg"] or None)
    except NotFound as exc:
        if exc.field == "site":
            raise
        return _page(request, user, site.code, v["from"], v["to"], status=404,
                     errors=errors_of(exc), v=v)
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, site.code, v["from"], v["to"], status=form_status(exc),
                     errors=errors_of(exc), v=v)
    return RedirectResponse(f"/charges?{_query(site.code, start, end, done=v['action'])}"
                            f"#enc-{v['encounter_id']}", status_code=303)


@router.post("/charges/export")
async def export(request: Request, user: CurrentUser = reviewers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_export, request, user, form)


def _export(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("site", "from", "to", "format")}
    site, _ = site_in_view(request, user, v["site"] or None)
    try:
        if v["format"] not in ("csv", "json"):
            raise InvalidInput("format", f"{v['format']!r} is not csv or json")
        start, end = _range(request, v["from"], v["to"])
        result = charges.export(web.uow(), site_code=site.code, start=start, end=end,
                                actor=user.username, now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, site.code, v["from"], v["to"], status=form_status(exc),
                     errors=errors_of(exc))
    if result.batch is None:
        return RedirectResponse(f"/charges?{_query(site.code, start, end, done='nothing')}",
                                status_code=303)
    name = f"charges-{result.batch}.{v['format']}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"',
               "Cache-Control": "no-store"}
    if v["format"] == "csv":
        return Response(charges.to_csv(result.rows), media_type="text/csv; charset=utf-8",
                        headers=headers)
    return Response(json.dumps(result.to_json(), indent=1), media_type="application/json",
                    headers=headers)


@router.post("/charges/codes")
async def add_code(request: Request, user: CurrentUser = editors) -> Response:
    form = await request.form()
    return await run_in_threadpool(_add_code, request, user, form)


def _add_code(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("site", "from", "to", "code", "description", "per")}
    site, _ = site_in_view(request, user, v["site"] or None)
    try:
        charges.add_code(web.uow(), site_code=site.code, code=v["code"],
                         description=v["description"], per=v["per"], actor=user.username,
                         now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, site.code, v["from"], v["to"], status=form_status(exc),
                     errors=errors_of(exc), v=v)
    q = urlencode({"site": site.code, "from": v["from"], "to": v["to"], "done": "code"})
    return RedirectResponse(f"/charges?{q}", status_code=303)


@router.post("/charges/codes/{code_id}/remove")
async def remove_code(request: Request, code_id: int, user: CurrentUser = editors) -> Response:
    form = await request.form()
    return await run_in_threadpool(_remove_code, request, user, code_id, form)


def _remove_code(request: Request, user: CurrentUser, code_id: int, form: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    charges.remove_code(web.uow(), code_id=code_id, actor=user.username, now=web.now())
    q = urlencode({"site": site.code, "from": _field(form, "from"), "to": _field(form, "to"),
                   "done": "removed"})
    return RedirectResponse(f"/charges?{q}", status_code=303)


@api_router.get("/charges", summary="A site's charges over a date range: one encounter per "
                                    "administration with its claim lines and review status")
def api_charges(request: Request, site: str = Query(max_length=32),
                from_: date = Query(alias="from"), to: date = Query(),
                user: CurrentUser = readers) -> JSONResponse:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    sheet = charges.charge_sheet(web.uow(), site_code=chosen.code, start=from_, end=to,
                                 viewer=user.scope)
    return JSONResponse(sheet.to_json())
