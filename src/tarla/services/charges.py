"""Charge capture, review and export for billing staff (issue 15).

The charges of a site over a date range (site-local, inclusive, at most a year) are computed
from the records on every read, never stored: one encounter per administration started in the
range, and one per prepared bag (its vial reconstituted) discarded in the range without ever
being hung. The lines are :func:`tarla.domain.charges.encounter`'s; what is stored is the
billers' decision about each encounter (``charge_reviews``) and the site's administration
codes (``billing_codes``).

- accept: as computed (a flagged encounter needs a reason);
- correct: the mg actually given, with a reason (the lines are recomputed by the core);
- reopen: with a reason; an exported encounter is exported again only after a reopen;
- export: every accepted, not yet exported encounter of the range, one row per billable
  line (:data:`tarla.domain.charges.EXPORT_COLUMNS`), marked exported in the same
  transaction, so a second export of the same range returns nothing new.

Each write is one transaction with one audit entry; a refusal writes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from tarla.domain import charges as core
from tarla.domain.errors import InvalidInput
from tarla.label.products import PRODUCTS
from tarla.services import audit
from tarla.services._common import actor_with, aware, site_for, zone_of
from tarla.services.errors import Conflict, NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.records import BillingCodeRecord, ChargeReviewRecord, SiteRecord
from tarla.services.scope import Scope, scope_of
from tarla.services.vocab import Role

__all__ = ["READERS", "REVIEWERS", "CODE_EDITORS", "ChargeView", "ChargeSheet", "charge_sheet",
           "review", "ExportResult", "export", "to_csv", "add_code", "remove_code",
           "ACTIONS"]

READERS = (Role.BILLING, Role.ADMIN)
REVIEWERS = (Role.BILLING,)
CODE_EDITORS = (Role.BILLING, Role.ADMIN)
ACTIONS = ("accept", "correct", "reopen")
_GTIN_STRENGTH = {p.gtin: p.strength_mg for p in PRODUCTS}


@dataclass(frozen=True, slots=True)
class ChargeView:
    encounter: core.Encounter
    service_date: date
    mrn: str
    patient: str
    course_id: int
    status: str  # to_review / ready / accepted / exported
    review: ChargeReviewRecord | None
    reviewed_by: str | None

    def to_json(self) -> dict[str, Any]:
        e, r = self.encounter, self.review
        return {"encounter_id": e.key, "service_date": self.service_date.isoformat(),
                "slot": e.slot, "patient_mrn": self.mrn, "course_id": self.course_id,
                "infusion_start": None if e.started_at is None else e.started_at.isoformat(),
                "infusion_end": None if e.ended_at is None else e.ended_at.isoformat(),
                "flags": [f.value for f in e.flags], "needs_review": e.needs_review,
                "status": self.status, "rules": list(e.rules),
                "corrected_mg": None if r is None else r.corrected_mg,
                "review_reason": None if r is None else r.reason,
                "reviewed_by": self.reviewed_by,
                "exported_at": None if r is None or r.exported_at is None
                else r.exported_at.isoformat(),
                "lines": [{"kind": line.kind, "code": line.code,
                           "modifiers": list(line.modifiers), "units": line.units,
                           "ndc_qualifier": "N4" if line.ndc11 else None,
                           "ndc11": line.ndc11, "ndc_unit": "UN" if line.ndc11 else None,
                           "ndc_quantity": line.ndc_quantity, "claim_ndc": line.claim_ndc,
                           "billable": line.billable, "needs_review": line.needs_review,
                           "note": line.note} for line in e.lines]}


@dataclass(frozen=True, slots=True)
class ChargeSheet:
    site: str
    start: date
    end: date
    encounters: tuple[ChargeView, ...]
    codes: tuple[BillingCodeRecord, ...]

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "administration_codes": [{"id": c.id, "code": c.code,
                                          "description": c.description, "per": c.per}
                                         for c in self.codes],
                "encounters": [v.to_json() for v in self.encounters]}


@dataclass(frozen=True, slots=True)
class _Source:
    facts: core.EncounterFacts
    service_date: date
    course_id: int


def _strength(uow: UnitOfWork, preparation_id: int | None) -> int | None:
    if preparation_id is None:
        return None
    for s in uow.preparations.scans(preparation_id):
        if s.component == "drug" and s.verdict == "accept" and s.gtin in _GTIN_STRENGTH:
            return _GTIN_STRENGTH[s.gtin]
    return None


def _sources(uow: UnitOfWork, site: SiteRecord, start: date, end: date) -> list[_Source]:
    zone = zone_of(site)
    since = datetime.combine(start, time(0), zone)
    until = datetime.combine(end + timedelta(days=1), time(0), zone)
    out: list[_Source] = []
    for a in uow.administrations.started_at_site(site.id, since):  # type: ignore[arg-type]
        if a.started_at >= until:
            continue
        out.append(_Source(core.EncounterFacts(
            key=f"A{a.id}", slot=a.slot, dose_mg=a.dose_mg,
            kit_strength_mg=_strength(uow, a.preparation_id), given=True,
            started_at=a.started_at, ended_at=a.ended_at,
            exception_reason=a.scan_exception_reason),
            a.started_at.astimezone(zone).date(), a.course_id))
    for p in uow.charges.discarded_preparations(site.id):  # type: ignore[arg-type]
        events = uow.preparations.events(p.id)  # type: ignore[arg-type]
        kinds = {e.event for e in events}
        if "infusion_started" in kinds or "reconstituted" not in kinds:
            continue  # hung (its administration bills it) or no vial opened (nothing wasted)
        at = max((e.at for e in events if e.event == "discarded"), default=p.updated_at)
        if not since <= at < until:
            continue
        out.append(_Source(core.EncounterFacts(
            key=f"P{p.id}", slot=p.slot or "", dose_mg=p.dose_mg,
            kit_strength_mg=_strength(uow, p.id), given=False, started_at=None,
            ended_at=None), at.astimezone(zone).date(), p.course_id))
    return sorted(out, key=lambda s: (s.service_date, s.facts.key))


def _codes(records: Sequence[BillingCodeRecord]) -> list[core.AdminCode]:
    return [core.AdminCode(c.code, c.description, core.CodeBasis(c.per)) for c in records]


def _with_review(facts: core.EncounterFacts, r: ChargeReviewRecord | None,
                 ) -> core.EncounterFacts:
    if r is None or r.corrected_mg is None:
        return facts
    return dataclasses.replace(facts, corrected_mg=core.parse_mg(r.corrected_mg))


def _status(e: core.Encounter, r: ChargeReviewRecord | None) -> str:
    if r is not None and r.status == "accepted":
        return "exported" if r.exported_at is not None else "accepted"
    return "to_review" if e.needs_review else "ready"


def _views(uow: UnitOfWork, site: SiteRecord, start: date, end: date,
           ) -> tuple[list[ChargeView], list[BillingCodeRecord]]:
    code_rows = uow.charges.codes(site.id)  # type: ignore[arg-type]
    codes = _codes(code_rows)
    reviews = uow.charges.reviews(site.id)  # type: ignore[arg-type]
    views = []
    for s in _sources(uow, site, start, end):
        r = reviews.get(s.facts.key)
        e = core.encounter(_with_review(s.facts, r), codes)
        course = uow.courses.get(s.course_id)
        assert course is not None
        patient = uow.patients.get(course.patient_id)
        assert patient is not None
        who = None if r is None else uow.users.get(r.reviewed_by)
        views.append(ChargeView(e, s.service_date, patient.mrn,
                                f"{patient.family_name}, {patient.given_name}", course.id,  # type: ignore[arg-type]
                                _status(e, r), r, None if who is None else who.username))
    return views, code_rows


def charge_sheet(uow: UnitOfWork, *, site_code: str, start: date, end: date,
                 viewer: Scope) -> ChargeSheet:
    core.check_range(start, end)
    with uow.readonly():
        site = site_for(uow, site_code, viewer)
        views, codes = _views(uow, site, start, end)
    return ChargeSheet(site.code, start, end, tuple(views), tuple(codes))


def _review_json(r: ChargeReviewRecord | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"status": r.status, "corrected_mg": r.corrected_mg, "reason": r.reason,
            "exported_at": r.exported_at, "export_batch": r.export_batch}


def review(uow: UnitOfWork, *, site_code: str, encounter_id: str, action: str, actor: str,
           now: datetime, start: date, end: date, reason: str | None = None,
           administered_mg: str | None = None) -> ChargeView:
    """Accept, correct or reopen one encounter of ``start``..``end`` (audited)."""
    now = aware(now, "now")
    core.check_range(start, end)
    if action not in ACTIONS:
        raise InvalidInput("action", f"{action!r} is not one of: {', '.join(ACTIONS)}")
    reason = (reason or "").strip() or None
    if action in ("correct", "reopen") and reason is None:
        raise InvalidInput("reason", f"is required to {action} an encounter")
    corrected = None
    if action == "correct":
        if not (administered_mg or "").strip():
            raise InvalidInput("administered_mg", "is required for a correction (the mg given)")
        corrected = core.parse_mg(administered_mg or "")
    with uow:
        user = actor_with(uow, actor, REVIEWERS, "review charges")
        site = site_for(uow, site_code, scope_of(user))
        codes = _codes(uow.charges.codes(site.id))  # type: ignore[arg-type]
        source = next((s for s in _sources(uow, site, start, end)
                       if s.facts.key == encounter_id), None)
        if source is None:
            raise NotFound("encounter_id", f"no encounter {encounter_id!r} at {site.code} "
                                           f"between {start} and {end}")
        old = uow.charges.reviews(site.id).get(encounter_id)  # type: ignore[arg-type]
        if action != "reopen" and old is not None and old.exported_at is not None:
            raise Conflict("encounter_id", f"{encounter_id} was exported "
                                           f"({old.export_batch}); reopen it first")
        if action == "reopen" and (old is None or old.status != "accepted"):
            raise Conflict("encounter_id", f"{encounter_id} is not accepted: nothing to reopen")
        if action == "accept":
            current = core.encounter(_with_review(source.facts, old), codes)
            if current.needs_review and reason is None:
                raise InvalidInput("reason", "is required to accept a flagged encounter ("
                                   + ", ".join(f.value for f in current.flags) + ")")
            corrected_text = None if old is None else old.corrected_mg
        elif action == "correct":
            core.encounter(dataclasses.replace(source.facts, corrected_mg=corrected), codes)
            corrected_text = str(corrected)
        else:
            corrected_text = old.corrected_mg  # type: ignore[union-attr]
        status = "open" if action == "reopen" else "accepted"
        fields: dict[str, Any] = {
            "status": status, "corrected_mg": corrected_text,
            "reason": reason if reason is not None or old is None else old.reason,
            "reviewed_by": user.id, "reviewed_at": now, "exported_at": None,
            "export_batch": None}
        if old is None:
            new = uow.charges.add_review(ChargeReviewRecord(
                site_id=site.id, encounter_key=encounter_id, **fields))  # type: ignore[arg-type]
        else:
            new = uow.charges.update_review(dataclasses.replace(old, **fields))
        audit.append(uow, actor=user.username, action=f"charge.{action}",
                     entity_type="encounter", entity_id=f"{site.code}:{encounter_id}", at=now,
                     before=_review_json(old), after=_review_json(new))
        uow.commit()
        views, _ = _views(uow, site, start, end)
    return next(v for v in views if v.encounter.key == encounter_id)


@dataclass(frozen=True, slots=True)
class ExportResult:
    batch: str | None  # None: nothing new to export
    rows: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "columns": list(core.EXPORT_COLUMNS),
                "rows": list(self.rows)}


def export(uow: UnitOfWork, *, site_code: str, start: date, end: date, actor: str,
           now: datetime) -> ExportResult:
    """Every accepted, not yet exported encounter of the range, marked exported."""
    now = aware(now, "now")
    core.check_range(start, end)
    with uow:
        user = actor_with(uow, actor, REVIEWERS, "export charges")
        site = site_for(uow, site_code, scope_of(user))
        views, _ = _views(uow, site, start, end)
        due = [v for v in views if v.status == "accepted"]
        if not due:
            return ExportResult(None, ())
        batch = f"{site.code}-{now.astimezone(zone_of(site)):%Y%m%dT%H%M%S}"
        rows: list[dict[str, Any]] = []
        for v in due:
            assert v.review is not None
            rows.extend(core.export_rows(v.encounter, site=site.code, mrn=v.mrn,
                                         service_date=v.service_date,
                                         reviewed_by=v.reviewed_by or "",
                                         reason=v.review.reason))
            uow.charges.update_review(dataclasses.replace(v.review, exported_at=now,
                                                          export_batch=batch))
        audit.append(uow, actor=user.username, action="charge.export", entity_type="site",
                     entity_id=site.code, at=now, before=None,
                     after={"batch": batch, "from": start, "to": end,
                            "encounters": [v.encounter.key for v in due],
                            "lines": len(rows)})
        uow.commit()
    return ExportResult(batch, tuple(rows))


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(core.EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def add_code(uow: UnitOfWork, *, site_code: str, code: str, description: str, per: str,
             actor: str, now: datetime) -> BillingCodeRecord:
    now = aware(now, "now")
    checked = core.check_code(code, description, per)
    with uow:
        user = actor_with(uow, actor, CODE_EDITORS, "edit the administration codes")
        site = site_for(uow, site_code, scope_of(user))
        added = uow.charges.add_code(BillingCodeRecord(
            site_id=site.id, code=checked.code, description=checked.description,  # type: ignore[arg-type]
            per=checked.per.value, created_by=user.id, created_at=now))  # type: ignore[arg-type]
        audit.append(uow, actor=user.username, action="billing_code.add",
                     entity_type="billing_code", entity_id=added.id, at=now, before=None,
                     after={"site": site.code, "code": added.code,
                            "description": added.description, "per": added.per})
        uow.commit()
    return added


def remove_code(uow: UnitOfWork, *, code_id: int, actor: str, now: datetime) -> None:
    now = aware(now, "now")
    with uow:
        user = actor_with(uow, actor, CODE_EDITORS, "edit the administration codes")
        row = uow.charges.code(code_id)
        if row is None or not scope_of(user).covers(row.site_id):
            raise NotFound("code_id", f"no administration code {code_id}")
        uow.charges.remove_code(code_id)
        audit.append(uow, actor=user.username, action="billing_code.remove",
                     entity_type="billing_code", entity_id=code_id, at=now,
                     before={"code": row.code, "description": row.description, "per": row.per},
                     after=None)
        uow.commit()
