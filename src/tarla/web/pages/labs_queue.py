"""Lab interface (issue 16): the work queue of laboratory messages that could not be applied
as they came (no patient with the MRN, a LOINC code the site does not map), and the site's
LOINC table (:mod:`tarla.services.labs_in`).

- ``GET /labs/queue[?show=all]`` (nurse, physician, pharmacist): the open items of the
  user's site (all, resolved ones too, with ``show=all``), each with its results as sent;
- ``POST /labs/queue/{item_id}/apply`` (same roles): chart the results for the message's
  patient or the one whose MRN the nurse enters, a test (or "not charted") chosen for each
  code the site does not map; the labs go through the lab-entry service's checks;
- ``POST /labs/queue/{item_id}/dismiss`` (same roles): close it with a reason;
- ``GET /labs/loinc`` (clinicians and administrators), ``POST /labs/loinc`` and
  ``POST /labs/loinc/{code}/reset`` (pharmacist, physician, administrator).

Another site's item answers 404 exactly as one that does not exist; a refusal re-renders the
page with the field named (4xx), and nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.domain.lab_interface import TESTS
from tarla.services import labs_in
from tarla.services.errors import NotFound, ServiceError
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import FormErrors, errors_of, form_status, render, site_in_view, web_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
resolvers = allow(*labs_in.RESOLVERS)
loinc_readers = allow(*labs_in.RESOLVERS, *labs_in.LOINC_EDITORS)
loinc_editors = allow(*labs_in.LOINC_EDITORS)
_FLASH = {"applied": "Results charted; the patient's decision is updated.",
          "dismissed": "Item dismissed; nothing was charted.",
          "set": "LOINC row saved.", "reset": "The seeded row applies again."}
KIND_WORDS = {"unmatched_patient": "No matching patient",
              "unknown_code": "LOINC code not in the site's table"}
NOT_CHARTED = "-"


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _queue_page(request: Request, user: CurrentUser, *, show: str | None = None,
                status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    entries = labs_in.work_queue(web.uow(), site_code=site.code, viewer=user.scope,
                                 status=None if show == "all" else "open")
    ctx: dict[str, Any] = {"nav": "labs_queue", "site": site, "entries": entries,
                           "show": show or "open", "KIND_WORDS": KIND_WORDS, "TESTS": TESTS,
                           "NOT_CHARTED": NOT_CHARTED, "errors": FormErrors(), "v": {},
                           "failed_item": None}
    ctx.update(extra)
    return render(request, "labs_queue.html", ctx, status=status)


@router.get("/labs/queue")
def queue_page(request: Request, show: str | None = Query(default=None, max_length=8),
               done: str | None = Query(default=None, max_length=16),
               user: CurrentUser = resolvers) -> Response:
    return _queue_page(request, user, show=show, flash=_FLASH.get(done or ""))


@router.post("/labs/queue/{item_id}/apply")
async def apply(request: Request, item_id: int, user: CurrentUser = resolvers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_apply, request, user, item_id, form)


def _apply(request: Request, user: CurrentUser, item_id: int, form: Any) -> Response:
    web = web_of(request)
    codes: dict[str, str | None] = {}
    for key in form.keys():
        if isinstance(key, str) and key.startswith("code:"):
            choice = _field(form, key)
            if choice:
                codes[key[len("code:"):]] = None if choice == NOT_CHARTED else choice
    mrn = _field(form, "patient_mrn")
    try:
        labs_in.apply_item(web.uow(), item_id=item_id, actor=user.username, now=web.now(),
                           patient_mrn=mrn or None, codes=codes)
    except NotFound as exc:
        if exc.field == "item_id":
            raise
        return _queue_page(request, user, status=404, errors=errors_of(exc),
                           v={"patient_mrn": mrn}, failed_item=item_id)
    except (InvalidInput, ServiceError) as exc:
        return _queue_page(request, user, status=form_status(exc), errors=errors_of(exc),
                           v={"patient_mrn": mrn}, failed_item=item_id)
    return RedirectResponse("/labs/queue?done=applied", status_code=303)


@router.post("/labs/queue/{item_id}/dismiss")
async def dismiss(request: Request, item_id: int, user: CurrentUser = resolvers) -> Response:
    form = await request.form()
    return await run_in_threadpool(_dismiss, request, user, item_id, form)


def _dismiss(request: Request, user: CurrentUser, item_id: int, form: Any) -> Response:
    web = web_of(request)
    reason = _field(form, "reason")
    try:
        labs_in.dismiss_item(web.uow(), item_id=item_id, actor=user.username, reason=reason,
                             now=web.now())
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        return _queue_page(request, user, status=form_status(exc), errors=errors_of(exc),
                           v={"reason": reason}, failed_item=item_id)
    return RedirectResponse("/labs/queue?done=dismissed", status_code=303)


# --------------------------------------------------------------------------- LOINC table


def _loinc_page(request: Request, user: CurrentUser, *, status: int = 200,
                **extra: Any) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    rows = labs_in.loinc_entries(web.uow(), site_code=site.code, viewer=user.scope)
    ctx: dict[str, Any] = {"nav": "labs_queue", "site": site, "rows": rows, "TESTS": TESTS,
                           "NOT_CHARTED": NOT_CHARTED,
                           "can_edit": user.has(*labs_in.LOINC_EDITORS),
                           "errors": FormErrors(), "v": {}}
    ctx.update(extra)
    return render(request, "labs_loinc.html", ctx, status=status)


@router.get("/labs/loinc")
def loinc_page(request: Request, done: str | None = Query(default=None, max_length=16),
               user: CurrentUser = loinc_readers) -> Response:
    return _loinc_page(request, user, flash=_FLASH.get(done or ""))


@router.post("/labs/loinc")
async def loinc_set(request: Request, user: CurrentUser = loinc_editors) -> Response:
    form = await request.form()
    return await run_in_threadpool(_loinc_set, request, user, form)


def _loinc_set(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {k: _field(form, k) for k in ("loinc", "test")}
    site, _ = site_in_view(request, user)
    try:
        if not v["test"]:
            raise InvalidInput("test", "choose a test, or 'not charted'")
        labs_in.set_loinc(web.uow(), site_code=site.code, loinc=v["loinc"],
                          test=None if v["test"] == NOT_CHARTED else v["test"],
                          actor=user.username, now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _loinc_page(request, user, status=form_status(exc), errors=errors_of(exc), v=v)
    return RedirectResponse("/labs/loinc?done=set", status_code=303)


@router.post("/labs/loinc/{code}/reset")
async def loinc_reset(request: Request, code: str, user: CurrentUser = loinc_editors
                      ) -> Response:
    return await run_in_threadpool(_loinc_reset, request, user, code)


def _loinc_reset(request: Request, user: CurrentUser, code: str) -> Response:
    web = web_of(request)
    site, _ = site_in_view(request, user)
    try:
        labs_in.reset_loinc(web.uow(), site_code=site.code, loinc=code, actor=user.username,
                            now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _loinc_page(request, user, status=form_status(exc), errors=errors_of(exc))
    return RedirectResponse("/labs/loinc?done=reset", status_code=303)
