"""The sign-in use case of the web entry point: rate limit, password check, new session.

Failed attempts are limited per (username, client address): after ``login_max_failures``
failures within ``login_window`` the next attempt is refused with 429 before the password is
even checked, so guessing cannot continue; the refusal says when to try again. An address is
also limited as a whole (``login_address_max_failures``, whatever the usernames). Failures
from one address never refuse the same user at another address: nobody can lock a named user
out. The address is the connection's, or the one a proxy named in ``TARLA_TRUSTED_PROXIES``
forwarded (``tarla serve``); no forwarded header is believed otherwise.

A one-time password an administrator issued signs in only until it expires; the session it
opens can do nothing but choose a new password (:mod:`tarla.web.auth`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request, Response

from tarla.web.access_log import log_sign_in
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
    window = web.options.login_window
    failures, oldest = web.sessions.recent_failures(name, ip, now, window)
    whom = f"for {name!r} "
    if failures < web.options.login_max_failures:
        # The address's own limit, whatever the names: guessing many users from one place.
        failures, oldest = web.sessions.failures_from(ip, now, window)
        whom = ""
        if failures < web.options.login_address_max_failures:
            failures = -1
    if failures >= 0:
        wait = window
        if oldest is not None:
            wait = oldest + window - now
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        log_sign_in(request, name, ok=False, refused=True)
        raise Problem(429, "Too many failed sign-ins",
                      f"{failures} failed sign-ins {whom}from this device in the last "
                      f"{int(window.total_seconds() // 60)} minutes. Wait "
                      f"{minutes} minute{'s' if minutes != 1 else ''} and try again, or ask an "
                      "administrator to check the account.",
                      [{"field": "password", "message": "too many failed attempts"}],
                      kind="rate-limited",
                      headers={"Retry-After": str(max(1, int(wait.total_seconds())))})
    uow = web.uow()
    with uow.readonly():
        user = uow.users.by_username(name) if name else None
    ok = verify_password(user.password_hash if user else None, password)
    if ok and user is not None and web.sessions.reset_expired(user.id, now):
        ok = False  # a one-time password not used in time: the administrator issues another
    if user is None or not ok or not user.active:
        web.sessions.record_attempt(name, ip, now, ok=False)
        log_sign_in(request, name, ok=False)  # the audit chain's access log (issue 13)
        return None
    web.sessions.record_attempt(name, ip, now, ok=True)
    log_sign_in(request, name, ok=True)
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
