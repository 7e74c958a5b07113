"""Is this scanned component the right one for the ordered dose? (``tarla scan``)

The scan arrives as plain values (GTIN, expiry date, lot, serial) already parsed by the
barcode adapter; the catalog lookup is a port (:class:`Catalog`) so that the label GTINs, the
site's inner-vial GTINs and later a database can all answer it.

Refusals (each names what was wrong; all that apply are reported):
- ``UNKNOWN_GTIN``: not in the catalog;
- ``WRONG_STRENGTH``: the package strength differs from the ordered dose (label-facts §4: the
  two strengths give different concentrations at every step);
- ``WRONG_COMPONENT``: an IVSS vial where the drug vial is expected, or the reverse;
- ``EXPIRED``: the site's local date at ``at`` is after the expiry date (the expiry date itself
  is still usable); ``EXPIRY_NOT_SCANNED`` when the barcode carries no date (a linear barcode);
- ``RECALLED_LOT``: the lot is on the recall list (compared without regard to case or
  surrounding blanks); ``LOT_NOT_SCANNED`` when a recall list is given and the barcode has no lot.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from tarla.domain.clock import require_aware
from tarla.domain.preparation import check_dose
from tarla.label import preparation as prep
from tarla.label.products import Component, Product
from tarla.label.rows import Citation, Provenance, cite

__all__ = ["PackageLevel", "CatalogEntry", "Catalog", "ScannedItem", "RefusalCode", "Refusal",
           "Verdict", "verify_scan"]


class PackageLevel(StrEnum):
    KIT = "kit"  # the carton: 1 drug vial + 2 IVSS vials
    VIAL = "vial"  # an inner vial with its own barcode (site-added)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    gtin: str  # GTIN-14
    product: Product  # the package the item belongs to (gives the strength)
    components: frozenset[Component]  # what the scanned item holds
    level: PackageLevel
    tag: Provenance  # DERIVED for GTINs computed from the NDC; UNVERIFIED for site additions
    source: str  # "label" or "site" (who put it in the catalog)

    @property
    def derived(self) -> bool:
        return self.tag is Provenance.DERIVED

    @property
    def rule_id(self) -> str:
        return f"GTIN-{self.gtin}"

    @property
    def text(self) -> str:
        what = " + ".join(sorted(c.value for c in self.components))
        origin = ("computed from the NDC (indicator 0), not read from a physical package"
                  if self.derived else f"added by the {self.source}")
        return (f"GTIN {self.gtin}: {self.level.value} of the {self.product.strength_mg} mg "
                f"package ({what}); {origin}")


class Catalog(Protocol):
    def lookup(self, gtin: str) -> CatalogEntry | None: ...


@dataclass(frozen=True, slots=True)
class ScannedItem:
    gtin: str
    expiry: date | None
    lot: str | None
    serial: str | None


class RefusalCode(StrEnum):
    UNKNOWN_GTIN = "UNKNOWN_GTIN"
    WRONG_STRENGTH = "WRONG_STRENGTH"
    WRONG_COMPONENT = "WRONG_COMPONENT"
    EXPIRED = "EXPIRED"
    EXPIRY_NOT_SCANNED = "EXPIRY_NOT_SCANNED"
    RECALLED_LOT = "RECALLED_LOT"
    LOT_NOT_SCANNED = "LOT_NOT_SCANNED"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: RefusalCode
    text: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class Verdict:
    item: ScannedItem
    entry: CatalogEntry | None
    dose_mg: int
    expect: Component
    local_date: date
    refusals: tuple[Refusal, ...]
    reasons: tuple[Citation, ...]

    @property
    def accepted(self) -> bool:
        return not self.refusals

    @property
    def unverified(self) -> bool:
        return any(c.unverified for c in self.reasons)


_NAMES = MappingProxyType({Component.DRUG: "the drug vial", Component.IVSS: "an IVSS vial"})


def _norm_lot(lot: str) -> str:
    return lot.strip().casefold()


def verify_scan(item: ScannedItem, entry: CatalogEntry | None, *, dose_mg: int,
                expect: Component, at: datetime, zone: tzinfo,
                recalled_lots: Collection[str] = ()) -> Verdict:
    """Accept or refuse ``item`` (looked up as ``entry``) for a ``dose_mg`` order at ``at``."""
    dose = check_dose(dose_mg)
    local_date = require_aware(at, "at").astimezone(zone).date()
    refusals: list[Refusal] = []

    def refuse(code: RefusalCode, text: str, row: prep.Rule) -> None:
        refusals.append(Refusal(code, text, cite(row, text)))

    if entry is None:
        refuse(RefusalCode.UNKNOWN_GTIN, f"GTIN {item.gtin} is not in the catalog: not a known "
               "IMDELLTRA package or vial", prep.SCAN_UNKNOWN_GTIN)
    else:
        strength = entry.product.strength_mg
        if strength != dose:
            refuse(RefusalCode.WRONG_STRENGTH, f"this is the {strength} mg package "
                   f"(NDC {entry.product.ndc10}); the order is {dose} mg", prep.SCAN_STRENGTH)
        if expect not in entry.components:
            held = " and ".join(_NAMES[c] for c in sorted(entry.components))
            carton = " (carton)" if entry.level is PackageLevel.KIT else ""
            refuse(RefusalCode.WRONG_COMPONENT, f"this is {held}{carton}; {_NAMES[expect]} is "
                   "expected here", prep.SCAN_COMPONENT)
    if item.expiry is None:
        refuse(RefusalCode.EXPIRY_NOT_SCANNED, "the barcode carries no expiry date: scan the "
               "2D (GS1 DataMatrix) barcode", prep.SCAN_EXPIRY)
    elif local_date > item.expiry:
        refuse(RefusalCode.EXPIRED, f"expired on {item.expiry.isoformat()} (today is "
               f"{local_date.isoformat()})", prep.SCAN_EXPIRY)
    recalled = {_norm_lot(lot) for lot in recalled_lots if lot.strip()}
    if recalled:
        if item.lot is None:
            refuse(RefusalCode.LOT_NOT_SCANNED, "a recall list is in force but the barcode "
                   "carries no lot: scan the 2D barcode", prep.SCAN_RECALL)
        elif _norm_lot(item.lot) in recalled:
            refuse(RefusalCode.RECALLED_LOT, f"lot {item.lot} is recalled", prep.SCAN_RECALL)
    reasons: list[Citation] = [r.citation for r in refusals]
    if entry is not None:
        reasons[:0] = [cite(entry.product), cite(entry)]
    return Verdict(item, entry, dose, expect, local_date, tuple(refusals), tuple(reasons))
