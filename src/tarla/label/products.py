"""IMDELLTRA packages, codes and storage of intact vials.

Source: label-facts.md §2 (version US-PI-2025-11), itself from the seed document
(the manufacturer's HCP preparation page) and standards.md §4–§5 for the derived codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tarla.label.rows import Provenance

__all__ = ["Component", "Product", "PRODUCTS", "IntactStorage", "INTACT_STORAGE", "BillingCode",
           "HCPCS", "product_for_strength", "DOSES_MG"]


class Component(StrEnum):
    """What a scanned item is: the drug vial or the IV Solution Stabilizer vial."""

    DRUG = "drug"
    IVSS = "ivss"


@dataclass(frozen=True, slots=True)
class Product:
    rule_id: str
    tag: Provenance
    text: str
    strength_mg: int
    ndc10: str  # as labelled, 5-3-2
    ndc11: str  # 5-4-2 billing form, no hyphens (DERIVED)
    gtin: str  # GTIN-14, indicator 0 (DERIVED)
    ivss_vials: int
    ivss_vial_ml: int


PRODUCTS: tuple[Product, ...] = (
    Product("P-1MG", Provenance.SEED,
            "IMDELLTRA 1 mg package: 1 single-dose vial of 1 mg + 2 vials of 7 mL IVSS "
            "(NDC 55513-059-01; billing NDC-11 55513005901 and GTIN 00355513059015 are DERIVED)",
            strength_mg=1, ndc10="55513-059-01", ndc11="55513005901",
            gtin="00355513059015", ivss_vials=2, ivss_vial_ml=7),
    Product("P-10MG", Provenance.SEED,
            "IMDELLTRA 10 mg package: 1 single-dose vial of 10 mg + 2 vials of 7 mL IVSS "
            "(NDC 55513-077-01; billing NDC-11 55513007701 and GTIN 00355513077019 are DERIVED)",
            strength_mg=10, ndc10="55513-077-01", ndc11="55513007701",
            gtin="00355513077019", ivss_vials=2, ivss_vial_ml=7),
)

#: The only doses that exist (no dose reductions: label-facts §3).
DOSES_MG: tuple[int, ...] = tuple(p.strength_mg for p in PRODUCTS)


def product_for_strength(strength_mg: int) -> Product:
    for product in PRODUCTS:
        if product.strength_mg == strength_mg:
            return product
    raise KeyError(strength_mg)


@dataclass(frozen=True, slots=True)
class IntactStorage:
    rule_id: str
    tag: Provenance
    text: str
    refrigerated_min_c: int
    refrigerated_max_c: int
    room_min_c: int
    room_max_c: int
    room_max_hours: int
    freezing_allowed: bool


INTACT_STORAGE = IntactStorage(
    "S-INTACT", Provenance.SEED,
    "Intact drug and IVSS vials: refrigerate 2-8 °C in the original carton, protect from light, "
    "do not freeze; may be kept at 20-25 °C for up to 24 hours in the carton",
    refrigerated_min_c=2, refrigerated_max_c=8, room_min_c=20, room_max_c=25,
    room_max_hours=24, freezing_allowed=False,
)


@dataclass(frozen=True, slots=True)
class BillingCode:
    rule_id: str
    tag: Provenance
    text: str
    code: str
    mg_per_unit: int


HCPCS = BillingCode("B-J9026", Provenance.SEED,
                    "HCPCS J9026 'Injection, tarlatamab-dlle, 1 mg': one billing unit per 1 mg, "
                    "for both vial sizes; report the units administered",
                    code="J9026", mg_per_unit=1)
