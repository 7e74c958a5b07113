"""National Drug Codes and the GTIN-14 that carries them.

Rules from standards.md:
- §4.3 10 -> 11 digits (HIPAA 5-4-2): pad the short segment with a leading zero; 4-4-2 gets it
  in position 1, 5-3-2 in position 6 (product), 5-4-1 in position 10 (package).
- §4.3 the coming 12-digit 6-4-2 form adds leading zeros per segment (effective 2033).
- §5.2 GTIN-14 = indicator digit + "03" + the 10 NDC digits + GS1 mod-10 check digit. The
  reverse gives the 10 digits only: where the hyphens go cannot be recovered from the digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tarla.domain.errors import InvalidInput

__all__ = ["Ndc", "parse_ndc", "to_ndc11", "gs1_check_digit", "is_valid_gtin",
           "gtin_from_ndc", "ndc_digits_from_gtin", "NDC_GTIN_PREFIX"]

#: GS1 US prefix reserved for NDC-based identifiers (standards.md §5.2).
NDC_GTIN_PREFIX = "03"

_HYPHENATED = re.compile(r"^(\d{4,6})-(\d{3,4})-(\d{1,2})$")
_LAYOUTS_10 = frozenset({(4, 4, 2), (5, 3, 2), (5, 4, 1)})


@dataclass(frozen=True, slots=True)
class Ndc:
    """An NDC as its three segments (labeler, product, package), as labelled."""

    labeler: str
    product: str
    package: str

    @property
    def layout(self) -> str:
        return f"{len(self.labeler)}-{len(self.product)}-{len(self.package)}"

    @property
    def hyphenated(self) -> str:
        return f"{self.labeler}-{self.product}-{self.package}"

    @property
    def digits(self) -> str:
        return self.labeler + self.product + self.package

    @property
    def hyphenated11(self) -> str:
        """5-4-2 with hyphens, e.g. ``55513-0059-01``."""
        labeler = self.labeler[-5:] if len(self.labeler) == 6 else self.labeler.zfill(5)
        return f"{labeler}-{self.product.zfill(4)}-{self.package.zfill(2)}"

    @property
    def ndc11(self) -> str:
        """The 11-digit billing form without hyphens, e.g. ``55513005901``."""
        return self.hyphenated11.replace("-", "")

    @property
    def ndc10_digits(self) -> str:
        """The 10 digits a GTIN carries (only for a 10-digit NDC)."""
        if len(self.digits) != 10:
            raise ValueError(f"{self.hyphenated} is not a 10-digit NDC")
        return self.digits

    @property
    def hyphenated12(self) -> str:
        """The 6-4-2 form of the FDA 2026 final rule, e.g. ``055513-0059-01``."""
        return f"{self.labeler.zfill(6)}-{self.product.zfill(4)}-{self.package.zfill(2)}"


def parse_ndc(text: str, field: str = "ndc") -> Ndc:
    """Read an NDC: hyphenated 4-4-2, 5-3-2, 5-4-1 (10 digits), 5-4-2 (11) or 6-4-2 (12), or
    11 plain digits (read as 5-4-2). Ten plain digits are refused: the layout is ambiguous."""
    value = text.strip()
    match = _HYPHENATED.match(value)
    if match:
        labeler, product, package = match.groups()
        lengths = (len(labeler), len(product), len(package))
        if lengths in _LAYOUTS_10 or lengths in {(5, 4, 2), (6, 4, 2)}:
            if lengths == (6, 4, 2) and not labeler.startswith("0"):
                raise InvalidInput(field, f"{text!r}: a 6-digit labeler code without a leading "
                                          "zero has no 11-digit form")
            return Ndc(labeler, product, package)
        raise InvalidInput(field, f"{text!r} is not an NDC layout (4-4-2, 5-3-2, 5-4-1, 5-4-2 "
                                  "or 6-4-2)")
    if re.fullmatch(r"\d{11}", value):
        return Ndc(value[:5], value[5:9], value[9:])
    if re.fullmatch(r"\d{10}", value):
        raise InvalidInput(field, f"{text!r}: 10 digits without hyphens are ambiguous (4-4-2, "
                                  "5-3-2 or 5-4-1); give the NDC with its hyphens")
    raise InvalidInput(field, f"{text!r} is not an NDC")


def to_ndc11(text: str, field: str = "ndc") -> str:
    """``55513-059-01`` -> ``55513005901``."""
    return parse_ndc(text, field).ndc11


def gs1_check_digit(data: str) -> int:
    """GS1 mod-10: weights 3, 1, 3, ... from the rightmost data digit."""
    if not data.isdigit():
        raise ValueError(f"{data!r} is not all digits")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(data)))
    return (10 - total % 10) % 10


def is_valid_gtin(gtin: str) -> bool:
    return (gtin.isdigit() and len(gtin) in (8, 12, 13, 14)
            and gs1_check_digit(gtin[:-1]) == int(gtin[-1]))


def gtin_from_ndc(ndc: Ndc | str, indicator: int = 0) -> str:
    """GTIN-14 of a 10-digit NDC: ``55513-059-01`` -> ``00355513059015``."""
    parsed = parse_ndc(ndc) if isinstance(ndc, str) else ndc
    if not 0 <= indicator <= 8:
        raise ValueError(f"indicator digit {indicator} is not 0-8")
    data = f"{indicator}{NDC_GTIN_PREFIX}{parsed.ndc10_digits}"
    return data + str(gs1_check_digit(data))


def ndc_digits_from_gtin(gtin: str, field: str = "gtin") -> str:
    """The 10 NDC digits inside an NDC-based GTIN-14 (hyphen positions are not recoverable)."""
    value = gtin.zfill(14) if gtin.isdigit() and len(gtin) in (12, 13) else gtin
    if not is_valid_gtin(value) or len(value) != 14:
        raise InvalidInput(field, f"{gtin!r} is not a valid GTIN-14")
    if value[1:3] != NDC_GTIN_PREFIX:
        raise InvalidInput(field, f"{gtin!r} does not carry an NDC (GS1 US prefix 03)")
    return value[3:13]
