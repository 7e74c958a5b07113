"""Lab entry: the panel the label asks for before a dose, and its CTCAE v5.0 grades as typed.

Entry points (the web form, later perhaps the CLI) ask this module which rows to offer
(:func:`panel_tests`: the tests of label-facts §3 "Labs", the units the grader accepts, the
reference limits a grade may need), what the rows grade to before anything is saved
(:func:`preview_lab_grades`), and what is on record (:func:`lab_sheet`). Saving is
:func:`tarla.services.clinical.record_lab_panel`, which grades again in its transaction.

Read-only: nothing here writes or audits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from tarla.domain.errors import InvalidInput
from tarla.domain.grading import accepted_units, grade_lab
from tarla.domain.grading.ctcae import Direction, LabTest, term_for
from tarla.domain.toxicity import GRADED_TESTS
from tarla.label.labs import CBC_TESTS, LAB_PANEL
from tarla.services._common import patient_or_404, zone_of
from tarla.services.errors import NotFound
from tarla.services.ports import UnitOfWork
from tarla.services.queries import evaluate_patient
from tarla.services.records import LabRecord, PatientRecord
from tarla.services.scope import Scope

__all__ = ["PanelTest", "panel_tests", "preview_lab_grades", "LabSheet", "lab_sheet",
           "LIMITS"]

#: The reference fields a row may carry, in the order a form shows them.
LIMITS = ("lln", "uln", "baseline")


@dataclass(frozen=True, slots=True)
class PanelTest:
    """One row of the pre-dose panel as the grader knows it."""

    test: str  # the grader's spelling (``tarla grade lab --test``)
    panel: str  # the label's name for the group it belongs to ("CBC", "ALT", ...)
    term: str  # CTCAE v5.0 term
    units: tuple[str, ...]  # accepted units, as spelled by the grader
    limits: tuple[str, ...]  # which of LIMITS the grade may need
    needs: Mapping[str, str]  # limit -> when the grader needs it (words, no numbers)


_DECREASE_NEEDS = MappingProxyType({
    "lln": "needed unless the value is low enough for grade 2 or worse"})
_INCREASE_NEEDS = MappingProxyType({
    "uln": "always needed, unless the unit is xULN",
    "baseline": "only if the patient's baseline was above the ULN (CTCAE v5.0 then grades by "
                "multiples of baseline)"})


def panel_tests() -> tuple[PanelTest, ...]:
    """The tests the label requires before a dose (``LAB_PANEL``, CBC as ``CBC_TESTS``)."""
    out: list[PanelTest] = []
    for name in LAB_PANEL:
        for test in (CBC_TESTS if name == "CBC" else (name,)):
            row = term_for(LabTest(test))
            limits: tuple[str, ...]
            needs: Mapping[str, str]
            if row.direction is Direction.BELOW:
                limits, needs = ("lln",), _DECREASE_NEEDS
            else:
                limits = ("uln", "baseline") if row.uses_baseline else ("uln",)
                needs = {k: v for k, v in _INCREASE_NEEDS.items() if k in limits}
            out.append(PanelTest(test, name, str(row.term), accepted_units(row.quantity),
                                 limits, MappingProxyType(dict(needs))))
    return tuple(out)


def preview_lab_grades(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Grade each result as :func:`record_lab_panel` would, without saving anything.

    Each result is ``{"test", "value", "unit"[, "uln", "lln", "baseline"]}`` (numbers, or
    ``None`` for a limit left empty). Each answer has ``test, value, unit, grade, term,
    detail, source`` when graded; ``grade`` and ``term`` are ``None`` for a test the grader
    does not know; a refused row has ``field`` and ``message`` instead (the field of that row:
    ``value``, ``unit``, ``uln``, ``lln`` or ``baseline``). Refusals are per row: one bad row
    does not hide the grades of the others."""
    out: list[dict[str, Any]] = []
    for r in results:
        row: dict[str, Any] = {"test": r.get("test"), "value": r.get("value"),
                               "unit": r.get("unit"), "grade": None, "term": None,
                               "detail": None, "source": None, "field": None, "message": None}
        if r.get("test") in GRADED_TESTS:
            try:
                g = grade_lab(str(r["test"]), r.get("value"), r.get("unit"),  # type: ignore[arg-type]
                              uln=r.get("uln"), lln=r.get("lln"), baseline=r.get("baseline"))
            except InvalidInput as exc:
                row.update(field=exc.field, message=exc.message)
            else:
                driver = g.drivers[0]
                row.update(grade=g.grade, term=str(g.term), detail=driver.detail,
                           source=driver.source)
        out.append(row)
    return out


@dataclass(frozen=True, slots=True)
class LabSheet:
    """A patient's labs for the entry screen."""

    patient: PatientRecord
    timezone: str
    labs: tuple[LabRecord, ...]  # newest first (collected, then charted)
    last: Mapping[str, LabRecord]  # the most recent result of each test
    decision: dict[str, Any] | None  # the open course's evaluate JSON; None without a course


def lab_sheet(uow: UnitOfWork, *, patient_id: int, now: datetime, viewer: Scope) -> LabSheet:
    """The patient's labs on record and what the current course still misses
    (``decision["pending_checks"]``). Unknown patient, or one of another site than the
    viewer's: :class:`NotFound`."""
    with uow.readonly():
        patient = patient_or_404(uow, patient_id, viewer)
        site = uow.sites.get(patient.site_id)
        if site is None:  # pragma: no cover - foreign key
            raise NotFound("site", f"no site {patient.site_id}")
        labs = uow.labs.for_patient(patient_id)
        has_course = bool(uow.courses.for_patient(patient_id))
    zone = zone_of(site)
    ordered = tuple(sorted(labs, key=lambda x: (x.collected_at, x.id or 0), reverse=True))
    last: dict[str, LabRecord] = {}
    for lab in ordered:
        last.setdefault(lab.test, lab)
    decision = (evaluate_patient(uow, now=now, viewer=viewer, patient_id=patient_id)
                if has_course else None)
    return LabSheet(patient, zone.key, ordered, last, decision)
