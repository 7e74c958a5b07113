"""Bench steps of a preparation: a pharmacist confirms each recipe step in order, entering
the volume measured; the core (:func:`tarla.domain.bench.judge_step`) refuses a step out of
order, before its prerequisites, or with a volume outside the site tolerance of the recipe.

One transaction per confirmed step, with one audit entry; a refused step writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tarla.domain.bench import judge_step, steps_for
from tarla.domain.errors import InvalidInput
from tarla.services import audit
from tarla.services._common import (
    accepted_drug_scan_at,
    actor_with,
    aware,
    preparation_or_404,
    record_json,
)
from tarla.services.ports import UnitOfWork
from tarla.services.records import PreparationStepRecord
from tarla.services.scope import scope_of
from tarla.services.vocab import PreparationEvent, PreparationStatus, Role

__all__ = ["confirm_step", "step_json", "bench_rows", "measured_decimal"]

_CLOSED = (PreparationStatus.DISCARDED.value, PreparationStatus.ADMINISTERED.value)


def measured_decimal(value: float | None) -> Decimal | None:
    """A measured volume as the core reads it: the decimal the float prints as (4.18, not
    4.17999...). NaN and infinities are refused here, booleans are not volumes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("measured_ml", f"{value!r} is not a volume in mL")
    if not math.isfinite(value):
        raise InvalidInput("measured_ml", f"{value!r} is not a volume in mL")
    return Decimal(repr(float(value)))


def step_json(s: PreparationStepRecord) -> dict[str, Any]:
    return {"step": s.step, "measured_ml": s.measured_ml, "confirmed_by": s.confirmed_by,
            "confirmed_at": s.confirmed_at, "note": s.note}


def confirm_step(uow: UnitOfWork, *, preparation_id: int, step: str, actor: str, now: datetime,
                 measured_ml: float | None = None, inspection: dict[str, bool] | None = None,
                 note: str | None = None) -> list[dict[str, Any]]:
    """Confirm one bench step of the preparation; returns every step confirmed so far, in
    order (step, measured_ml, confirmed_by, confirmed_at, note)."""
    now = aware(now, "now")
    measured = measured_decimal(measured_ml)
    with uow:
        user = actor_with(uow, actor, (Role.PHARMACIST,), "confirm bench steps")
        prep = preparation_or_404(uow, preparation_id, scope_of(user))
        if prep.status in _CLOSED:
            raise InvalidInput("preparation_id", f"a {prep.status} preparation takes no more "
                                                 "bench steps")
        pid: int = prep.id  # type: ignore[assignment]
        steps = uow.preparations.steps(pid)
        events = uow.preparations.events(pid)
        verdict = judge_step(
            dose_mg=prep.dose_mg, done=[s.step for s in steps], step=step, measured_ml=measured,
            inspection=inspection,
            reconstituted=any(e.event == PreparationEvent.RECONSTITUTED.value for e in events),
            drug_scan_accepted=accepted_drug_scan_at(uow.preparations.scans(pid)) is not None)
        if not verdict.allowed:
            field = verdict.refusals[0][0]
            raise InvalidInput(field, "; ".join(text for _, text in verdict.refusals))
        record = uow.preparations.add_step(PreparationStepRecord(
            preparation_id=pid, step=verdict.step, confirmed_by=user.id,  # type: ignore[arg-type]
            confirmed_at=now, measured_ml=None if measured is None else float(measured),
            note=note))
        audit.append(uow, actor=user.username, action=f"preparation.step.{verdict.step}",
                     entity_type="preparation_step", entity_id=record.id, at=now,
                     after={**record_json(record), "inspection": inspection,
                            "rules": list(verdict.rules)})
        uow.commit()
        return [step_json(s) for s in (*steps, record)]


def bench_rows(dose_mg: int, confirmed: Iterable[PreparationStepRecord],
               names: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
    """The six steps of the dose for a screen or the worksheet: instruction, expected volume
    and tolerance, and who confirmed what when (None until confirmed); ``next`` marks the one
    step that may be confirmed now."""
    by_step = {s.step: s for s in confirmed}
    rows: list[dict[str, Any]] = []
    next_found = False
    for spec in steps_for(dose_mg):
        rec = by_step.get(spec.code.value)
        is_next = rec is None and not next_found
        next_found = next_found or rec is None
        rows.append({
            "code": spec.code.value, "title": spec.title, "instruction": spec.instruction,
            "rule": spec.rule, "expected_ml": spec.expected_ml, "tolerance_ml": spec.tolerance_ml,
            "done": rec is not None, "next": is_next,
            "measured_ml": None if rec is None else rec.measured_ml,
            "confirmed_by": None if rec is None else rec.confirmed_by,
            "confirmed_by_name": (None if rec is None
                                  else (names or {}).get(rec.confirmed_by, str(rec.confirmed_by))),
            "confirmed_at": None if rec is None else rec.confirmed_at,
            "note": None if rec is None else rec.note})
    return rows
