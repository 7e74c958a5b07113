"""What an order for the next dose should be told (CDS Hooks ``order-select``/``order-sign``).

A prescriber in the EHR drafts a tarlatamab order; this module compares it with the course
engine's :class:`~tarla.domain.course.Decision` for the patient (computed by the service from
the records, as of the time of the request) and returns the findings, each naming the rule
rows that produced it. The engine decides; this only compares and explains:

- ``dose-differs``: the ordered dose is not the engine's next dose (with the right dose as a
  suggestion), or cannot be read in milligrams;
- ``restart-step-up``: the next dose restarts the step-up after a delay (label Table 4);
- ``on-hold`` / ``discontinued``: the engine withholds the dose (and why) or stopped the course;
- ``not-due``: the next dose is not due on the order's date yet;
- ``labs-missing``: labs the dose needs are not on record since the last dose;
- ``monitoring-bed``: the dose's monitoring is in the facility from the infusion's start
  (22-24 h for the step-up doses and after a grade >= 2 event): a bed is needed;
- ``warning``: each of the decision's warnings (e.g. off-label use), as it stands.

No clinical number is written here: doses, hours and rule ids all come from the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tarla.domain.course import Decision, DecisionAction, DoseKind
from tarla.label.monitoring import MonitoringKind
from tarla.label.rows import Citation

__all__ = ["Severity", "Finding", "check_order"]


class Severity(StrEnum):
    """CDS Hooks card indicators (https://cds-hooks.hl7.org/2.0/#card-attributes)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    summary: str  # at most 140 characters (CDS Hooks)
    detail: str
    rules: tuple[str, ...]
    #: the dose to order instead (``dose-differs`` only)
    suggested_dose_mg: int | None = None


def _ids(citations: tuple[Citation, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.rule for c in citations))


def _dose_reasons(decision: Decision) -> tuple[Citation, ...]:
    """The citations that chose the dose: the decision's reasons less its care and holds."""
    other = {c.rule for c in decision.hold_reasons}
    if decision.care is not None:
        other |= {c.rule for c in decision.care.reasons}
    return tuple(c for c in decision.reasons if c.rule not in other)


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _mg(value: Decimal) -> str:
    return f"{value.normalize():f} mg"


def check_order(decision: Decision, ordered_mg: Decimal | None, ordered_on: date,
                ) -> tuple[Finding, ...]:
    """The findings for an order of ``ordered_mg`` (None: the order gives no dose in mg) of
    the next dose on ``ordered_on`` (the site's local date), against ``decision``."""
    out: list[Finding] = []
    nd = decision.next_dose
    if decision.action is DecisionAction.DISCONTINUE or nd is None:
        out.append(Finding(
            "discontinued", Severity.CRITICAL, "Tarlatamab is permanently discontinued for this "
            "patient: do not order", "; ".join(c.text for c in decision.reasons),
            _ids(decision.reasons)))
        return tuple(out)
    dose_reasons = _dose_reasons(decision)
    slot = f"{nd.slot.label}" + (f", restart step {nd.restart_step}" if nd.restart_step else "")
    if decision.action is DecisionAction.HOLD:
        why = decision.hold_reasons or decision.reasons
        out.append(Finding(
            "on-hold", Severity.CRITICAL,
            _short("Next dose on hold: " + "; ".join(c.rule for c in why)),
            "The course engine withholds the next dose: " + "; ".join(c.text for c in why),
            _ids(why)))
    if nd.kind is DoseKind.RESTART_STEP_UP:
        out.append(Finding(
            "restart-step-up", Severity.WARNING,
            _short(f"Restart step-up required: next dose {nd.dose_mg} mg ({slot})"),
            "; ".join(c.text for c in dose_reasons), _ids(dose_reasons)))
    if ordered_mg is None:
        out.append(Finding(
            "dose-differs", Severity.CRITICAL,
            _short(f"The order gives no dose in mg: the next dose is {nd.dose_mg} mg"),
            f"Tarla's next dose is {nd.dose_mg} mg ({slot}), due {nd.due_date.isoformat()}.",
            _ids(dose_reasons), suggested_dose_mg=nd.dose_mg))
    elif ordered_mg != nd.dose_mg:
        out.append(Finding(
            "dose-differs", Severity.CRITICAL,
            _short(f"Ordered {_mg(ordered_mg)}; the next dose is {nd.dose_mg} mg ({slot})"),
            f"Tarla's course engine gives {nd.dose_mg} mg for the next dose ({slot}), due "
            f"{nd.due_date.isoformat()}: " + "; ".join(c.text for c in dose_reasons),
            _ids(dose_reasons), suggested_dose_mg=nd.dose_mg))
    if nd.due_date > ordered_on:
        out.append(Finding(
            "not-due", Severity.WARNING,
            _short(f"The next dose is not due until {nd.due_date.isoformat()}"),
            f"The next dose ({slot}, {nd.dose_mg} mg) is due on {nd.due_date.isoformat()}.",
            _ids(dose_reasons)))
    if decision.pending_checks:
        labs = ", ".join(decision.pending_checks)
        lab_rules: tuple[str, ...] = ()
        if decision.care is not None:
            lab_rules = tuple(c.rule for c in decision.care.reasons if c.rule.startswith("LAB"))
        out.append(Finding(
            "labs-missing", Severity.WARNING, _short(f"Labs missing before this dose: {labs}"),
            f"Not on record since the last dose: {labs}. Draw them before the dose is given.",
            lab_rules or _ids(decision.reasons)))
    care = decision.care
    if care is not None and care.monitoring.kind is MonitoringKind.FACILITY:
        m = care.monitoring
        out.append(Finding(
            "monitoring-bed", Severity.INFO,
            _short(f"{m.hours_min}-{m.hours_max} h monitoring in the facility: a bed is needed"),
            f"This dose is monitored {m.hours_min}-{m.hours_max} h from the start of the "
            f"infusion in a healthcare facility: book a bed, not a chair.", (m.rule,)))
    for w in decision.warnings:
        out.append(Finding(f"warning:{w.code}", Severity.WARNING, _short(w.text), w.text,
                           (w.rule,)))
    return tuple(out)
