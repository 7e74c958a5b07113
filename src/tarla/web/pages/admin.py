"""User management (admin only): list users, add a user with roles and a password, set a
new password. (Deactivating a user needs a service the records layer does not have yet.)

Sites are walls here too: an administrator of a site sees and manages that site's users
only, and adds users to it; an administrator without a site manages every site's users and
names the site of each user added (:mod:`tarla.services.admin`). A user beyond reach is 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import admin
from tarla.services.errors import NotFound, ServiceError
from tarla.services.vocab import Role
from tarla.web.accounts import change_password, check_password
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
    ctx = {"nav": "admin", "users": web.read.users(reach), "roles": [r.value for r in Role],
           "sites": sites, "v": {}, "errors": {}, "pw_errors": {}}
    ctx.update(extra)
    return render(request, "users.html", ctx, status=status)


@router.get("/admin/users")
def users_page(request: Request, done: str | None = None,
               user: CurrentUser = admin_only) -> Response:
    flash = {"created": "User added.", "password": "Password changed."}.get(done or "")
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
        except (InvalidInput, ServiceError) as exc:
            errors.update(errors_of(exc))
            status = form_status(exc)
        else:
            return RedirectResponse("/admin/users?done=created", status_code=303)
    return _page(request, user, status=status, v=v, errors=errors)


@router.post("/admin/users/{username}/password")
async def new_password(request: Request, username: str,
                       user: CurrentUser = admin_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_password, request, user, username, form)


def _password(request: Request, user: CurrentUser, username: str, form: Any) -> Response:
    web = web_of(request)
    try:
        change_password(web.uow(), username=username, password=str(form.get("password") or ""),
                        actor=user.username, now=web.now())
    except NotFound:
        raise  # no such user here (none, or beyond this administrator's reach): the 404 page
    except (InvalidInput, ServiceError) as exc:
        errs = errors_of(exc)
        return _page(request, user, status=form_status(exc),
                     pw_errors={username: errs.summary})
    return RedirectResponse("/admin/users?done=password", status_code=303)
