"""Label versions and rule sign-offs (label-facts §9 governance).

A site runs the rules only after a pharmacist or physician signs off each label version: who,
when, which rule rows, with comments. Unsigned rows still compute; outputs that depend on
them say so (the core's ``unverified``), and :func:`signoff_status` lists what is unsigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tarla.domain.errors import InvalidInput
from tarla.label import LABEL_SOURCE, LABEL_VERSION, all_rules
from tarla.services import audit
from tarla.services._common import actor_with, aware, site_by_code
from tarla.services.ports import UnitOfWork
from tarla.services.records import SignoffRecord
from tarla.services.vocab import SIGN_OFF_ROLES

__all__ = ["ensure_label_version", "sign_off_label", "SignoffResult", "signoff_status",
           "SignoffStatus"]


def ensure_label_version(uow: UnitOfWork, now: datetime) -> None:
    """Register the code's label version and its cited rows, once (inside the caller's
    transaction; registering reference data is not a clinical change and is not audited)."""
    if not uow.label.has_version(LABEL_VERSION):
        uow.label.add_version(LABEL_VERSION, LABEL_SOURCE,
                              [(r.rule_id, str(r.tag), r.text) for r in all_rules()], now)


@dataclass(frozen=True, slots=True)
class SignoffResult:
    signoff_id: int
    label_version: str
    rule_ids: tuple[str, ...]
    unsigned: tuple[str, ...]  # rows of this version the site has still not signed


def sign_off_label(uow: UnitOfWork, *, site_code: str, rule_ids: list[str] | tuple[str, ...],
                   actor: str, now: datetime, comments: str | None = None,
                   label_version: str = LABEL_VERSION) -> SignoffResult:
    """A pharmacist or physician signs rows (a subset of the version's rule ids) for a site."""
    now = aware(now, "now")
    ids = tuple(rule_ids)
    if not ids:
        raise InvalidInput("rule_ids", "name at least one rule to sign off")
    if len(set(ids)) != len(ids):
        raise InvalidInput("rule_ids", "a rule id is listed twice")
    with uow:
        user = actor_with(uow, actor, SIGN_OFF_ROLES, "sign off label rules")
        site = site_by_code(uow, site_code)
        ensure_label_version(uow, now)
        known = uow.label.rule_ids(label_version)
        if not known:
            raise InvalidInput("label_version", f"{label_version!r} is not a registered label "
                                                "version")
        unknown = [r for r in ids if r not in known]
        if unknown:
            raise InvalidInput("rule_ids", f"not rules of {label_version}: {', '.join(unknown)}")
        rec = uow.label.add_signoff(SignoffRecord(site_id=site.id, label_version=label_version,  # type: ignore[arg-type]
                                                  signed_by=user.id, signed_at=now,  # type: ignore[arg-type]
                                                  rule_ids=tuple(sorted(ids)), comments=comments))
        signed = {r for s in uow.label.signoffs(site.id, label_version) for r in s.rule_ids}  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="label.sign_off",
                     entity_type="label_signoff", entity_id=rec.id, at=now,
                     after={"site": site.code, "label_version": label_version,
                            "rule_ids": list(rec.rule_ids), "comments": comments})
        uow.commit()
    return SignoffResult(rec.id, label_version, rec.rule_ids,  # type: ignore[arg-type]
                         tuple(sorted(known - signed)))


@dataclass(frozen=True, slots=True)
class SignoffStatus:
    label_version: str
    signed: tuple[str, ...]
    unsigned: tuple[str, ...]


def signoff_status(uow: UnitOfWork, *, site_code: str,
                   label_version: str = LABEL_VERSION) -> SignoffStatus:
    with uow.readonly():
        site = site_by_code(uow, site_code)
        known = uow.label.rule_ids(label_version) or {r.rule_id for r in all_rules()}
        signed = {r for s in uow.label.signoffs(site.id, label_version) for r in s.rule_ids}  # type: ignore[arg-type]
    return SignoffStatus(label_version, tuple(sorted(signed)), tuple(sorted(known - signed)))
