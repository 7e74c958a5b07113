"""Units a lab value may arrive in, and the exact factor that converts each one.

Two conversions per unit: ``to_graded`` into the unit whose column of CTCAE v5.0 is applied
(counts are graded in 10^9/L; haemoglobin in the column of its own unit, because CTCAE writes
separate g/dL, g/L and mmol/L thresholds that are rounded and not exact conversions of each
other), and ``to_si`` into the canonical unit reported as ``value_si``. Anything not listed
here is refused; nothing is guessed from a spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tarla.domain.errors import InvalidInput
from tarla.domain.grading.common import decimal_of, non_negative

__all__ = ["Quantity", "UnitRow", "UNITS", "XULN", "E9_PER_L", "unit_row", "accepted_units",
           "to_e9_per_l"]

MICRO = "µ"  # U+00B5 MICRO SIGN; U+03BC GREEK SMALL LETTER MU is accepted as the same unit
_MU = "μ"
XULN = "xULN"  # the value is already a multiple of the upper limit of normal
E9_PER_L = "10^9/L"


class Quantity(StrEnum):
    CELL_COUNT = "cell count"
    HEMOGLOBIN = "hemoglobin"
    SODIUM = "sodium"
    ENZYME = "enzyme activity"
    BILIRUBIN = "bilirubin"


@dataclass(frozen=True, slots=True)
class UnitRow:
    quantity: Quantity
    unit: str
    graded_in: str
    to_graded: Decimal
    si_unit: str
    to_si: Decimal
    source: str


_CELLS = ("CTCAE v5.0 Investigations: 1 cell/mm3 = 1 cell/µL; 1,500/mm3 = 1.5 x 10^9/L "
          "(standards.md §3.2 unit equivalence)")
_HB_MOL = ("haemoglobin (Fe monomer) molar mass 16,114.5 g/mol: 1 mmol/L = 1.61145 g/dL "
           "(CTCAE pairs 10.0 g/dL with 6.2 mmol/L)")
_BILI = "bilirubin molar mass 584.66 g/mol: 1 mg/dL = 17.104 µmol/L"
_SAME = "same quantity, different spelling"


def _count(unit: str, per_e9: str) -> UnitRow:
    factor = Decimal(per_e9)
    return UnitRow(Quantity.CELL_COUNT, unit, E9_PER_L, factor, E9_PER_L, factor, _CELLS)


UNITS: tuple[UnitRow, ...] = (
    _count("10*9/L", "1"),
    _count("10^9/L", "1"),
    _count("10*3/uL", "1"),
    _count("10^3/uL", "1"),
    _count(f"10*3/{MICRO}L", "1"),
    _count(f"10^3/{MICRO}L", "1"),
    _count("/uL", "0.001"),
    _count(f"/{MICRO}L", "0.001"),
    _count("/mm3", "0.001"),
    _count("cells/uL", "0.001"),
    _count(f"cells/{MICRO}L", "0.001"),
    UnitRow(Quantity.HEMOGLOBIN, "g/dL", "g/dL", Decimal(1), "g/dL", Decimal(1), _SAME),
    UnitRow(Quantity.HEMOGLOBIN, "g/L", "g/L", Decimal(1), "g/dL", Decimal("0.1"),
            "10 g/L = 1 g/dL"),
    UnitRow(Quantity.HEMOGLOBIN, "mmol/L", "mmol/L", Decimal(1), "g/dL", Decimal("1.61145"),
            _HB_MOL),
    UnitRow(Quantity.SODIUM, "mmol/L", "mmol/L", Decimal(1), "mmol/L", Decimal(1), _SAME),
    UnitRow(Quantity.SODIUM, "mEq/L", "mmol/L", Decimal(1), "mmol/L", Decimal(1),
            "sodium is monovalent: 1 mEq/L = 1 mmol/L"),
    UnitRow(Quantity.ENZYME, "U/L", "U/L", Decimal(1), "U/L", Decimal(1), _SAME),
    UnitRow(Quantity.ENZYME, "IU/L", "U/L", Decimal(1), "U/L", Decimal(1),
            "IU/L and U/L are the same enzyme unit"),
    UnitRow(Quantity.ENZYME, XULN, XULN, Decimal(1), XULN, Decimal(1), "multiple of ULN"),
    UnitRow(Quantity.BILIRUBIN, "mg/dL", "mg/dL", Decimal(1), f"{MICRO}mol/L",
            Decimal("17.104"), _BILI),
    UnitRow(Quantity.BILIRUBIN, "umol/L", f"{MICRO}mol/L", Decimal(1), f"{MICRO}mol/L",
            Decimal(1), _SAME),
    UnitRow(Quantity.BILIRUBIN, f"{MICRO}mol/L", f"{MICRO}mol/L", Decimal(1), f"{MICRO}mol/L",
            Decimal(1), _SAME),
    UnitRow(Quantity.BILIRUBIN, XULN, XULN, Decimal(1), XULN, Decimal(1), "multiple of ULN"),
)


def accepted_units(quantity: Quantity) -> tuple[str, ...]:
    return tuple(row.unit for row in UNITS if row.quantity is quantity)


def unit_row(quantity: Quantity, unit: object, field: str = "unit") -> UnitRow:
    """The row for ``unit``, or ``InvalidInput`` naming ``field`` and listing accepted units."""
    if isinstance(unit, str) and unit.strip():
        spelled = unit.replace(_MU, MICRO)
        for row in UNITS:
            if row.quantity is quantity and row.unit == spelled:
                return row
    accepted = ", ".join(accepted_units(quantity))
    if not isinstance(unit, str) or not unit.strip():
        raise InvalidInput(field, f"is required for {quantity.value} (accepted: {accepted})")
    raise InvalidInput(field, f"{unit!r} is not a unit for {quantity.value} "
                              f"(accepted: {accepted})")


def to_e9_per_l(value: float, unit: str, field: str = "unit") -> float:
    """A cell count in 10^9/L: ``to_e9_per_l(400, "/uL") == 0.4``."""
    row = unit_row(Quantity.CELL_COUNT, unit, field)
    return float(decimal_of(non_negative(value, "value")) * row.to_graded)
