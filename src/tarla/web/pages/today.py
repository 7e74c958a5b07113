"""Today: the site's worklist for a date (who is due, decision, labs, bed/chair, the bag, and
the physician releases of that day)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tarla.domain.errors import InvalidInput
from tarla.services.queries import evaluate_patient, worklist
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import render, site_in_view, web_of
from tarla.web.present import prep_summary

__all__ = ["router", "worklist_view"]

router = APIRouter(include_in_schema=False)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("date", f"{text!r} is not a date (YYYY-MM-DD)") from None


#: Patients per page of the worklist screen (the whole list up to this many).
PER_PAGE = 200


def worklist_view(request: Request, user: CurrentUser, site: str | None,
                  on: str | None, page: int | None = None) -> dict[str, Any]:
    """The worklist and what its rows show; ``page`` (1-based) shows :data:`PER_PAGE` rows
    of it, None the whole list (the pharmacy bench)."""
    web = web_of(request)
    chosen, sites = site_in_view(request, user, site)
    now = web.now()
    paged = {} if page is None else {"offset": (page - 1) * PER_PAGE, "limit": PER_PAGE}
    wl = worklist(web.uow(), site_code=chosen.code, now=now, viewer=user.scope, on=_date(on),
                  **paged)
    zone = ZoneInfo(wl.timezone)
    ids = [i.course_id for i in wl.items]
    preps = web.read.preparations_for_courses(ids)
    releases = web.read.releases_on(ids, wl.date)
    rows = []
    for item in wl.items:
        latest = preps.get(item.course_id, [])
        prep = prep_summary(latest[0], now, zone) if latest else None
        rows.append({"item": item, "prep": prep, "releases": releases.get(item.course_id, [])})
    pages = None if page is None else {"number": page,
                                       "count": max(1, -(-wl.total // PER_PAGE))}
    return {"wl": wl, "rows": rows, "sites": sites, "site": chosen, "counts": wl.counts,
            "zone": zone, "now": now, "new_course_label_version": wl.new_course_label_version,
            "pages": pages}


@router.get("/today")
def today(request: Request, site: str | None = None, date: str | None = None,
          page: int = Query(default=1, ge=1, le=100_000),
          user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return render(request, "today.html", {"nav": "today",
                                          **worklist_view(request, user, site, date, page)})


@router.get("/today/reasons/{course_id}")
def reasons(request: Request, course_id: int, user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    """The full decision with every reason and its provenance (loaded on demand)."""
    web = web_of(request)
    decision = evaluate_patient(web.uow(), now=web.now(), viewer=user.scope, course_id=course_id)
    return render(request, "partials/decision.html", {"d": decision, "wrap": True})
