"""The demo centre's resources (issue 12): site policy for a demo, not a recommendation.

12 chairs, 4 monitoring beds, open Monday to Friday 08:00-18:00; a day shift of 4 nurses
(07:30-19:30, Monday to Friday) and a night shift of 2 nurses (19:30-07:30, every night, for
the monitoring beds) and a weekend day shift of 2 (for beds across the weekend); 4 patients
per nurse, 6 bags compounded per hour, a 30-minute labs draw (UNVERIFIED default)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tarla.services import capacity
from tarla.services.ports import UnitOfWork

__all__ = ["DEMO_CENTRE", "load_demo_centre"]

DEMO_CENTRE = {"chairs": 12, "beds": 4, "compounding_per_hour": 6, "patients_per_nurse": 4,
               "labs_minutes": 30, "overtime_minutes": 120, "plan_time_limit_s": 10}
_HOURS = (("mon", "08:00", "18:00"), ("tue", "08:00", "18:00"), ("wed", "08:00", "18:00"),
          ("thu", "08:00", "18:00"), ("fri", "08:00", "18:00"))
_SHIFTS = (("day", "mon-fri", "07:30", "19:30", 4), ("night", "mon-sun", "19:30", "07:30", 2),
           ("weekend day", "sat-sun", "07:30", "19:30", 2))


def load_demo_centre(uow_factory: Callable[[], UnitOfWork], *, site_code: str, actor: str,
                     now: datetime) -> None:
    capacity.set_resources(uow_factory(), site_code=site_code, actor=actor, now=now,
                           **DEMO_CENTRE)
    for day, opens, closes in _HOURS:
        capacity.set_hours(uow_factory(), site_code=site_code, weekday=day, opens=opens,
                           closes=closes, actor=actor, now=now)
    for name, days, starts, ends, nurses in _SHIFTS:
        capacity.set_shift(uow_factory(), site_code=site_code, name=name, weekdays=days,
                           starts=starts, ends=ends, nurses=nurses, actor=actor, now=now)
