"""Labs arriving by interface (issue 16): which result is which test, and whose it is.

Pure rules, applied by :mod:`tarla.services.labs_in` inside the transaction that charts:

- a result's LOINC code names the test through the site's table: the seeded rows
  (:data:`SEED_LOINC`) overlaid by the site's own rows (a site maps another code, or ignores
  one on purpose; :func:`loinc_table`). A code the table does not know is *unknown*: the
  message waits in the work queue, it is never dropped (:func:`map_observations`);
- a mapped result must be final (or a correction), a plain number with a unit; its reference
  range (``3.5-11.0``, ``<1.2``, ``>150``) gives the LLN/ULN the CTCAE grader may need. The
  value and unit themselves are judged by the lab-entry service's grader, exactly as when
  typed (units converted by :mod:`tarla.domain.grading.units`);
- a patient is the site's patient with the message's MRN, and the same date of birth when the
  message gives one (:func:`birth_date_matches`).

The LOINC codes are data, not clinical numbers: each seeded row cites where it was checked
and is tagged ``UNVERIFIED`` until a site confirms it against its laboratory's catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from tarla.domain.errors import InvalidInput

__all__ = ["LoincRow", "SEED_LOINC", "TESTS", "Observation", "MappedPanel", "loinc_table",
           "map_observations", "reference_limits", "birth_date_matches", "check_test",
           "check_loinc", "FINAL_STATUSES"]

#: The tests the lab-entry service grades (``tarla grade lab --test``), in panel order.
TESTS: tuple[str, ...] = ("ANC", "platelets", "hemoglobin", "lymphocytes", "ALT", "AST",
                          "bilirubin", "sodium")

_CHECKED = ("LOINC long common name; code cross-checked in public LOINC mapping tables "
            "(e.g. FHIR implementation-guide value sets), not against a LOINC release")


@dataclass(frozen=True, slots=True)
class LoincRow:
    loinc: str
    test: str
    name: str  # LOINC long common name
    tag: str  # provenance
    source: str


SEED_LOINC: tuple[LoincRow, ...] = (
    LoincRow("751-8", "ANC", "Neutrophils [#/volume] in Blood by Automated count",
             "UNVERIFIED", _CHECKED),
    LoincRow("777-3", "platelets", "Platelets [#/volume] in Blood by Automated count",
             "UNVERIFIED", _CHECKED),
    LoincRow("718-7", "hemoglobin", "Hemoglobin [Mass/volume] in Blood", "UNVERIFIED",
             _CHECKED),
    LoincRow("731-0", "lymphocytes", "Lymphocytes [#/volume] in Blood by Automated count",
             "UNVERIFIED", _CHECKED),
    LoincRow("1742-6", "ALT", "Alanine aminotransferase [Enzymatic activity/volume] in Serum "
             "or Plasma", "UNVERIFIED", _CHECKED),
    LoincRow("1920-8", "AST", "Aspartate aminotransferase [Enzymatic activity/volume] in "
             "Serum or Plasma", "UNVERIFIED", _CHECKED),
    LoincRow("1975-2", "bilirubin", "Bilirubin.total [Mass/volume] in Serum or Plasma",
             "UNVERIFIED", _CHECKED),
    LoincRow("14631-6", "bilirubin", "Bilirubin.total [Moles/volume] in Serum or Plasma",
             "UNVERIFIED", _CHECKED),
    LoincRow("2951-2", "sodium", "Sodium [Moles/volume] in Serum or Plasma", "UNVERIFIED",
             _CHECKED),
)

_LOINC = re.compile(r"^\d{1,7}-\d$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_RANGE = re.compile(r"^\s*(?P<low>[+-]?[\d.]+)\s*-\s*(?P<high>[+-]?[\d.]+)\s*$")
_BOUND = re.compile(r"^\s*(?P<op><=?|>=?)\s*(?P<num>[+-]?[\d.]+)\s*$")
#: HL7 table 0085: F final, C corrected. Anything else (preliminary, cancelled ...) is not a
#: result a dose may rest on.
FINAL_STATUSES = frozenset({"F", "C"})


def check_test(test: str, field: str = "test") -> str:
    if test not in TESTS:
        raise InvalidInput(field, f"{test!r} is not a test Tarla grades (accepted: "
                                  f"{', '.join(TESTS)})")
    return test


def check_loinc(code: str, field: str = "loinc") -> str:
    code = code.strip()
    if not _LOINC.match(code):
        raise InvalidInput(field, f"{code!r} is not a LOINC code (digits, a dash, a check "
                                  "digit: 718-7)")
    return code


def loinc_table(site_rows: Mapping[str, str | None]) -> dict[str, str | None]:
    """The site's table: the seeded rows, then the site's own (``None``: ignored on purpose)."""
    table: dict[str, str | None] = {row.loinc: row.test for row in SEED_LOINC}
    table.update(site_rows)
    return table


@dataclass(frozen=True, slots=True)
class Observation:
    """One result as it arrived. ``where`` names, for each of ``code``, ``value``, ``unit``,
    ``range`` and ``status``, the place in the message (``OBX[2]-5``, ``valueQuantity``)."""

    code: str
    value: str
    unit: str
    reference_range: str
    status: str
    where: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MappedPanel:
    results: tuple[dict[str, Any], ...]  # lab-entry rows: test, value, unit[, lln, uln]
    origins: tuple[Observation, ...]  # the observation each result came from
    unknown: tuple[str, ...]  # codes the site's table does not know
    ignored: tuple[str, ...]  # codes the site ignores on purpose


def reference_limits(text: str, field: str) -> tuple[float | None, float | None]:
    """(LLN, ULN) from a reference range: ``3.5-11.0``, ``<1.2`` / ``<=1.2`` (ULN only),
    ``>150`` (LLN only), empty (neither). A low end of 0 is no LLN."""
    text = text.strip()
    if not text:
        return None, None
    m = _RANGE.match(text)
    if m and _NUMBER.match(m["low"]) and _NUMBER.match(m["high"]):
        low, high = float(m["low"]), float(m["high"])
        if low >= high:
            raise InvalidInput(field, f"reference range {text!r}: the low end is not below "
                                      "the high end")
        # a lower limit of 0 ("0-40 U/L") bounds nothing: the grader takes none
        return (low if low > 0 else None), high
    b = _BOUND.match(text)
    if b and _NUMBER.match(b["num"]):
        number = float(b["num"])
        return (None, number) if b["op"].startswith("<") else (number, None)
    raise InvalidInput(field, f"reference range {text!r} is not low-high, <high or >low")


def map_observations(observations: Sequence[Observation],
                     table: Mapping[str, str | None]) -> MappedPanel:
    """The lab-entry rows of the observations whose code the table maps to a test.

    Refused (``InvalidInput`` naming the place): a result that is not final or corrected, a
    value that is not a plain number, a missing unit, an unreadable reference range, two
    results of the same test. Unknown and ignored codes are returned, not judged."""
    results: list[dict[str, Any]] = []
    origins: list[Observation] = []
    unknown: list[str] = []
    ignored: list[str] = []
    seen: dict[str, str] = {}
    for obs in observations:
        code = obs.code.strip()
        if not code:
            raise InvalidInput(obs.where["code"], "the result has no code (a LOINC code is "
                                                  "expected)")
        if code not in table:
            if code not in unknown:
                unknown.append(code)
            continue
        test = table[code]
        if test is None:
            ignored.append(code)
            continue
        if obs.status.strip().upper() not in FINAL_STATUSES:
            raise InvalidInput(obs.where["status"], f"result status {obs.status.strip()!r} "
                               "is not final (F) or corrected (C): a dose never rests on it")
        if test in seen:
            raise InvalidInput(obs.where["code"], f"a second {test} result in one message "
                               f"(first at {seen[test]}); send one result per test")
        seen[test] = obs.where["code"]
        value = obs.value.strip()
        if not _NUMBER.match(value):
            raise InvalidInput(obs.where["value"], f"{value!r} is not a number ({test} is "
                               "charted and graded as a number)")
        unit = obs.unit.strip()
        if not unit:
            raise InvalidInput(obs.where["unit"], f"the unit of {test} is missing")
        lln, uln = reference_limits(obs.reference_range, obs.where["range"])
        row: dict[str, Any] = {"test": test, "value": float(value), "unit": unit}
        if lln is not None:
            row["lln"] = lln
        if uln is not None:
            row["uln"] = uln
        results.append(row)
        origins.append(obs)
    return MappedPanel(tuple(results), tuple(origins), tuple(unknown), tuple(ignored))


def birth_date_matches(on_record: date, in_message: date | None) -> bool:
    """A message without a date of birth matches on the MRN alone."""
    return in_message is None or in_message == on_record
