"""Claim lines for what happened to each IMDELLTRA package in one encounter.

Rules (standards.md §4, label-facts §2):
- HCPCS J9026, 1 billing unit = 1 mg, both vial sizes; report the units administered.
- JW/JZ (single-dose containers): no discard -> one line with JZ; discard -> the administered
  line without modifier plus a separate JW line with the discarded units. Administered mg are
  rounded **up** to whole units, discarded mg **down**; JW only for at least 1 whole unit.
  Discard = labelled vial amount - administered (overfill is never billable).
- NDC on every line: qualifier ``N4`` + the 11-digit (5-4-2) NDC + unit ``UN`` + quantity 1
  per package used, e.g. ``N455513007701 UN1``.

Reading of the open question (standards.md §4.2 "interrupted/aborted infusions"; our choice,
to be confirmed with the payer):
- a dose prepared but **not given** is reported as a JW line for the whole vial, marked
  ``billable: false`` and ``needs_review: true`` (no administered line exists);
- an infusion **stopped early** with drug left: the administered line (units rounded up) is
  billable; the JW line for the whole units left is marked ``billable: false`` and
  ``needs_review: true``. If less than one whole unit is left, the administered line carries
  JZ (no JW line can be reported) and is marked ``needs_review: true``;
- when a split package appears on two lines, each line carries the NDC with ``UN1``; the NDC
  quantity convention for a kit is itself an open question (standards.md open question 4).
One set of lines per package; lines are not merged across packages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tarla.domain.errors import InvalidInput
from tarla.domain.ndc import to_ndc11
from tarla.domain.preparation import check_dose
from tarla.label.products import HCPCS, product_for_strength
from tarla.label.rows import Citation, cite

__all__ = ["Outcome", "PackageUse", "LineKind", "ClaimLine", "Claim", "claim_lines",
           "NDC_QUALIFIER", "NDC_UNIT", "WASTE_READING"]

NDC_QUALIFIER = "N4"
NDC_UNIT = "UN"

#: Shown with every claim that has a partial or unused package (see the module docstring).
WASTE_READING = (
    "Project reading of an open CMS question (standards.md §4.2): a prepared dose that was not "
    "given, or the drug left after an infusion stopped early, is reported as JW waste and held "
    "as not billable until a biller reviews it")


class Outcome(StrEnum):
    COMPLETED = "completed"  # the whole dose was infused
    STOPPED_EARLY = "stopped_early"  # infusion stopped with drug left in the bag
    NOT_GIVEN = "not_given"  # prepared (vial opened) but nothing infused


class LineKind(StrEnum):
    ADMINISTERED = "administered"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class PackageUse:
    """What happened to one package (one single-dose drug vial)."""

    dose_mg: int  # ordered dose
    vial_strength_mg: int
    outcome: Outcome
    administered_mg: Decimal
    ref: str | None = None  # preparation / bag id, echoed on the lines


@dataclass(frozen=True, slots=True)
class ClaimLine:
    kind: LineKind
    hcpcs: str
    modifiers: tuple[str, ...]
    units: int
    ndc11: str
    ndc_quantity: int
    billable: bool
    needs_review: bool
    ref: str | None
    note: str

    @property
    def ndc_qualifier(self) -> str:
        return NDC_QUALIFIER

    @property
    def ndc_unit(self) -> str:
        return NDC_UNIT

    @property
    def claim_ndc(self) -> str:
        """The NUCC shaded-area text, e.g. ``N455513007701 UN1``."""
        return f"{NDC_QUALIFIER}{self.ndc11} {NDC_UNIT}{self.ndc_quantity}"


@dataclass(frozen=True, slots=True)
class Claim:
    lines: tuple[ClaimLine, ...]
    reasons: tuple[Citation, ...]

    @property
    def needs_review(self) -> bool:
        return any(line.needs_review for line in self.lines)

    @property
    def billed_units(self) -> int:
        return sum(line.units for line in self.lines
                   if line.kind is LineKind.ADMINISTERED and line.billable)

    @property
    def unverified(self) -> bool:
        return any(c.unverified for c in self.reasons)


def _check(use: PackageUse, index: int) -> None:
    where = f"preparations[{index}]"
    check_dose(use.dose_mg, f"{where}.dose_mg")
    check_dose(use.vial_strength_mg, f"{where}.vial_strength_mg")
    if use.dose_mg > use.vial_strength_mg:
        raise InvalidInput(f"{where}.vial_strength_mg", f"a {use.vial_strength_mg} mg vial cannot "
                                                        f"give a {use.dose_mg} mg dose")
    given = use.administered_mg
    if not given.is_finite() or given < 0 or given > use.vial_strength_mg:
        raise InvalidInput(f"{where}.administered_mg", f"{given} mg is not between 0 and the "
                                                       f"{use.vial_strength_mg} mg in the vial")
    if use.outcome is Outcome.COMPLETED and given != use.dose_mg:
        raise InvalidInput(f"{where}.administered_mg", f"a completed infusion gives the whole "
                           f"{use.dose_mg} mg dose, not {given} mg (use outcome 'stopped_early')")
    if use.outcome is Outcome.NOT_GIVEN and given != 0:
        raise InvalidInput(f"{where}.administered_mg", f"{given} mg given, but the outcome is "
                                                       "'not_given'")
    if use.outcome is Outcome.STOPPED_EARLY and given >= use.dose_mg:
        raise InvalidInput(f"{where}.administered_mg", f"{given} mg is the whole dose: the "
                                                       "outcome is 'completed'")


def _lines(use: PackageUse) -> list[ClaimLine]:
    product = product_for_strength(use.vial_strength_mg)
    ndc11 = to_ndc11(product.ndc10)
    per_unit = Decimal(HCPCS.mg_per_unit)
    given_units = math.ceil(use.administered_mg / per_unit)
    waste_units = math.floor((Decimal(use.vial_strength_mg) - use.administered_mg) / per_unit)
    mismatch = use.vial_strength_mg != use.dose_mg
    partial = use.outcome is not Outcome.COMPLETED

    def line(kind: LineKind, modifiers: tuple[str, ...], units: int, billable: bool,
             review: bool, note: str) -> ClaimLine:
        return ClaimLine(kind, HCPCS.code, modifiers, units, ndc11, 1, billable, review,
                         use.ref, note)

    out: list[ClaimLine] = []
    if given_units > 0:
        modifiers = ("JZ",) if waste_units == 0 else ()
        note = f"{use.administered_mg} mg administered from the {use.vial_strength_mg} mg vial"
        if waste_units == 0 and partial:
            note += "; less than 1 mg left, so no JW line can be reported: review"
        out.append(line(LineKind.ADMINISTERED, modifiers, given_units, True,
                        mismatch or (partial and waste_units == 0), note))
    if waste_units > 0:
        left = Decimal(use.vial_strength_mg) - use.administered_mg
        if use.outcome is Outcome.NOT_GIVEN:
            note = (f"prepared {use.dose_mg} mg dose not given: the {left} mg in the "
                    "single-dose vial is reported as waste, not billed until reviewed")
        elif partial:
            note = (f"{left} mg left when the infusion stopped early: reported as waste, not "
                    "billed until reviewed")
        else:
            note = f"{left} mg of the {use.vial_strength_mg} mg vial discarded"
        out.append(line(LineKind.DISCARDED, ("JW",), waste_units, not partial,
                        partial or mismatch, note))
    return out


def claim_lines(uses: Sequence[PackageUse]) -> Claim:
    """J9026 lines with JW/JZ and the N4 NDC for every package used in one encounter."""
    if not uses:
        raise InvalidInput("preparations", "no package used: nothing to bill")
    lines: list[ClaimLine] = []
    for index, use in enumerate(uses):
        _check(use, index)
        lines.extend(_lines(use))
    product_rows = {product_for_strength(u.vial_strength_mg) for u in uses}
    reasons = (cite(HCPCS), *(cite(p) for p in sorted(product_rows, key=lambda p: p.strength_mg)))
    return Claim(tuple(lines), reasons)
