"""Premedication and post-infusion fluids as charted entries, judged against the label's time
windows (label-facts §3 "Before and around each dose", rows of :mod:`tarla.label.concomitant`).

The course engine decides which dose gets them (``Decision.care.premedication`` /
``post_infusion``); this module judges what the nurses charted:

- :func:`may_start_infusion`, the infusion start gate: every premedication the dose's care
  lists is charted within its window before the infusion start (``window_before_hours``
  before the anchor, the infusion start, and not after it), or waived for this dose by a
  physician with a reason;
- :func:`may_start_post_infusion`: the post-infusion fluid starts once the infusion has ended
  ("immediately after");
- :func:`post_infusion_state`: for the board, whether the fluid is not needed, due, running
  or done;
- :func:`duration_warnings`: a fluid that ran outside its stated duration is flagged (the
  nurse charts what happened; a warning, not a refusal).

Readings chosen here (documented, not label text): the window is inclusive at both ends; a
premedication charted after the infusion start does not count (the row says "before"); a
waiver covers one row of one dose and is a physician's act.

Pure: standard library only; times are passed in, tz-aware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType

from tarla.domain.care import Medication
from tarla.domain.release import Gate, Refusal

__all__ = ["CARE_RULES", "Charted", "PostInfusionState", "may_start_infusion",
           "may_start_post_infusion", "post_infusion_state", "duration_warnings",
           "within_window"]

#: The gates' own rules (system rules of this project applying the concomitant rows).
CARE_RULES: MappingProxyType[str, str] = MappingProxyType({
    "CARE-PREMED": "The premedication the dose's care lists is charted before the infusion "
                   "starts, or a physician waives it for this dose with a reason.",
    "CARE-PREMED-WINDOW": "The premedication counts only when given within its window before "
                          "the infusion start.",
    "CARE-PREMED-WAIVED": "A physician waived the premedication for this dose (reason on "
                          "record).",
    "CARE-POST-INFUSION": "The post-infusion fluid starts once the infusion has ended.",
})


@dataclass(frozen=True, slots=True)
class Charted:
    """One charted entry of a dose: the label row it applies (``rule``), when it was given
    (or started) and ended, or a physician's waiver."""

    rule: str
    given_at: datetime | None = None
    ended_at: datetime | None = None
    waived: bool = False


class PostInfusionState(StrEnum):
    NOT_NEEDED = "not_needed"
    WAITING = "waiting"  # the infusion has not ended yet
    DUE = "due"  # the infusion ended, the fluid is not started
    RUNNING = "running"
    DONE = "done"


def _when(moment: datetime, zone: tzinfo | None) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" if zone else moment.isoformat()


def within_window(med: Medication, given_at: datetime, started_at: datetime) -> bool:
    """Whether ``given_at`` is in the row's window before the infusion start (inclusive)."""
    if given_at > started_at:
        return False
    if med.window_before_hours is None:
        return True
    return started_at - timedelta(hours=med.window_before_hours) <= given_at


def may_start_infusion(*, premedication: Sequence[Medication], charted: Sequence[Charted],
                       started_at: datetime, zone: tzinfo | None = None) -> Gate:
    """May the infusion start at ``started_at``, given the premedication charted for this
    dose? ``premedication``: the rows the dose's care lists (empty: nothing to check)."""
    refusals: list[Refusal] = []
    rules: list[str] = []

    def use(*ids: str) -> None:
        rules.extend(i for i in ids if i not in rules)

    for med in premedication:
        mine = [c for c in charted if c.rule == med.rule]
        use("CARE-PREMED", med.rule)
        if any(c.waived for c in mine):
            use("CARE-PREMED-WAIVED")
            continue
        given = [c.given_at for c in mine if c.given_at is not None]
        if any(within_window(med, g, started_at) for g in given):
            continue
        what = f"{med.drug} {med.dose} {med.route} ({med.timing})"
        if given:
            last = max(given)
            use("CARE-PREMED-WINDOW")
            refusals.append(Refusal("CARE-PREMED-WINDOW", "started_at", (
                f"{what} is charted at {_when(last, zone)}, not within its window before an "
                f"infusion start at {_when(started_at, zone)}: give and chart it again, or a "
                f"physician waives it for this dose [{med.rule} {med.tag}]")))
        else:
            refusals.append(Refusal("CARE-PREMED", "premedication", (
                f"chart {what} before starting the infusion, or a physician waives it for "
                f"this dose with a reason [{med.rule} {med.tag}]")))
    return Gate(tuple(refusals), tuple(rules))


def may_start_post_infusion(*, med: Medication, infusion_started_at: datetime,
                            infusion_ended_at: datetime | None) -> Gate:
    """The post-infusion fluid is started once the infusion's end is on record."""
    if infusion_ended_at is None:
        return Gate((Refusal("CARE-POST-INFUSION", "administration", (
            f"{med.drug} {med.dose} {med.route} is given {med.timing}: record the end of the "
            f"infusion first [{med.rule} {med.tag}]")),), ("CARE-POST-INFUSION", med.rule))
    return Gate((), ("CARE-POST-INFUSION", med.rule))


def post_infusion_state(*, post_infusion: Sequence[Medication], charted: Sequence[Charted],
                        infusion_ended_at: datetime | None, now: datetime) -> PostInfusionState:
    """Where the dose's post-infusion fluid stands at ``now`` (for the board)."""
    if not post_infusion:
        return PostInfusionState.NOT_NEEDED
    rules = {m.rule for m in post_infusion}
    mine = [c for c in charted if c.rule in rules and c.given_at is not None
            and c.given_at <= now]
    if mine and all(c.ended_at is not None and c.ended_at <= now for c in mine) \
            and {c.rule for c in mine} >= rules:
        return PostInfusionState.DONE
    if mine:
        return PostInfusionState.RUNNING
    if infusion_ended_at is None or infusion_ended_at > now:
        return PostInfusionState.WAITING
    return PostInfusionState.DUE


def duration_warnings(med: Medication, started_at: datetime,
                      ended_at: datetime) -> tuple[Refusal, ...]:
    """A fluid that ran shorter or longer than the row states (a warning to show)."""
    ran = ended_at - started_at
    lo, hi = med.duration_min_hours, med.duration_max_hours
    minutes = int(ran.total_seconds() // 60)
    if lo is not None and ran < timedelta(hours=lo):
        return (Refusal(med.rule, "ended_at", f"{med.drug} ran {minutes} min, shorter than "
                                              f"stated ({med.timing})"),)
    if hi is not None and ran > timedelta(hours=hi):
        return (Refusal(med.rule, "ended_at", f"{med.drug} ran {minutes} min, longer than "
                                              f"stated ({med.timing})"),)
    return ()
