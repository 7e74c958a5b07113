"""Who is asking, and may they? Sessions, CSRF and roles for pages and the API.

- Sign-in checks an argon2 hash (:func:`hash_password` / :func:`verify_password`) and opens a
  server-side session (:mod:`tarla.web.sessions`); the cookie ``tarla_session`` holds only the
  random id and is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` over https (configurable).
- Every request that changes something (POST, PUT, PATCH, DELETE) must carry the session's
  CSRF token: the ``csrf_token`` form field, or the ``X-CSRF-Token`` header (HTMX sends it from
  ``hx-headers`` on ``<body>``; API clients read it from ``GET /api/v1/me``). Missing or wrong:
  403.
- Each route names the roles it admits with :func:`allow`; the check runs before the handler,
  and the services check the actor's roles again (defence in depth).
- A session opened with a one-time password (an administrator's reset) reaches only
  :data:`PASSWORD_CHANGE_PATHS` until the user chooses a new password: pages redirect to
  ``/account/password``, the API answers 403.
- Sessions end after ``TARLA_SESSION_IDLE_MINUTES`` without a request (default 15); signing
  in again returns to the page (``/sign-in?next=``), and a form posted after the timeout
  returns to the page it came from.
- Sites are walls (:mod:`tarla.services.scope`): every read passes the user's
  :attr:`CurrentUser.scope` to the services, and every write names the user as the actor; a
  record of another site is answered 404, as one that does not exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from tarla.services.scope import Scope
from tarla.services.vocab import Role
from tarla.web.problems import PasswordChangeRequired, Problem, SignInRequired

__all__ = ["CurrentUser", "SESSION_COOKIE", "CSRF_HEADER", "current_user", "optional_user",
           "allow", "ANY_ROLE", "hash_password", "verify_password", "client_ip",
           "UNSAFE_METHODS", "role_names"]

SESSION_COOKIE = "tarla_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: All a session opened with a one-time password may reach until the password is changed.
PASSWORD_CHANGE_PATHS = frozenset({"/account/password", "/sign-out", "/api/v1/session",
                                   "/api/v1/me"})
ANY_ROLE: frozenset[Role] = frozenset(Role)

_hasher = PasswordHasher()
#: A hash to verify against when the user does not exist, so both cases take as long.
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    global _DUMMY_HASH
    if stored_hash is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
        stored_hash = _DUMMY_HASH
        password = password + "\x00never"  # never matches
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def role_names(roles: Iterable[Role | str]) -> str:
    return " or ".join(sorted(str(Role(r).value) for r in roles))


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    display_name: str
    roles: frozenset[str]
    site_id: int | None
    csrf_token: str
    must_change: bool = False  # signed in with a one-time password: choose a new one first
    signed_in_at: datetime | None = None  # when this session was authenticated

    def has(self, *roles: Role) -> bool:
        return any(r.value in self.roles for r in roles)

    @property
    def scope(self) -> Scope:
        """The records this user may see: their own site's (none without a site)."""
        return Scope(self.site_id)

    @property
    def role_list(self) -> str:
        return ", ".join(sorted(self.roles))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _csrf_ok(request: Request, expected: str) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # Starlette caches it: the route's Form() still works
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    return sent is not None and secrets.compare_digest(sent.encode(), expected.encode())


def _load(request: Request) -> CurrentUser | None:
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    web = request.app.state.web
    now: datetime = web.now()
    found = web.sessions.user(token, now)
    if found is None or not found.active:
        return None
    current = CurrentUser(found.session.user_id, found.username, found.display_name,
                          found.roles, found.site_id, found.session.csrf_token,
                          must_change=found.must_change, signed_in_at=found.session.created_at)
    request.state.user = current
    return current


async def optional_user(request: Request) -> CurrentUser | None:
    return await run_in_threadpool(_load, request)


async def current_user(request: Request) -> CurrentUser:
    """The signed-in user; refuses (401/redirect) otherwise, and checks CSRF on writes."""
    user = await run_in_threadpool(_load, request)
    if user is None:
        raise SignInRequired()
    if user.must_change and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired()
    if request.method in UNSAFE_METHODS and not await _csrf_ok(request, user.csrf_token):
        raise Problem(403, "Forbidden", "the form or request is missing its CSRF token (or it "
                      "is stale): reload the page and try again",
                      [{"field": "csrf_token", "message": "missing or does not match the "
                        "session"}], kind="csrf")
    return user


def allow(*roles: Role) -> Any:
    """A dependency admitting only ``roles`` (the route's ``user`` comes from it)."""
    wanted = frozenset(roles)

    async def guard(user: CurrentUser = Depends(current_user)) -> CurrentUser:
        if not user.has(*wanted):
            raise Problem(403, "Forbidden",
                          f"{user.username} may not do this: it needs the "
                          f"{role_names(wanted)} role (you are: {user.role_list or 'no role'})",
                          [{"field": "role", "message": f"needs {role_names(wanted)}"}],
                          kind="role")
        return user

    guard.roles = wanted  # type: ignore[attr-defined]  # read by the route x role tests
    return Depends(guard)


def roles_of(dependency: Callable[..., Any]) -> frozenset[Role] | None:
    return getattr(dependency, "roles", None)
