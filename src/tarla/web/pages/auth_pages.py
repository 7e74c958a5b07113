"""Sign-in, sign-out and the user's own password change (``/account/password``).

A session opened with a one-time password (an administrator's reset, or the initial password
of a new user) can reach only the password change; changing it ends every session of the
user, this one included, and the user signs in again with the new password.

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
          username: str = "", next_url: str = "/today", notice: str | None = None) -> Response:
    token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(24)
    response = request.app.state.templates.TemplateResponse(
        request, "sign_in.html", {"user": None, "error": error, "username": username,
                                  "next": _safe_next(next_url), "login_csrf": token,
                                  "notice": notice},
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
    if user.has(Role.SCHEDULER):  # the scheduler's home: the day board of chairs and beds
        return RedirectResponse("/schedule", status_code=303)
    return RedirectResponse("/today", status_code=303)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str = "/today", changed: str = "",
                       user: CurrentUser | None = Depends(optional_user)) -> Response:
    if user is not None and not user.must_change:
        return RedirectResponse(_safe_next(next), status_code=303)
    if changed:
        return _form(request, next_url=next, notice="Password changed: every session of "
                     "yours has ended. Sign in with the new password.")
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


@router.get("/account/password")
def password_page(request: Request, user: CurrentUser = Depends(current_user)) -> Response:
    return _password_form(request, user)


def _password_form(request: Request, user: CurrentUser, *, status: int = 200,
                   errors: dict[str, str] | None = None) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "account_password.html", {"user": user, "errors": errors or {},
                                           "nav": "account"}, status_code=status)


@router.post("/account/password")
def password_submit(request: Request, current_password: str = Form(""),
                    new_password: str = Form(""), repeat_password: str = Form(""),
                    user: CurrentUser = Depends(current_user)) -> Response:
    from tarla.domain.errors import InvalidInput
    from tarla.services.errors import ServiceError
    from tarla.web.accounts import change_own_password

    web = request.app.state.web
    if new_password != repeat_password:
        return _password_form(request, user, status=422,
                              errors={"repeat_password": "does not match the new password"})
    try:
        change_own_password(web.uow(), username=user.username, current=current_password,
                            new=new_password, now=web.now())
    except InvalidInput as exc:
        return _password_form(request, user, status=422, errors={exc.field: exc.message})
    except ServiceError as exc:
        return _password_form(request, user, status=422,
                              errors={"current_password": str(exc)})
    response = RedirectResponse("/sign-in?changed=1", status_code=303)
    clear_session_cookie(request, response)
    return response
