"""The access log (issue 13): who read which patient's record, and every sign-in, sign-out and
failed sign-in, from the audit chain (:func:`tarla.services.audit.access_log`).

- ``GET /admin/access?mrn=&user=&from=&to=`` (admin). Sites are walls: a site's administrator
  sees that site's entries only (reads of its patients, sign-ins of its users); an
  administrator without a site sees every site's, and failed sign-ins of unknown names.
- ``GET /api/v1/access?mrn=&user=&from=&to=`` gives the same entries as JSON.

A bad date is answered 422 with the field named.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import audit
from tarla.services.scope import OPERATOR
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import render, web_of

__all__ = ["router", "api_router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["audit"])
admins = allow(Role.ADMIN)


def _date(raw: str | None, name: str) -> date | None:
    if raw is None or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _entries(request: Request, user: CurrentUser, mrn: str | None, username: str | None,
             raw_from: str | None, raw_to: str | None) -> list[audit.AccessEntry]:
    start, end = _date(raw_from, "from"), _date(raw_to, "to")
    if start and end and end < start:
        raise InvalidInput("to", "must not be before from")
    # an administrator without a site oversees every site, as on the users page
    viewer = OPERATOR if user.site_id is None else user.scope
    return audit.access_log(
        web_of(request).uow(), viewer=viewer, mrn=mrn or None, username=username or None,
        start=None if start is None else datetime.combine(start, time(), tzinfo=UTC),
        end=None if end is None else datetime.combine(end + timedelta(days=1), time(),
                                                      tzinfo=UTC))


@router.get("/admin/access")
async def access_page(request: Request, user: CurrentUser = admins) -> Response:
    q = request.query_params
    v = {"mrn": (q.get("mrn") or "").strip(), "user": (q.get("user") or "").strip(),
         "from": (q.get("from") or "").strip(), "to": (q.get("to") or "").strip()}
    errors: dict[str, str] = {}
    rows: list[Any] = []
    try:
        rows = await run_in_threadpool(_entries, request, user, v["mrn"], v["user"], v["from"],
                                       v["to"])
    except InvalidInput as exc:
        errors[exc.field] = exc.message
    return render(request, "access.html", {"nav": "access", "rows": rows, "v": v,
                                           "errors": errors},
                  status=422 if errors else 200)


@api_router.get("/access", summary="The access log: reads of patient records and sign-ins "
                                   "(admin; newest first)")
async def access_api(request: Request, user: CurrentUser = admins) -> JSONResponse:
    q = request.query_params
    rows = await run_in_threadpool(_entries, request, user, q.get("mrn"), q.get("user"),
                                   q.get("from"), q.get("to"))
    return JSONResponse({"entries": [r.to_json() for r in rows]})
