"""What every grader shares: the grading systems, the ``Driver`` that explains a grade, and the
input checks that turn bad numbers into :class:`~tarla.domain.errors.InvalidInput`.

Numbers are compared as the decimals they were written as (``Decimal(repr(x))``), so a value
sitting exactly on a boundary of the standard (ANC 1.0; bilirubin 3.6 with ULN 1.2) lands on
the side the standard puts it, not on the side binary floating point happens to round to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tarla.domain.errors import InvalidInput

__all__ = ["GradingSystem", "Driver", "decimal_of", "finite", "non_negative", "positive",
           "fmt", "flag", "TEMPERATURE_RANGE_C", "check_temperature"]

#: Plausible body temperatures. Outside this range a reading is refused as a typo or a
#: Fahrenheit value, never graded (an input check, not part of any grading standard).
TEMPERATURE_RANGE_C = (25.0, 45.0)


class GradingSystem(StrEnum):
    """The standard (and version) a grade was assigned under; stored with every grade."""

    ASTCT_2019 = "ASTCT-2019"  # Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638
    CTCAE_5_0 = "CTCAE-5.0"  # NCI CTCAE v5.0, published 27 Nov 2017


@dataclass(frozen=True, slots=True)
class Driver:
    """One finding that was graded: which criterion, what was seen, the grade it alone sets, and
    the row of the standard that says so. A result's grade is the highest of its drivers."""

    criterion: str
    detail: str
    grade: int
    source: str

    def as_dict(self) -> dict[str, str | int]:
        return {"criterion": self.criterion, "detail": self.detail, "grade": self.grade,
                "source": self.source}


def finite(value: float, field: str) -> float:
    """``value`` as a float, or ``InvalidInput`` if it is not a real, finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(field, f"{value!r} is not a number")
    if not math.isfinite(value):
        raise InvalidInput(field, f"{value} is not a finite number")
    return float(value)


def non_negative(value: float, field: str) -> float:
    number = finite(value, field)
    if number < 0:
        raise InvalidInput(field, f"{fmt(number)} is negative")
    return number


def positive(value: float, field: str) -> float:
    number = finite(value, field)
    if number <= 0:
        raise InvalidInput(field, f"{fmt(number)} must be greater than 0")
    return number


def check_temperature(value: float, field: str = "temperature_c") -> float:
    number = finite(value, field)
    low, high = TEMPERATURE_RANGE_C
    if not low <= number <= high:
        raise InvalidInput(field, f"{fmt(number)} °C is outside {fmt(low)}-{fmt(high)} °C "
                                  "(is it in Fahrenheit?)")
    return number


def flag(value: object, field: str) -> bool:
    """A yes/no input; anything but ``True``/``False`` is refused rather than guessed."""
    if not isinstance(value, bool):
        raise InvalidInput(field, f"{value!r} is not true or false")
    return value


def decimal_of(value: float) -> Decimal:
    """The decimal a (finite) float was written as: ``0.1`` -> ``Decimal('0.1')``."""
    return Decimal(repr(float(value)))


def fmt(value: float | Decimal) -> str:
    """Short human form of a number: ``3.0`` -> ``3``, ``0.40`` -> ``0.4``."""
    number = Decimal(repr(value)) if isinstance(value, float) else value
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text
