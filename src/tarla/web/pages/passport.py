"""The patient's passport: the wallet card PDF (signed-in staff) and the phone page behind its
QR code (no sign-in: the signed link is the grant).

    GET /patients/{patient_id}/passport.pdf   nurse, physician; audited (passport.issued)
    GET /passport/{token}                     anyone holding a valid link; else 404

Every fact comes from :mod:`tarla.services.passport`; this module signs and reads the link
(:mod:`tarla.web.passport_links`) and renders.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from tarla.services import passport
from tarla.services.errors import NotFound
from tarla.web.auth import CurrentUser, allow
from tarla.web.pages.common import web_of
from tarla.web.passport_links import read_link, sign_link

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _link(request: Request, card: passport.PassportCard) -> str:
    token = sign_link(web_of(request).secret_key, patient_id=card.patient_id,
                      issued_at=card.issued_at, nonce=card.nonce)
    return str(request.url_for("passport_page", token=token))


@router.get("/patients/{patient_id}/passport.pdf")
def passport_pdf(request: Request, patient_id: int,
                 user: CurrentUser = allow(*passport.PASSPORT_ROLES)) -> Response:
    """The wallet card, front and back (85.6 x 54 mm each): one ``passport.issued`` entry."""
    from tarla.adapters.passport_pdf import render_passport

    web = web_of(request)
    card = passport.issue_passport(web.uow(), patient_id=patient_id, actor=user.username,
                                   now=web.now())
    with tempfile.TemporaryDirectory() as tmp:
        out = render_passport(card, url=_link(request, card), out=Path(tmp) / "card.pdf")
        body = out.read_bytes()
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="wallet-card-{patient_id}.pdf"'})


@router.get("/passport/{token}", name="passport_page")
def passport_page(request: Request, token: str) -> Response:
    """The card's facts on a phone. A tampered, foreign or expired link, or one of a patient
    no longer on record: the same bare 404."""
    from tarla.adapters.passport_pdf import event_words, moment_words, window_words

    web = web_of(request)
    link = read_link(web.secret_key, token)
    if link is None:
        raise HTTPException(status_code=404, detail="Not found")
    try:
        card = passport.passport_for_holder(web.uow(), patient_id=link.patient_id,
                                            issued_at=link.issued_at, nonce=link.nonce,
                                            now=web.now())
    except NotFound:
        raise HTTPException(status_code=404, detail="Not found") from None
    zone = card.zone
    window = card.window
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, "passport.html", {
            "card": card, "user": None,
            "last_start": (None if card.last_dose is None
                           else moment_words(card.last_dose.started_at, zone)),
            "window": window_words(card),
            "window_active": window is not None and window.active(card.as_of),
            "events": event_words(card, zone),
            "tel": "".join(c for c in card.site_phone or "" if c.isdigit() or c == "+"),
            "as_of": moment_words(card.as_of, zone),
            "issued": moment_words(card.issued_at, zone),
            "valid_until": moment_words(card.valid_until, zone)},
        headers={"X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"})
