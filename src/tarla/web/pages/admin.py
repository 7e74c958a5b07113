"""User management (admin only): list users, add a user with roles and an initial password
(to be changed at the first sign-in), issue a one-time password (never choose someone's
password), deactivate or reactivate, unlock (forget failed sign-ins). Every act is audited;
a reset and a deactivation end the user's sessions (:mod:`tarla.web.accounts`).

Sites are walls here too: an administrator of a site sees and manages that site's users
only, and adds users to it; an administrator without a site manages every site's users and
names the site of each user added (:mod:`tarla.services.admin`). A user beyond reach is 404."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import admin
from tarla.services.errors import NotFound, ServiceError
from tarla.services.vocab import Role
from tarla.web.accounts import (
    check_password,
    issue_reset,
    require_change,
    set_active,
    unlock,
)
from tarla.web.auth import CurrentUser, allow, hash_password
from tarla.web.pages.common import FormErrors, errors_of, form_status, render, web_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
admin_only = allow(Role.ADMIN)


def _page(request: Request, user: CurrentUser, *, status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    reach = admin.managed_scope(web.uow(), actor=user.username)
    sites: list[Any] = []
    if reach.every_site:  # an administrator without a site names the site of a new user
        uow = web.uow()
        with uow.readonly():
            sites = uow.sites.list()
    users = web.read.users(reach)
    now, opts = web.now(), web.options
    locked = {u["username"]: web.sessions.locked_addresses(u["username"], now,
                                                           opts.login_window,
                                                           opts.login_max_failures)
              for u in users}
    ctx = {"nav": "admin", "users": users, "roles": [r.value for r in Role],
           "sites": sites, "v": {}, "errors": {}, "pw_errors": {}, "locked": locked,
           "issued": None}
    ctx.update(extra)
    return render(request, "users.html", ctx, status=status)


@router.get("/admin/users")
def users_page(request: Request, done: str | None = None,
               user: CurrentUser = admin_only) -> Response:
    flash = {"created": "User added: they choose their own password at the first sign-in.",
             "deactivated": "User deactivated: every session of theirs has ended.",
             "reactivated": "User reactivated.",
             "unlocked": "Failed sign-ins forgotten: the user may sign in again."}.get(done or "")
    return _page(request, user, flash=flash)


@router.post("/admin/users")
async def add_user(request: Request, user: CurrentUser = admin_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_add, request, user, form)


def _add(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {"username": str(form.get("username") or "").strip(),
         "display_name": str(form.get("display_name") or "").strip(),
         "roles": [str(r) for r in form.getlist("roles")],
         "site": str(form.get("site") or "").strip()}
    password = str(form.get("password") or "")
    errors = FormErrors()
    if not v["username"] or len(v["username"]) > 64 or not v["username"].replace(".", "") \
            .replace("-", "").replace("_", "").isalnum():
        errors["username"] = "letters, digits and . - _ only (up to 64)"
    if not v["display_name"] or len(v["display_name"]) > 200:
        errors["display_name"] = "is required (up to 200 characters)"
    if not v["roles"]:
        errors["roles"] = "give at least one role"
    try:
        check_password(password)
    except InvalidInput as exc:
        errors["password"] = exc.message
    status = 422
    if not errors:
        try:
            admin.add_user(web.uow(), actor=user.username, username=v["username"],
                           display_name=v["display_name"], roles=v["roles"], now=web.now(),
                           site_code=v["site"] or None, password_hash=hash_password(password))
            require_change(web.uow(), username=v["username"], actor=user.username,
                           now=web.now(), valid_for=web.options.reset_valid)
        except (InvalidInput, ServiceError) as exc:
            errors.update(errors_of(exc))
            status = form_status(exc)
        else:
            return RedirectResponse("/admin/users?done=created", status_code=303)
    return _page(request, user, status=status, v=v, errors=errors)


@router.post("/admin/users/{username}/reset")
def reset(request: Request, username: str, user: CurrentUser = admin_only) -> Response:
    """A one-time password, shown once on this answer (never in a URL); the user must
    choose their own at the next sign-in."""
    web = web_of(request)
    try:
        temporary = issue_reset(web.uow(), username=username, actor=user.username,
                                now=web.now(), valid_for=web.options.reset_valid)
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, status=form_status(exc),
                     pw_errors={username: errors_of(exc).summary})
    expires = (web.now() + web.options.reset_valid).astimezone(UTC)
    return _page(request, user, issued={"username": username, "password": temporary,
                                        "expires_at": expires})


@router.post("/admin/users/{username}/active")
async def activate(request: Request, username: str,
                   user: CurrentUser = admin_only) -> Response:
    form = await request.form()
    active = str(form.get("active") or "") == "1"
    return await run_in_threadpool(_active, request, user, username, active)


def _active(request: Request, user: CurrentUser, username: str, active: bool) -> Response:
    web = web_of(request)
    try:
        set_active(web.uow(), username=username, active=active, actor=user.username,
                   now=web.now())
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, status=form_status(exc),
                     pw_errors={username: errors_of(exc).summary})
    done = "reactivated" if active else "deactivated"
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


@router.post("/admin/users/{username}/unlock")
def unlock_user(request: Request, username: str, user: CurrentUser = admin_only) -> Response:
    web = web_of(request)
    unlock(web.uow(), username=username, actor=user.username, now=web.now())
    return RedirectResponse("/admin/users?done=unlocked", status_code=303)
