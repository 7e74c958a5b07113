"""``tarla demo``: a guided walk through one synthetic patient's course.

Runs without input (it is what ``make run`` shows until the web app exists). Every step calls
the same core functions as ``tarla evaluate`` and prints the decision with its reasons.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tarla.cli._io import add_io_arguments
from tarla.cli.course import render_decision, render_schedule
from tarla.domain.course import evaluate
from tarla.schemas.course import (
    EvaluateRequest,
    ScheduleRequest,
    decision_to_json,
    schedule_to_json,
    to_course_input,
)

__all__ = ["register", "story"]

ZONE = "America/New_York"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = sub.add_parser("demo", help="a guided tour of one synthetic patient's course",
                          description=__doc__.splitlines()[0] if __doc__ else None)
    demo.add_argument("--start", default="2026-12-01",
                      help="C1D1 date of the synthetic patient (default 2026-12-01)")
    add_io_arguments(demo, with_input=False)
    demo.set_defaults(handler=_demo)


def _at(day: date, hhmm: str) -> str:
    return datetime.fromisoformat(f"{day.isoformat()}T{hhmm}").replace(
        tzinfo=ZoneInfo(ZONE)).isoformat()


def story(start: date) -> list[tuple[str, dict[str, Any]]]:
    """The demo's steps: (what happens, evaluate input)."""
    patient = {"birth_date": "1958-04-02", "diagnosis": "ES-SCLC",
               "progressed_after_platinum": True}
    d = lambda n: start + timedelta(days=n)  # noqa: E731
    given: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    steps: list[tuple[str, dict[str, Any]]] = []

    def snap(title: str, as_of: date, hhmm: str = "07:30",
             labs: list[dict[str, Any]] | None = None) -> None:
        steps.append((title, {"as_of": _at(as_of, hhmm), "timezone": ZONE, "patient": patient,
                              "administrations": list(given), "adverse_events": list(events),
                              "labs": labs or []}))

    def panel(day: date) -> list[dict[str, Any]]:
        t = _at(day, "08:00")
        return [{"test": "ANC", "value": 3.1, "unit": "10*9/L", "lln": 1.8, "collected_at": t},
                {"test": "platelets", "value": 210, "unit": "10*9/L", "lln": 150,
                 "collected_at": t},
                {"test": "hemoglobin", "value": 12.9, "unit": "g/dL", "lln": 12.0,
                 "collected_at": t},
                {"test": "ALT", "value": 31, "unit": "U/L", "uln": 40, "collected_at": t},
                {"test": "AST", "value": 28, "unit": "U/L", "uln": 40, "collected_at": t},
                {"test": "bilirubin", "value": 0.7, "unit": "mg/dL", "uln": 1.2,
                 "collected_at": t}]

    snap("Day 1, before the first dose: labs not drawn yet", d(0))
    snap("Day 1, labs are back: the 1 mg step-up dose", d(0), "08:30", panel(d(0)))
    given.append({"started_at": _at(d(0), "09:00"), "dose_mg": 1})
    snap("Day 4: nothing is due", d(3), "10:00")
    given.append({"started_at": _at(d(7), "09:00"), "dose_mg": 10})
    events.append({"type": "CRS", "grade": 2, "onset": _at(d(8), "01:00"), "resolved_at": None})
    snap("Day 9: grade 2 CRS after the first 10 mg dose, still ongoing", d(8), "09:00")
    events[0]["resolved_at"] = _at(d(9), "12:00")
    snap("Day 15: CRS resolved; C1D15 needs 22-24 h facility monitoring", d(14), "07:30",
         panel(d(13)))
    given.append({"started_at": _at(d(14), "09:00"), "dose_mg": 10})
    snap("Day 46: the patient missed a month (last dose 31 days ago)", d(45), "07:30",
         panel(d(44)))
    return steps


def _demo(args: argparse.Namespace) -> int:
    start = date.fromisoformat(args.start)
    sched = schedule_to_json(ScheduleRequest(start_date=start, timezone=ZONE, cycles=2))
    steps = story(start)
    if args.json:
        out = {"schedule": sched, "steps": []}
        for title, data in steps:
            req = EvaluateRequest.model_validate(data)
            out["steps"].append({"title": title, "input": data, "output": decision_to_json(
                evaluate(to_course_input(req)), ZoneInfo(ZONE))})
        print(json.dumps(out, indent=2))
        return 0
    bar = "=" * 78
    print(bar)
    print("Tarla demo: one synthetic ES-SCLC patient on tarlatamab, site time zone " + ZONE)
    print(bar)
    print(render_schedule(sched))
    for n, (title, data) in enumerate(steps, 1):
        req = EvaluateRequest.model_validate(data)
        decision = decision_to_json(evaluate(to_course_input(req)), ZoneInfo(ZONE))
        print(f"\n{bar}\nStep {n}: {title}\n{bar}")
        print(render_decision(decision))
    print(f"\n{bar}\nTry it yourself:  tarla evaluate --help   tarla schedule --start-date "
          f"2026-12-01 --timezone {ZONE}\n{bar}")
    return 0
