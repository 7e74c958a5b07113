"""Physician overrides of a HOLD (label-facts §9: people, not the system, take responsibility).

A nurse cannot record, and a pharmacist cannot prepare, a dose the course engine holds,
unless a physician has recorded an override for that course on that day, with a reason. The
override is stored (table ``web_hold_overrides``) with an audit entry in the same transaction.
A discontinuation is never overridden here. (A use case for :mod:`tarla.services` once the
records layer grows one; until then it lives with the web entry point that needs it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Column, Date, Engine, ForeignKey, Integer, String, Table, Text, insert, select

from tarla.adapters.orm import UtcDateTime
from tarla.domain.errors import InvalidInput
from tarla.services import audit
from tarla.services._common import actor_with, course_or_404
from tarla.services.ports import UnitOfWork
from tarla.services.vocab import Role
from tarla.web.sessions import metadata

__all__ = ["web_hold_overrides", "HoldOverride", "record_override", "override_for",
           "require_release", "hold_rules"]

web_hold_overrides = Table(
    "web_hold_overrides", metadata,
    Column("id", Integer, primary_key=True),
    Column("course_id", Integer, ForeignKey("treatment_courses.id"), nullable=False, index=True),
    Column("for_date", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("held_by", String(200), nullable=False),  # the rule ids of the hold overridden
)


@dataclass(frozen=True, slots=True)
class HoldOverride:
    id: int
    course_id: int
    for_date: date
    reason: str
    decided_by: int
    decided_at: datetime
    held_by: str


def record_override(uow: UnitOfWork, *, course_id: int, for_date: date, reason: str,
                    held_by: list[str], actor: str, now: datetime) -> int:
    text = reason.strip()
    if len(text) < 10:
        raise InvalidInput("reason", "write the clinical reason (10 characters or more)")
    if len(text) > 2000:
        raise InvalidInput("reason", "is too long (2000 characters at most)")
    with uow:
        user = actor_with(uow, actor, (Role.PHYSICIAN,), "override a hold")
        course = course_or_404(uow, course_id)
        session = getattr(uow, "session", None)
        assert session is not None, "needs the SQL unit of work"
        new_id = session.execute(insert(web_hold_overrides).values(
            course_id=course.id, for_date=for_date, reason=text, decided_by=user.id,
            decided_at=now, held_by=",".join(held_by)[:200])).inserted_primary_key[0]
        audit.append(uow, actor=user.username, action="course.override_hold",
                     entity_type="course", entity_id=course.id, at=now,
                     after={"override_id": new_id, "for_date": for_date, "reason": text,
                            "held_by": held_by})
        uow.commit()
    return int(new_id)


def override_for(engine: Engine, course_id: int, on: date) -> HoldOverride | None:
    t = web_hold_overrides
    with engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.course_id == course_id, t.c.for_date == on)
                           .order_by(t.c.id.desc())).first()
    return None if row is None else HoldOverride(**row._mapping)


def require_release(engine: Engine, decision: dict[str, object], doing: str) -> None:
    """Refuse to record or prepare a dose the engine holds (unless a physician overrode the
    hold for today) or that belongs to a discontinued course."""
    from tarla.services.errors import Conflict

    action = decision.get("decision")
    if action == "discontinue" or decision.get("course_status") == "discontinued":
        raise Conflict("decision", f"the course is permanently discontinued: no dose may be "
                                   f"{doing}")
    if action != "hold":
        return
    on = date.fromisoformat(str(decision["as_of_date"]))
    if override_for(engine, int(decision["course_id"]), on) is None:  # type: ignore[call-overload]
        rules = ", ".join(sorted({str(r["rule"]) for r in decision.get("reasons", [])  # type: ignore[attr-defined]
                                  if str(r["rule"]) in _hold_rule_ids()}))
        raise Conflict("decision", f"the dose is on HOLD{f' ({rules})' if rules else ''}: it "
                                   f"may not be {doing} unless a physician records an override "
                                   "with a reason for today")


def _hold_rule_ids() -> frozenset[str]:
    from tarla.label import toxicity as tox

    rows = (*tox.TOXICITY_RULES, *tox.LAB_THRESHOLDS, *tox.HEPATIC_LAB_RULES, tox.HYS_LAW)
    return frozenset(r.rule_id for r in rows)


def hold_rules(decision: dict[str, object]) -> list[str]:
    return sorted({str(r["rule"]) for r in decision.get("reasons", [])  # type: ignore[attr-defined]
                   if str(r["rule"]) in _hold_rule_ids()})
