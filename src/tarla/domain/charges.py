"""Charge capture: one encounter per administration (or per prepared bag never given), its claim
lines from :func:`tarla.domain.billing.claim_lines`, the site's administration codes, the
flags a biller must review, and the export rows (issue 15).

- Drug lines: J9026 units from the mg given, JZ / JW, NDC-11 with the N4 qualifier and ``UN``
  quantity, all from the billing core (standards.md §4). The vial strength is the kit's
  scanned at the bench; without an accepted kit scan the package of the ordered dose is
  assumed and the encounter is flagged.
- Administration codes are the site's own table (coding is the site's decision): a row billed
  once per encounter, or per started hour of the infusion (``per="hour"``).
- Flags (:class:`Flag`): an interrupted infusion (no end charted: the amount infused is
  unknown, so the lines hold the whole dose until a biller corrects them with the mg given),
  a bag wasted (prepared, never given), no kit scan, a dose charted by exception (no bag scan).
- A correction is the mg actually given, with a reason; the lines are recomputed by the core.
- Export rows: one per claim line, NDC fields named as the 837 loop 2410 segments
  (LIN02 qualifier, LIN03 NDC-11, CTP04 quantity, CTP05-01 unit); the columns are
  :data:`EXPORT_COLUMNS` (documented in docs/billing-export.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from tarla.domain.billing import NDC_QUALIFIER, NDC_UNIT, Outcome, PackageUse, claim_lines
from tarla.domain.errors import InvalidInput

__all__ = ["Flag", "CodeBasis", "AdminCode", "EncounterFacts", "ChargeLine", "Encounter",
           "encounter", "check_range", "parse_mg", "check_code", "EXPORT_COLUMNS",
           "export_rows", "validate_export_row"]

_HOUR = timedelta(hours=1)
_CODE = re.compile(r"^[A-Z0-9]{1,5}(-[A-Z0-9]{1,8})?$")


class Flag(StrEnum):
    INTERRUPTED = "interrupted_infusion"
    BAG_WASTED = "bag_wasted"
    NO_KIT_SCAN = "no_kit_scan"
    EXCEPTION_CHARTED = "exception_charted"


class CodeBasis(StrEnum):
    ENCOUNTER = "encounter"  # once per encounter with an infusion
    HOUR = "hour"  # once per started hour of the infusion (needs its end)


@dataclass(frozen=True, slots=True)
class AdminCode:
    code: str
    description: str
    per: CodeBasis


@dataclass(frozen=True, slots=True)
class EncounterFacts:
    """What the records say about one dose (or one bag never given)."""

    key: str  # "A<administration id>" or "P<preparation id>"
    slot: str
    dose_mg: int
    kit_strength_mg: int | None  # the accepted drug-vial scan; None: no kit scan
    given: bool  # an administration was charted
    started_at: datetime | None
    ended_at: datetime | None
    exception_reason: str | None = None  # charted without a bag scan
    corrected_mg: Decimal | None = None  # a biller's correction: the mg actually given


@dataclass(frozen=True, slots=True)
class ChargeLine:
    kind: str  # "administered" / "discarded" (drug) or "administration" (site code)
    code: str
    modifiers: tuple[str, ...]
    units: int
    ndc11: str | None
    ndc_quantity: int | None
    billable: bool
    needs_review: bool
    note: str

    @property
    def claim_ndc(self) -> str:
        if self.ndc11 is None:
            return ""
        return f"{NDC_QUALIFIER}{self.ndc11} {NDC_UNIT}{self.ndc_quantity}"


@dataclass(frozen=True, slots=True)
class Encounter:
    key: str
    slot: str
    started_at: datetime | None
    ended_at: datetime | None
    flags: tuple[Flag, ...]
    lines: tuple[ChargeLine, ...]
    rules: tuple[str, ...]

    @property
    def needs_review(self) -> bool:
        return bool(self.flags) or any(line.needs_review for line in self.lines)


def parse_mg(text: str, field: str = "administered_mg") -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidInput(field, f"{text!r} is not a number of mg") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(field, f"{text!r} is not a number of mg of 0 or more")
    return value


def check_range(start: date, end: date) -> None:
    """``start``..``end`` inclusive, at most one year."""
    if end < start:
        raise InvalidInput("to", f"{end.isoformat()} is before from ({start.isoformat()})")
    try:
        limit = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        limit = start.replace(year=start.year + 1, day=28)
    if end >= limit:
        raise InvalidInput("to", f"the range {start.isoformat()}..{end.isoformat()} is over a "
                                 "year; ask for a year or less")


def check_code(code: str, description: str, per: str) -> AdminCode:
    code = code.strip().upper()
    if not _CODE.match(code):
        raise InvalidInput("code", f"{code!r} is not a procedure code (letters and digits, "
                                   "e.g. a CPT or a site code)")
    if not description.strip():
        raise InvalidInput("description", "is required")
    try:
        basis = CodeBasis(per)
    except ValueError:
        raise InvalidInput("per", f"{per!r} is not one of: "
                                  f"{', '.join(b.value for b in CodeBasis)}") from None
    return AdminCode(code, description.strip(), basis)


def _outcome(f: EncounterFacts) -> tuple[Outcome, Decimal]:
    if f.corrected_mg is not None:
        given = f.corrected_mg
        if given == 0:
            return Outcome.NOT_GIVEN, given
        if given == f.dose_mg:
            return Outcome.COMPLETED, given
        if given > f.dose_mg:
            raise InvalidInput("administered_mg", f"{given} mg is more than the {f.dose_mg} mg "
                                                  "dose ordered")
        return Outcome.STOPPED_EARLY, given
    if not f.given:
        return Outcome.NOT_GIVEN, Decimal(0)
    return Outcome.COMPLETED, Decimal(f.dose_mg)


def encounter(f: EncounterFacts, codes: Sequence[AdminCode] = ()) -> Encounter:
    flags: list[Flag] = []
    if f.given and f.ended_at is None:
        flags.append(Flag.INTERRUPTED)
    if not f.given:
        flags.append(Flag.BAG_WASTED)
    if f.kit_strength_mg is None:
        flags.append(Flag.NO_KIT_SCAN)
    if f.exception_reason:
        flags.append(Flag.EXCEPTION_CHARTED)
    strength = f.kit_strength_mg or f.dose_mg
    outcome, given = _outcome(f)
    claim = claim_lines([PackageUse(f.dose_mg, strength, outcome, given, f.key)])
    review = f.corrected_mg is None and bool(flags)
    lines = [ChargeLine(line.kind.value, line.hcpcs, line.modifiers, line.units, line.ndc11,
                        line.ndc_quantity,
                        line.billable or (f.corrected_mg is not None),
                        line.needs_review or review, line.note)
             for line in claim.lines]
    if given > 0 and f.started_at is not None:
        for c in codes:
            if c.per is CodeBasis.ENCOUNTER:
                lines.append(ChargeLine("administration", c.code, (), 1, None, None, True,
                                        False, c.description))
            elif f.ended_at is not None:
                hours = math.ceil((f.ended_at - f.started_at) / _HOUR)
                lines.append(ChargeLine("administration", c.code, (), max(hours, 1), None,
                                        None, True, False,
                                        f"{c.description} ({max(hours, 1)} h started)"))
    return Encounter(f.key, f.slot, f.started_at, f.ended_at, tuple(flags), tuple(lines),
                     tuple(r.rule for r in claim.reasons))


#: The export's columns, in order (docs/billing-export.md describes each one).
EXPORT_COLUMNS: tuple[str, ...] = (
    "encounter_id", "site", "patient_mrn", "service_date", "slot", "line_number", "line_kind",
    "procedure_code", "modifiers", "units", "infusion_start", "infusion_end",
    "lin02_product_id_qualifier", "lin03_ndc11", "ctp04_ndc_quantity", "ctp05_01_unit_code",
    "claim_ndc", "reviewed_by", "review_reason")


def export_rows(e: Encounter, *, site: str, mrn: str, service_date: date,
                reviewed_by: str, reason: str | None) -> list[dict[str, Any]]:
    """One row per line of an accepted encounter (its acceptance is the review the lines
    held for review wait for)."""
    out = []
    for n, line in enumerate(e.lines, start=1):
        out.append({
            "encounter_id": e.key, "site": site, "patient_mrn": mrn,
            "service_date": service_date.isoformat(), "slot": e.slot, "line_number": n,
            "line_kind": line.kind, "procedure_code": line.code,
            "modifiers": ":".join(line.modifiers), "units": line.units,
            "infusion_start": "" if e.started_at is None else e.started_at.isoformat(),
            "infusion_end": "" if e.ended_at is None else e.ended_at.isoformat(),
            "lin02_product_id_qualifier": NDC_QUALIFIER if line.ndc11 else "",
            "lin03_ndc11": line.ndc11 or "",
            "ctp04_ndc_quantity": "" if line.ndc_quantity is None else line.ndc_quantity,
            "ctp05_01_unit_code": NDC_UNIT if line.ndc11 else "",
            "claim_ndc": line.claim_ndc, "reviewed_by": reviewed_by,
            "review_reason": reason or ""})
    return out


def validate_export_row(row: Mapping[str, Any], columns: Sequence[str] = EXPORT_COLUMNS,
                        ) -> list[str]:
    """What is wrong with one export row (empty: valid), read as text (CSV) or JSON."""
    problems = []
    if list(row) != list(columns):
        problems.append(f"columns {list(row)} are not {list(columns)}")
        return problems
    text = {k: "" if v is None else str(v) for k, v in row.items()}
    if not re.fullmatch(r"[AP]\d+", text["encounter_id"]):
        problems.append("encounter_id")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text["service_date"]):
        problems.append("service_date")
    if not text["units"].isdigit() or int(text["units"]) < 1:
        problems.append("units")
    if not text["procedure_code"]:
        problems.append("procedure_code")
    drug = text["line_kind"] in ("administered", "discarded")
    if text["line_kind"] not in ("administered", "discarded", "administration"):
        problems.append("line_kind")
    if drug:
        if text["lin02_product_id_qualifier"] != NDC_QUALIFIER:
            problems.append("lin02_product_id_qualifier")
        if not re.fullmatch(r"\d{11}", text["lin03_ndc11"]):
            problems.append("lin03_ndc11")
        if not text["ctp04_ndc_quantity"].isdigit():
            problems.append("ctp04_ndc_quantity")
        if text["ctp05_01_unit_code"] != NDC_UNIT:
            problems.append("ctp05_01_unit_code")
        if text["modifiers"] not in ("", "JW", "JZ"):
            problems.append("modifiers")
        if text["line_kind"] == "discarded" and text["modifiers"] != "JW":
            problems.append("modifiers")
        expected = (f"{NDC_QUALIFIER}{text['lin03_ndc11']} {NDC_UNIT}"
                    f"{text['ctp04_ndc_quantity']}")
        if text["claim_ndc"] != expected:
            problems.append("claim_ndc")
    elif any(text[k] for k in ("lin02_product_id_qualifier", "lin03_ndc11",
                               "ctp04_ndc_quantity", "ctp05_01_unit_code", "claim_ndc")):
        problems.append("ndc fields on a line without a drug")
    return problems
