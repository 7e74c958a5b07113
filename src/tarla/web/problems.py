"""Errors -> HTTP, in one place (STYLE.md "Errors").

API paths (``/api/...``) answer with RFC 9457 problem details (``application/problem+json``):
``type``, ``title``, ``status``, ``detail`` and ``errors: [{field, message}]``. Pages answer
with a plain error page (or, for a form, the form re-rendered by its own route). A client
error is always a 4xx; a bug is a 500 that says so without a traceback.

    pydantic ValidationError / RequestValidationError  -> 422 (malformed JSON: 400)
    InvalidInput (incl. ParseError)                     -> 422
    NotEnoughInformation                                -> 422
    NotFound -> 404, Forbidden -> 403, Conflict/AlreadyRecorded -> 409
    HTTPException                                       -> its status
    a database error: down, read-only, full, locked      -> 503 (``Retry-After``)
    a database error: a value too long / out of range    -> 422
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from tarla.domain.errors import InvalidInput, NotEnoughInformation, ParseError
from tarla.schemas import field_path
from tarla.services.errors import (
    AlreadyRecorded,
    Conflict,
    Forbidden,
    NotFound,
    Refused,
    ServiceError,
)

__all__ = ["Problem", "problem_response", "install_error_handlers", "field_errors",
           "PROBLEM_JSON", "is_api", "SignInRequired", "database_state",
           "PasswordChangeRequired"]

PROBLEM_JSON = "application/problem+json"
_BASE = "https://tarla.example/problems/"  # stable identifiers; not fetched by anyone
log = logging.getLogger("tarla.web")


class SignInRequired(Exception):
    """Raised by the auth dependency: pages redirect to sign-in, the API answers 401."""


class PasswordChangeRequired(SignInRequired):
    """Signed in with a one-time password: pages go to ``/account/password``, the API 403."""


class Problem(Exception):
    """A refusal the web layer raises itself (e.g. the wrong role)."""

    def __init__(self, status: int, title: str, detail: str,
                 errors: list[dict[str, str]] | None = None, kind: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers or {}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def field_errors(exc: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """Every error of a pydantic/FastAPI validation failure as ``{field, message}``."""
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        msg = str(err.get("msg", "invalid"))
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        if err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a known field"
        out.append({"field": field_path(loc) if loc else "body", "message": msg})
    return out


def problem_response(status: int, title: str, detail: str,
                     errors: list[dict[str, str]] | None = None, kind: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": _BASE + (kind or title.lower().replace(" ", "-")),
                            "title": title, "status": status, "detail": detail,
                            "errors": errors or []}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _classify(exc: Exception) -> tuple[int, str, str, list[dict[str, str]], str]:
    """(status, title, detail, errors, kind) for every error we map."""
    if isinstance(exc, Problem):
        return exc.status, exc.title, exc.detail, exc.errors, exc.kind
    if isinstance(exc, RequestValidationError):
        errs = field_errors(exc)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return 400, "Malformed request", "the body is not valid JSON", errs, "malformed"
        return 422, "Invalid input", _summary(errs), errs, "invalid-input"
    if isinstance(exc, ValidationError):
        errs = field_errors(exc)
        return 422, "Invalid input", _summary(errs), errs, "invalid-input"
    if isinstance(exc, ParseError):
        return (422, "Unreadable scan", f"{exc.field}: {exc.message}",
                [{"field": exc.field, "message": exc.message}], "unreadable")
    if isinstance(exc, InvalidInput):
        return (422, "Invalid input", f"{exc.field}: {exc.message}",
                [{"field": exc.field, "message": exc.message}], "invalid-input")
    if isinstance(exc, NotEnoughInformation):
        return (422, "Not enough information", f"{exc.field}: {exc.message}",
                [{"field": exc.field, "message": exc.message}], "not-enough-information")
    if isinstance(exc, Refused):
        return (409, "Refused", "; ".join(f"{f}: {t} [{r}]" for r, f, t in exc.refusals),
                [{"field": f, "message": t, "rule": r} for r, f, t in exc.refusals], "refused")
    if isinstance(exc, ServiceError):
        status, title = 409, "Conflict"
        if isinstance(exc, NotFound):
            status, title = 404, "Not found"
        elif isinstance(exc, Forbidden):
            status, title = 403, "Forbidden"
        elif isinstance(exc, AlreadyRecorded):
            title = "Already recorded"
        elif isinstance(exc, Conflict):
            title = "Conflict"
        return (status, title, f"{exc.field}: {exc.message}",
                [{"field": exc.field, "message": exc.message}],
                title.lower().replace(" ", "-"))
    raise TypeError(exc)  # pragma: no cover


#: SQLSTATEs that mean "the database cannot take this now" (PostgreSQL): read-only
#: transaction, disk full, out of memory, too many connections, lock not available, query
#: cancelled (statement or lock timeout), admin shutdown, cannot connect now.
_UNAVAILABLE = {"25006", "53100", "53200", "53300", "55P03", "57014", "57P01", "57P03"}


def _database_problem(exc: Exception) -> tuple[int, str, str, str] | None:
    """(status, title, detail, kind) of a database error: 503 when the database is down,
    read-only, full or locked (the request may be retried; nothing was saved); 422 when it
    refused a value (too long, out of range); 409 for a unique key taken meanwhile; None for
    anything else (a bug: 500)."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if isinstance(exc, DataError) or (code or "").startswith("22"):
        return (422, "Invalid input", "a value is too long or out of range for the record: "
                "nothing was saved", "invalid-input")
    if isinstance(exc, (OperationalError, DisconnectionError)) or code in _UNAVAILABLE \
            or getattr(exc, "connection_invalidated", False):
        return (503, "Database unavailable", "the database cannot take this request now "
                "(unreachable, read-only, full or busy): nothing was saved; try again in a "
                "moment, and tell the system administrator if it lasts", "database-unavailable")
    if isinstance(exc, IntegrityError) or (code or "").startswith("23"):
        return (409, "Conflict", "this conflicts with a record saved meanwhile: nothing was "
                "saved; reload and try again", "conflict")
    return None


async def database_state(engine: Any, timeout: float = 3.0) -> str | None:
    """None when the database answers a real read (its schema version) within ``timeout``
    seconds; otherwise what is wrong (for ``/healthz``)."""
    import asyncio

    from sqlalchemy import text
    from starlette.concurrency import run_in_threadpool

    def probe() -> None:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
            conn.execute(text("SELECT version_num FROM alembic_version")).all()

    try:
        await asyncio.wait_for(run_in_threadpool(probe), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy, said as such
        return type(exc).__name__
    return None


def _summary(errors: list[dict[str, str]]) -> str:
    if not errors:
        return "the request is not valid"
    first = errors[0]
    more = len(errors) - 1
    return f"{first['field']}: {first['message']}" + (
        f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _html_error(request: Request, status: int, title: str, detail: str) -> Response:
    templates = getattr(request.app.state, "templates", None)
    if templates is None:  # pragma: no cover - only before the app is wired
        return HTMLResponse(f"<h1>{status}</h1>", status_code=status)
    user = getattr(request.state, "user", None)
    return templates.TemplateResponse(request, "error.html",
                                      {"status": status, "title": title, "detail": detail,
                                       "user": user}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    async def mapped(request: Request, exc: Exception) -> Response:
        status, title, detail, errors, kind = _classify(exc)
        headers = exc.headers if isinstance(exc, Problem) else None
        if is_api(request):
            return problem_response(status, title, detail, errors, kind, headers)
        return _html_error(request, status, title, detail)

    async def sign_in(request: Request, exc: Exception) -> Response:
        if is_api(request):
            return problem_response(401, "Sign-in required", "sign in first (session cookie) "
                                    "or send a bearer token", kind="unauthenticated",
                                    headers={"WWW-Authenticate": "Bearer"})
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":  # a form posted after the timeout: back to its page
            from urllib.parse import urlsplit

            came = urlsplit(request.headers.get("referer", ""))
            same = not came.netloc or came.netloc == request.url.netloc
            target = (came.path + (f"?{came.query}" if came.query else "")) \
                if same and came.path.startswith("/") else "/"
        from urllib.parse import quote, urlsplit

        if request.headers.get("HX-Request"):
            # HTMX would swap the sign-in page into a fragment: ask for a full redirect, back
            # to the page the user was on once signed in again.
            page = urlsplit(request.headers.get("HX-Current-URL", ""))
            back = page.path + (f"?{page.query}" if page.query else "")
            where = f"/sign-in?next={quote(back, safe='/')}" if back.startswith("/") \
                and not back.startswith("//") else "/sign-in"
            return Response(status_code=401, headers={"HX-Redirect": where})

        return RedirectResponse(f"/sign-in?next={quote(target, safe='/')}", status_code=303)

    async def change_first(request: Request, exc: Exception) -> Response:
        detail = ("an administrator issued you a one-time password: choose your own password "
                  "first (/account/password)")
        if is_api(request):
            return problem_response(403, "Password change required", detail,
                                    [{"field": "password", "message": "choose a new password "
                                      "first"}], kind="password-change-required")
        if request.headers.get("HX-Request"):
            return Response(status_code=403, headers={"HX-Redirect": "/account/password"})
        return RedirectResponse("/account/password", status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed", 401: "Sign-in required",
                 403: "Forbidden", 429: "Too many requests"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else title
        if is_api(request):
            return problem_response(exc.status_code, title, detail, headers=exc.headers)
        return _html_error(request, exc.status_code, title, detail)

    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = ("This is a bug in Tarla, not a problem with what you entered; nothing was "
                  "saved by this request. Tell the system administrator the time it happened.")
        if is_api(request):
            return problem_response(500, "Internal error", detail, kind="internal")
        return _html_error(request, 500, "Something went wrong", detail)

    async def database_down(request: Request, exc: Exception) -> Response:
        found = _database_problem(exc)
        if found is None:
            return await bug(request, exc)
        status, title, detail, kind = found
        if status >= 500:
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        else:
            log.info("database refused a value on %s %s", request.method, request.url.path)
        headers = {"Retry-After": "30"} if status == 503 else None
        if is_api(request):
            return problem_response(status, title, detail,
                                    [{"field": "database" if status == 503 else "body",
                                      "message": detail}], kind, headers)
        response = _html_error(request, status, title, detail)
        if headers:
            response.headers.update(headers)
        return response

    for cls in (Problem, RequestValidationError, ValidationError, InvalidInput,
                NotEnoughInformation, ServiceError):
        app.add_exception_handler(cls, mapped)
    app.add_exception_handler(DBAPIError, database_down)
    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(PasswordChangeRequired, change_first)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, bug)
