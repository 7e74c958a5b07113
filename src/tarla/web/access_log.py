"""The access log of the web entry point (issue 13): every read of a patient's record and
every sign-in, sign-out and failed sign-in becomes an entry of the audit chain.

- :class:`AccessLog` is plain ASGI middleware. When a GET of one of :data:`READS` (the patient
  page, the JSON API's patient reads, the exports, the FHIR reads) is about to answer 200,
  it writes one entry (:func:`tarla.services.audit.record_access`: actor, patient, what,
  channel, address, time; one INSERT and the chain head's UPDATE in one transaction) **before**
  the answer leaves: a read that cannot be logged is answered 503, never served unlogged.
  The read itself ran in its own read-only transaction (a write lock per page view inside
  the read would serialise every reader); the entry follows it in the same request.
- Sign-out (``POST /sign-out``, ``DELETE /api/v1/session``) is logged by the middleware too;
  sign-in outcomes are logged by :func:`log_sign_in`, called from ``tarla.web.signin``.
- :func:`start_checkpoints` runs ``tarla audit checkpoint`` every
  ``TARLA_AUDIT_CHECKPOINT_MINUTES`` inside the app (off unless set, and never in tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from tarla.services import audit
from tarla.services.scope import Scope

__all__ = ["READS", "AccessLog", "log_sign_in", "start_checkpoints", "channel_of"]

_log = logging.getLogger("tarla.audit")

#: route path -> (what was read, channel). The patient is the route's ``patient_id``,
#: ``course_id`` or ``preparation_id``.
READS: dict[str, tuple[str, str]] = {
    "/patients/{patient_id}": ("patient page", "web"),
    "/patients/{patient_id}/labs": ("labs page", "web"),
    "/bedside/{course_id}": ("bedside page", "web"),
    "/courses/{course_id}/flowsheet": ("flowsheet page", "web"),
    "/today/reasons/{course_id}": ("decision reasons", "web"),
    "/pharmacy/preparations/{preparation_id}": ("preparation page", "web"),
    "/patients/{patient_id}/course.ics": ("course calendar (.ics)", "export"),
    "/patients/{patient_id}/wristband.pdf": ("wristband PDF", "export"),
    "/patients/{patient_id}/passport.pdf": ("wallet card PDF", "export"),
    "/pharmacy/preparations/{preparation_id}/label.pdf": ("bag label PDF", "export"),
    "/pharmacy/preparations/{preparation_id}/worksheet.pdf": ("worksheet PDF", "export"),
    "/api/v1/patients/{patient_id}": ("patient", "api"),
    "/api/v1/patients/{patient_id}/evaluation": ("evaluation", "api"),
    "/api/v1/patients/{patient_id}/labs": ("labs", "api"),
    "/api/v1/courses/{course_id}/administrations": ("administrations", "api"),
    "/api/v1/courses/{course_id}/assessments": ("assessments", "api"),
    "/api/v1/courses/{course_id}/flowsheet": ("flowsheet", "api"),
    "/api/v1/courses/{course_id}/care": ("care", "api"),
    "/api/v1/preparations/{preparation_id}": ("preparation", "api"),
}
_SIGN_OUTS = {("POST", "/sign-out"): "web", ("DELETE", "/api/v1/session"): "api"}
_IDS = ("patient_id", "course_id", "preparation_id")


def channel_of(path: str) -> str:
    if path.startswith("/fhir/"):
        return "fhir"
    return "api" if path.startswith("/api/") else "web"


def _int(value: Any) -> int | None:
    text = str(value).removeprefix("Patient/")
    return int(text) if text.isdigit() and len(text) < 12 else None


def _target(scope: dict[str, Any]) -> tuple[str, str, dict[str, int]] | None:
    """(what, channel, {patient_id|course_id|preparation_id: id}) of a logged read."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    params = scope.get("path_params") or {}
    if template in READS:
        what, channel = READS[template]
        ids = {k: v for k in _IDS if k in params and (v := _int(params[k])) is not None}
        return (what, channel, ids) if ids else None
    if template.startswith("/fhir/r4/"):  # FHIR reads: a resource id starts with the patient's
        kind = params.get("kind") or template.removeprefix("/fhir/r4/").split("/", 1)[0]
        raw = params.get("patient_id") or params.get("rid")
        if raw is None:  # a search: ?patient= / ?subject= (Patient?identifier= is not logged)
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            raw = (query.get("patient") or query.get("subject") or [None])[0]
        ident = None if raw is None else _lead(str(raw))
        return (f"FHIR {kind}", "fhir", {"patient_id": ident}) if ident is not None else None
    return None


def _lead(text: str) -> int | None:
    """The patient id a FHIR resource id (``12``, ``12-lab-3``, ``Patient/12``) starts with."""
    head = text.removeprefix("Patient/").split("-", 1)[0]
    return int(head) if head.isdigit() and len(head) < 12 else None


def _address(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@dataclass(frozen=True, slots=True)
class _Interface:
    """A FHIR interface token as a reader (no user id; its site's scope)."""

    username: str
    scope: Scope
    id: None = None


def _user(scope: dict[str, Any]) -> Any:
    state = scope.get("state")
    if not isinstance(state, dict):
        return None
    if state.get("user") is not None:
        return state["user"]
    caller = state.get("interface")
    if caller is not None:
        return _Interface(f"interface:{caller.name}"[:64], caller.scope)
    return None


_UNAVAILABLE = json.dumps({
    "type": "about:blank", "title": "Service unavailable", "status": 503,
    "detail": "this read could not be written to the access log, so it is not shown; try "
              "again in a moment", "errors": [{"field": "access_log", "message": "not written"}],
}).encode()


class AccessLog:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "POST", "DELETE"):
            await self.app(scope, receive, send)
            return
        failed = False

        async def logged_send(message: dict[str, Any]) -> None:
            nonlocal failed
            if failed:
                return
            if message["type"] == "http.response.start":
                try:
                    await self._log(scope, int(message["status"]))
                except Exception:  # an unlogged read is not served: 503, never the record
                    _log.exception("access log: could not write the entry")
                    failed = True
                    await send({"type": "http.response.start", "status": 503, "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"retry-after", b"5"), (b"cache-control", b"no-store")]})
                    await send({"type": "http.response.body", "body": _UNAVAILABLE})
                    return
            await send(message)

        await self.app(scope, receive, logged_send)

    async def _log(self, scope: dict[str, Any], status: int) -> None:
        method, path = scope.get("method"), scope.get("path", "")
        user = _user(scope)
        if user is None:
            return
        web = scope["app"].state.web
        if (method, path) in _SIGN_OUTS and status in (200, 303):
            await run_in_threadpool(audit.record_sign_out, web.uow(), user_id=user.id,
                                    address=_address(scope),
                                    channel=_SIGN_OUTS[(method, path)], at=web.now())
            return
        if method != "GET" or status != 200:
            return
        target = _target(scope)
        if target is None:
            return
        what, channel, ids = target
        await run_in_threadpool(audit.record_access, web.uow(), actor=user.username,
                                user_id=user.id, scope=user.scope, what=what,
                                channel=channel, address=_address(scope), at=web.now(),
                                path=path, **ids)


def log_sign_in(request: Any, username: str, *, ok: bool, refused: bool = False) -> None:
    """One entry per sign-in attempt (called by the sign-in use case of the web entry point;
    the address is the one the rate limit uses)."""
    from tarla.web.auth import client_ip

    web = request.app.state.web
    audit.record_sign_in(web.uow(), username=username, ok=ok, refused=refused,
                         address=client_ip(request), channel=channel_of(request.url.path),
                         at=web.now())


def start_checkpoints(app: Any, settings: Any) -> None:
    """Write a signed checkpoint every ``TARLA_AUDIT_CHECKPOINT_MINUTES`` while the app runs
    (0, the default: never; cron or a systemd timer runs ``tarla audit checkpoint``)."""
    minutes, path = settings.audit_checkpoint_minutes, settings.audit_checkpoints
    if minutes <= 0:
        return
    from tarla.adapters.audit_store import CheckpointFile
    from tarla.config import load_audit_key
    from tarla.services.audit_anchor import write_checkpoint

    key = load_audit_key()
    if key is None:
        raise ValueError("TARLA_AUDIT_CHECKPOINT_MINUTES: set, but neither TARLA_AUDIT_KEY nor "
                         "TARLA_AUDIT_KEY_FILE is")

    async def loop() -> None:  # one when the app starts, then every ``minutes``
        log = CheckpointFile(path)
        while True:
            try:
                await run_in_threadpool(write_checkpoint, app.state.web.uow(), log, key=key,
                                        now=datetime.now(UTC))
            except Exception:  # a failed checkpoint is logged and retried next time
                _log.exception("audit checkpoint failed")
            await asyncio.sleep(minutes * 60)

    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(loop()))

    async def stop() -> None:
        for t in tasks:
            t.cancel()

    app.router.on_startup.append(start)
    app.router.on_shutdown.append(stop)
