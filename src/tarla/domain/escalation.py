"""When a charted finding raises an alert (issue 11), and what the alert says.

Pure. The rules:

- CRS of ASTCT grade 2 or more (standards.md §1) raises a CRS alert;
- ICANS of any grade (1 or more, standards.md §2) raises an ICANS alert;
- a fever (>= 38.0 °C, standards.md §1, the ASTCT fever criterion) while an infusion is
  running raises a fever alert, unless the same finding already raised a CRS alert.

While the infusion is running every alert says to stop it: "at the first sign of CRS or ICANS
during an infusion: stop the infusion at once" (label-facts §6, ``SEED``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tarla.domain.grading.astct import FEVER

__all__ = ["AlertKind", "Escalation", "escalations", "STOP_INFUSION", "STOP_SOURCE",
           "order_set_event"]

#: label-facts §6 (SEED): at the first sign of CRS or ICANS during an infusion.
STOP_INFUSION = "Stop the infusion now"
STOP_SOURCE = ("label-facts §6 (SEED): at the first sign of CRS or ICANS during an infusion, "
               "stop the infusion at once, assess for hospitalisation, supportive care by "
               "severity")

CRS_ALERT_FROM = 2  # issue 11: CRS grade >= 2 escalates (grade 1 is fever: see the fever rule)
ICANS_ALERT_FROM = 1  # any ICANS


class AlertKind(StrEnum):
    CRS = "crs"
    ICANS = "icans"
    FEVER = "fever"


@dataclass(frozen=True, slots=True)
class Escalation:
    kind: AlertKind
    grade: int | None
    message: str
    stop_infusion: bool


def _is_fever(temperature_c: float | None) -> bool:
    return temperature_c is not None and Decimal(str(temperature_c)) >= FEVER.min_c


def escalations(*, crs_grade: int | None = None, icans_grade: int | None = None,
                temperature_c: float | None = None,
                infusion_running: bool = False) -> tuple[Escalation, ...]:
    """The alerts one charted finding raises (none: an empty tuple)."""
    stop = f" {STOP_INFUSION}: the infusion is running." if infusion_running else ""
    out: list[Escalation] = []
    if crs_grade is not None and crs_grade >= CRS_ALERT_FROM:
        out.append(Escalation(AlertKind.CRS, crs_grade,
                              f"CRS grade {crs_grade} (ASTCT 2019).{stop}", infusion_running))
    if icans_grade is not None and icans_grade >= ICANS_ALERT_FROM:
        out.append(Escalation(AlertKind.ICANS, icans_grade,
                              f"ICANS grade {icans_grade} (ASTCT 2019).{stop}",
                              infusion_running))
    if (infusion_running and _is_fever(temperature_c)
            and not any(e.kind is AlertKind.CRS for e in out)):
        grade = crs_grade if crs_grade else 1
        out.append(Escalation(AlertKind.FEVER, grade,
                              f"Fever {temperature_c} °C (≥ {FEVER.min_c} °C) during the "
                              f"infusion.{stop}", True))
    return tuple(out)


def order_set_event(kind: AlertKind | str) -> str:
    """The order-set event whose steps an alert shows: a fever is CRS (grade 1 or more)."""
    return "icans" if AlertKind(kind) is AlertKind.ICANS else "crs"
