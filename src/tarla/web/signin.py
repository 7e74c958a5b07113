"""The sign-in use case of the web entry point: rate limit, password check, new session.

Failed attempts are limited per (username, client address): after ``login_max_failures``
failures within ``login_window`` the next attempt is refused with 429 before the password is
even checked, so guessing cannot continue; the refusal says when to try again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request, Response

from tarla.web.auth import SESSION_COOKIE, client_ip, verify_password
from tarla.web.problems import Problem
from tarla.web.sessions import WebSession

__all__ = ["SignedIn", "sign_in", "set_session_cookie", "clear_session_cookie", "BAD_LOGIN"]

BAD_LOGIN = "Wrong username or password."


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    session: WebSession
    username: str


def sign_in(request: Request, username: str, password: str) -> SignedIn | None:
    """A new session, or None for a wrong username/password; 429 when rate-limited."""
    web = request.app.state.web
    now: datetime = web.now()
    ip = client_ip(request)
    name = username.strip()
    failures, oldest = web.sessions.recent_failures(name, ip, now, web.options.login_window)
    if failures >= web.options.login_max_failures:
        wait = web.options.login_window
        if oldest is not None:
            wait = oldest + web.options.login_window - now
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise Problem(429, "Too many failed sign-ins",
                      f"{failures} failed sign-ins for {name!r} from this device in the last "
                      f"{int(web.options.login_window.total_seconds() // 60)} minutes. Wait "
                      f"{minutes} minute{'s' if minutes != 1 else ''} and try again, or ask an "
                      "administrator to check the account.",
                      [{"field": "password", "message": "too many failed attempts"}],
                      kind="rate-limited",
                      headers={"Retry-After": str(max(1, int(wait.total_seconds())))})
    uow = web.uow()
    with uow.readonly():
        user = uow.users.by_username(name) if name else None
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        web.sessions.record_attempt(name, ip, now, ok=False)
        return None
    web.sessions.record_attempt(name, ip, now, ok=True)
    token, session = web.sessions.create(user.id, now, ip, request.headers.get("user-agent"))
    return SignedIn(token, session, user.username)


def _secure(request: Request) -> bool:
    forced = request.app.state.web.options.cookie_secure
    return request.url.scheme == "https" if forced is None else forced


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    web = request.app.state.web
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=_secure(request), path="/",
                        max_age=int(web.options.session_absolute.total_seconds()))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_secure(request))
