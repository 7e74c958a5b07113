"""Escalation alerts and the site's order sets (issue 11).

- :func:`raise_alerts` runs inside the transaction of the write that caused it (a vitals set,
  an assessment): the rules are :func:`tarla.domain.escalation.escalations`.
- :func:`deliver` posts each new alert to the site's ``policy.alert_webhook_url`` after that
  transaction committed, and records the outcome in a transaction of its own: a failed post
  never loses the alert and never fails the charting.
- Order sets: each site starts from the shipped management text (label-facts §6a, ``HCP``);
  a pharmacist or physician writes a new version, which takes effect only once a pharmacist
  or physician signs it with their password re-entered. Everything is audited.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.domain.escalation import STOP_INFUSION, escalations, order_set_event
from tarla.domain.timestamps import aware
from tarla.label.management import SEED_ORDER_SETS
from tarla.services import audit
from tarla.services._common import actor_with, record_json
from tarla.services.errors import Conflict, NotFound
from tarla.services.ports import PasswordCheck, UnitOfWork
from tarla.services.records import (
    AdministrationRecord,
    AlertRecord,
    CourseRecord,
    OrderSetRecord,
    SiteRecord,
)
from tarla.services.scope import Scope, scope_of
from tarla.services.vocab import Role

__all__ = ["AlertNotifier", "AlertView", "raise_alerts", "deliver", "list_alerts",
           "acknowledge_alert", "unacknowledged_count", "alert_payload", "running_infusion",
           "order_sets_overview", "edit_order_set", "sign_off_order_set", "steps_for",
           "OrderSetsView", "ORDER_SET_ROLES", "ALERT_VIEW_ROLES", "SITE_SETTINGS"]

#: Posts one alert (JSON) to a URL; raises on any failure (the message is recorded).
AlertNotifier = Callable[[str, dict[str, Any]], None]

ORDER_SET_ROLES = (Role.PHARMACIST, Role.PHYSICIAN)

#: ``Site.policy`` keys of monitoring and escalation, not of the course engine (not copied into
#: a course's policy): the webhook URL and the vital-sign intervals (tarla.domain.vitals).
SITE_SETTINGS = frozenset({"alert_webhook_url", "vitals_interval_minutes",
                           "ice_interval_minutes"})
ALERT_VIEW_ROLES = (Role.PHYSICIAN, Role.NURSE)


def running_infusion(admins: Sequence[AdministrationRecord],
                     now: datetime) -> AdministrationRecord | None:
    """The dose whose infusion is running now (started, not ended), if any."""
    running = [a for a in admins if a.ended_at is None and a.started_at <= now]
    return running[-1] if running else None


# --------------------------------------------------------------------------- order sets


def _seeded(uow: UnitOfWork, site_id: int, now: datetime) -> list[OrderSetRecord]:
    """The site's order-set rows, writing the shipped seed first if it has none."""
    rows = uow.order_sets.for_site(site_id)
    if rows:
        return rows
    for seed in SEED_ORDER_SETS:
        uow.order_sets.add(OrderSetRecord(
            site_id=site_id, event=seed.event, min_grade=seed.min_grade,
            max_grade=seed.max_grade, text=seed.text, tag=seed.tag, version=1,
            created_at=now, active=True))
    return uow.order_sets.for_site(site_id)


def _shipped(site_id: int, now: datetime) -> list[OrderSetRecord]:
    """The seed as records not yet stored (a read of a site that never wrote any)."""
    return [OrderSetRecord(site_id=site_id, event=s.event, min_grade=s.min_grade,
                           max_grade=s.max_grade, text=s.text, tag=s.tag, version=1,
                           created_at=now, active=True) for s in SEED_ORDER_SETS]


def steps_for(order_sets: Sequence[OrderSetRecord], kind: str,
              grade: int | None) -> OrderSetRecord | None:
    """The active order set for an alert's event and grade, if the site has one."""
    event = order_set_event(kind)
    g = grade or 1
    found = [o for o in order_sets
             if o.active and o.event == event and o.min_grade <= g <= o.max_grade]
    return found[-1] if found else None


@dataclass(frozen=True, slots=True)
class OrderSetsView:
    site_id: int
    active: tuple[OrderSetRecord, ...]
    pending: tuple[OrderSetRecord, ...]  # written, not yet signed off
    history: tuple[OrderSetRecord, ...]  # every stored version
    may_edit: bool


def order_sets_overview(uow: UnitOfWork, *, viewer: Scope, roles: frozenset[str],
                        now: datetime) -> OrderSetsView:
    if viewer.site_id is None:
        raise NotFound("site", "no clinical site: an administrator gives users their site")
    with uow.readonly():
        rows = uow.order_sets.for_site(viewer.site_id) or _shipped(viewer.site_id, now)
    return OrderSetsView(
        viewer.site_id, tuple(o for o in rows if o.active),
        tuple(o for o in rows if not o.active and o.signed_at is None and o.revoked_at is None),
        tuple(rows), bool(roles & {r.value for r in ORDER_SET_ROLES}))


def _grade(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInput(field, f"{value!r} is not a grade from 1 to 5")
    return value


def edit_order_set(uow: UnitOfWork, *, actor: str, event: str, min_grade: int, max_grade: int,
                   text: str, now: datetime) -> OrderSetRecord:
    """Write a new version of the site's order set for an event and grade range; it takes
    effect once signed off (:func:`sign_off_order_set`)."""
    now = aware(now, "now")
    if event not in ("crs", "icans"):
        raise InvalidInput("event", f"{event!r} is not crs or icans")
    low, high = _grade(min_grade, "min_grade"), _grade(max_grade, "max_grade")
    if high < low:
        raise InvalidInput("max_grade", f"grade {high} is below the lowest grade {low}")
    body = (text or "").strip()
    if not body:
        raise InvalidInput("text", "write the management steps")
    if len(body) > 4000:
        raise InvalidInput("text", "is longer than 4000 characters")
    with uow:
        user = actor_with(uow, actor, ORDER_SET_ROLES, "edit order sets")
        if user.site_id is None:
            raise NotFound("site", f"{actor} has no clinical site")
        rows = _seeded(uow, user.site_id, now)
        same = [o for o in rows if (o.event, o.min_grade, o.max_grade) == (event, low, high)]
        overlap = [o for o in rows if o.active and o.event == event
                   and (o.min_grade, o.max_grade) != (low, high)
                   and o.min_grade <= high and low <= o.max_grade]
        if overlap:
            o = overlap[0]
            raise InvalidInput("min_grade", f"grades {low}-{high} overlap the order set in "
                                            f"effect for {event} grades {o.min_grade}-"
                                            f"{o.max_grade}: edit that one")
        rec = uow.order_sets.add(OrderSetRecord(
            site_id=user.site_id, event=event, min_grade=low, max_grade=high, text=body,
            tag="site", version=max((o.version for o in same), default=0) + 1,
            created_by=user.id, created_at=now))
        audit.append(uow, actor=user.username, action="order_set.edit", entity_type="order_set",
                     entity_id=rec.id, at=now, after=record_json(rec))
        uow.commit()
    return rec


def sign_off_order_set(uow: UnitOfWork, *, order_set_id: int, actor: str, password: str,
                       verify: PasswordCheck, now: datetime) -> OrderSetRecord:
    """A pharmacist or physician of the site signs a written version, re-entering their
    password; it replaces the version in effect for its event and grade range."""
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, ORDER_SET_ROLES, "sign off order sets")
        rec = uow.order_sets.get(order_set_id)
        if rec is None or not scope_of(user).covers(rec.site_id):
            raise NotFound("order_set_id", f"no order set {order_set_id}")
        if not password:
            raise InvalidInput("password", "re-enter your password to sign: nothing was signed")
        if not verify(user.password_hash, password):
            raise InvalidInput("password", "is not your password: nothing was signed")
        if rec.signed_at is not None or rec.active:
            raise Conflict("order_set_id", f"order set {order_set_id} is already signed")
        key = (rec.event, rec.min_grade, rec.max_grade)
        before = [o for o in uow.order_sets.for_site(rec.site_id)
                  if o.active and (o.event, o.min_grade, o.max_grade) == key]
        for old in before:
            uow.order_sets.update(dataclasses.replace(old, active=False))
        signed = uow.order_sets.update(dataclasses.replace(
            rec, signed_by=user.id, signed_at=now, active=True))
        audit.append(uow, actor=user.username, action="order_set.sign_off",
                     entity_type="order_set", entity_id=rec.id, at=now,
                     before=[record_json(o) for o in before],
                     after={**record_json(signed), "signature": "password re-entered"})
        uow.commit()
    return signed


# --------------------------------------------------------------------------- alerts


def raise_alerts(uow: UnitOfWork, *, site: SiteRecord, course: CourseRecord, source: str,
                 source_id: int, now: datetime, crs_grade: int | None = None,
                 icans_grade: int | None = None, temperature_c: float | None = None,
                 actor: str) -> list[AlertRecord]:
    """Inside the caller's open transaction: the alerts the finding raises, stored and
    audited. The caller commits."""
    running = running_infusion(uow.administrations.for_course(course.id),  # type: ignore[arg-type]
                               now)
    found = escalations(crs_grade=crs_grade, icans_grade=icans_grade,
                        temperature_c=temperature_c, infusion_running=running is not None)
    if not found:
        return []
    _seeded(uow, site.id, now)  # type: ignore[arg-type]
    webhook = "pending" if site.policy.get("alert_webhook_url") else None
    out = []
    for e in found:
        alert = uow.monitoring.add_alert(AlertRecord(
            site_id=site.id, course_id=course.id, patient_id=course.patient_id,  # type: ignore[arg-type]
            kind=e.kind.value, grade=e.grade, message=e.message, raised_at=now,
            source=source, source_id=source_id, infusion_running=e.stop_infusion,
            administration_id=None if running is None else running.id,
            webhook_status=webhook))
        audit.append(uow, actor=actor, action="alert.raise", entity_type="alert",
                     entity_id=alert.id, at=now, after=record_json(alert))
        out.append(alert)
    return out


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: AlertRecord
    patient_name: str
    mrn: str
    stop_infusion: str | None  # "Stop the infusion now" while the infusion was running
    order_set: OrderSetRecord | None  # the site's steps for this event and grade
    order_set_note: str  # what to say when there is none


def alert_payload(view: AlertView) -> dict[str, Any]:
    a = view.alert
    return {"id": a.id, "site_id": a.site_id, "course_id": a.course_id,
            "patient_id": a.patient_id, "mrn": view.mrn, "kind": a.kind, "grade": a.grade,
            "message": a.message, "raised_at": a.raised_at.isoformat(), "source": a.source,
            "source_id": a.source_id, "infusion_running": a.infusion_running,
            "stop_infusion": view.stop_infusion,
            "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": None if a.acknowledged_at is None else a.acknowledged_at.isoformat(),
            "webhook_status": a.webhook_status, "webhook_error": a.webhook_error,
            "order_set": None if view.order_set is None else {
                "id": view.order_set.id, "event": view.order_set.event,
                "min_grade": view.order_set.min_grade, "max_grade": view.order_set.max_grade,
                "version": view.order_set.version, "tag": view.order_set.tag,
                "text": view.order_set.text},
            "order_set_note": view.order_set_note}


def _views(uow: UnitOfWork, alerts: Sequence[AlertRecord], site_id: int,
           now: datetime) -> list[AlertView]:
    sets = uow.order_sets.for_site(site_id) or _shipped(site_id, now)
    patients = uow.patients.many({a.patient_id for a in alerts})
    out = []
    for a in alerts:
        p = patients.get(a.patient_id)
        steps = steps_for(sets, a.kind, a.grade)
        note = "" if steps is not None else (
            "The site has no order set in effect for this event and grade: the site writes "
            "its own (Order sets page).")
        out.append(AlertView(a, "" if p is None else f"{p.family_name}, {p.given_name}",
                             "" if p is None else p.mrn,
                             STOP_INFUSION if a.infusion_running else None, steps, note))
    return out


def list_alerts(uow: UnitOfWork, *, viewer: Scope, now: datetime,
                unacknowledged: bool = False, course_id: int | None = None) -> list[AlertView]:
    """The viewer's site's alerts, newest first."""
    if viewer.site_id is None:
        return []
    with uow.readonly():
        alerts = uow.monitoring.alerts(viewer.site_id, course_id=course_id,
                                       unacknowledged=unacknowledged)
        return _views(uow, alerts, viewer.site_id, now)


def unacknowledged_count(uow: UnitOfWork, *, viewer: Scope) -> int:
    if viewer.site_id is None:
        return 0
    with uow.readonly():
        return uow.monitoring.unacknowledged(viewer.site_id)


def acknowledge_alert(uow: UnitOfWork, *, alert_id: int, actor: str,
                      now: datetime) -> AlertView:
    """A physician of the site acknowledges an alert (who and when are kept)."""
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, (Role.PHYSICIAN,), "acknowledge alerts")
        alert = uow.monitoring.alert(alert_id)
        if alert is None or not scope_of(user).covers(alert.site_id):
            raise NotFound("alert_id", f"no alert {alert_id}")
        if alert.acknowledged_at is not None:
            raise Conflict("alert_id", f"alert {alert_id} was already acknowledged")
        done = uow.monitoring.update_alert(dataclasses.replace(
            alert, acknowledged_by=user.id, acknowledged_at=now))
        audit.append(uow, actor=user.username, action="alert.acknowledge", entity_type="alert",
                     entity_id=alert_id, at=now, before=record_json(alert),
                     after=record_json(done))
        view = _views(uow, [done], done.site_id, now)[0]
        uow.commit()
    return view


def deliver(uow: UnitOfWork, alerts: Sequence[AlertRecord], notify: AlertNotifier | None,
            now: datetime) -> list[AlertRecord]:
    """After the commit: post each alert whose site has a webhook, and record the outcome.
    Never raises for a failed post (the failure is recorded on the alert)."""
    pending = [a for a in alerts if a.webhook_status == "pending"]
    if not pending or notify is None:
        return list(alerts)
    results: list[tuple[AlertRecord, str, str | None]] = []
    with uow.readonly():
        site = uow.sites.get(pending[0].site_id)
        views = _views(uow, pending, pending[0].site_id, now)
    url = str((site.policy if site else {}).get("alert_webhook_url") or "")
    for view in views:
        try:
            notify(url, alert_payload(view))
            results.append((view.alert, "delivered", None))
        except Exception as exc:  # noqa: BLE001 - any failure of the post is recorded, not raised
            results.append((view.alert, "failed", f"{type(exc).__name__}: {exc}"[:500]))
    out = []
    with uow:
        for alert, status, error in results:
            out.append(uow.monitoring.update_alert(dataclasses.replace(
                alert, webhook_status=status, webhook_attempted_at=now, webhook_error=error)))
        uow.commit()
    return out

