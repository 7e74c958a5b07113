"""The wallet card's QR link: ``/passport/<token>``, signed and expiring (itsdangerous).

The token is *signed, not encrypted*: anyone can read what it carries, so it carries only
the patient's id, the issue time (whole seconds, UTC) and a short random nonce (the one the
``passport.issued`` audit entry records, which ties a link to its issue). Nothing else about
the patient is in it. The signature uses the app's secret (``TARLA_SECRET_KEY``, see
:mod:`tarla.web.config`) under its own salt, so no other signed value of the app can pass for
a passport link. The expiry is not in the token: the service computes it from the issue time
and the site's policy (:func:`tarla.services.passport.passport_for_holder`), against the
app's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

__all__ = ["PassportLink", "sign_link", "read_link", "SALT"]

SALT = "tarla.passport.v1"
_MAX_TOKEN = 200  # characters: a real token is about 60


@dataclass(frozen=True, slots=True)
class PassportLink:
    patient_id: int
    issued_at: datetime
    nonce: str


def _serializer(secret: str) -> URLSafeSerializer:
    if not secret:
        raise ValueError("no secret key to sign passport links with")
    return URLSafeSerializer(secret, salt=SALT)


def sign_link(secret: str, *, patient_id: int, issued_at: datetime, nonce: str) -> str:
    stamp = int(issued_at.astimezone(UTC).timestamp())
    return str(_serializer(secret).dumps([patient_id, stamp, nonce]))


def read_link(secret: str, token: str) -> PassportLink | None:
    """The link a token signed with ``secret`` carries; None for anything else (tampered,
    signed with another key, malformed): the caller answers all of them alike."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    try:
        data = _serializer(secret).loads(token)
    except BadSignature:
        return None
    if (not isinstance(data, list) or len(data) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in data[:2])
            or not isinstance(data[2], str) or data[0] < 1 or data[1] < 0):
        return None
    return PassportLink(data[0], datetime.fromtimestamp(data[1], UTC), data[2])
