"""Sign-in and sign-out pages.

The sign-in form has no session yet, so its CSRF token is a double-submit cookie
(``tarla_login_csrf``): the form field must equal the cookie.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from tarla.services.vocab import Role
from tarla.web.auth import SESSION_COOKIE, CurrentUser, current_user, optional_user
from tarla.web.problems import Problem
from tarla.web.signin import BAD_LOGIN, clear_session_cookie, set_session_cookie, sign_in

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "tarla_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no //host, no scheme): open redirects are refused."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/today"
    return target


def _form(request: Request, *, status: int = 200, error: str | None = None,
          username: str = "", next_url: str = "/today") -> Response:
    token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(24)
    response = request.app.state.templates.TemplateResponse(
        request, "sign_in.html", {"user": None, "error": error, "username": username,
                                  "next": _safe_next(next_url), "login_csrf": token},
        status_code=status)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", path="/sign-in",
                        secure=request.url.scheme == "https")
    return response


@router.get("/")
async def home(user: CurrentUser | None = Depends(optional_user)) -> RedirectResponse:
    if user is None:
        return RedirectResponse("/sign-in", status_code=303)
    if user.site_id is None and user.has(Role.ADMIN):  # no clinical site: users to manage
        return RedirectResponse("/admin/users", status_code=303)
    if user.has(Role.NURSE):  # the nurse's home: who is on the unit now
        return RedirectResponse("/board", status_code=303)
    return RedirectResponse("/today", status_code=303)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str = "/today",
                       user: CurrentUser | None = Depends(optional_user)) -> Response:
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _form(request, next_url=next)


@router.post("/sign-in")
def sign_in_submit(request: Request, username: str = Form(""), password: str = Form(""),
                         csrf_token: str = Form(""), next: str = Form("/today")) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf_token.encode()):
        return _form(request, status=403, username=username, next_url=next,
                     error="The sign-in form had expired. Please sign in again.")
    if not username.strip() or not password:
        return _form(request, status=422, username=username, next_url=next,
                     error="Enter your username and password.")
    try:
        done = sign_in(request, username, password)
    except Problem as exc:  # rate-limited: say so on the form, with the 429 status
        response = _form(request, status=exc.status, username=username, next_url=next,
                         error=exc.detail)
        response.headers.update(exc.headers)
        return response
    if done is None:
        return _form(request, status=401, username=username, next_url=next, error=BAD_LOGIN)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, done.token)
    response.delete_cookie(LOGIN_CSRF, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.app.state.web.sessions.delete(token)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_session_cookie(request, response)
    return response
