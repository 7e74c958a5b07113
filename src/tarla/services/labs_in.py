"""Labs in by interface (issue 16): HL7 v2 ORU^R01 messages and FHIR Observations.

Every message is stored raw with the acknowledgement it got, once: a repeat of a control id
(MSH-10, or the Observation's identifier) is answered with the first acknowledgement and
writes nothing. A message is one transaction for its results, and they go through the same
use case as labs typed in the web app (:func:`tarla.services.clinical.chart_lab_panel`: the
CTCAE grader's units and checks, the open course re-decided, one audit entry), charted as
the site's interface account (``lab-interface.<site>``, no password, no role: it cannot sign
in or do anything else). What cannot be applied as it came is never dropped:

- malformed (not an ORU^R01, a header field missing): ``AR``, stored, nothing applied;
- a result refused (not final, not a number, a unit or value the grader refuses, a collection
  time in the future): ``AE`` naming the field, stored, nothing applied;
- no patient with the MRN (and date of birth, when sent), or a LOINC code the site's table
  does not know: ``AE``, stored, and an item in the site's work queue, which a nurse applies
  (to a patient they choose, with the codes mapped) or dismisses with a reason.

Statuses of a message: ``applied`` / ``queued`` / ``refused``. The LOINC table is the seeded
rows overlaid by the site's own (:func:`set_loinc`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tarla.adapters import fhir_in, hl7v2
from tarla.domain import lab_interface as li
from tarla.domain.errors import InvalidInput
from tarla.services import audit, clinical
from tarla.services._common import (
    actor_with,
    aware,
    patient_or_404,
    record_json,
    site_by_code,
    site_for,
    zone_of,
)
from tarla.services.errors import AlreadyRecorded, Conflict, NotFound
from tarla.services.lab_entry import preview_lab_grades
from tarla.services.labs_in_ports import InterfaceMessageRecord, LabQueueItemRecord, SiteLoincRecord
from tarla.services.ports import UnitOfWork
from tarla.services.records import PatientRecord, SiteRecord, UserRecord
from tarla.services.scope import Scope, scope_of
from tarla.services.vocab import Role

__all__ = ["HL7", "Ack", "receive_hl7", "FhirResult", "receive_fhir_observation",
           "QueueEntry", "work_queue", "queue_entry", "apply_item", "dismiss_item",
           "LoincEntry", "loinc_entries", "set_loinc", "reset_loinc", "RESOLVERS",
           "LOINC_EDITORS"]

HL7 = "hl7v2"
#: Who resolves the work queue (the same roles that chart labs).
RESOLVERS = (Role.NURSE, Role.PHYSICIAN, Role.PHARMACIST)
#: Who edits a site's LOINC table.
LOINC_EDITORS = (Role.PHARMACIST, Role.PHYSICIAN, Role.ADMIN)


class _Refused(Exception):
    """A message refused after parsing: stored with ``AE``, nothing applied."""

    def __init__(self, field: str, message: str, condition: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.condition = field, message, condition


# --------------------------------------------------------------------------- HL7 v2


@dataclass(frozen=True, slots=True)
class Ack:
    code: str  # AA, AE, AR
    message: str  # the HL7 ACK, segments separated by CR
    control_id: str | None
    status: str  # applied, queued, refused
    message_id: int | None = None
    field: str | None = None
    reason: str | None = None
    queue_item_id: int | None = None
    lab_ids: tuple[int, ...] = ()
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"ack_code": self.code, "control_id": self.control_id, "status": self.status,
                "message_id": self.message_id, "field": self.field, "reason": self.reason,
                "queue_item_id": self.queue_item_id, "lab_ids": list(self.lab_ids),
                "replayed": self.replayed, "ack": self.message.replace("\r", "\n").strip()}


@dataclass(frozen=True, slots=True)
class _Content:
    """What a message says, whatever its format."""

    mrn: str
    birth_date: date | None
    collected_at: datetime
    observations: tuple[li.Observation, ...]
    control_id: str


def receive_hl7(uow: UnitOfWork, *, site_code: str, raw: str, received_at: datetime) -> Ack:
    """Store, judge and acknowledge one HL7 v2 message for ``site_code``'s laboratory."""
    received_at = aware(received_at, "received_at")
    if not raw.strip():
        raise InvalidInput("message", "the message is empty")
    try:
        oru = hl7v2.parse_oru(raw)
    except hl7v2.Hl7Reject as exc:
        control = exc.control_id or hl7v2.read_control_id(raw)
        return _store_refusal(uow, site_code, raw, received_at, control, "AR", exc.field,
                              exc.message, exc.condition)
    try:
        with uow:
            site = site_by_code(uow, site_code)
            first = uow.labs_in.message_by_control_id(site.id, HL7, oru.control_id)  # type: ignore[arg-type]
            if first is not None:
                return _replay(first)
            content = _hl7_content(oru, zone_of(site))
            ack = _judge(uow, site, content, raw, received_at)
            uow.commit()
            return ack
    except _Refused as exc:
        return _store_refusal(uow, site_code, raw, received_at, oru.control_id, "AE",
                              exc.field, exc.message, exc.condition)
    except hl7v2.Hl7Reject as exc:
        return _store_refusal(uow, site_code, raw, received_at, oru.control_id, "AR",
                              exc.field, exc.message, exc.condition)
    except AlreadyRecorded:  # the same control id, stored meanwhile by another connection
        return _replayed_now(uow, site_code, oru.control_id)


def _hl7_content(oru: hl7v2.OruMessage, zone: ZoneInfo) -> _Content:
    when, has_offset = hl7v2.hl7_datetime(oru.collected, "OBR-7")
    # a time without an offset is the laboratory's local time: the site's zone
    collected = when if has_offset else when.replace(tzinfo=zone)
    return _Content(oru.mrn, oru.birth_date, collected, oru.observations, oru.control_id)


def _replay(first: InterfaceMessageRecord) -> Ack:
    return Ack(first.ack_code, first.ack, first.control_id, first.status, first.id,
               first.error_field, first.error_message, None,
               tuple(int(x) for x in first.lab_ids), replayed=True)


def _replayed_now(uow: UnitOfWork, site_code: str, control_id: str) -> Ack:
    with uow.readonly():
        site = site_by_code(uow, site_code)
        first = uow.labs_in.message_by_control_id(site.id, HL7, control_id)  # type: ignore[arg-type]
    if first is None:  # pragma: no cover - the unique key said it exists
        raise Conflict("control_id", "the message was stored meanwhile; send it again")
    return _replay(first)


def _store_refusal(uow: UnitOfWork, site_code: str, raw: str, received_at: datetime,
                   control: str | None, code: str, field: str, reason: str,
                   condition: str) -> Ack:
    try:
        with uow:
            site = site_by_code(uow, site_code)
            if control:
                first = uow.labs_in.message_by_control_id(site.id, HL7, control)  # type: ignore[arg-type]
                if first is not None:
                    return _replay(first)
            ack = hl7v2.build_ack(raw, code, control_id=_ack_id(control), at=received_at,
                                  facility=site.code, reason=reason, field=field,
                                  condition=condition)
            msg = uow.labs_in.add_message(InterfaceMessageRecord(
                site_id=site.id, interface=HL7, raw=raw, received_at=received_at,  # type: ignore[arg-type]
                ack_code=code, ack=ack, status="refused", control_id=control,
                error_field=field, error_message=reason))
            _audit_message(uow, msg, received_at)
            uow.commit()
    except AlreadyRecorded:
        assert control is not None
        return _replayed_now(uow, site_code, control)
    return Ack(code, ack, control, "refused", msg.id, field, reason)


def _ack_id(control: str | None) -> str:
    return f"ACK{control}"[:64] if control else f"ACK{hl7v2._fresh_id()}"


def _audit_message(uow: UnitOfWork, msg: InterfaceMessageRecord, at: datetime,
                   item: LabQueueItemRecord | None = None) -> None:
    after = record_json(msg, "raw", "ack")
    if item is not None:
        after["queue_item"] = record_json(item)
    audit.append(uow, actor=f"interface:{msg.interface}", action="interface.message",
                 entity_type="interface_message", entity_id=msg.id, at=at, after=after)


def _site_table(uow: UnitOfWork, site_id: int) -> dict[str, str | None]:
    return li.loinc_table({r.loinc: r.test for r in uow.labs_in.loinc_rows(site_id)})


def _judge(uow: UnitOfWork, site: SiteRecord, content: _Content, raw: str,
           received_at: datetime, interface: str = HL7) -> Ack:
    """Inside the caller's transaction: queue, refuse (raise) or chart the results."""
    try:
        mapped = li.map_observations(content.observations, _site_table(uow, site.id))  # type: ignore[arg-type]
    except InvalidInput as exc:
        raise _Refused(exc.field, exc.message, "datatype") from None
    _pregrade(mapped, interface)
    patient = uow.patients.by_mrn(site.id, content.mrn)  # type: ignore[arg-type]
    queued: tuple[str, str, str, str, list[str]] | None = None
    if patient is None:
        queued = ("unmatched_patient", "PID-3" if interface == HL7 else "subject",
                  f"no patient with MRN {content.mrn} at this site", "unknown_key", [])
    elif not li.birth_date_matches(patient.birth_date, content.birth_date):
        queued = ("unmatched_patient", "PID-7",
                  f"date of birth {content.birth_date} differs from the record of MRN "
                  f"{content.mrn}", "unknown_key", [])
    elif mapped.unknown:
        where = next(o.where["code"] for o in content.observations
                     if o.code.strip() == mapped.unknown[0])
        queued = ("unknown_code", where,
                  f"LOINC {', '.join(mapped.unknown)} not in the site's table (map it, or "
                  "apply the message from the work queue)", "table", list(mapped.unknown))
    if queued is not None:
        kind, field, detail, condition, codes = queued
        reason = f"{detail}; held in the work queue for a nurse, nothing charted yet"
        ack = _ack(interface, raw, "AE", content.control_id, received_at, site, reason, field,
                   condition)
        msg = uow.labs_in.add_message(InterfaceMessageRecord(
            site_id=site.id, interface=interface, raw=raw, received_at=received_at,  # type: ignore[arg-type]
            ack_code="AE", ack=ack, status="queued", control_id=content.control_id,
            error_field=field, error_message=reason))
        item = uow.labs_in.add_item(LabQueueItemRecord(
            site_id=site.id, message_id=msg.id, kind=kind, detail=detail,  # type: ignore[arg-type]
            created_at=received_at, mrn=content.mrn, codes=codes))
        _audit_message(uow, msg, received_at, item)
        return Ack("AE", ack, content.control_id, "queued", msg.id, field, reason, item.id)
    assert patient is not None
    labs = _chart(uow, site, patient, mapped, content, received_at,
                  _interface_user(uow, site, received_at), interface)
    note = (f"{len(labs)} result(s) charted" + (f"; not charted by site policy: "
                                               f"{', '.join(mapped.ignored)}"
                                               if mapped.ignored else ""))
    ack = _ack(interface, raw, "AA", content.control_id, received_at, site, note, None, None)
    msg = uow.labs_in.add_message(InterfaceMessageRecord(
        site_id=site.id, interface=interface, raw=raw, received_at=received_at,  # type: ignore[arg-type]
        ack_code="AA", ack=ack, status="applied", control_id=content.control_id,
        patient_id=patient.id, lab_ids=[x.id for x in labs], error_message=note))
    _audit_message(uow, msg, received_at)
    return Ack("AA", ack, content.control_id, "applied", msg.id, None, note, None,
               tuple(x.id for x in labs))  # type: ignore[misc]


def _ack(interface: str, raw: str, code: str, control: str, at: datetime, site: SiteRecord,
         reason: str | None, field: str | None, condition: str | None) -> str:
    if interface == HL7:
        return hl7v2.build_ack(raw, code, control_id=_ack_id(control), at=at,
                               facility=site.code, reason=reason, field=field,
                               condition=condition)
    return json.dumps({"ack_code": code, "field": field, "reason": reason})


def _chart(uow: UnitOfWork, site: SiteRecord, patient: PatientRecord, mapped: li.MappedPanel,
           content: _Content, now: datetime, user: UserRecord, interface: str) -> list[Any]:
    if not mapped.results:
        if mapped.ignored:
            return []
        raise _Refused("OBX" if interface == HL7 else "code", "no result in the message",
                       "required")
    source = {"interface": interface, "control_id": content.control_id}
    try:
        return clinical.chart_lab_panel(uow, user=user, patient=patient,
                                        results=[dict(r) for r in mapped.results],
                                        collected_at=content.collected_at, now=now,
                                        source=source)
    except InvalidInput as exc:
        raise _Refused(*_located(exc, mapped, interface), "datatype") from None


def _pregrade(mapped: li.MappedPanel, interface: str) -> None:
    """The lab-entry grader's verdict on each result before anything is queued (a unit or
    value it refuses is refused now, not after a nurse has matched the patient)."""
    for i, row in enumerate(preview_lab_grades(list(mapped.results))):
        if row["field"] is not None:
            raise _Refused(*_located(InvalidInput(f"results[{i}].{row['field']}",
                                                  row["message"]), mapped, interface),
                           "datatype")


def _located(exc: InvalidInput, mapped: li.MappedPanel, interface: str) -> tuple[str, str]:
    """The lab-entry service's ``results[i].unit`` as the message's own place."""
    if exc.field == "collected_at":
        return ("OBR-7" if interface == HL7 else "effectiveDateTime"), exc.message
    if exc.field.startswith("results[") and "]." in exc.field:
        index, key = exc.field[len("results["):].split("].", 1)
        origin = mapped.origins[int(index)]
        place = {"value": "value", "unit": "unit", "lln": "range", "uln": "range"}.get(key)
        test = mapped.results[int(index)]["test"]
        if place is not None:
            return origin.where[place], f"{test}: {key} {exc.message}"
    return exc.field, exc.message


def _interface_user(uow: UnitOfWork, site: SiteRecord, now: datetime) -> UserRecord:
    """The site's interface account, created the first time: labs charted by interface
    name it as their author. No password and no role: it cannot sign in."""
    name = f"lab-interface.{site.code.lower()}"[:64]
    user = uow.users.by_username(name)
    if user is None:
        user = uow.users.add(UserRecord(username=name, display_name=f"Lab interface "
                                        f"({site.code})", created_at=now, site_id=site.id))
        audit.append(uow, actor="interface", action="user.create", entity_type="user",
                     entity_id=user.id, at=now, after=record_json(user, "password_hash"))
    elif user.site_id != site.id:
        raise Conflict("username", f"{name} belongs to another site")
    return user


# --------------------------------------------------------------------------- FHIR R4


@dataclass(frozen=True, slots=True)
class FhirResult:
    """``status``: created (labs charted), queued (work queue), refused (nothing applied);
    ``replayed`` when the identifier was seen before (the first answer, nothing written)."""

    status: str
    control_id: str | None
    message_id: int | None = None
    field: str | None = None
    reason: str | None = None
    queue_item_id: int | None = None
    lab_ids: tuple[int, ...] = ()
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"lab_ids": list(self.lab_ids)}


_FHIR_STATUS = {"final": "F", "corrected": "C", "amended": "C"}
_LOINC_SYSTEM = "http://loinc.org"
_UCUM = "http://unitsofmeasure.org"


def _fhir_content(body: Mapping[str, Any]) -> _Content:
    def need(cond: bool, field: str, message: str) -> None:
        if not cond:
            raise InvalidInput(field, message)

    fhir_in.check_observation(body)  # the FHIR model's verdict first (the schema)
    ident = body.get("identifier")
    control = None
    if isinstance(ident, list) and ident and isinstance(ident[0], Mapping):
        value = ident[0].get("value")
        if isinstance(value, str) and value.strip():
            control = f"{ident[0].get('system') or ''}|{value.strip()}"[:64]
    need(control is not None, "identifier[0].value",
         "is required: the laboratory's id of this result, so a repeat is recognised")
    subject = body.get("subject")
    mrn = (subject.get("identifier") or {}).get("value") if isinstance(subject, Mapping) else None
    need(isinstance(mrn, str) and bool(mrn.strip()), "subject.identifier.value",
         "is required: the patient's MRN")
    when = body.get("effectiveDateTime")
    need(isinstance(when, str) and "T" in when, "effectiveDateTime",
         "is required: the collection time, with a time of day and a UTC offset")
    try:
        collected = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("effectiveDateTime", f"{when!r} is not a FHIR dateTime") from None
    need(collected.tzinfo is not None, "effectiveDateTime", "has no UTC offset")
    codings = (body.get("code") or {}).get("coding") if isinstance(body.get("code"),
                                                                   Mapping) else None
    need(isinstance(codings, list), "code.coding", "is required (a LOINC coding)")
    code = next((c.get("code") for c in codings or [] if isinstance(c, Mapping)
                 and c.get("system") == _LOINC_SYSTEM), None)
    need(isinstance(code, str), "code.coding", f"has no coding of system {_LOINC_SYSTEM}")
    qty = body.get("valueQuantity")
    need(isinstance(qty, Mapping), "valueQuantity", "is required (a number with a unit)")
    value = qty.get("value")  # type: ignore[union-attr]
    need(isinstance(value, int | float) and not isinstance(value, bool), "valueQuantity.value",
         "must be a number")
    unit = qty.get("code") if qty.get("system") == _UCUM else qty.get("unit")  # type: ignore[union-attr]
    low = high = None
    ranges = body.get("referenceRange")
    if isinstance(ranges, list) and ranges and isinstance(ranges[0], Mapping):
        low = (ranges[0].get("low") or {}).get("value")
        high = (ranges[0].get("high") or {}).get("value")
    range_text = (f"{low}-{high}" if low is not None and high is not None
                  else f">{low}" if low is not None else f"<{high}" if high is not None
                  else "")
    status = str(body.get("status") or "")
    obs = li.Observation(code=str(code), value=repr(float(value)) if isinstance(value, float)  # type: ignore[arg-type]
                         else str(value), unit=str(unit or ""), reference_range=range_text,
                         status=_FHIR_STATUS.get(status, status),
                         where={"code": "code.coding", "value": "valueQuantity.value",
                                "unit": "valueQuantity.code", "range": "referenceRange[0]",
                                "status": "status"})
    return _Content(str(mrn).strip(), None, collected, (obs,), str(control))


def receive_fhir_observation(uow: UnitOfWork, *, site_id: int, body: dict[str, Any],
                             received_at: datetime, interface_name: str) -> FhirResult:
    """Store, judge and answer one FHIR R4 Observation (``POST /fhir/r4/Observation``) for
    the site the interface's credentials belong to. The body is stored as received."""
    received_at = aware(received_at, "received_at")
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False)
    interface = f"fhir:{interface_name}"[:64]
    try:
        content = _fhir_content(body)
    except InvalidInput as exc:
        return _fhir_refusal(uow, site_id, interface, raw, received_at, None, exc.field,
                             exc.message)
    try:
        with uow:
            site = _site(uow, site_id)
            first = uow.labs_in.message_by_control_id(site_id, interface, content.control_id)
            if first is not None:
                return _fhir_replay(first)
            ack = _judge(uow, site, content, raw, received_at, interface)
            uow.commit()
    except _Refused as exc:
        return _fhir_refusal(uow, site_id, interface, raw, received_at, content.control_id,
                             exc.field, exc.message)
    except AlreadyRecorded:
        with uow.readonly():
            first = uow.labs_in.message_by_control_id(site_id, interface, content.control_id)
        assert first is not None
        return _fhir_replay(first)
    return FhirResult("created" if ack.status == "applied" else ack.status,
                      content.control_id, ack.message_id, ack.field, ack.reason,
                      ack.queue_item_id, ack.lab_ids)


def _site(uow: UnitOfWork, site_id: int) -> SiteRecord:
    site = uow.sites.get(site_id)
    if site is None:
        raise NotFound("site", f"no site {site_id}")
    return site


def _fhir_replay(first: InterfaceMessageRecord) -> FhirResult:
    status = "created" if first.status == "applied" else first.status
    return FhirResult(status, first.control_id, first.id, first.error_field,
                      first.error_message, None, tuple(int(x) for x in first.lab_ids),
                      replayed=True)


def _fhir_refusal(uow: UnitOfWork, site_id: int, interface: str, raw: str,
                  received_at: datetime, control: str | None, field: str,
                  reason: str) -> FhirResult:
    with uow:
        _site(uow, site_id)
        if control:
            first = uow.labs_in.message_by_control_id(site_id, interface, control)
            if first is not None:
                return _fhir_replay(first)
        msg = uow.labs_in.add_message(InterfaceMessageRecord(
            site_id=site_id, interface=interface, raw=raw, received_at=received_at,
            ack_code="AE", ack=json.dumps({"ack_code": "AE", "field": field,
                                           "reason": reason}),
            status="refused", control_id=control, error_field=field, error_message=reason))
        _audit_message(uow, msg, received_at)
        uow.commit()
    return FhirResult("refused", control, msg.id, field, reason)


# --------------------------------------------------------------------------- work queue


@dataclass(frozen=True, slots=True)
class QueueEntry:
    item: LabQueueItemRecord
    message: InterfaceMessageRecord
    results: tuple[dict[str, str], ...]  # code, value, unit, range, status, test (if mapped)
    mrn: str | None
    birth_date: date | None
    collected_at: datetime | None
    patient: PatientRecord | None  # the patient it was applied to, or the MRN's match
    problem: str | None  # why the message cannot be re-read (then it can only be dismissed)
    resolved_by: str | None = None  # the display name of who applied or dismissed it


def _content_of(message: InterfaceMessageRecord, zone: ZoneInfo) -> _Content:
    if message.interface == HL7:
        return _hl7_content(hl7v2.parse_oru(message.raw), zone)
    return _fhir_content(json.loads(message.raw))


def _item_or_404(uow: UnitOfWork, item_id: int, scope: Scope) -> LabQueueItemRecord:
    item = uow.labs_in.item(item_id)
    if item is None or not scope.covers(item.site_id):
        raise NotFound("item_id", f"no work-queue item {item_id}")
    return item


def _entry(uow: UnitOfWork, item: LabQueueItemRecord, site: SiteRecord) -> QueueEntry:
    message = uow.labs_in.message(item.message_id)
    assert message is not None
    table = _site_table(uow, site.id)
    try:
        content: _Content | None = _content_of(message, zone_of(site))
        problem = None
    except (hl7v2.Hl7Reject, InvalidInput) as exc:
        content, problem = None, str(exc)
    results = tuple({"code": o.code, "value": o.value, "unit": o.unit,
                     "range": o.reference_range, "status": o.status,
                     "test": table.get(o.code.strip()) or ""}
                    for o in (content.observations if content else ()))
    patient = (uow.patients.get(item.patient_id) if item.patient_id is not None
               else uow.patients.by_mrn(site.id, content.mrn) if content else None)
    resolver = (uow.users.get(item.resolved_by) if item.resolved_by is not None else None)
    return QueueEntry(item, message, results, content.mrn if content else item.mrn,
                      content.birth_date if content else None,
                      content.collected_at if content else None, patient, problem,
                      resolver.display_name if resolver else None)


def work_queue(uow: UnitOfWork, *, site_code: str, viewer: Scope,
               status: str | None = "open") -> list[QueueEntry]:
    """The site's work queue, newest first (``status`` None: every item)."""
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        return [_entry(uow, item, site) for item in uow.labs_in.items(site.id, status)]  # type: ignore[arg-type]


def queue_entry(uow: UnitOfWork, *, item_id: int, viewer: Scope) -> QueueEntry:
    with uow.readonly():
        item = _item_or_404(uow, item_id, viewer)
        site = _site(uow, item.site_id)
        return _entry(uow, item, site)


def _open_item(uow: UnitOfWork, item_id: int, user: UserRecord) -> LabQueueItemRecord:
    item = _item_or_404(uow, item_id, scope_of(user))
    if item.status != "open":
        raise Conflict("item", f"this item was already {item.status}")
    return item


def apply_item(uow: UnitOfWork, *, item_id: int, actor: str, now: datetime,
               patient_id: int | None = None, patient_mrn: str | None = None,
               codes: Mapping[str, str | None] | None = None) -> QueueEntry:
    """Chart a queued message's results for ``patient_id`` or the site's patient with
    ``patient_mrn`` (default: the message's MRN, if it matches),
    with ``codes`` mapping the codes the site's table does not know to a test (``None``:
    not charted) for this message only. The nurse is the author of the labs; the results go
    through the same lab-entry checks; refused: nothing written, the item stays open."""
    now = aware(now, "now")
    for code, test in (codes or {}).items():
        li.check_loinc(code, f"codes.{code}")
        if test is not None:
            li.check_test(test, f"codes.{code}")
    with uow:
        user = actor_with(uow, actor, RESOLVERS, "resolve the lab interface's work queue")
        item = _open_item(uow, item_id, user)
        site = _site(uow, item.site_id)
        message = uow.labs_in.message(item.message_id)
        assert message is not None
        try:
            content = _content_of(message, zone_of(site))
        except hl7v2.Hl7Reject as exc:
            raise InvalidInput(exc.field, exc.message) from None
        if patient_id is not None:
            patient = patient_or_404(uow, patient_id, scope_of(user))
        elif patient_mrn and patient_mrn.strip():
            chosen = uow.patients.by_mrn(site.id, patient_mrn.strip())  # type: ignore[arg-type]
            if chosen is None:
                raise NotFound("patient_mrn", f"no patient with MRN {patient_mrn.strip()} at "
                                              "this site")
            patient = chosen
        else:
            found = uow.patients.by_mrn(site.id, content.mrn)  # type: ignore[arg-type]
            if found is None or not li.birth_date_matches(found.birth_date, content.birth_date):
                raise InvalidInput("patient_id", f"no patient of this site matches MRN "
                                   f"{content.mrn}: choose the patient")
            patient = found
        table = _site_table(uow, site.id) | dict(codes or {})
        mapped = li.map_observations(content.observations, table)
        if mapped.unknown:
            raise InvalidInput("codes", f"choose a test (or 'not charted') for LOINC "
                                        f"{', '.join(mapped.unknown)}")
        if not mapped.results:
            raise InvalidInput("codes", "no result would be charted: dismiss the item instead")
        source = {"interface": message.interface, "control_id": message.control_id,
                  "queue_item": item.id}
        labs = clinical.chart_lab_panel(uow, user=user, patient=patient,
                                        results=[dict(r) for r in mapped.results],
                                        collected_at=content.collected_at, now=now,
                                        source=source)
        mapped_codes = ", ".join(f"{c} -> {t or 'not charted'}"
                                 for c, t in (codes or {}).items())
        what = (f"charted for MRN {patient.mrn}: "
                + ", ".join(f"{r['test']} {r['value']:g} {r['unit']}" for r in mapped.results)
                + (f" (codes mapped for this message: {mapped_codes})" if mapped_codes else ""))
        done = uow.labs_in.update_item(dataclasses.replace(
            item, status="applied", patient_id=patient.id, resolved_by=user.id,
            resolved_at=now, resolution=what))
        uow.labs_in.set_message_outcome(message.id, status="applied",  # type: ignore[arg-type]
                                        patient_id=patient.id, lab_ids=[x.id for x in labs])
        audit.append(uow, actor=user.username, action="lab_queue.apply",
                     entity_type="lab_queue_item", entity_id=item.id, at=now,
                     before=record_json(item), after=record_json(done))
        entry = _entry(uow, done, site)
        uow.commit()
    return entry


def dismiss_item(uow: UnitOfWork, *, item_id: int, actor: str, reason: str,
                 now: datetime) -> QueueEntry:
    """Close an item without charting anything, with the reason (kept on the item)."""
    now = aware(now, "now")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "is required: why nothing of this message is charted")
    with uow:
        user = actor_with(uow, actor, RESOLVERS, "resolve the lab interface's work queue")
        item = _open_item(uow, item_id, user)
        site = _site(uow, item.site_id)
        done = uow.labs_in.update_item(dataclasses.replace(
            item, status="dismissed", resolved_by=user.id, resolved_at=now,
            resolution=reason))
        audit.append(uow, actor=user.username, action="lab_queue.dismiss",
                     entity_type="lab_queue_item", entity_id=item.id, at=now,
                     before=record_json(item), after=record_json(done))
        entry = _entry(uow, done, site)
        uow.commit()
    return entry


# --------------------------------------------------------------------------- LOINC table


@dataclass(frozen=True, slots=True)
class LoincEntry:
    loinc: str
    test: str | None  # None: ignored by the site
    source: str  # "seed" or "site"
    name: str  # the seeded row's LOINC name ("" for a site's own code)
    tag: str  # the seeded row's provenance ("SITE" for a site's row)
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"loinc": self.loinc, "test": self.test, "source": self.source,
                "name": self.name, "tag": self.tag,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None}


def loinc_entries(uow: UnitOfWork, *, site_code: str, viewer: Scope) -> list[LoincEntry]:
    """The site's effective table: each seeded row unless the site overrides it, and the
    site's own rows."""
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        own = {r.loinc: r for r in uow.labs_in.loinc_rows(site.id)}  # type: ignore[arg-type]
    seeds = {r.loinc: r for r in li.SEED_LOINC}
    out = []
    for code in sorted(set(seeds) | set(own), key=lambda c: (int(c.split("-")[0]), c)):
        seed = seeds.get(code)
        if code in own:
            out.append(LoincEntry(code, own[code].test, "site", seed.name if seed else "",
                                  "SITE", own[code].updated_at))
        else:
            assert seed is not None
            out.append(LoincEntry(code, seed.test, "seed", seed.name, seed.tag))
    return out


def set_loinc(uow: UnitOfWork, *, site_code: str, loinc: str, test: str | None, actor: str,
              now: datetime) -> LoincEntry:
    """Map ``loinc`` to ``test`` at the site (``None``: the site ignores the code on
    purpose; results with it are neither charted nor queued)."""
    now = aware(now, "now")
    loinc = li.check_loinc(loinc)
    if test is not None:
        test = li.check_test(test)
    with uow:
        user = actor_with(uow, actor, LOINC_EDITORS, "edit the site's LOINC table")
        site = site_for(uow, site_code, scope_of(user))
        before = next((r for r in uow.labs_in.loinc_rows(site.id) if r.loinc == loinc), None)  # type: ignore[arg-type]
        row = uow.labs_in.put_loinc(SiteLoincRecord(site_id=site.id, loinc=loinc, test=test,  # type: ignore[arg-type]
                                                    updated_at=now, updated_by=user.id))
        audit.append(uow, actor=user.username, action="loinc.set", entity_type="site_loinc",
                     entity_id=f"{site.id}:{loinc}", at=now,
                     before=record_json(before) if before else None, after=record_json(row))
        uow.commit()
    seed = next((r for r in li.SEED_LOINC if r.loinc == loinc), None)
    return LoincEntry(loinc, test, "site", seed.name if seed else "", "SITE", now)


def reset_loinc(uow: UnitOfWork, *, site_code: str, loinc: str, actor: str,
                now: datetime) -> None:
    """Drop the site's own row of ``loinc`` (a seeded code maps as seeded again)."""
    now = aware(now, "now")
    loinc = li.check_loinc(loinc)
    with uow:
        user = actor_with(uow, actor, LOINC_EDITORS, "edit the site's LOINC table")
        site = site_for(uow, site_code, scope_of(user))
        before = next((r for r in uow.labs_in.loinc_rows(site.id) if r.loinc == loinc), None)  # type: ignore[arg-type]
        if before is None:
            raise NotFound("loinc", f"the site has no row of its own for {loinc}")
        uow.labs_in.remove_loinc(site.id, loinc)  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="loinc.reset", entity_type="site_loinc",
                     entity_id=f"{site.id}:{loinc}", at=now, before=record_json(before))
        uow.commit()
