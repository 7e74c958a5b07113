"""Rules: the label versions, the one the site's new courses start on, every rule of a version
with its provenance tag, the differences between two versions rule by rule, and the sign-off
workflow (label-facts §8, §9).

- A pharmacist, physician or administrator loads a revision file (uploaded, or one shipped in
  ``tarla/label/versions``) and chooses the version new courses start on; both are audited.
- A pharmacist or physician signs selected rules of a version off, re-entering their password
  (an e-signature of the version's content hash), or revokes a sign-off with a reason.
- A course is computed with the rows of its own version; the page says so for a version other
  than the built-in one.

Wrong passwords count toward the sign-in's rate limit (same user, same address), so the
sign-off form cannot be used to guess a password.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_VERSION
from tarla.services import label
from tarla.services.errors import ServiceError
from tarla.services.vocab import SIGN_OFF_ROLES
from tarla.web.auth import ANY_ROLE, CurrentUser, allow
from tarla.web.pages.common import Signature, errors_of, render, site_in_view, web_of

__all__ = ["router", "shipped_revisions"]

router = APIRouter(include_in_schema=False)

_LABEL_ROLES = tuple(label.LABEL_ROLES)
_MAX_FILE = 512 * 1024  # a revision file is a few kilobytes
_MAX_TEXT = 2000
_FLASH = {"signed": "Sign-off recorded.", "revoked": "Sign-off revoked.",
          "new_courses": "New courses now start on the version chosen.",
          "unchanged": "New courses already start on that version: nothing changed."}


def shipped_revisions() -> dict[str, str]:
    """The revision files shipped with the code: file stem -> text."""
    folder = resources.files("tarla.label").joinpath("versions")
    if not folder.is_dir():
        return {}
    return {entry.name.removesuffix(".json"): entry.read_text(encoding="utf-8")
            for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".json")}


def _page(request: Request, user: CurrentUser, site_code: str | None, *, status: int = 200,
          version: str | None = None, **extra: Any) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, site_code)
    view = label.rules_overview(web.uow(), site_code=chosen.code, viewer=user.scope,
                                label_version=version)
    rows = [{"id": r.rule_id, "table": r.table, "tag": r.tag.value, "text": r.text,
             "signed": view.signed.get(r.rule_id)} for r in view.label.rows]
    site_actions = {"label.sign_off", "label.revoke_sign_off", "label.set_site_version"}
    audit = [a for a in web.read.audit_for([*site_actions, "label.register"])
             if a["action"] == "label.register"
             or (a["after"] or {}).get("site") == chosen.code]
    shown = next((v for v in view.versions if v.version == view.label.version), None)
    ctx = {"nav": "rules", "site": chosen, "view": view,
           "new_course_label_version": view.new_courses, "rules": rows, "shown": shown,
           "signed_count": sum(1 for r in rows if r["signed"]),
           "unsigned_count": sum(1 for r in rows if not r["signed"]),
           "unverified_unsigned": sum(1 for r in rows if r["tag"] == "UNVERIFIED"
                                      and not r["signed"]),
           "audit": audit, "shipped": sorted(shipped_revisions()),
           "can_sign": user.has(*SIGN_OFF_ROLES), "can_load": user.has(*_LABEL_ROLES),
           "built_in": view.label.version == LABEL_VERSION, "errors": {}, "v": {}}
    ctx.update(extra)
    return render(request, "rules.html", ctx, status=status)


@router.get("/rules")
def rules_page(request: Request, site: str | None = None, version: str | None = None,
               done: str | None = None, user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    return _page(request, user, site, version=version or None, flash=_FLASH.get(done or ""))


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _comment(text: str, field: str, what: str) -> str:
    if not text:
        raise InvalidInput(field, what)
    if len(text) > _MAX_TEXT:
        raise InvalidInput(field, f"is too long ({_MAX_TEXT} characters at most)")
    return text


def _back(site: str, version: str | None, done: str) -> RedirectResponse:
    query = f"site={site}" + (f"&version={version}" if version else "") + f"&done={done}"
    return RedirectResponse(f"/rules?{query}", status_code=303)


# --------------------------------------------------------------------------- sign-off


@router.post("/rules/sign-off")
async def sign_off(request: Request, user: CurrentUser = allow(*SIGN_OFF_ROLES)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_sign_off, request, user, form)


def _sign_off(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, _field(form, "site") or None)
    version = _field(form, "label_version") or LABEL_VERSION
    ids = [str(x) for x in form.getlist("rule_id")]
    comments = _field(form, "comments")
    password = form.get("password")
    try:
        _comment(comments, "comments", "say what you checked the rules against")
        signature = Signature(request, user)
        try:
            label.sign_off_label(web.uow(), site_code=chosen.code, rule_ids=ids,
                                 actor=user.username, now=web.now(), comments=comments,
                                 label_version=version,
                                 password=password if isinstance(password, str) else "",
                                 verify=signature,
                                 content_hash=_field(form, "content_hash") or None)
        finally:
            signature.record()
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, chosen.code, status=422, version=version,
                     errors=errors_of(exc), v={"rule_ids": set(ids), "comments": comments})
    return _back(chosen.code, version, "signed")


@router.post("/rules/revoke")
async def revoke(request: Request, user: CurrentUser = allow(*SIGN_OFF_ROLES)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_revoke, request, user, form)


def _revoke(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, _field(form, "site") or None)
    version = _field(form, "label_version") or None
    reason = _field(form, "reason")
    try:
        raw = _field(form, "signoff_id")
        if not raw.isdigit():
            raise InvalidInput("signoff_id", "name the sign-off to revoke")
        label.revoke_signoff(web.uow(), site_code=chosen.code, signoff_id=int(raw),
                             reason=_comment(reason, "reason", "say why it is revoked"),
                             actor=user.username, now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, chosen.code, status=422, version=version,
                     errors=errors_of(exc), v={"reason": reason})
    return _back(chosen.code, version, "revoked")


# --------------------------------------------------------------------------- versions


@router.post("/rules/versions")
async def load_version(request: Request, user: CurrentUser = allow(*_LABEL_ROLES)) -> Response:
    form = await request.form()
    upload = form.get("revision_file")
    data: bytes | None = None
    if upload is not None and not isinstance(upload, str) and upload.filename:
        data = await upload.read(_MAX_FILE + 1)
    return await run_in_threadpool(_load_version, request, user, form, data)


def _load_version(request: Request, user: CurrentUser, form: Any,
                  data: bytes | None) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, _field(form, "site") or None)
    shipped = _field(form, "shipped")
    try:
        if data is not None:
            if len(data) > _MAX_FILE:
                raise InvalidInput("revision_file", f"is too large ({_MAX_FILE // 1024} KB at "
                                                    "most)")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("revision_file", "is not UTF-8 text") from None
        elif shipped:
            files = shipped_revisions()
            if shipped not in files:
                raise InvalidInput("shipped", f"{shipped!r} is not a revision shipped with Tarla")
            text = files[shipped]
        else:
            raise InvalidInput("revision_file", "choose a revision file, or one shipped with "
                                                "Tarla")
        result = label.register_revision(web.uow(), text=text, actor=user.username,
                                         now=web.now())
    except (InvalidInput, ServiceError) as exc:
        errors = errors_of(exc)
        if data is None and shipped and "shipped" not in errors:
            errors = type(errors)({f"shipped {shipped}: {k}": m for k, m in errors.items()})
        return _page(request, user, chosen.code, status=422, errors=errors,
                     v={"shipped": shipped})
    return RedirectResponse(f"/rules/diff?site={chosen.code}&a={result.base_version}"
                            f"&b={result.version}&loaded=1", status_code=303)


@router.post("/rules/new-courses")
async def new_courses(request: Request, user: CurrentUser = allow(*_LABEL_ROLES)) -> Response:
    form = await request.form()
    return await run_in_threadpool(_new_courses, request, user, form)


def _new_courses(request: Request, user: CurrentUser, form: Any) -> Response:
    web = web_of(request)
    chosen, _ = site_in_view(request, user, _field(form, "site") or None)
    version = _field(form, "label_version")
    try:
        if not version:
            raise InvalidInput("label_version", "choose a version")
        result = label.set_new_course_version(web.uow(), site_code=chosen.code,
                                              label_version=version, actor=user.username,
                                              now=web.now())
    except (InvalidInput, ServiceError) as exc:
        return _page(request, user, chosen.code, status=422, errors=errors_of(exc))
    return _back(chosen.code, None, "new_courses" if result.changed else "unchanged")


@router.get("/rules/diff")
def compare(request: Request, a: str, b: str, site: str | None = None, loaded: int = 0,
            user: CurrentUser = allow(*ANY_ROLE)) -> Response:
    """Rule by rule, what version ``b`` changes in version ``a``."""
    web = web_of(request)
    chosen, _ = site_in_view(request, user, site)
    changes = label.compare_versions(web.uow(), a=a, b=b)
    view = label.rules_overview(web.uow(), site_code=chosen.code, viewer=user.scope)
    return render(request, "rules_diff.html", {
        "nav": "rules", "site": chosen, "d": changes,
        "versions": [v.version for v in view.versions],
        "flash": f"{b} loaded: the differences from {a} are below." if loaded else None})
