"""Where a patient is in today's dose, for the unit board: waiting, premedicated, infusing,
in observation, in a 22-24 h monitoring bed, ready for discharge, discharged.

Pure: the caller passes the facts of one dose (when it started and ended, the monitoring its
care called for, when premedication was charted and the patient discharged) and ``now``
(tz-aware). The monitoring period runs from its anchor (the infusion's start for facility
monitoring, its end for observation, label-facts §3) for the tier's hours: it has elapsed at
the tier's lower bound (``hours_min``, e.g. 22 h of 22-24 h) and should be over by its upper
bound (``hours_max``). The infusion's expected end is its start plus the label's infusion time
(1 hour, :data:`tarla.label.schedule.INFUSION`); an infusion still running after it is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tarla.domain.care import Monitoring
from tarla.domain.timestamps import aware
from tarla.label.monitoring import Anchor, MonitoringKind

__all__ = ["BoardState", "DoseOnBoard", "Placement", "place", "STATE_ORDER"]


class BoardState(StrEnum):
    WAITING = "waiting"
    PREMEDICATED = "premedicated"
    INFUSING = "infusing"
    OBSERVATION = "observation"
    MONITORING_BED = "monitoring_bed"
    READY = "ready_for_discharge"
    DISCHARGED = "discharged"


#: The order the board lists its groups in (the patient's day, from arrival to discharge).
STATE_ORDER: tuple[BoardState, ...] = tuple(BoardState)


@dataclass(frozen=True, slots=True)
class DoseOnBoard:
    """The facts of one dose of today (or of a monitoring bed that began yesterday)."""

    started_at: datetime | None
    ended_at: datetime | None
    infusion_minutes: int
    monitoring: Monitoring | None  # the care the dose was given with; None: no period
    premedicated_at: datetime | None = None
    discharged_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    state: BoardState
    since: datetime | None  # when the patient entered this state
    ends_at: datetime | None  # infusing: expected end; observation/bed: the period's end
    latest_end: datetime | None  # observation/bed: the tier's upper bound
    remaining: timedelta | None  # until ``ends_at`` (never negative)
    overrun: bool  # infusing past its expected end (the end not charted)
    rule: str | None  # the monitoring rule the period comes from


def _period(dose: DoseOnBoard, started: datetime, ended: datetime,
            ) -> tuple[datetime, datetime, Monitoring] | None:
    mon = dose.monitoring
    if mon is None:
        return None
    anchor = started if mon.anchor is Anchor.INFUSION_START else ended
    return (anchor + timedelta(hours=mon.hours_min), anchor + timedelta(hours=mon.hours_max),
            mon)


def place(dose: DoseOnBoard, now: datetime) -> Placement:
    """The dose's state at ``now``."""
    now = aware(now, "now")
    if dose.discharged_at is not None:
        return Placement(BoardState.DISCHARGED, aware(dose.discharged_at, "discharged_at"),
                         None, None, None, False, None)
    if dose.started_at is None:
        if dose.premedicated_at is not None:
            return Placement(BoardState.PREMEDICATED, aware(dose.premedicated_at,
                                                            "premedicated_at"),
                             None, None, None, False, None)
        return Placement(BoardState.WAITING, None, None, None, None, False, None)
    started = aware(dose.started_at, "started_at")
    if dose.ended_at is None:
        expected = started + timedelta(minutes=dose.infusion_minutes)
        return Placement(BoardState.INFUSING, started, expected, None,
                         max(expected - now, timedelta(0)), now > expected, None)
    ended = aware(dose.ended_at, "ended_at")
    period = _period(dose, started, ended)
    if period is None:
        return Placement(BoardState.READY, ended, None, None, None, False, None)
    earliest, latest, mon = period
    if now < earliest:
        state = (BoardState.MONITORING_BED if mon.kind is MonitoringKind.FACILITY
                 else BoardState.OBSERVATION)
        return Placement(state, ended, earliest, latest, earliest - now, False, mon.rule)
    return Placement(BoardState.READY, earliest, earliest, latest, timedelta(0), False,
                     mon.rule)
