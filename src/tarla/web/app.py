"""The infusion-centre web app: FastAPI + Jinja2 + HTMX, built by :func:`create_app`.

Nothing is built at import time. ``create_app(settings)`` wires the project's bootstrap
(engine, unit of work), the session store, the templates and the routers:

    /sign-in, /sign-out          pages/auth.py
    /, /today                    the site worklist
    /patients/{id}[.ics]         the course timeline and its calendar
    /patients/{id}/passport.pdf  the wallet card; /passport/{token} its phone page (no sign-in)
    /patients/{id}/labs          labs on record; chart the pre-dose panel, graded as typed
    /bedside/...                 administrations, CRS/ICANS assessments
    /courses/{id}/flowsheet      vital signs, the proposed CRS grade, the next check due
    /alerts, /order-sets         escalation alerts; the site's management steps, signed off
    /pharmacy/...                the preparation bench
    /rules                       label version, rules, sign-off
    /admin/users                 user management
    /api/v1/...                  JSON API (OpenAPI at /api/v1/openapi.json)
    /fhir/r4/..., /cds-services  interface endpoints (bearer interface token; issue 16)
    /admin/interfaces            interface credentials
    /healthz, /static/...        without sign-in
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from tarla.config import Settings
from tarla.label import LABEL_VERSION
from tarla.services.ports import UnitOfWork
from tarla.web.config import WebOptions, load_web_options
from tarla.web.problems import install_error_handlers
from tarla.web.readmodels import ReadModels
from tarla.web.sessions import SessionStore

__all__ = ["create_app", "serve_app", "WebContext"]

HERE = Path(__file__).resolve().parent


@dataclass
class WebContext:
    """What every route needs, held on ``app.state.web``."""

    uow: Callable[[], UnitOfWork]
    sessions: SessionStore
    options: WebOptions
    now: Callable[[], datetime]
    read: ReadModels
    default_site: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: signs the wallet card's QR links (``TARLA_SECRET_KEY``; else random per app)
    secret_key: str = ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def serve_app() -> FastAPI:
    """The app as ``tarla serve`` runs it (uvicorn's factory, once per worker process): built,
    then what start-up left alive (modules, metadata, templates) is frozen out of the garbage
    collector's full passes, which otherwise walk it every few hundred requests (a 40 ms
    pause in the middle of a worklist read, measured by bench/worklist.py)."""
    import gc

    app = create_app()
    gc.collect()
    gc.freeze()
    return app


def create_app(settings: Settings | None = None, *, options: WebOptions | None = None,
               now: Callable[[], datetime] | None = None) -> FastAPI:
    """Build the app. ``now`` (tz-aware) replaces the wall clock, for tests."""
    from tarla.bootstrap import bootstrap

    wired = bootstrap(settings)
    if now is not None:  # writes keep the stored decisions current by the same clock
        wired = dataclasses.replace(wired, clock=now)
    opts = options or load_web_options()
    web = WebContext(uow=wired.uow, sessions=SessionStore(wired.engine, idle=opts.session_idle,
                                                          absolute=opts.session_absolute),
                     options=opts, now=now or _utc_now, read=ReadModels(wired.engine),
                     default_site=wired.settings.default_site)

    app = FastAPI(title="Tarla", version="1", summary="Tarlatamab (IMDELLTRA) therapy "
                  "operations for an oncology infusion centre",
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.web = web
    app.state.bootstrapped = wired
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    from tarla.web import views

    views.install(templates)
    app.state.templates = templates
    from tarla.web import esign

    esign.install(app)  # issue 13: e-signatures shown with the records they sign
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        from tarla.web.problems import database_state

        problem = await database_state(wired.engine)
        if problem is not None:  # the database does not answer: not healthy
            return JSONResponse({"status": "unavailable", "database": problem,
                                 "label_version": LABEL_VERSION}, status_code=503,
                                headers={"Cache-Control": "no-store", "Retry-After": "30"})
        return JSONResponse({"status": "ok", "database": "ok", "label_version": LABEL_VERSION},
                            headers={"Cache-Control": "no-store"})

    from tarla.web import api
    from tarla.web.pages import admin, auth_pages, bedside, labs, patient, pharmacy, rules, today

    for module in (auth_pages, today, patient, labs, bedside, pharmacy, rules, admin):
        app.include_router(module.router)
    from tarla.web.pages import passport

    web.secret_key = opts.secret_key or secrets.token_urlsafe(32)
    app.include_router(passport.router)
    from tarla.web.pages import care as care_pages

    app.include_router(care_pages.router)
    from tarla.web.pages import board

    app.include_router(board.router)
    from tarla.web.pages import alerts, flowsheet

    app.include_router(flowsheet.router)
    app.include_router(alerts.router)
    from tarla.web.pages import charges

    app.include_router(charges.router)
    app.include_router(charges.api_router)
    from tarla.web.pages import capacity as capacity_pages

    app.include_router(capacity_pages.router)
    app.include_router(capacity_pages.api_router)
    api.install(app)
    from tarla.web import cds_hooks, fhir, interface_auth  # issue 16: interface endpoints

    interface_auth.install_interface_errors(app)
    fhir.install(app)
    cds_hooks.install(app)
    from tarla.web.pages import interfaces as interface_pages

    app.include_router(interface_pages.router)
    from tarla.web.pages import labs_queue  # issue 16: labs in, the work queue

    app.include_router(labs_queue.router)

    from tarla.web.access_log import AccessLog, start_checkpoints
    from tarla.web.pages import access as access_pages

    app.include_router(access_pages.router)
    app.include_router(access_pages.api_router)
    app.add_middleware(AccessLog)  # issue 13: reads of a record and sign-outs, in the chain
    start_checkpoints(app, wired.settings)  # off unless TARLA_AUDIT_CHECKPOINT_MINUTES is set
    from tarla.web.limits import RequestGuard

    app.add_middleware(RequestGuard, max_body=opts.max_body)  # before any route reads a byte
    app.add_middleware(SecurityHeaders)
    return app




_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
]


class SecurityHeaders:
    """Plain ASGI middleware (no per-request task like BaseHTTPMiddleware): security headers
    on every answer, and ``Cache-Control: no-store`` on everything but static files (pages
    carry patient data)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [h for h in _HEADERS if h[0] not in names]
                if not static and b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, with_headers)
