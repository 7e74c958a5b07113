"""Barcode scans (GS1) and the GTIN catalog.

Parsing is delegated to ``biip`` (standards.md §5.4); this module only maps its result onto
:class:`tarla.domain.verification.ScannedItem` and turns every failure into a
:class:`~tarla.domain.errors.ParseError` (CLI exit 2). Accepted forms:
- a GS1 element string as a scanner sends it (GS1 DataMatrix ``]d2``, GS1-128 ``]C1``, GS1 QR
  ``]Q3`` or no symbology identifier), variable-length fields ended by GS (ASCII 29);
- the human-readable form ``(01)00355513059015(17)271231(10)A1(21)S1`` (blanks allowed);
- a GS1 Digital Link URI, or a bare GTIN/UPC from a linear barcode (no expiry, no lot).
AI 17 dates follow GS1: day ``00`` is the last day of the month; impossible dates are errors.

The catalog maps GTIN-14 -> package/component. It is seeded with the two kit GTINs computed
from the label NDCs (tag DERIVED: not read from a physical package, standards.md §5.2) and is
open to site-added GTINs (e.g. the inner vials' own barcodes) through :meth:`InMemoryCatalog.add`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

import biip
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from tarla.domain.errors import InvalidInput, ParseError
from tarla.domain.ndc import is_valid_gtin
from tarla.domain.preparation import check_dose
from tarla.domain.verification import CatalogEntry, PackageLevel, ScannedItem, Verdict, verify_scan
from tarla.label.products import PRODUCTS, Component, product_for_strength
from tarla.label.rows import Provenance

__all__ = ["Scan", "parse_scan", "InMemoryCatalog", "label_catalog", "check_scan"]

_CONFIG = biip.ParseConfig(separator_chars=("\x1d",))
_SYMBOLOGIES = ("]d2", "]C1", "]Q3", "]e0")  # GS1 DataMatrix, GS1-128, GS1 QR, GS1 DataBar


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan says, as plain values."""

    raw: str
    symbology: str | None  # e.g. "]d2"; None when the scanner sent no identifier
    gtin: str  # GTIN-14
    expiry: date | None
    lot: str | None
    serial: str | None

    def item(self) -> ScannedItem:
        return ScannedItem(self.gtin, self.expiry, self.lot, self.serial)


def _readable(raw: str) -> str:
    return raw.replace("\x1d", "<GS>")


def _from_elements(raw: str, symbology: str | None,
                   elements: Iterable[GS1ElementString], field: str) -> Scan:
    values: dict[str, GS1ElementString] = {}
    for element in elements:
        ai = element.ai.ai
        if element.gtin_error:
            raise ParseError(field, f"bad GTIN in AI (01): {element.gtin_error}")
        if ai in values and values[ai].value != element.value:
            raise ParseError(field, f"AI ({ai}) appears twice with different values")
        values[ai] = element
    if "01" not in values:
        raise ParseError(field, f"no GTIN (AI 01) in the scan {_readable(raw)!r}")
    gtin = values["01"].value
    if not is_valid_gtin(gtin):  # biip checks this too; never trust a single line of defence
        raise ParseError(field, f"GTIN {gtin} has a wrong check digit")
    expiry = values["17"].date if "17" in values else None
    lot = values["10"].value if "10" in values else None
    serial = values["21"].value if "21" in values else None
    return Scan(raw, symbology, gtin, expiry, lot, serial)


def _parse_hri(raw: str, text: str, field: str) -> Scan:
    compact = re.sub(r"\s+", "", text)
    try:
        message = GS1Message.parse_hri(compact, config=_CONFIG)
    except biip.ParseError as exc:
        raise ParseError(field, f"cannot read {text!r}: {exc}") from None
    if message.as_hri() != compact:  # something was skipped: refuse rather than guess
        raise ParseError(field, f"cannot read all of {text!r} (read {message.as_hri()!r})")
    return _from_elements(raw, None, message.element_strings, field)


def parse_scan(raw: str, field: str = "scan") -> Scan:
    """Parse one scanner output; anything unreadable or incomplete is a :class:`ParseError`."""
    text = raw.strip(" \r\n\t")  # scanners end with Enter; GS (a Python "space") is kept
    if not text or not text.strip():
        raise ParseError(field, "empty scan")
    if text.startswith("("):
        return _parse_hri(raw, text, field)
    try:
        result = biip.parse(text, config=_CONFIG)
    except biip.ParseError as exc:
        raise ParseError(field, f"cannot read {_readable(text)!r}: {exc}") from None
    symbology = result.symbology_identifier.value if result.symbology_identifier else None
    if symbology is not None and symbology not in _SYMBOLOGIES and result.gtin is None:
        raise ParseError(field, f"symbology {symbology} does not carry GS1 data")
    if result.gs1_message is not None and result.gs1_message.element_strings:
        return _from_elements(raw, symbology, result.gs1_message.element_strings, field)
    if result.gs1_digital_link_uri is not None:
        return _from_elements(raw, symbology, result.gs1_digital_link_uri.element_strings, field)
    if result.gtin is not None:
        return Scan(raw, symbology, result.gtin.as_gtin_14(), None, None, None)
    payload = text[len(symbology):] if symbology else text
    error = (result.gtin_error if payload.isdigit() and len(payload) in (8, 12, 13, 14)
             else result.gs1_message_error or result.gtin_error or "not a GS1 barcode")
    raise ParseError(field, f"cannot read {_readable(text)!r}: {error}")


class InMemoryCatalog:
    """GTIN -> :class:`CatalogEntry`. Satisfies :class:`tarla.domain.verification.Catalog`."""

    def __init__(self, entries: Iterable[CatalogEntry] = ()) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        for entry in entries:
            self._put(entry, "gtin")

    def _put(self, entry: CatalogEntry, field: str) -> CatalogEntry:
        known = self._entries.get(entry.gtin)
        if known is not None and known != entry:
            raise InvalidInput(field, f"GTIN {entry.gtin} is already in the catalog as "
                                      f"{known.text}")
        self._entries[entry.gtin] = entry
        return entry

    def add(self, gtin: str, strength_mg: int, components: Iterable[Component | str], *,
            level: PackageLevel | str = PackageLevel.VIAL,
            tag: Provenance = Provenance.UNVERIFIED, source: str = "site",
            field: str = "gtin") -> CatalogEntry:
        """Add a GTIN (e.g. an inner vial's) for the package of ``strength_mg``."""
        value = gtin.strip()
        if value.isdigit() and len(value) in (8, 12, 13):
            value = value.zfill(14)
        if not (len(value) == 14 and is_valid_gtin(value)):
            raise InvalidInput(field, f"{gtin!r} is not a valid GTIN (check digit or length)")
        product = product_for_strength(check_dose(strength_mg, "strength_mg"))
        try:
            parts = frozenset(Component(c) for c in components)
        except ValueError:
            raise InvalidInput("components", f"{list(components)!r}: components are 'drug' "
                                             "and/or 'ivss'") from None
        if not parts:
            raise InvalidInput("components", "name at least one component (drug or ivss)")
        entry = CatalogEntry(value, product, parts, PackageLevel(level), tag, source)
        return self._put(entry, field)

    def lookup(self, gtin: str) -> CatalogEntry | None:
        return self._entries.get(gtin.zfill(14) if gtin.isdigit() else gtin)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


def label_catalog() -> InMemoryCatalog:
    """The kit GTINs of the label (DERIVED), one per strength; each kit holds drug + IVSS."""
    catalog = InMemoryCatalog()
    for product in PRODUCTS:
        catalog.add(product.gtin, product.strength_mg, (Component.DRUG, Component.IVSS),
                    level=PackageLevel.KIT, tag=Provenance.DERIVED, source="label")
    return catalog


def check_scan(raw: str, catalog: InMemoryCatalog, *, dose_mg: int, expect: Component,
               at: datetime, zone: tzinfo, recalled_lots: Collection[str] = (),
               field: str = "scan") -> tuple[Scan, Verdict]:
    """Parse ``raw`` and verify it for the order: the one use case behind ``tarla scan``."""
    scan = parse_scan(raw, field)
    verdict = verify_scan(scan.item(), catalog.lookup(scan.gtin), dose_mg=dose_mg, expect=expect,
                          at=at, zone=zone, recalled_lots=recalled_lots)
    return scan, verdict
