"""A signer's e-signature in service tests (issue 13): the password re-entered, checked by a
fake that knows one password (the fakes hold no password hashes)."""

from __future__ import annotations

from tarla.services.signatures import SignatureIn

__all__ = ["SIGNED", "UNSIGNED", "SIGN_PASSWORD"]

SIGN_PASSWORD = "signed with my password"


def _check(_stored_hash: str | None, password: str) -> bool:
    return password == SIGN_PASSWORD


SIGNED = SignatureIn(password=SIGN_PASSWORD, check=_check)
UNSIGNED = SignatureIn(password=None, check=_check)
