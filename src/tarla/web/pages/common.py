"""Helpers the page modules share: rendering, the site in view, local times, form errors."""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from tarla.domain.errors import InvalidInput, NotEnoughInformation
from tarla.services.alerts import unacknowledged_count
from tarla.services.errors import Conflict, Forbidden, NotFound, Refused, ServiceError
from tarla.services.records import SiteRecord
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, client_ip, verify_password
from tarla.web.problems import field_errors

__all__ = ["render", "site_in_view", "web_of", "local_moment", "errors_of", "FormErrors",
           "is_htmx", "form_status", "Signature"]

log = logging.getLogger("tarla.web")


def web_of(request: Request) -> Any:
    return request.app.state.web


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _alerts_open(request: Request, template: str, user: Any) -> int | None:
    """The nav badge: the signed-in nurse's or physician's unacknowledged alerts of their
    site (one count query), or None when the user sees no alerts. A failure here never breaks
    the page around it: the badge is left out and the failure logged (the Alerts page itself
    reads the alerts without this guard)."""
    if template.startswith("partials/") or not isinstance(user, CurrentUser) \
            or user.site_id is None or not user.has(Role.NURSE, Role.PHYSICIAN):
        return None  # fragments (HTMX swaps, polling) carry no nav
    try:
        return unacknowledged_count(web_of(request).uow(), viewer=user.scope)
    except Exception:  # noqa: BLE001 - a badge, not a rule: the page must still render
        log.warning("alert badge not computed for %s", user.username, exc_info=True)
        return None


def render(request: Request, template: str, context: dict[str, Any],
           status: int = 200) -> Response:
    user = getattr(request.state, "user", None)
    ctx = {"user": user, "alerts_open": _alerts_open(request, template, user), **context}
    return request.app.state.templates.TemplateResponse(request, template, ctx,  # type: ignore[no-any-return]
                                                        status_code=status)


def site_in_view(request: Request, user: CurrentUser,
                 requested: str | None = None) -> tuple[SiteRecord, list[SiteRecord]]:
    """The site a screen shows, and the sites it may offer: the user's own site, the only one
    they see (:mod:`tarla.services.scope`). A code asked for that is not theirs is answered
    404 exactly as a code that does not exist; a user without a site sees none (404)."""
    uow = web_of(request).uow()
    with uow.readonly():
        site = uow.sites.get(user.site_id) if user.site_id is not None else None
    if requested and (site is None or site.code != requested):
        raise NotFound("site", f"no site with code {requested!r}")
    if site is None:
        raise NotFound("site", f"{user.username} has no clinical site, so sees no patient: an "
                               "administrator gives users their site")
    return site, [site]


def local_moment(value: str, zone: ZoneInfo, field: str) -> datetime:
    """A ``datetime-local`` form value (site wall time) as an aware datetime.

    A wall time that does not exist (spring-forward gap) or happens twice (fall-back) is
    refused rather than guessed."""
    text = value.strip()
    if not text:
        raise InvalidInput(field, "is required")
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, f"{text!r} is not a date and time") from None
    if naive.tzinfo is not None:
        return naive
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise InvalidInput(field, f"{text} happens twice or not at all in {zone.key} (clock "
                                  "change); enter the time with its UTC offset")
    roundtrip = first.astimezone(ZoneInfo("UTC")).astimezone(zone)
    if roundtrip.replace(tzinfo=None) != naive:
        raise InvalidInput(field, f"{text} does not exist in {zone.key} (clock change)")
    return first


def wall_now(now: datetime, zone: ZoneInfo) -> str:
    """``now`` as a ``datetime-local`` value in the site zone (minutes)."""
    return now.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def day_start(on: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(on, time(0, 0), zone)


class FormErrors(dict[str, str]):
    """field -> message, and the first message as a summary."""

    @property
    def summary(self) -> str:
        return next(iter(self.values()), "")


def errors_of(exc: Exception) -> FormErrors:
    """Field errors of a refused form submission (validation or a service refusal)."""
    out = FormErrors()
    if isinstance(exc, ValidationError):
        for e in field_errors(exc):
            out.setdefault(e["field"], e["message"])
    elif isinstance(exc, Refused):
        for rule, field, text in exc.refusals:
            out[field] = f"{out[field]}; " if field in out else ""
            out[field] += f"{text} [{rule}]"
    elif isinstance(exc, (InvalidInput, NotEnoughInformation, ServiceError)):
        out[exc.field] = exc.message
    else:  # pragma: no cover
        raise exc
    return out


def form_status(exc: Exception) -> int:
    """The status a re-rendered form answers with: 409 for a gate's refusal or a conflict
    (nothing was written), 403/404 as the service said, 422 for input that cannot be used."""
    if isinstance(exc, Refused | Conflict):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    return 422


class Signature:
    """The sign-in's own password check for an e-signature (a
    :class:`~tarla.services.ports.PasswordCheck`), counted by the sign-in's rate limit (same
    user, same address): refused up front after too many wrong passwords; a wrong one is
    recorded once the use case's transaction is over (:meth:`record`), so that an e-signature
    form cannot be used to guess a password."""

    def __init__(self, request: Request, user: CurrentUser) -> None:
        web = web_of(request)
        self.sessions, self.username = web.sessions, user.username
        self.ip, self.now = client_ip(request), web.now()
        self.wrong = False
        failures, oldest = self.sessions.recent_failures(self.username, self.ip, self.now,
                                                         web.options.login_window)
        if failures >= web.options.login_max_failures:
            window = web.options.login_window
            wait = (oldest + window - self.now) if oldest else window
            minutes = max(1, math.ceil(max(wait, timedelta(0)).total_seconds() / 60))
            raise InvalidInput("password", f"too many wrong passwords: wait {minutes} minute"
                                           f"{'s' if minutes != 1 else ''} and try again")

    def __call__(self, stored_hash: str | None, password: str) -> bool:
        ok = verify_password(stored_hash, password)
        self.wrong = self.wrong or not ok
        return ok

    def record(self) -> None:
        if self.wrong:
            self.sessions.record_attempt(self.username, self.ip, self.now, ok=False)
