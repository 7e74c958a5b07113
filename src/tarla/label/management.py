"""Management text shown to staff: the seed of each site's order set (issue 11).

Source: label-facts.md §6a (version US-PI-2025-11), the manufacturer's "dose modifications and
management strategies" page, tag ``HCP``: authoritative as guidance text shown to staff, not a
dosing rule. Only CRS grade 1 and grade 2 are seeded; for CRS grades 3-4, ICANS and other
reactions the page's text was not seen, so the system ships none and the site writes its own
(with sign-off and audit).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ManagementRow", "SEED_ORDER_SETS", "HCP"]

HCP = "HCP"  # label-facts.md tag: the manufacturer's HCP website (guidance text)


@dataclass(frozen=True, slots=True)
class ManagementRow:
    rule_id: str
    event: str  # crs | icans
    min_grade: int
    max_grade: int
    text: str
    tag: str = HCP


SEED_ORDER_SETS: tuple[ManagementRow, ...] = (
    ManagementRow(
        "MGMT-CRS-G1", "crs", 1, 1,
        "CRS grade 1 (symptoms need symptomatic treatment only, e.g. fever ≥ 100.4 °F without "
        "hypotension or hypoxia): symptomatic treatment (e.g. acetaminophen) for fever; "
        "consider dexamethasone 4 to 10 mg PO or IV (or equivalent)."),
    ManagementRow(
        "MGMT-CRS-G2", "crs", 2, 2,
        "CRS grade 2: recommend hospitalisation for a minimum of 24 hours with cardiac "
        "telemetry and pulse oximetry; symptomatic treatment for fever; supplemental oxygen and "
        "IV fluids when indicated; consider dexamethasone (or equivalent) 8 mg PO or IV; "
        "consider tocilizumab (or equivalent). When resuming at the next planned dose, monitor "
        "22–24 h from the start of the infusion in an appropriate healthcare setting."),
)
