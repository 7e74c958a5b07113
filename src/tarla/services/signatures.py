"""E-signatures (issue 13; 21 CFR Part 11 §11.50, §11.70, §11.200): an act that a person
signs is refused unless the signer authenticates again, and the signature is kept with the
record it signs.

- The caller passes :class:`SignatureIn`, raw facts only: the password the signer re-entered
  (or none), the time the signer's own session was authenticated, the site's window of a
  fresh authentication, and the sign-in's own password check. The use case calls
  :func:`verify` with the signer it read inside its transaction; nothing is written when it
  refuses (422 naming ``password``).
- :func:`sign` stores the signature in the same transaction as the act: the signer's id and
  name as shown, the meaning (:class:`Meaning`), the record (type and id), when, how they
  authenticated, and the SHA-256 of the record's canonical content (:func:`content_hash`:
  sorted-key JSON), so a later edit of the record no longer matches its signature
  (:func:`matches`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tarla.domain.errors import InvalidInput
from tarla.services.ports import PasswordCheck
from tarla.services.records import UserRecord

__all__ = ["Meaning", "SignatureIn", "SignatureRecord", "SignatureRepository", "verify", "sign",
           "content_hash", "matches", "FakeSignatures", "DEFAULT_FRESH"]

#: A sign-in this recent signs without the password again (site policy, TARLA_ESIGN_FRESH_MINUTES).
DEFAULT_FRESH = timedelta(minutes=5)


class Meaning(StrEnum):
    """What the signer means by signing (shown with the signature)."""

    CHECKED = "checked"
    RELEASED_HOLD = "released hold"
    WITNESSED_SCAN_EXCEPTION = "witnessed scan exception"
    DISCHARGED = "discharged"


@dataclass(frozen=True, slots=True)
class SignatureIn:
    """What a signer gave: the password re-entered (None: not re-entered), the moment their
    own session was authenticated (None: unknown), how long such an authentication signs
    without the password (the site's policy; zero: always re-enter), and the password check
    (the sign-in's own, counted by its rate limit)."""

    password: str | None
    check: PasswordCheck
    authenticated_at: datetime | None = None
    fresh_for: timedelta = DEFAULT_FRESH


@dataclass(frozen=True, slots=True)
class SignatureRecord:
    signer_id: int
    signer_name: str
    meaning: str
    entity_type: str
    entity_id: int
    content_hash: str
    method: str  # password | fresh-sign-in
    signed_at: datetime
    id: int | None = None


class SignatureRepository(Protocol):
    def add(self, record: SignatureRecord) -> SignatureRecord: ...
    def of(self, entity_type: str, entity_ids: list[int]) -> list[SignatureRecord]: ...


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON (sorted keys, no spaces, ISO times)."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def matches(signature: SignatureRecord, content: dict[str, Any]) -> bool:
    return signature.content_hash == content_hash(content)


def verify(signer: UserRecord, given: SignatureIn | None, now: datetime, *,
           field: str = "password", act: str = "sign") -> str:
    """How ``signer`` authenticated for this signature (``password`` or ``fresh-sign-in``);
    refused (InvalidInput on ``field``) when they did not."""
    if given is None or given.password is None or given.password == "":
        if given is not None and given.authenticated_at is not None \
                and given.fresh_for > timedelta(0) \
                and timedelta(0) <= now - given.authenticated_at <= given.fresh_for:
            return "fresh-sign-in"
        raise InvalidInput(field, f"re-enter the password of {signer.username} to {act}: "
                                  "nothing was saved")
    if not given.check(signer.password_hash, given.password):
        raise InvalidInput(field, f"is not the password of {signer.username}: nothing was "
                                  "saved")
    return "password"


def sign(uow: Any, *, signer: UserRecord, meaning: Meaning, entity_type: str, entity_id: int,
         content: dict[str, Any], method: str, now: datetime) -> SignatureRecord:
    """Store the signature in the unit of work's transaction (the caller commits)."""
    return uow.signatures.add(SignatureRecord(  # type: ignore[no-any-return]
        signer_id=signer.id, signer_name=signer.display_name,  # type: ignore[arg-type]
        meaning=meaning.value, entity_type=entity_type, entity_id=entity_id,
        content_hash=content_hash(content), method=method, signed_at=now))


class FakeSignatures:
    """In memory, for the fake unit of work (rows live in its state: kept only on commit)."""

    def __init__(self, uow: Any) -> None:
        self.u = uow

    def _table(self) -> Any:
        from tarla.services.fakes import _Table

        return self.u.state.tables.setdefault("esignatures", _Table())

    def add(self, record: SignatureRecord) -> SignatureRecord:
        return self._table().add(record)  # type: ignore[no-any-return]

    def of(self, entity_type: str, entity_ids: list[int]) -> list[SignatureRecord]:
        wanted = set(entity_ids)
        return sorted((r for r in self._table().rows.values()
                       if r.entity_type == entity_type and r.entity_id in wanted),
                      key=lambda r: (r.signed_at, r.id or 0))
