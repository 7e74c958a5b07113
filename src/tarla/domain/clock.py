"""The in-use clock of one preparation (``tarla clock``), label-facts §4 "Time limits".

Reading (label-facts §4, "Reading used here"):
- every limit counts from **reconstitution**; all durations are absolute elapsed time
  (UTC instants), so a window that spans a DST change is still 4 h / 8 h / 7 days long;
- room-temperature time is cumulative from reconstitution (vial stage, preparation, time out
  of the refrigerator, the infusion); it is paused only while the prepared bag is in its first,
  legitimate refrigeration. A refrigeration the label does not allow (the vial before dilution,
  a bag taken out and put back, a bag during its infusion) earns no pause: its time counts as
  room temperature, and it is reported;
- ``discard_at`` = the earliest of reconstitution + 7 days and the instant the 8 h
  room-temperature budget runs out if the storage state as of ``now`` continues (while the bag
  is refrigerated that instant does not exist yet);
- ``latest_infusion_start`` = ``discard_at`` - the infusion time (60 min, PI Table 1);
- ``dilute_by`` = reconstitution + 4 h ("within 4 hours": diluting at exactly 4 h is in time).

Events are taken in time order (ties: reconstitution first, then input order). An event the
sequence does not allow is a violation ``EVENT_ORDER``, not an input error; the clock still
counts it as well as it can. Malformed input (naive time, event after ``now``, no or a second
reconstitution) raises :class:`~tarla.domain.errors.InvalidInput` naming ``events[i].<field>``.

Statuses: ``violation`` when a rule was broken; else ``expired`` when ``now`` >= ``discard_at``
(or the vial is past ``dilute_by`` undiluted) and the infusion is not complete; else ``ok``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum

from tarla.domain.errors import InvalidInput
from tarla.label import preparation as prep
from tarla.label.rows import Citation, RuleRow, cite
from tarla.label.schedule import INFUSION

__all__ = ["EventKind", "ClockEvent", "ViolationCode", "Violation", "ClockStatus", "Phase",
           "ClockReport", "evaluate_clock", "require_aware", "in_zone"]


class EventKind(StrEnum):
    RECONSTITUTED = "reconstituted"
    BAG_PREPARED = "bag_prepared"
    REFRIGERATED = "refrigerated"
    REMOVED_FROM_REFRIGERATOR = "removed_from_refrigerator"
    INFUSION_STARTED = "infusion_started"
    INFUSION_COMPLETED = "infusion_completed"
    DISCARDED = "discarded"


class ViolationCode(StrEnum):
    DILUTED_AFTER_4H = "DILUTED_AFTER_4H"
    RE_REFRIGERATED = "RE_REFRIGERATED"
    INFUSION_AFTER_DISCARD = "INFUSION_AFTER_DISCARD"
    EVENT_ORDER = "EVENT_ORDER"
    EXPIRED = "EXPIRED"


class ClockStatus(StrEnum):
    OK = "ok"
    EXPIRED = "expired"
    VIOLATION = "violation"


class Phase(StrEnum):
    """Where the preparation is as of ``now``."""

    VIAL = "reconstituted_vial"  # reconstituted, not yet in the bag
    BAG = "bag"  # prepared bag, not yet infusing
    INFUSING = "infusing"
    INFUSED = "infused"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class ClockEvent:
    kind: EventKind
    at: datetime  # tz-aware


@dataclass(frozen=True, slots=True)
class Violation:
    code: ViolationCode
    at: datetime  # in the site's zone
    text: str
    citation: Citation


@dataclass(frozen=True, slots=True)
class ClockReport:
    status: ClockStatus
    phase: Phase
    refrigerated: bool  # the bag is in the refrigerator as of now
    reconstituted_at: datetime
    dilute_by: datetime
    discard_at: datetime
    latest_infusion_start: datetime
    room_temperature_used: timedelta
    room_temperature_left: timedelta
    violations: tuple[Violation, ...]
    reasons: tuple[Citation, ...]

    @property
    def usable(self) -> bool:
        """The preparation may still be used (or its running infusion continue) as of now."""
        return self.status is ClockStatus.OK and self.phase in (Phase.VIAL, Phase.BAG,
                                                                 Phase.INFUSING)

    @property
    def unverified(self) -> bool:
        return any(c.unverified for c in self.reasons)


def in_zone(instant: datetime, zone: tzinfo) -> datetime:
    """``instant`` with the UTC offset ``zone`` has at that instant, as a *fixed* offset.

    A fixed offset keeps datetime arithmetic exact: two datetimes sharing one ``ZoneInfo`` are
    subtracted by wall clock in Python, which is an hour off across a DST change.
    """
    local = instant.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    return local.replace(tzinfo=timezone(offset))


def require_aware(value: datetime, field_name: str) -> datetime:
    """``value`` as a UTC instant; a naive datetime is an input error."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field_name, f"{value.isoformat()} has no UTC offset (write e.g. "
                                       "2026-12-15T08:00:00-05:00)")
    return value.astimezone(UTC)


@dataclass(slots=True)
class _Walk:
    """The mutable state of one pass over the events (all instants in UTC)."""

    t0: datetime
    last: datetime  # the instant counted up to; frozen when the clock stops
    phase: Phase = Phase.VIAL
    in_fridge: bool = False
    fridge_counts: bool = False  # refrigeration that pauses the room-temperature budget
    times_refrigerated: int = 0
    room_used: timedelta = timedelta(0)
    exhausted_at: datetime | None = None
    flagged_late_infusion: bool = False
    violations: list[tuple[ViolationCode, datetime, str, RuleRow]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.phase not in (Phase.INFUSED, Phase.DISCARDED)

    @property
    def at_room_temperature(self) -> bool:
        return not (self.in_fridge and self.fridge_counts)

    def advance(self, to: datetime) -> None:
        """Count room-temperature time from ``last`` to ``to``; note when 8 h is reached."""
        if not self.running or to <= self.last:
            return
        budget = _room_budget()
        if self.at_room_temperature:
            if self.exhausted_at is None and self.room_used + (to - self.last) >= budget:
                self.exhausted_at = self.last + (budget - self.room_used)
            self.room_used += to - self.last
        self.last = to

    def past_discard(self, at: datetime, *, inclusive: bool) -> bool:
        limit = self.t0 + _fridge_limit()
        if self.exhausted_at is not None:
            limit = min(limit, self.exhausted_at)
        return at >= limit if inclusive else at > limit

    def flag(self, code: ViolationCode, at: datetime, text: str, row: RuleRow) -> None:
        self.violations.append((code, at, text, row))


def _room_budget() -> timedelta:
    limit = prep.ROOM_TEMPERATURE_LIMIT.limit
    assert limit is not None
    return limit


def _fridge_limit() -> timedelta:
    limit = prep.REFRIGERATED_LIMIT.limit
    assert limit is not None
    return limit


def _dilute_limit() -> timedelta:
    limit = prep.DILUTE_WITHIN.limit
    assert limit is not None
    return limit


def _order(events: Sequence[ClockEvent]) -> list[tuple[int, ClockEvent, datetime]]:
    rows = [(i, e, e.at.astimezone(UTC)) for i, e in enumerate(events)]
    return sorted(rows, key=lambda r: (r[2], r[1].kind is not EventKind.RECONSTITUTED, r[0]))


def _apply(w: _Walk, kind: EventKind, at: datetime) -> None:
    order_row = prep.SEQUENCE
    if not w.running:
        if kind is EventKind.DISCARDED and w.phase is Phase.INFUSED:
            w.phase = Phase.DISCARDED  # the empty bag goes in the bin: nothing to check
            return
        w.flag(ViolationCode.EVENT_ORDER, at,
               f"'{kind}' after the preparation was {w.phase.value.replace('_', ' ')}", order_row)
        return
    if kind is EventKind.RECONSTITUTED:  # only at t0 (a second one is refused as input)
        return
    if kind is EventKind.BAG_PREPARED:
        if w.phase is not Phase.VIAL:
            w.flag(ViolationCode.EVENT_ORDER, at, "bag prepared twice, or after the infusion "
                                                  "started", order_row)
            return
        if at - w.t0 > _dilute_limit():
            w.flag(ViolationCode.DILUTED_AFTER_4H, at,
                   f"diluted {_hm(at - w.t0)} after reconstitution: the vial had to be diluted "
                   f"within {_span(_dilute_limit())}, or discarded", prep.DILUTE_WITHIN)
        w.phase, w.in_fridge = Phase.BAG, False
    elif kind is EventKind.REFRIGERATED:
        if w.in_fridge:
            w.flag(ViolationCode.EVENT_ORDER, at, "refrigerated while already refrigerated",
                   order_row)
        elif w.phase is Phase.VIAL:
            w.flag(ViolationCode.EVENT_ORDER, at, "refrigerated before the bag was prepared: "
                   "only the prepared bag may be refrigerated (the time still counts as room "
                   "temperature)", order_row)
            w.in_fridge, w.fridge_counts = True, False
        elif w.phase is Phase.INFUSING:
            w.flag(ViolationCode.EVENT_ORDER, at, "refrigerated during the infusion",
                   prep.NO_RE_REFRIGERATION)
        elif w.times_refrigerated > 0:
            w.flag(ViolationCode.RE_REFRIGERATED, at, "the bag was put back into the "
                   "refrigerator after being taken out: do not re-refrigerate (this time "
                   "counts as room temperature)", prep.NO_RE_REFRIGERATION)
            w.in_fridge, w.fridge_counts = True, False
            w.times_refrigerated += 1
        else:
            w.in_fridge, w.fridge_counts = True, True
            w.times_refrigerated += 1
    elif kind is EventKind.REMOVED_FROM_REFRIGERATOR:
        if not w.in_fridge:
            w.flag(ViolationCode.EVENT_ORDER, at, "removed from the refrigerator without "
                   "having been refrigerated", order_row)
        w.in_fridge = False
    elif kind is EventKind.INFUSION_STARTED:
        if w.phase is Phase.INFUSING:
            w.flag(ViolationCode.EVENT_ORDER, at, "infusion started twice", order_row)
            return
        if w.phase is Phase.VIAL:
            w.flag(ViolationCode.EVENT_ORDER, at, "infusion started before the bag was "
                   "prepared", order_row)
        if w.in_fridge:
            w.flag(ViolationCode.EVENT_ORDER, at, "infusion started while the bag was "
                   "refrigerated: it must come to room temperature first",
                   prep.INFUSION_WITHIN_ROOM_TIME)
        w.phase, w.in_fridge = Phase.INFUSING, False
        if w.past_discard(at, inclusive=True):
            w.flagged_late_infusion = True
            w.flag(ViolationCode.INFUSION_AFTER_DISCARD, at, "infusion started at or after the "
                   "discard time", prep.INFUSION_WITHIN_ROOM_TIME)
    elif kind is EventKind.INFUSION_COMPLETED:
        if w.phase is not Phase.INFUSING:
            w.flag(ViolationCode.EVENT_ORDER, at, "infusion completed without having started",
                   order_row)
        if not w.flagged_late_infusion and w.past_discard(at, inclusive=False):
            w.flagged_late_infusion = True
            w.flag(ViolationCode.INFUSION_AFTER_DISCARD, at, "infusion completed after the "
                   f"discard time ({_span(_room_budget())} of room-temperature time or "
                   f"{_span(_fridge_limit())} from reconstitution)", prep.INFUSION_WITHIN_ROOM_TIME)
        w.phase = Phase.INFUSED
    elif kind is EventKind.DISCARDED:
        w.phase, w.in_fridge = Phase.DISCARDED, False


def _span(limit: timedelta) -> str:
    """``4 h``, ``8 h``, ``7 days``: a label limit in the words of the label."""
    if limit.days and not limit.seconds:
        return f"{limit.days} days"
    return f"{int(limit.total_seconds() // 3600)} h"


def _hm(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def evaluate_clock(events: Sequence[ClockEvent], now: datetime, zone: tzinfo) -> ClockReport:
    """The in-use clock as of ``now``; every output instant carries the UTC offset ``zone``
    has at that instant (as a fixed offset, see :func:`in_zone`)."""
    now_utc = require_aware(now, "now")
    for i, event in enumerate(events):
        if require_aware(event.at, f"events[{i}].at") > now_utc:
            raise InvalidInput(f"events[{i}].at", f"{event.at.isoformat()} is after now "
                                                  f"({now.isoformat()})")
    starts = [i for i, e in enumerate(events) if e.kind is EventKind.RECONSTITUTED]
    if not starts:
        raise InvalidInput("events", "no 'reconstituted' event: the in-use clock starts at "
                                     "reconstitution")
    if len(starts) > 1:
        raise InvalidInput(f"events[{starts[1]}].event", "a preparation is reconstituted once; "
                                                        "start a new clock for a new vial")
    t0 = events[starts[0]].at.astimezone(UTC)
    walk = _Walk(t0=t0, last=t0)
    for index, event, at in _order(events):
        if at < t0:
            walk.flag(ViolationCode.EVENT_ORDER, at, f"'{event.kind}' (events[{index}]) before "
                      "the reconstitution", prep.SEQUENCE)
            continue
        walk.advance(at)
        _apply(walk, event.kind, at)
    walk.advance(now_utc)
    used = walk.room_used
    if walk.exhausted_at is None and walk.at_room_temperature:
        # The storage state as of now (or at the end of the clock) continues.
        walk.exhausted_at = walk.last + (_room_budget() - walk.room_used)
    discard = t0 + _fridge_limit()
    if walk.exhausted_at is not None:
        discard = min(discard, walk.exhausted_at)
    dilute_by = t0 + _dilute_limit()
    if walk.phase is Phase.INFUSING and now_utc > discard and not walk.flagged_late_infusion:
        walk.flag(ViolationCode.INFUSION_AFTER_DISCARD, discard, "the infusion is still "
                  "running after the discard time", prep.INFUSION_WITHIN_ROOM_TIME)
    if walk.phase in (Phase.VIAL, Phase.BAG) and now_utc >= discard:
        walk.flag(ViolationCode.EXPIRED, discard, "past the maximum storage time: discard the "
                  "preparation", prep.ROOM_TEMPERATURE_LIMIT
                  if discard < t0 + _fridge_limit() else prep.REFRIGERATED_LIMIT)
    elif walk.phase is Phase.VIAL and now_utc > dilute_by:
        walk.flag(ViolationCode.EXPIRED, dilute_by, "the reconstituted vial was not diluted "
                  f"within {_span(_dilute_limit())}: discard it", prep.DILUTE_WITHIN)
    codes = {v[0] for v in walk.violations}
    if codes - {ViolationCode.EXPIRED}:
        status = ClockStatus.VIOLATION
    elif codes:
        status = ClockStatus.EXPIRED
    else:
        status = ClockStatus.OK
    budget = _room_budget()
    violations = tuple(Violation(code, in_zone(at, zone), text, cite(row))
                       for code, at, text, row in sorted(walk.violations, key=lambda v: v[1]))
    rows: tuple[RuleRow, ...] = (*prep.TIME_LIMITS, INFUSION)
    reasons = tuple(cite(r) for r in rows)
    return ClockReport(
        status=status, phase=walk.phase, refrigerated=walk.in_fridge,
        reconstituted_at=in_zone(t0, zone), dilute_by=in_zone(dilute_by, zone),
        discard_at=in_zone(discard, zone),
        latest_infusion_start=in_zone(discard - timedelta(minutes=INFUSION.minutes), zone),
        room_temperature_used=used, room_temperature_left=max(budget - used, timedelta(0)),
        violations=violations, reasons=reasons)
