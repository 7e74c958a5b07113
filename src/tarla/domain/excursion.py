"""Excursions of an intact carton (drug and IVSS vials) out of the refrigerator.

Source: :data:`tarla.label.products.INTACT_STORAGE` (label-facts §2): refrigerate 2-8 °C in the
carton, do not freeze; up to 24 hours at 20-25 °C in the carton. Reading (UNVERIFIED row
``PREP-INTACT-CUMULATIVE``): the room-temperature time adds up over every excursion. Any
freezing means discard. Elapsed time is absolute (UTC instants).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from tarla.domain.clock import in_zone, require_aware
from tarla.domain.errors import InvalidInput
from tarla.label.preparation import INTACT_EXCURSION_CUMULATIVE
from tarla.label.products import INTACT_STORAGE
from tarla.label.rows import Citation, cite

__all__ = ["ExcursionKind", "ExcursionEvent", "ExcursionStatus", "ExcursionReport",
           "evaluate_excursion"]


class ExcursionKind(StrEnum):
    OUT_OF_REFRIGERATOR = "out_of_refrigerator"
    INTO_REFRIGERATOR = "into_refrigerator"
    FROZEN = "frozen"  # found frozen, or a temperature log below 0 °C


class ExcursionStatus(StrEnum):
    OK = "ok"
    DISCARD = "discard"


@dataclass(frozen=True, slots=True)
class ExcursionEvent:
    kind: ExcursionKind
    at: datetime


@dataclass(frozen=True, slots=True)
class ExcursionReport:
    status: ExcursionStatus
    out_of_refrigerator: bool
    room_temperature_used: timedelta
    room_temperature_left: timedelta
    discard_at: datetime | None  # when the 24 h run out if the carton stays out; None in fridge
    reasons: tuple[Citation, ...]
    problems: tuple[str, ...]

    @property
    def unverified(self) -> bool:
        return any(c.unverified for c in self.reasons)


def evaluate_excursion(events: Sequence[ExcursionEvent], now: datetime,
                       zone: tzinfo) -> ExcursionReport:
    """Room-temperature time of an intact carton as of ``now`` (the carton starts refrigerated)."""
    now_utc = require_aware(now, "now")
    budget = timedelta(hours=INTACT_STORAGE.room_max_hours)
    timed = sorted(((require_aware(e.at, f"events[{i}].at"), i, e) for i, e in enumerate(events)),
                   key=lambda r: (r[0], r[1]))
    out_since: datetime | None = None
    used = timedelta(0)
    frozen: list[str] = []
    for at, index, event in timed:
        if at > now_utc:
            raise InvalidInput(f"events[{index}].at", f"{event.at.isoformat()} is after now")
        if event.kind is ExcursionKind.OUT_OF_REFRIGERATOR:
            if out_since is not None:
                raise InvalidInput(f"events[{index}].event", "the carton is already out of the "
                                                             "refrigerator")
            out_since = at
        elif event.kind is ExcursionKind.INTO_REFRIGERATOR:
            if out_since is None:
                raise InvalidInput(f"events[{index}].event", "the carton is already in the "
                                                             "refrigerator")
            used += at - out_since
            out_since = None
        elif not INTACT_STORAGE.freezing_allowed:
            frozen.append(f"frozen at {in_zone(at, zone).isoformat()}: do not freeze")
    if out_since is not None:
        used += now_utc - out_since
    problems = list(frozen)
    if used > budget:
        problems.append(f"{used} at room temperature: more than {INTACT_STORAGE.room_max_hours} h")
    discard_at = None
    if out_since is not None:
        discard_at = in_zone(now_utc + (budget - used), zone)
    reasons = (cite(INTACT_STORAGE), cite(INTACT_EXCURSION_CUMULATIVE))
    return ExcursionReport(
        status=ExcursionStatus.DISCARD if problems else ExcursionStatus.OK,
        out_of_refrigerator=out_since is not None, room_temperature_used=used,
        room_temperature_left=max(budget - used, timedelta(0)), discard_at=discard_at,
        reasons=reasons, problems=tuple(problems))
