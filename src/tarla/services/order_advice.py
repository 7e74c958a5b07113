"""Advice on an order for tarlatamab drafted in the EHR (CDS Hooks, issue 16).

The interface names the patient by MRN and gives the dose ordered (raw facts, never a
judgement); the use case reads the patient's course at the interface's site, asks the course
engine for its decision as of ``now`` and compares the order with it
(:func:`tarla.domain.order_check.check_order`). It writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tarla.domain.course import Decision, local_date
from tarla.domain.order_check import Finding, check_order
from tarla.services._common import aware, zone_of
from tarla.services.fhir_read import engine_view, patient_id_by_mrn
from tarla.services.ports import UnitOfWork
from tarla.services.scope import Scope

__all__ = ["Advice", "advise_order"]


@dataclass(frozen=True)
class Advice:
    patient_id: int
    course_id: int | None
    decision: Decision
    findings: tuple[Finding, ...]


def advise_order(uow_factory: Callable[[], UnitOfWork], *, viewer: Scope, mrn: str,
                 ordered_mg: Decimal | None, now: datetime) -> Advice:
    """``uow_factory`` makes a fresh unit of work per read. NotFound: no such patient at the
    viewer's site, or no course."""
    now = aware(now, "now")
    patient_id = patient_id_by_mrn(uow_factory(), mrn=mrn, viewer=viewer)
    view = engine_view(uow_factory(), patient_id=patient_id, viewer=viewer, now=now)
    today = local_date(now, zone_of(view.site))
    return Advice(patient_id, view.course.id, view.decision,
                  check_order(view.decision, ordered_mg, today))
