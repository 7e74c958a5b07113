"""Pharmacy use cases: a preparation's life (events of the in-use clock), the second-person
check, scanned components, vial inventory and temperature excursions.

Each is one transaction with one audit entry. A preparation is a mutable row with an
optimistic version: ``expected_version`` is the version the pharmacist's screen showed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.label.products import DOSES_MG
from tarla.services import audit
from tarla.services._common import actor_with, aware, course_or_404, record_json, site_by_code
from tarla.services.errors import Conflict, Forbidden, NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    ExcursionRecord,
    PreparationEventRecord,
    PreparationRecord,
    ScanRecord,
    VialRecord,
)
from tarla.services.vocab import CourseStatus, PreparationEvent, PreparationStatus, Role, VialStatus

__all__ = ["PreparationResult", "start_preparation", "advance_preparation",
           "check_preparation", "record_scan", "receive_vial", "record_excursion"]

_S = PreparationStatus
_E = PreparationEvent
#: event -> (statuses it may follow, status it leads to)
_TRANSITIONS: dict[PreparationEvent, tuple[frozenset[PreparationStatus], PreparationStatus]] = {
    _E.RECONSTITUTED: (frozenset({_S.ORDERED}), _S.IN_PREPARATION),
    _E.BAG_PREPARED: (frozenset({_S.IN_PREPARATION}), _S.PREPARED),
    _E.REFRIGERATED: (frozenset({_S.PREPARED, _S.CHECKED}), _S.STORED),
    _E.REMOVED_FROM_REFRIGERATOR: (frozenset({_S.STORED}), _S.CHECKED),
    _E.INFUSION_STARTED: (frozenset({_S.CHECKED}), _S.IN_USE),
    _E.INFUSION_COMPLETED: (frozenset({_S.IN_USE}), _S.ADMINISTERED),
    _E.DISCARDED: (frozenset(set(_S) - {_S.ADMINISTERED, _S.DISCARDED}), _S.DISCARDED),
}
_NURSE_EVENTS = frozenset({_E.INFUSION_STARTED, _E.INFUSION_COMPLETED})


@dataclass(frozen=True, slots=True)
class PreparationResult:
    preparation_id: int
    status: str
    version: int
    dose_mg: int
    prepared_by: int
    checked_by: int | None
    events: tuple[dict[str, Any], ...]


def _result(uow: UnitOfWork, p: PreparationRecord) -> PreparationResult:
    events = tuple({"event": e.event, "at": e.at} for e in uow.preparations.events(p.id))  # type: ignore[arg-type]
    return PreparationResult(p.id, p.status, p.version, p.dose_mg, p.prepared_by,  # type: ignore[arg-type]
                             p.checked_by, events)


def _prep_or_404(uow: UnitOfWork, preparation_id: int, expected_version: int | None,
                 ) -> PreparationRecord:
    prep = uow.preparations.get(preparation_id)
    if prep is None:
        raise NotFound("preparation_id", f"no preparation {preparation_id}")
    if expected_version is not None and prep.version != expected_version:
        raise Conflict("version", f"preparation {preparation_id} was changed by someone else "
                                  f"(version {prep.version}, you had {expected_version}); "
                                  "reload and retry")
    return prep


def start_preparation(uow: UnitOfWork, *, course_id: int, dose_mg: int, actor: str,
                      now: datetime) -> PreparationResult:
    """A pharmacist opens a preparation of ``dose_mg`` for the course (status ``ordered``)."""
    now = aware(now, "now")
    if isinstance(dose_mg, bool) or dose_mg not in DOSES_MG:
        allowed = " or ".join(str(d) for d in DOSES_MG)
        raise InvalidInput("dose_mg", f"{dose_mg} is not a tarlatamab dose ({allowed})")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "prepare doses")
        course = course_or_404(uow, course_id)
        if course.status == CourseStatus.DISCONTINUED:
            raise Conflict("course_id", f"course {course_id} is discontinued")
        prep = uow.preparations.add(PreparationRecord(
            course_id=course.id, site_id=course.site_id, dose_mg=dose_mg,  # type: ignore[arg-type]
            status=_S.ORDERED.value, prepared_by=user.id, created_at=now, updated_at=now))  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="preparation.start",
                     entity_type="preparation", entity_id=prep.id, at=now,
                     after=record_json(prep))
        uow.commit()
        return _result(uow, prep)


def advance_preparation(uow: UnitOfWork, *, preparation_id: int, event: str, at: datetime,
                        actor: str, now: datetime,
                        expected_version: int | None = None) -> PreparationResult:
    """Append one in-use clock event (reconstituted, bag_prepared, refrigerated, ...)."""
    now = aware(now, "now")
    at = aware(at, "at")
    if at > now:
        raise InvalidInput("at", f"{at.isoformat()} is in the future")
    try:
        ev = PreparationEvent(event)
    except ValueError:
        raise InvalidInput("event", f"{event!r} is not a preparation event "
                                    f"({', '.join(e.value for e in PreparationEvent)})") from None
    roles = (Role.NURSE, Role.PHARMACIST) if ev in _NURSE_EVENTS else (Role.PHARMACIST,)
    with uow:
        user = actor_with(uow, actor, roles, f"record {ev.value}")
        prep = _prep_or_404(uow, preparation_id, expected_version)
        allowed_from, to = _TRANSITIONS[ev]
        if _S(prep.status) not in allowed_from:
            raise InvalidInput("event", f"{ev.value} cannot follow status {prep.status}"
                               + (" (a second person must check the bag first)"
                                  if ev is _E.INFUSION_STARTED and prep.checked_by is None
                                  else ""))
        previous = uow.preparations.events(prep.id)  # type: ignore[arg-type]
        if previous and at < previous[-1].at:
            raise InvalidInput("at", f"is before the previous event ({previous[-1].event})")
        uow.preparations.add_event(PreparationEventRecord(
            preparation_id=prep.id, event=ev.value, at=at, recorded_by=user.id,  # type: ignore[arg-type]
            recorded_at=now))
        updated = uow.preparations.update(dataclasses.replace(prep, status=to.value,
                                                              updated_at=now))
        audit.append(uow, actor=user.username, action=f"preparation.{ev.value}",
                     entity_type="preparation", entity_id=prep.id, at=now,
                     before={"status": prep.status, "version": prep.version},
                     after={"status": updated.status, "version": updated.version,
                            "event": ev.value, "at": at})
        uow.commit()
        return _result(uow, updated)


def check_preparation(uow: UnitOfWork, *, preparation_id: int, actor: str, now: datetime,
                      expected_version: int | None = None) -> PreparationResult:
    """The second pharmacist's check of a prepared bag; never the preparer (four eyes)."""
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "check preparations")
        prep = _prep_or_404(uow, preparation_id, expected_version)
        if user.id == prep.prepared_by:
            raise Forbidden("checked_by", "the second check must be done by someone other than "
                                          "the preparer")
        if prep.status not in (_S.PREPARED, _S.STORED):
            raise InvalidInput("preparation_id", f"a {prep.status} preparation cannot be checked")
        status = _S.CHECKED if prep.status == _S.PREPARED else _S.STORED
        updated = uow.preparations.update(dataclasses.replace(
            prep, checked_by=user.id, status=status.value, updated_at=now))
        audit.append(uow, actor=user.username, action="preparation.check",
                     entity_type="preparation", entity_id=prep.id, at=now,
                     before={"status": prep.status, "checked_by": prep.checked_by},
                     after={"status": updated.status, "checked_by": user.id})
        uow.commit()
        return _result(uow, updated)


def record_scan(uow: UnitOfWork, *, preparation_id: int, gtin: str, component: str,
                verdict: str, actor: str, now: datetime, lot: str | None = None,
                expiry: date | None = None, serial: str | None = None,
                reasons: list[str] | None = None) -> int:
    """Store one scanned component and the verifier's verdict (the scan is judged by the
    pharmacy core; this records what was scanned and decided)."""
    now = aware(now, "now")
    if component not in ("drug", "ivss"):
        raise InvalidInput("component", f"{component!r} is not drug or ivss")
    if verdict not in ("accept", "refuse"):
        raise InvalidInput("verdict", f"{verdict!r} is not accept or refuse")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "scan components")
        prep = _prep_or_404(uow, preparation_id, None)
        scan = uow.preparations.add_scan(ScanRecord(
            preparation_id=prep.id, gtin=gtin, component=component, verdict=verdict,  # type: ignore[arg-type]
            reasons=list(reasons or []), scanned_by=user.id, scanned_at=now, lot=lot,  # type: ignore[arg-type]
            expiry=expiry, serial=serial))
        audit.append(uow, actor=user.username, action="preparation.scan",
                     entity_type="preparation_scan", entity_id=scan.id, at=now,
                     after=record_json(scan))
        uow.commit()
    return scan.id  # type: ignore[return-value]


def receive_vial(uow: UnitOfWork, *, site_code: str, gtin: str, lot: str, serial: str,
                 expiry: date, component: str, actor: str, now: datetime,
                 strength_mg: int | None = None, location: str | None = None) -> int:
    now = aware(now, "now")
    if component not in ("drug", "ivss"):
        raise InvalidInput("component", f"{component!r} is not drug or ivss")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "receive stock")
        site = site_by_code(uow, site_code)
        vial = uow.inventory.add_vial(VialRecord(
            site_id=site.id, gtin=gtin, lot=lot, serial=serial, expiry=expiry,  # type: ignore[arg-type]
            component=component, status=VialStatus.IN_STOCK.value, received_at=now,
            strength_mg=strength_mg, location=location))
        audit.append(uow, actor=user.username, action="inventory.receive", entity_type="vial",
                     entity_id=vial.id, at=now, after=record_json(vial))
        uow.commit()
    return vial.id  # type: ignore[return-value]


def record_excursion(uow: UnitOfWork, *, vial_id: int, started_at: datetime, actor: str,
                     now: datetime, ended_at: datetime | None = None,
                     min_c: float | None = None, max_c: float | None = None,
                     note: str | None = None) -> int:
    now = aware(now, "now")
    started_at = aware(started_at, "started_at")
    if ended_at is not None and aware(ended_at, "ended_at") < started_at:
        raise InvalidInput("ended_at", "is before started_at")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST, Role.NURSE), "record excursions")
        exc = uow.inventory.add_excursion(ExcursionRecord(
            vial_id=vial_id, started_at=started_at, recorded_by=user.id, recorded_at=now,  # type: ignore[arg-type]
            ended_at=ended_at, min_c=min_c, max_c=max_c, note=note))
        audit.append(uow, actor=user.username, action="inventory.excursion",
                     entity_type="vial_excursion", entity_id=exc.id, at=now,
                     after=record_json(exc))
        uow.commit()
    return exc.id  # type: ignore[return-value]
