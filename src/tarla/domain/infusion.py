"""An infusion that ran much shorter than the label's 1 hour.

Every dose is a 1-hour infusion (:data:`tarla.label.schedule.INFUSION`). How much shorter is
"much shorter" is not in the label: it is the site-policy row
:data:`tarla.label.schedule.INFUSION_SHORT` (tagged UNVERIFIED), which this module only reads.

The length is elapsed (absolute) time from start to end, so an infusion that spans a DST
change is measured in real minutes, not by its wall-clock readings.
"""

from __future__ import annotations

from datetime import datetime

from tarla.domain.errors import InvalidInput
from tarla.domain.timestamps import aware
from tarla.label.rows import Citation, cite
from tarla.label.schedule import INFUSION, INFUSION_SHORT

__all__ = ["infusion_minutes", "short_infusion"]


def infusion_minutes(started_at: datetime, ended_at: datetime) -> float:
    """Elapsed minutes from ``started_at`` to ``ended_at`` (tz-aware; the end not before the
    start)."""
    started = aware(started_at, "started_at")
    ended = aware(ended_at, "ended_at")
    # Subtracting two datetimes of the same zone compares wall clocks (wrong across a DST
    # change); timestamps are absolute.
    elapsed = ended.timestamp() - started.timestamp()
    if elapsed < 0:
        raise InvalidInput("ended_at", f"{ended.isoformat()} is before started_at "
                                       f"{started.isoformat()}")
    return elapsed / 60


def short_infusion(started_at: datetime, ended_at: datetime) -> Citation | None:
    """The citation of the short-infusion rule when the infusion ran less than its threshold
    (start to end, elapsed time), else None."""
    minutes = infusion_minutes(started_at, ended_at)
    threshold = INFUSION_SHORT.minutes
    if minutes >= threshold:
        return None
    ran = _duration(minutes)
    return cite(INFUSION_SHORT,
                f"The infusion ran {ran} from start to end, less than {threshold} minutes "
                f"(site-policy threshold, UNVERIFIED); the label's infusion takes "
                f"{INFUSION.minutes} minutes. Check the pump rate and the bag, and tell the "
                "prescriber.")


def _duration(minutes: float) -> str:
    mins, secs = divmod(int(minutes * 60), 60)  # whole seconds, rounded down
    return f"{mins} min" if secs == 0 else f"{mins} min {secs} s"
