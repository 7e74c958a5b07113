"""Codes the FHIR R4 resources carry (data, not logic; used by :mod:`tarla.adapters.fhir_out`).

LOINC codes of Tarla's lab tests: the seeded table of the labs-in interface
(:data:`tarla.domain.lab_interface.SEED_LOINC`, every row ``UNVERIFIED`` until a site checks
it against its laboratory's catalogue), so a value exported carries the code a value received
would be mapped from. Where a test has two codes (total bilirubin by mass or by moles), the
unit picks the row. A test without a row is exported with its name as text only.

UCUM codes of the units Tarla stores (the grader's spellings), for ``Quantity.system/code``;
a unit without a row keeps its text in ``Quantity.unit`` only.

The CRS and ICANS grades: standards.md §7 found no LOINC or SNOMED CT code for the ASTCT
grades, so they are coded in a local code system of this installation (``LOCAL_SYSTEM``).
"""

from __future__ import annotations

from tarla.domain.lab_interface import SEED_LOINC, LoincRow

__all__ = ["LoincRow", "UCUM", "LOINC_SYSTEM", "UCUM_SYSTEM", "LOCAL_SYSTEM",
           "NDC_SYSTEM", "loinc_for"]

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
NDC_SYSTEM = "http://hl7.org/fhir/sid/ndc"
#: this installation's own codes (CRS/ICANS grade observations, adverse-event types)
LOCAL_SYSTEM = "https://tarla.example/fhir/CodeSystem/tarla"


#: Tarla's unit spelling -> UCUM code
UCUM: dict[str, str] = {
    "10^9/L": "10*9/L", "x10^9/L": "10*9/L", "10^3/uL": "10*3/uL", "10*9/L": "10*9/L",
    "/uL": "/uL", "cells/uL": "/uL", "g/dL": "g/dL", "g/L": "g/L", "mmol/L": "mmol/L",
    "U/L": "U/L", "IU/L": "[IU]/L", "mg/dL": "mg/dL", "umol/L": "umol/L", "mEq/L": "meq/L",
    "mg": "mg",
}

def loinc_for(test: str, unit: str = "") -> LoincRow | None:
    rows = [r for r in SEED_LOINC if r.test == test]
    if len(rows) > 1:
        kind = "[Moles/volume]" if "mol" in unit.lower() else "[Mass/volume]"
        rows = [r for r in rows if kind in r.name] or rows
    return rows[0] if rows else None
