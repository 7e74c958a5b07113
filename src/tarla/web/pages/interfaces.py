"""Interface credentials (admin only, issue 16): the site's API tokens for the EHR and the
laboratory system (FHIR R4 reads, CDS Hooks, labs in): list them with their scopes and last
use, create one (the token is shown once, on the page that answers the creation, and never
again), revoke one.

An administrator of a site manages that site's tokens; an administrator without a site
manages every site's and names the site of a new token (:mod:`tarla.services.interfaces`).
A token beyond reach is 404, as a missing one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.services import admin, interfaces
from tarla.services.errors import NotFound, ServiceError
from tarla.services.vocab import Role
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import FormErrors, errors_of, form_status, render, web_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
admin_only = allow(Role.ADMIN)


def _page(request: Request, user: CurrentUser, *, status: int = 200, **extra: Any) -> Response:
    web = web_of(request)
    reach = admin.managed_scope(web.uow(), actor=user.username)
    sites: list[Any] = []
    if reach.every_site:
        uow = web.uow()
        with uow.readonly():
            sites = uow.sites.list()
    tokens = interfaces.list_tokens(web.uow(), actor=user.username)
    ctx = {"nav": "interfaces", "tokens": tokens, "scopes": interfaces.SCOPES,
           "sites": sites, "v": {"scopes": [interfaces.READ]}, "errors": {}, "created": None}
    ctx.update(extra)
    return render(request, "interfaces.html", ctx, status=status)


@router.get("/admin/interfaces")
def interfaces_page(request: Request, done: str | None = None,
                    user: CurrentUser = admin_only) -> Response:
    flash = {"revoked": "Token revoked: it no longer authenticates."}.get(done or "")
    return _page(request, user, flash=flash)


@router.post("/admin/interfaces")
async def create(request: Request, user: CurrentUser = admin_only) -> Response:
    form = await request.form()
    return await run_in_threadpool(_create, request, user, form)


def _create(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    v = {"name": str(form.get("name") or "").strip(),
         "scopes": [str(s) for s in form.getlist("scopes")],
         "site": str(form.get("site") or "").strip()}
    errors = FormErrors()
    site = v["site"]
    if not site:
        if user.site_id is None:
            errors["site"] = "choose the site whose records the interface reads"
        else:
            uow = web.uow()
            with uow.readonly():
                own = uow.sites.get(user.site_id)
            site = own.code if own is not None else ""
    status = 422
    if not errors:
        try:
            created = interfaces.create_token(web.uow(), actor=user.username, site_code=site,
                                              name=v["name"], scopes=v["scopes"],
                                              now=web.now())
        except (InvalidInput, ServiceError) as exc:
            errors.update(errors_of(exc))
            status = form_status(exc)
        else:
            # The token is in this answer only (no redirect: it must not land in a URL).
            return _page(request, user, status=201, created=created)
    return _page(request, user, status=status, v=v, errors=errors)


@router.post("/admin/interfaces/{token_id}/revoke")
async def revoke(request: Request, token_id: int, user: CurrentUser = admin_only) -> Response:
    return await run_in_threadpool(_revoke, request, user, token_id)


def _revoke(request: Request, user: CurrentUser, token_id: int) -> Response:
    web = web_of(request)
    try:
        interfaces.revoke_token(web.uow(), actor=user.username, token_id=token_id,
                                now=web.now())
    except NotFound:
        raise
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, status=form_status(exc),
                     flash=f"Not revoked: {errors_of(exc).summary}")
    return RedirectResponse("/admin/interfaces?done=revoked", status_code=303)
