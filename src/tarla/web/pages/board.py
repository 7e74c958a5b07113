"""The unit board (the nurse's home page beside Today): every patient present today by state,
with the end of each infusion, observation and monitoring bed, ongoing CRS/ICANS, hold reasons
and the physician releases of the day on the row. The rows refresh themselves (HTMX polling)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tarla.domain.board import BoardState
from tarla.services.board import unit_board
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import render, site_in_view, web_of

__all__ = ["router", "STATE_WORDS"]

router = APIRouter(include_in_schema=False)

#: Each state's heading and badge class on the board.
STATE_WORDS: dict[str, tuple[str, str]] = {
    BoardState.WAITING.value: ("Waiting", "wait"),
    BoardState.PREMEDICATED.value: ("Premedicated", "wait"),
    BoardState.INFUSING.value: ("Infusing", "give"),
    BoardState.OBSERVATION.value: ("In observation", "give"),
    BoardState.MONITORING_BED.value: ("22-24 h monitoring bed", "hold"),
    BoardState.READY.value: ("Ready for discharge", "give"),
    BoardState.DISCHARGED.value: ("Discharged", "discontinue"),
}
#: How often the rows refresh themselves, in seconds.
POLL_SECONDS = 30


def _view(request: Request, user: CurrentUser, site: str | None) -> dict[str, Any]:
    web = web_of(request)
    chosen, sites = site_in_view(request, user, site)
    board = unit_board(web.uow(), site_code=chosen.code, now=web.now(), viewer=user.scope)
    ids = [r.course_id for r in board.rows]
    day = board.as_of.astimezone(ZoneInfo(board.timezone)).date()
    return {"board": board, "site": chosen, "sites": sites, "zone": ZoneInfo(board.timezone),
            "releases": web.read.releases_on(ids, day), "STATE_WORDS": STATE_WORDS,
            "poll": POLL_SECONDS, "today": day}


@router.get("/board")
def board_page(request: Request, site: str | None = None,
               user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return render(request, "board.html", {"nav": "board", **_view(request, user, site)})


@router.get("/board/rows")
def board_rows(request: Request, site: str | None = None,
               user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    """The board's body alone, for the page's polling."""
    return render(request, "partials/board_rows.html", _view(request, user, site))
