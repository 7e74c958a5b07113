"""E-signatures from the web: what a page or API request gives the service to sign with.

The password re-entered (a form field or JSON ``password``) and the time this session was
authenticated go to the service as :class:`tarla.services.signatures.SignatureIn`; the
service judges them (:func:`tarla.services.signatures.verify`). The check is the sign-in's
own (:class:`tarla.web.pages.common.Signature`): refused up front after too many wrong
passwords, a wrong one counted once the use case is over, so a signing form cannot be used
to guess a password. Without a password, a sign-in within ``TARLA_ESIGN_FRESH_MINUTES``
(default 5) signs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import Request

from tarla.services.signatures import SignatureIn
from tarla.web.auth import CurrentUser

__all__ = ["signing", "signed"]

T = TypeVar("T")


@contextmanager
def signing(request: Request, user: CurrentUser, password: str | None) -> Iterator[SignatureIn]:
    from tarla.web.pages.common import Signature

    web = request.app.state.web
    check = Signature(request, user)
    try:
        yield SignatureIn(password=password or None, check=check,
                          authenticated_at=user.signed_in_at, fresh_for=web.options.esign_fresh)
    finally:
        check.record()


def signed(request: Request, user: CurrentUser, password: str | None,
           act: Callable[[SignatureIn], T]) -> T:
    """Run ``act`` with the signature of this request."""
    with signing(request, user, password) as signature:
        return act(signature)


def install(app: object) -> None:
    """``esignatures(entity_type, entity_id)`` in the templates: the signatures of a record
    shown with it (name, time, meaning, whether the record still matches its hash is for
    ``tarla audit verify``). A read of the page's own record, in one small query."""
    from sqlalchemy import select

    from tarla.adapters.orm_signatures import ESignature

    engine = app.state.bootstrapped.engine  # type: ignore[attr-defined]

    def esignatures(entity_type: str, entity_id: int | None) -> list[dict[str, object]]:
        if entity_id is None:
            return []
        t = ESignature.__table__
        with engine.connect() as conn:
            rows = conn.execute(select(t.c.signer_name, t.c.meaning, t.c.signed_at, t.c.method,
                                       t.c.content_hash)
                                .where(t.c.entity_type == entity_type,
                                       t.c.entity_id == entity_id)
                                .order_by(t.c.signed_at, t.c.id)).all()
        return [dict(r._mapping) for r in rows]

    app.state.templates.env.globals["esignatures"] = esignatures  # type: ignore[attr-defined]
