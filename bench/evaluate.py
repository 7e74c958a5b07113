"""Decisions per second of the pure course engine on one core.

    .venv/bin/python bench/evaluate.py [--patients 10000] [--seed 7]

Builds synthetic patients with realistic histories (0-40 doses: on-time courses, late doses,
restart step-ups, CRS/ICANS events, a recent lab panel) and times ``evaluate`` over all of them.
Building the inputs is not timed; only decisions are. Target: >= 10,000 decisions/s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import timeit
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tarla.domain.course import (  # noqa: E402
    Administration,
    AdverseEvent,
    CourseInput,
    LabResult,
    Patient,
    evaluate,
)
from tarla.label.toxicity import EventType  # noqa: E402

ZONES = [ZoneInfo(z) for z in ("America/New_York", "America/Chicago", "America/Los_Angeles")]


def synthetic_patient(rnd: random.Random) -> CourseInput:
    zone = rnd.choice(ZONES)
    n = rnd.randint(0, 40)
    start = date(2025, 1, 1) + timedelta(days=rnd.randint(0, 500))
    given: list[Administration] = []
    day = start
    step_up_next = True
    since_step_up = 0
    for i in range(n):
        if i:
            base = 7 if i < 3 or since_step_up == 1 else 14
            late = rnd.choices([0, 1, 3, 10, 30], weights=[80, 8, 6, 4, 2])[0]
            day = day + timedelta(days=base + late)
            # a clinic restarts with the 1 mg step-up after a long gap (Table 4)
            step_up_next = late >= 30 and rnd.random() < 0.9
        mg = 1 if step_up_next or (given and rnd.random() < 0.005) else 10
        since_step_up = since_step_up + 1 if mg == 10 else 1
        step_up_next = False
        given.append(Administration(datetime.combine(day, clock(rnd.randint(7, 16),
                                                                rnd.choice((0, 15, 30))),
                                                     tzinfo=zone), mg))
    as_of = datetime.combine(day + timedelta(days=rnd.choice([1, 7, 14, 15, 20])),
                             clock(7, 30), tzinfo=zone)
    events: list[AdverseEvent] = []
    if given and rnd.random() < 0.35:
        onset = given[min(1, len(given) - 1)].started_at + timedelta(hours=16)
        resolved = onset + timedelta(days=2) if rnd.random() < 0.8 else None
        if resolved is not None and resolved > as_of:
            resolved = None
        if onset <= as_of:
            events.append(AdverseEvent(rnd.choice([EventType.CRS, EventType.CRS, EventType.ICANS]),
                                       rnd.choices([1, 2, 3], weights=[70, 25, 5])[0], onset,
                                       resolved))
    labs: list[LabResult] = []
    if rnd.random() < 0.8:
        drawn = as_of - timedelta(hours=20)
        labs = [LabResult("ANC", round(rnd.uniform(0.3, 6.0), 1), "10*9/L", drawn, lln=1.8),
                LabResult("platelets", rnd.randint(40, 400), "10*9/L", drawn, lln=150),
                LabResult("hemoglobin", round(rnd.uniform(7.5, 15.0), 1), "g/dL", drawn, lln=12.0),
                LabResult("ALT", rnd.randint(10, 250), "U/L", drawn, uln=40),
                LabResult("AST", rnd.randint(10, 250), "U/L", drawn, uln=40),
                LabResult("bilirubin", round(rnd.uniform(0.2, 4.0), 1), "mg/dL", drawn, uln=1.2)]
    patient = Patient(date(1950, 1, 1) + timedelta(days=rnd.randint(0, 9000)), "ES-SCLC", True)
    return CourseInput(as_of, zone, patient, tuple(given), tuple(events), tuple(labs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    inputs = [synthetic_patient(rnd) for _ in range(args.patients)]
    doses = sum(len(i.administrations) for i in inputs)
    for inp in inputs[:200]:  # warm up (the lab-grade memo, zone data)
        evaluate(inp)
    rates = []
    actions: dict[str, int] = {}
    for _ in range(args.repeat):
        # CPU time of this process: "per second on one core", robust to other load.
        t0 = time.process_time()
        for inp in inputs:
            d = evaluate(inp)
            actions[d.action.value] = actions.get(d.action.value, 0) + 1
        rates.append(len(inputs) / (time.process_time() - t0))
    print(f"patients: {len(inputs)}  administrations: {doses} "
          f"(mean {doses / len(inputs):.1f} per patient)")
    print("decisions: " + ", ".join(f"{k} {v // args.repeat}" for k, v in sorted(actions.items())))
    calib = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    print(f"machine calibration: sum(range(1000)) takes {calib:.1f} us on this core "
          "(compare machines with it; the figure below scales inversely)")
    print(f"decisions per CPU-second (one core, best of {args.repeat}): {max(rates):,.0f}  "
          f"(median {statistics.median(rates):,.0f}; target >= 10,000)")


if __name__ == "__main__":
    main()
