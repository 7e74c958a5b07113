"""Rules: the label version in force, every rule with its provenance tag, and the sign-off
workflow (label-facts §9): a pharmacist or physician signs selected rule ids with a comment;
every sign-off is in the hash-chained audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_SOURCE, LABEL_VERSION, all_rules
from tarla.services import label
from tarla.services.errors import ServiceError
from tarla.services.vocab import SIGN_OFF_ROLES
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import errors_of, render, site_in_view, web_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: CurrentUser, site_code: str | None, *, status: int = 200,
          **extra: Any) -> Response:
    web = web_of(request)
    chosen, sites = site_in_view(request, user, site_code)
    state = label.signoff_status(web.uow(), site_code=chosen.code)
    uow = web.uow()
    with uow.readonly():
        signoffs = uow.label.signoffs(chosen.id, LABEL_VERSION)  # type: ignore[arg-type]
    names = web.read.user_names([s.signed_by for s in signoffs])
    signed = set(state.signed)
    rules = [{"id": r.rule_id, "tag": str(r.tag), "text": r.text, "signed": r.rule_id in signed}
             for r in all_rules()]
    audit = [a for a in web.read.audit_for(["label.sign_off"])
             if (a["after"] or {}).get("site") == chosen.code]
    ctx = {"nav": "rules", "site": chosen, "sites": sites, "rules": rules,
           "signed_count": len(signed), "unsigned_count": len(state.unsigned),
           "unverified_unsigned": sum(1 for r in rules if r["tag"] == "UNVERIFIED"
                                      and not r["signed"]),
           "signoffs": sorted(signoffs, key=lambda s: s.signed_at, reverse=True),
           "names": names, "audit": audit, "LABEL_SOURCE": LABEL_SOURCE,
           "can_sign": user.has(*SIGN_OFF_ROLES), "errors": {}, "v": {}}
    ctx.update(extra)
    return render(request, "rules.html", ctx, status=status)


@router.get("/rules")
def rules_page(request: Request, site: str | None = None, signed: int = 0,
               user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return _page(request, user, site, flash="Sign-off recorded." if signed else None)


@router.post("/rules/sign-off")
async def sign_off(request: Request, user: CurrentUser = allow(*SIGN_OFF_ROLES)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_sign_off, request, user, form)


def _sign_off(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    site_code = str(form.get("site") or "") or None
    chosen, _ = site_in_view(request, user, site_code)
    ids = [str(x) for x in form.getlist("rule_id")]
    comments = str(form.get("comments") or "").strip()
    try:
        if not comments:
            raise InvalidInput("comments", "say what you checked the rules against")
        if len(comments) > 2000:
            raise InvalidInput("comments", "is too long (2000 characters at most)")
        label.sign_off_label(web.uow(), site_code=chosen.code, rule_ids=ids,
                             actor=user.username, now=web.now(), comments=comments)
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, chosen.code, status=422, errors=errors_of(exc),
                     v={"rule_ids": set(ids), "comments": comments})
    return RedirectResponse(f"/rules?site={chosen.code}&signed=1", status_code=303)
