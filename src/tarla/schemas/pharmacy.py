"""Contract models for the pharmacy commands (``tarla prepare|clock|scan|bill|label``).

Input models forbid unknown fields; the ``*_to_json`` functions render the core's results in
the shapes of shared/contracts/README.md (extra fields are allowed there and used here).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from tarla.adapters.barcode import InMemoryCatalog, Scan
from tarla.domain.billing import WASTE_READING, Claim, Outcome, PackageUse
from tarla.domain.clock import ClockEvent, ClockReport, EventKind
from tarla.domain.errors import InvalidInput
from tarla.domain.preparation import PreparationPlan
from tarla.domain.verification import PackageLevel, Verdict
from tarla.label import LABEL_VERSION
from tarla.label.preparation import BAG_MATERIALS
from tarla.label.products import Component, Product
from tarla.label.rows import Citation
from tarla.schemas import load_zone

__all__ = ["ClockEventIn", "ClockRequest", "PreparationIn", "BillRequest", "CatalogItemIn",
           "ScanIn", "PatientIn", "OrderIn", "LabelRequest", "load_catalog_items",
           "prepare_to_json", "clock_to_json", "scan_to_json", "claim_to_json", "number",
           "minutes", "product_name", "reason_json"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Zoned(_Model):
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        load_zone(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return load_zone(self.timezone)


# --------------------------------------------------------------------------- clock


class ClockEventIn(_Model):
    event: EventKind
    at: AwareDatetime


class ClockRequest(_Zoned):
    now: AwareDatetime
    events: list[ClockEventIn] = Field(min_length=1)

    def clock_events(self) -> list[ClockEvent]:
        return [ClockEvent(e.event, e.at) for e in self.events]


# --------------------------------------------------------------------------- bill


class PreparationIn(_Model):
    """One package used in the encounter. ``administered_mg`` defaults from ``outcome``."""

    id: str | None = None
    dose_mg: int
    vial_strength_mg: int | None = None  # default: the vial of the ordered dose
    outcome: Outcome = Outcome.COMPLETED
    administered_mg: Decimal | None = Field(default=None, allow_inf_nan=False)


class BillRequest(_Model):
    encounter_id: str | None = None
    patient_id: str | None = None
    date_of_service: date | None = None
    preparations: list[PreparationIn] = Field(min_length=1)

    def package_uses(self) -> list[PackageUse]:
        uses = []
        for i, p in enumerate(self.preparations):
            given = p.administered_mg
            if given is None:
                if p.outcome is Outcome.STOPPED_EARLY:
                    raise InvalidInput(f"preparations[{i}].administered_mg",
                                       "is required when the infusion stopped early")
                given = Decimal(p.dose_mg) if p.outcome is Outcome.COMPLETED else Decimal(0)
            uses.append(PackageUse(p.dose_mg, p.vial_strength_mg or p.dose_mg, p.outcome,
                                   given, p.id))
        return uses


# --------------------------------------------------------------------------- scan / catalog


class CatalogItemIn(_Model):
    """A site-added GTIN, e.g. an inner vial's own barcode."""

    gtin: str
    strength_mg: int
    components: list[Component] = Field(min_length=1)
    level: PackageLevel = PackageLevel.VIAL


def load_catalog_items(catalog: InMemoryCatalog, items: list[CatalogItemIn],
                       field: str = "catalog") -> None:
    for i, item in enumerate(items):
        catalog.add(item.gtin, item.strength_mg, item.components, level=item.level,
                    field=f"{field}[{i}].gtin")


class ScanIn(_Model):
    """A component used: the raw scan, or (barcode unreadable) the values typed from the label."""

    component: Component
    raw: str | None = None
    gtin: str | None = None
    lot: str | None = None
    expiry: date | None = None
    serial: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ScanIn:
        if (self.raw is None) == (self.gtin is None):
            raise ValueError("give either 'raw' (the scan) or 'gtin' (with lot and expiry)")
        return self


class PatientIn(_Model):
    name: str = Field(min_length=1)
    mrn: str = Field(min_length=1)
    birth_date: date | None = None


class OrderIn(_Model):
    dose_mg: int
    order_id: str | None = None
    slot: str | None = None  # e.g. C1D8
    prescriber: str | None = None


class LabelRequest(_Zoned):
    now: AwareDatetime | None = None  # default: the time of printing
    patient: PatientIn
    order: OrderIn
    events: list[ClockEventIn] = Field(min_length=1)
    scans: list[ScanIn] = Field(default_factory=list)
    prepared_by: str | None = None
    checked_by: str | None = None
    bag_material: str | None = None
    recalled_lots: list[str] = Field(default_factory=list)
    catalog: list[CatalogItemIn] = Field(default_factory=list)

    @field_validator("bag_material")
    @classmethod
    def _material(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for known in BAG_MATERIALS.materials:
            if value.strip().casefold() == known.casefold():
                return known
        allowed = ", ".join(BAG_MATERIALS.materials)
        raise ValueError(f"{value!r} is not a compatible bag material ({allowed})")

    def clock_events(self) -> list[ClockEvent]:
        return [ClockEvent(e.event, e.at) for e in self.events]


# --------------------------------------------------------------------------- rendering


def number(value: Decimal | int) -> int | float:
    """JSON number: whole values as int (250), others as float (250.1)."""
    dec = Decimal(value)
    return int(dec) if dec == dec.to_integral_value() else float(dec)


def minutes(delta: timedelta) -> int | float:
    return number(Decimal(str(delta.total_seconds())) / 60)


def reason_json(c: Citation) -> dict[str, Any]:
    return {"rule": c.rule, "tag": str(c.tag), "text": c.text}


def product_name(p: Product) -> str:
    return (f"IMDELLTRA (tarlatamab-dlle) {p.strength_mg} mg package: 1 vial of "
            f"{p.strength_mg} mg + {p.ivss_vials} x {p.ivss_vial_ml} mL IVSS")


def prepare_to_json(plan: PreparationPlan, *, label_version: str = LABEL_VERSION) -> dict[str, Any]:
    """``label_version``: the course's own when the plan is for a course's preparation; the
    built-in label for the stateless calculators (``tarla prepare``, ``/api/v1/prepare``)."""
    r = plan.recipe
    return {
        "label_version": label_version,
        "dose_mg": plan.dose_mg,
        "vial": {"strength_mg": plan.product.strength_mg, "ndc": plan.product.ndc10,
                 "ndc11": plan.product.ndc11, "gtin": plan.product.gtin},
        "reconstitute": {"sterile_water_ml": number(r.sterile_water_ml),
                         "concentration_mg_per_ml": number(r.concentration_mg_per_ml)},
        "bag": {"saline_bag_ml": r.saline_bag_ml,
                "withdraw_saline_ml": number(r.withdraw_saline_ml),
                "ivss_ml": number(r.ivss_ml), "drug_ml": number(r.drug_ml),
                "final_volume_ml": number(plan.final_volume_ml),
                "final_concentration_mg_per_ml": float(plan.final_concentration_mg_per_ml),
                "final_volume_tag": str(plan.final_volume.tag)},
        "infusion": {"minutes": plan.infusion.minutes, "rate_ml_per_h": plan.infusion.rate_ml_per_h,
                     "volume_ml": plan.infusion.volume_ml},
        "steps": [{"order": s.order, "stage": str(s.stage), "text": s.instruction,
                   "volume_ml": None if s.volume_ml is None else number(s.volume_ml),
                   "rule": s.citation.rule, "tag": str(s.citation.tag)} for s in plan.steps],
        "materials": {"bags": list(plan.bag_materials.materials),
                      "lines": list(plan.line_materials.materials)},
        "warnings": [reason_json(w) for w in plan.warnings],
        "time_limits": [{**reason_json_row(t), "hours": None if t.limit is None
                         else number(Decimal(str(t.limit.total_seconds())) / 3600)}
                        for t in plan.time_limits],
        "reasons": [reason_json(c) for c in plan.reasons],
        "unverified": plan.unverified,
    }


def reason_json_row(row: Any) -> dict[str, Any]:
    return {"rule": row.rule_id, "tag": str(row.tag), "text": row.text}


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


def clock_to_json(report: ClockReport, *, label_version: str = LABEL_VERSION) -> dict[str, Any]:
    """``label_version`` as for :func:`prepare_to_json`: the course's own for a preparation
    on record, the built-in label for ``tarla clock`` and ``/api/v1/clock``."""
    return {
        "label_version": label_version,
        "status": str(report.status),
        "state": str(report.phase),
        "refrigerated": report.refrigerated,
        "usable": report.usable,
        "reconstituted_at": _stamp(report.reconstituted_at),
        "dilute_by": _stamp(report.dilute_by),
        "discard_at": _stamp(report.discard_at),
        "latest_infusion_start": _stamp(report.latest_infusion_start),
        "room_temperature_minutes_used": minutes(report.room_temperature_used),
        "room_temperature_minutes_left": minutes(report.room_temperature_left),
        "violations": [{"code": str(v.code), "at": _stamp(v.at), "text": v.text,
                        "rule": v.citation.rule, "tag": str(v.citation.tag)}
                       for v in report.violations],
        "reasons": [reason_json(c) for c in report.reasons],
        "unverified": report.unverified,
    }


def scan_to_json(scan: Scan, verdict: Verdict) -> dict[str, Any]:
    entry = verdict.entry
    return {
        "label_version": LABEL_VERSION,
        "gtin": scan.gtin,
        "expiry": None if scan.expiry is None else scan.expiry.isoformat(),
        "lot": scan.lot,
        "serial": scan.serial,
        "symbology": scan.symbology,
        "product": None if entry is None else {
            "name": product_name(entry.product), "strength_mg": entry.product.strength_mg,
            "ndc": entry.product.ndc10},
        "catalog_entry": None if entry is None else {
            "level": str(entry.level), "components": sorted(str(c) for c in entry.components),
            "derived": entry.derived, "tag": str(entry.tag), "source": entry.source},
        "dose_mg": verdict.dose_mg,
        "expect": str(verdict.expect),
        "local_date": verdict.local_date.isoformat(),
        "verdict": "accept" if verdict.accepted else "refuse",
        "reasons": [{"code": str(r.code), **reason_json(r.citation)} for r in verdict.refusals],
        "checked": [reason_json(c) for c in verdict.reasons],
        "unverified": verdict.unverified,
    }


def claim_to_json(claim: Claim, req: BillRequest) -> dict[str, Any]:
    partial = any(p.outcome is not Outcome.COMPLETED for p in req.preparations)
    return {
        "label_version": LABEL_VERSION,
        "encounter_id": req.encounter_id,
        "patient_id": req.patient_id,
        "date_of_service": None if req.date_of_service is None else req.date_of_service.isoformat(),
        "lines": [{"kind": str(line.kind), "hcpcs": line.hcpcs, "modifiers": list(line.modifiers),
                   "units": line.units, "ndc_qualifier": line.ndc_qualifier,
                   "ndc11": line.ndc11, "ndc_unit": line.ndc_unit,
                   "ndc_quantity": line.ndc_quantity, "claim_ndc": line.claim_ndc,
                   "billable": line.billable, "needs_review": line.needs_review,
                   "preparation": line.ref, "note": line.note} for line in claim.lines],
        "billed_units": claim.billed_units,
        "needs_review": claim.needs_review,
        "policy_reading": WASTE_READING if partial or claim.needs_review else None,
        "reasons": [reason_json(c) for c in claim.reasons],
        "unverified": claim.unverified,
    }
