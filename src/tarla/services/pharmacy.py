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
from zoneinfo import ZoneInfo

from tarla.domain import release
from tarla.domain.errors import InvalidInput
from tarla.domain.identification import normalise_scan
from tarla.label.products import DOSES_MG, Component
from tarla.services import audit, signatures
from tarla.services._common import (
    accepted_drug_scan_at,
    actor_with,
    aware,
    bag_of,
    course_or_404,
    decide,
    preparation_or_404,
    record_json,
    releases_on,
    site_by_code,
    site_for,
    zone_of,
)
from tarla.services.errors import Conflict, NotFound, Refused
from tarla.services.ports import UnitOfWork
from tarla.services.records import (
    ExcursionRecord,
    PreparationEventRecord,
    PreparationRecord,
    ScanRecord,
    VialRecord,
)
from tarla.services.scope import Scope, scope_of
from tarla.services.signatures import SignatureIn
from tarla.services.vocab import PreparationEvent, PreparationStatus, Role, VialStatus

__all__ = ["PreparationResult", "start_preparation", "advance_preparation",
           "check_preparation", "ScanResult", "record_scan", "receive_vial", "record_excursion",
           "receive_kit", "record_kit_excursion"]

_S = PreparationStatus
_NURSE_EVENTS = frozenset({"discarded"})


@dataclass(frozen=True, slots=True)
class PreparationResult:
    preparation_id: int
    status: str
    version: int
    dose_mg: int
    prepared_by: int
    checked_by: int | None
    events: tuple[dict[str, Any], ...]
    slot: str | None = None
    existing: bool = False  # start_preparation returned the dose's open preparation


def _result(uow: UnitOfWork, p: PreparationRecord, existing: bool = False) -> PreparationResult:
    events = tuple({"event": e.event, "at": e.at} for e in uow.preparations.events(p.id))  # type: ignore[arg-type]
    return PreparationResult(p.id, p.status, p.version, p.dose_mg, p.prepared_by,  # type: ignore[arg-type]
                             p.checked_by, events, p.slot, existing)


def _prep_or_404(uow: UnitOfWork, preparation_id: int, scope: Scope,
                 expected_version: int | None) -> PreparationRecord:
    prep = preparation_or_404(uow, preparation_id, scope)
    if expected_version is not None and prep.version != expected_version:
        raise Conflict("version", f"preparation {preparation_id} was changed by someone else "
                                  f"(version {prep.version}, you had {expected_version}); "
                                  "reload and retry")
    return prep


def _zone_of_prep(uow: UnitOfWork, prep: PreparationRecord) -> ZoneInfo:
    site = uow.sites.get(prep.site_id)
    assert site is not None
    return zone_of(site)


def start_preparation(uow: UnitOfWork, *, course_id: int, actor: str, now: datetime,
                      dose_mg: int | None = None) -> PreparationResult:
    """A pharmacist opens the preparation of the course's due dose (status ``ordered``).

    The dose and slot are the engine's, read in this transaction and frozen on the
    preparation; ``dose_mg``, when sent, is only a cross-check. Refused unless the decision
    lets the dose be given today (:func:`tarla.domain.release.may_start_preparation`: due,
    not held or released by a physician, labs on file or released). One open preparation per
    dose: a second start returns the first (``existing``), so a double click is safe."""
    now = aware(now, "now")
    if dose_mg is not None and (isinstance(dose_mg, bool) or dose_mg not in DOSES_MG):
        allowed = " or ".join(str(d) for d in DOSES_MG)
        raise InvalidInput("dose_mg", f"{dose_mg} is not a tarlatamab dose ({allowed})")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "prepare doses")
        course = course_or_404(uow, course_id, scope_of(user))
        site = uow.sites.get(course.site_id)
        assert site is not None
        decision = decide(uow, course, now, zone_of(site))
        gate = release.may_start_preparation(
            decision, releases_on(uow, course.id, decision.as_of_date))  # type: ignore[arg-type]
        if not gate.allowed:
            raise Refused.of(gate)
        nd = decision.next_dose
        assert nd is not None
        if dose_mg is not None and dose_mg != nd.dose_mg:
            raise Refused([("GATE-DOSE", "dose_mg", f"the dose due is {nd.slot.label} "
                            f"{nd.dose_mg} mg, not {dose_mg} mg")])
        for open_ in uow.preparations.for_course(course.id):  # type: ignore[arg-type]
            if open_.slot == nd.slot.label and open_.status in release.OPEN_STATUSES:
                return _result(uow, open_, existing=True)
        prep = uow.preparations.add(PreparationRecord(
            course_id=course.id, site_id=course.site_id, dose_mg=nd.dose_mg,  # type: ignore[arg-type]
            status=_S.ORDERED.value, prepared_by=user.id, created_at=now, updated_at=now,  # type: ignore[arg-type]
            slot=nd.slot.label))
        audit.append(uow, actor=user.username, action="preparation.start",
                     entity_type="preparation", entity_id=prep.id, at=now,
                     after={**record_json(prep), "rules": list(gate.rules)})
        uow.commit()
        return _result(uow, prep)


def advance_preparation(uow: UnitOfWork, *, preparation_id: int, event: str, at: datetime,
                        actor: str, now: datetime,
                        expected_version: int | None = None) -> PreparationResult:
    """Append one in-use clock event (reconstituted, bag_prepared, refrigerated, removed,
    infusion_completed, discarded), judged by :func:`tarla.domain.release.may_advance` on the
    bag as this transaction reads it. ``infusion_started`` is written only by charting the
    dose (:func:`tarla.services.clinical.record_administration`)."""
    now = aware(now, "now")
    at = aware(at, "at")
    if at > now:
        raise InvalidInput("at", f"{at.isoformat()} is in the future")
    try:
        ev = PreparationEvent(event)
    except ValueError:
        raise InvalidInput("event", f"{event!r} is not a preparation event "
                                    f"({', '.join(e.value for e in PreparationEvent)})") from None
    if ev.value == "infusion_completed":
        raise Refused([("GATE-PREP-HANG", "event", "the end of an infusion is recorded at the "
                        "bedside (it is the administration's end time, too)")])
    roles = (Role.NURSE, Role.PHARMACIST) if ev.value in _NURSE_EVENTS else (Role.PHARMACIST,)
    with uow:
        user = actor_with(uow, actor, roles, f"record {ev.value}")
        prep = _prep_or_404(uow, preparation_id, scope_of(user), expected_version)
        zone = _zone_of_prep(uow, prep)
        bag = bag_of(uow, prep)
        from tarla.domain.bench import missing_steps

        done = [s.step for s in uow.preparations.steps(prep.id)]  # type: ignore[arg-type]
        gate = release.may_advance(
            bag=bag, event=ev.value, at=at, now=now, zone=zone,
            drug_scan_accepted_at=accepted_drug_scan_at(
                uow.preparations.scans(prep.id)),  # type: ignore[arg-type]
            missing_steps=missing_steps(prep.dose_mg, done, ev.value)
            if ev.value in ("reconstituted", "bag_prepared") else ())
        if not gate.allowed:
            raise Refused.of(gate)
        to = release.next_status(prep.status, ev.value, prep.checked_by is not None)
        assert to is not None
        uow.preparations.add_event(PreparationEventRecord(
            preparation_id=prep.id, event=ev.value, at=at, recorded_by=user.id,  # type: ignore[arg-type]
            recorded_at=now))
        updated = uow.preparations.update(dataclasses.replace(prep, status=to, updated_at=now))
        audit.append(uow, actor=user.username, action=f"preparation.{ev.value}",
                     entity_type="preparation", entity_id=prep.id, at=now,
                     before={"status": prep.status, "version": prep.version},
                     after={"status": updated.status, "version": updated.version,
                            "event": ev.value, "at": at, "rules": list(gate.rules)})
        uow.commit()
        return _result(uow, updated)


def check_preparation(uow: UnitOfWork, *, preparation_id: int, actor: str, now: datetime,
                      expected_version: int | None = None,
                      signature: SignatureIn | None = None) -> PreparationResult:
    """The independent check of a prepared bag (:func:`tarla.domain.release.may_check`): a
    pharmacist who neither started nor compounded it, once, while its clock is usable. Ten
    concurrent checks: one wins, the others see the bag checked (or a stale version). The
    checker signs it (e-signature "checked", :mod:`tarla.services.signatures`): refused
    (``password``) unless they re-entered their password or signed in moments ago."""
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "check preparations")
        method = signatures.verify(user, signature, now, act="sign the check")
        prep = _prep_or_404(uow, preparation_id, scope_of(user), expected_version)
        gate = release.may_check(bag=bag_of(uow, prep), checker_id=user.id, now=now,  # type: ignore[arg-type]
                                 zone=_zone_of_prep(uow, prep))
        if not gate.allowed:
            raise Refused.of(gate)
        status = _S.CHECKED if prep.status == _S.PREPARED else _S.STORED
        updated = uow.preparations.update(dataclasses.replace(
            prep, checked_by=user.id, status=status.value, updated_at=now))
        signed = signatures.sign(uow, signer=user, meaning=signatures.Meaning.CHECKED,
                                 entity_type="preparation", entity_id=prep.id,  # type: ignore[arg-type]
                                 content=record_json(updated), method=method, now=now)
        audit.append(uow, actor=user.username, action="preparation.check",
                     entity_type="preparation", entity_id=prep.id, at=now,
                     before={"status": prep.status, "checked_by": prep.checked_by},
                     after={"status": updated.status, "checked_by": user.id,
                            "rules": list(gate.rules),
                            "signature": {"meaning": signed.meaning, "method": method,
                                          "content_hash": signed.content_hash}})
        uow.commit()
        return _result(uow, updated)


@dataclass(frozen=True, slots=True)
class ScanResult:
    scan_id: int | None  # None: an unreadable scan is not stored
    verdict: str  # accept | refuse
    gtin: str
    component: str
    lot: str | None
    expiry: date | None
    serial: str | None
    reasons: tuple[dict[str, str], ...]  # {code, rule, tag, text}
    replayed: bool = False  # the same kit was scanned into this preparation before


def _kit_excursion(uow: UnitOfWork, site_id: int, gtin: str, serial: str | None,
                   now: datetime, zone: ZoneInfo) -> Any:
    from tarla.domain.excursion import ExcursionEvent, ExcursionKind, evaluate_excursion

    if serial is None:
        return None
    vials = uow.inventory.by_serial(site_id, gtin, serial)
    events: list[ExcursionEvent] = []
    for x in uow.inventory.excursions([v.id for v in vials]):  # type: ignore[misc]
        events.append(ExcursionEvent(ExcursionKind.OUT_OF_REFRIGERATOR, x.started_at))
        if x.frozen:
            events.append(ExcursionEvent(ExcursionKind.FROZEN, x.started_at))
        if x.ended_at is not None:
            events.append(ExcursionEvent(ExcursionKind.INTO_REFRIGERATOR, x.ended_at))
    if not events:
        return None
    events.sort(key=lambda e: e.at)
    return evaluate_excursion(events, now, zone)


def _seen(uow: UnitOfWork, preparation_id: int, site_id: int) -> int:
    """The preparation's id when it is of this site; 0 (unnamed) when it is another site's."""
    other = uow.preparations.get(preparation_id)
    return preparation_id if other is not None and other.site_id == site_id else 0


def record_scan(uow: UnitOfWork, *, preparation_id: int, raw: str, component: str,
                actor: str, now: datetime, recalled_lots: tuple[str, ...] = ()) -> ScanResult:
    """Verify one scanned component from the raw text the scanner sent, against the dose
    frozen on the preparation, and store it with its verdict (a refusal is stored too).

    Judged here: the GS1 content (:func:`tarla.domain.verification.verify_scan`: strength,
    component, expiry, recall) and the kit (:func:`tarla.domain.release.may_accept_kit`: its
    serial fills one bag; its carton's excursions). An unreadable scan raises ``ParseError``
    and stores nothing."""
    from tarla.adapters.barcode import label_catalog, parse_scan
    from tarla.domain.verification import verify_scan

    now = aware(now, "now")
    if component not in ("drug", "ivss"):
        raise InvalidInput("component", f"{component!r} is not drug or ivss")
    scanned = parse_scan(normalise_scan(raw), "scan")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "scan components")
        prep = _prep_or_404(uow, preparation_id, scope_of(user), None)
        if prep.status not in ("ordered", "in_preparation"):
            raise Refused([("GATE-PREP-EVENT", "preparation_id", f"the bag is "
                            f"{prep.status.replace('_', ' ')}: components are scanned before "
                            "it is prepared")])
        zone = _zone_of_prep(uow, prep)
        verdict = verify_scan(scanned.item(), label_catalog().lookup(scanned.gtin),
                              dose_mg=prep.dose_mg, expect=Component(component), at=now,
                              zone=zone, recalled_lots=recalled_lots)
        reasons = [{"code": r.code.value, "rule": r.citation.rule, "tag": r.citation.tag.value,
                    "text": r.text} for r in verdict.refusals]
        if scanned.serial is not None:
            same = uow.preparations.scans_of_serial(scanned.gtin, scanned.serial)
            mine = [x for x in same if x.preparation_id == prep.id and x.verdict == "accept"
                    and x.component == component]
            if mine and verdict.accepted:  # the same kit scanned again: nothing new
                m = mine[-1]
                return ScanResult(m.id, "accept", m.gtin, m.component, m.lot, m.expiry,
                                  m.serial, (), True)
            kit = release.may_accept_kit(
                consumed_by=[_seen(uow, x.preparation_id, prep.site_id) for x in same
                             if x.verdict == "accept"],
                preparation_id=prep.id,  # type: ignore[arg-type]
                excursion=_kit_excursion(uow, prep.site_id, scanned.gtin, scanned.serial, now,
                                         zone))
            reasons.extend({"code": r.rule, "rule": r.rule, "tag": "GATE", "text": r.text}
                           for r in kit.refusals)
        verdict_text = "refuse" if reasons else "accept"
        scan = uow.preparations.add_scan(ScanRecord(
            preparation_id=prep.id, gtin=scanned.gtin, component=component,  # type: ignore[arg-type]
            verdict=verdict_text, reasons=[r["text"] for r in reasons], scanned_by=user.id,  # type: ignore[arg-type]
            scanned_at=now, lot=scanned.lot, expiry=scanned.expiry, serial=scanned.serial,
            raw=raw[:500]))
        audit.append(uow, actor=user.username, action="preparation.scan",
                     entity_type="preparation_scan", entity_id=scan.id, at=now,
                     after=record_json(scan))
        uow.commit()
    return ScanResult(scan.id, verdict_text, scanned.gtin, component, scanned.lot,
                      scanned.expiry, scanned.serial, tuple(reasons))


def receive_vial(uow: UnitOfWork, *, site_code: str, gtin: str, lot: str, serial: str,
                 expiry: date, component: str, actor: str, now: datetime,
                 strength_mg: int | None = None, location: str | None = None) -> int:
    now = aware(now, "now")
    if component not in ("drug", "ivss"):
        raise InvalidInput("component", f"{component!r} is not drug or ivss")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "receive stock")
        site = site_for(uow, site_code, scope_of(user))
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
                     note: str | None = None, frozen: bool = False) -> int:
    """A stretch of time an intact carton (the vials of one kit serial) spent out of the
    refrigerator, or found frozen; the kit's scan is refused once they add up past the
    label's limit (:func:`tarla.domain.release.may_accept_kit`)."""
    now = aware(now, "now")
    started_at = aware(started_at, "started_at")
    if ended_at is not None and aware(ended_at, "ended_at") < started_at:
        raise InvalidInput("ended_at", "is before started_at")
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST, Role.NURSE), "record excursions")
        vial = uow.inventory.vial(vial_id)
        if vial is None or not scope_of(user).covers(vial.site_id):
            raise NotFound("vial_id", f"no vial {vial_id} in stock")
        exc = uow.inventory.add_excursion(ExcursionRecord(
            vial_id=vial_id, started_at=started_at, recorded_by=user.id, recorded_at=now,  # type: ignore[arg-type]
            ended_at=ended_at, min_c=min_c, max_c=max_c, note=note,
            frozen=bool(frozen) or (min_c is not None and min_c < 0)))
        audit.append(uow, actor=user.username, action="inventory.excursion",
                     entity_type="vial_excursion", entity_id=exc.id, at=now,
                     after=record_json(exc))
        uow.commit()
    return exc.id  # type: ignore[return-value]


def print_check(uow: UnitOfWork, *, preparation_id: int, kind: str, viewer: Any,
                now: datetime) -> Any:
    """May the bag label (``kind`` "label") or the worksheet of this preparation be printed
    now (:func:`tarla.domain.release.may_print`)? Returns the bag's in-use clock as of now,
    for the printout; refuses (``Refused``) otherwise. A read: nothing is written."""
    from tarla.domain.clock import evaluate_clock

    now = aware(now, "now")
    with uow.readonly():
        prep = preparation_or_404(uow, preparation_id, viewer)
        zone = _zone_of_prep(uow, prep)
        bag = bag_of(uow, prep)
    gate = release.may_print(bag=bag, kind=kind, now=now, zone=zone)
    if not gate.allowed:
        raise Refused.of(gate)
    return evaluate_clock(bag.events, now, zone)


def _kit(raw: str) -> Any:
    from tarla.adapters.barcode import label_catalog, parse_scan

    scanned = parse_scan(normalise_scan(raw), "scan")
    entry = label_catalog().lookup(scanned.gtin)
    if entry is None:
        raise InvalidInput("scan", f"GTIN {scanned.gtin} is not an IMDELLTRA package")
    if scanned.serial is None or scanned.lot is None or scanned.expiry is None:
        raise InvalidInput("scan", "scan the carton's 2D barcode: it carries the lot, expiry "
                                   "and serial")
    return scanned, entry


def receive_kit(uow: UnitOfWork, *, site_code: str, scan: str, actor: str, now: datetime,
                location: str | None = None) -> int:
    """Receive one kit carton into stock from its scanned GS1 text (GTIN, lot, expiry,
    serial): the carton is then tracked by its serial (excursions, one bag)."""
    scanned, entry = _kit(scan)
    return receive_vial(uow, site_code=site_code, gtin=scanned.gtin, lot=scanned.lot,
                        serial=scanned.serial, expiry=scanned.expiry, component="drug",
                        actor=actor, now=now, strength_mg=entry.product.strength_mg,
                        location=location)


def record_kit_excursion(uow: UnitOfWork, *, site_code: str, scan: str, started_at: datetime,
                         actor: str, now: datetime, ended_at: datetime | None = None,
                         frozen: bool = False, min_c: float | None = None,
                         max_c: float | None = None, note: str | None = None) -> int:
    """An excursion of the carton named by its scanned GS1 text, recorded per kit serial."""
    scanned, _ = _kit(scan)
    with uow.readonly():
        site = site_by_code(uow, site_code)
        vials = uow.inventory.by_serial(site.id, scanned.gtin, scanned.serial)  # type: ignore[arg-type]
    if not vials:
        raise NotFound("scan", f"kit serial {scanned.serial} is not in stock here: receive it "
                               "first")
    return record_excursion(uow, vial_id=vials[0].id, started_at=started_at, actor=actor,  # type: ignore[arg-type]
                            now=now, ended_at=ended_at, min_c=min_c, max_c=max_c, note=note,
                            frozen=frozen)
