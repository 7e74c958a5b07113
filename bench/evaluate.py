"""Decisions per CPU-second of the pure course engine, full-history and resumed; CLI start-up.

    .venv/bin/python bench/evaluate.py [--patients 10000] [--seed 7] [--repeat 3]

Builds synthetic patients with realistic histories (0-40 doses: on-time courses, late doses,
restart step-ups, CRS/ICANS events, a recent lab panel). Building the inputs is not timed;
only decisions are, in CPU time of this process (robust to other load on the machine).

* **full-history**: ``evaluate`` with every dose of the course (target >= 20,000/s).
* **resumed**: ``evaluate`` with :attr:`CourseInput.prior` set to the course's stored last
  dose (rebuilt with ``resume_point`` from the full derivation, not timed) and only the doses
  since (none here: the worklist case); target >= 50,000/s. Each resumed decision is checked
  to be the full-history one (action, next dose, care, reasons, warnings, pending checks),
  except that deviations of earlier doses are not reported again.

The floor next to each figure is measured in the same run on the same inputs: a loop that
only *reads* what the engine must read (each dose's start and amount, each lab's value, each
event) and *builds* the ``Decision`` value it must return (with the parts precomputed). No
engine can do less than read its input and build its output, so "N x floor" is how far the
engine is from that; the absolute figure depends on the machine, the ratio much less.

Start-up: CPU time (user + system, ``getrusage(RUSAGE_CHILDREN)``) of ``tarla --help`` and of
``tarla evaluate`` on one small contract input, run as subprocesses, next to the CPU time of
``python -c pass`` (the interpreter's own start-up, the floor); best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tarla.domain.course import (  # noqa: E402
    Administration,
    AdverseEvent,
    CourseInput,
    Decision,
    LabResult,
    Patient,
    evaluate,
    resume_point,
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


def resumed_input(inp: CourseInput, decision: Decision) -> CourseInput:
    """``inp`` as a caller that stored the course state passes it: the last dose as ``prior``
    (as the full derivation found it) and only the doses since (none)."""
    if not decision.history:
        return inp
    last = decision.history[-1]
    prior = resume_point(last.started_at, last.dose_mg, last.slot.index, last.kind,
                         last.restart_step, inp.zone, inp.rules)
    return replace(inp, administrations=(), prior=prior)


def floor_pass(inputs: Sequence[CourseInput], decisions: Sequence[Decision]) -> None:
    """Read what the engine must read and build the Decision it must return (see above)."""
    for inp, d in zip(inputs, decisions):
        for adm in inp.administrations:
            adm.started_at, adm.dose_mg  # noqa: B018 - reading is the point
        for lab in inp.labs:
            lab.collected_at, lab.value  # noqa: B018
        for ev in inp.adverse_events:
            ev.onset, ev.grade  # noqa: B018
        Decision(d.label_version, d.action, d.next_dose, d.care, d.reasons, d.warnings,
                 d.pending_checks, d.history, d.as_of_date, d.lab_grades, d.hold_reasons)


def rate(run: Callable[[], object], count: int, repeat: int) -> list[float]:
    """``count`` per CPU-second of ``run()``, once per repeat."""
    out = []
    for _ in range(repeat):
        t0 = time.process_time()
        run()
        out.append(count / (time.process_time() - t0))
    return out


def child_cpu(argv: list[str], stdin: str | None, repeat: int) -> float:
    """Best CPU seconds (user + system) of running ``argv`` as a child process."""
    best = float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, input=stdin, text=True, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        best = min(best, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return best


#: One small ``tarla evaluate`` contract input (tests/data/contracts/006-...).
CLI_INPUT = {
    "as_of": "2026-12-15T07:30:00-05:00", "timezone": "America/New_York",
    "patient": {"birth_date": "1958-04-02", "diagnosis": "ES-SCLC",
                "progressed_after_platinum": True},
    "administrations": [{"started_at": "2026-12-01T09:00:00-05:00", "dose_mg": 1},
                        {"started_at": "2026-12-08T09:00:00-05:00", "dose_mg": 10}],
    "adverse_events": [{"type": "CRS", "grade": 2, "onset": "2026-12-09T01:00:00-05:00",
                        "resolved_at": "2026-12-10T12:00:00-05:00"}],
    "labs": [],
}


#: Warnings about a dose that departed from the label: reported when that dose was evaluated,
#: so a resumed evaluation (which does not see the dose again) does not repeat them.
DEVIATIONS = ("DOSE_DEVIATION", "EARLY_DOSE")


def same_decision(resumed: Decision, full: Decision) -> bool:
    """Same decision, except deviations of doses not passed in again (see DEVIATIONS)."""
    return (resumed.action, resumed.next_dose, resumed.care, resumed.reasons,
            resumed.pending_checks, resumed.lab_grades, resumed.hold_reasons,
            resumed.warnings) == (full.action, full.next_dose, full.care, full.reasons,
                                  full.pending_checks, full.lab_grades, full.hold_reasons,
                                  tuple(w for w in full.warnings if w.code not in DEVIATIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    inputs = [synthetic_patient(rnd) for _ in range(args.patients)]
    doses = sum(len(i.administrations) for i in inputs)
    full = [evaluate(inp) for inp in inputs]  # also warms up the lab-grade memo, zone data
    resumed = [resumed_input(inp, d) for inp, d in zip(inputs, full)]
    differ = sum(not same_decision(evaluate(r), d) for r, d in zip(resumed, full))
    actions: dict[str, int] = {}
    for d in full:
        actions[d.action.value] = actions.get(d.action.value, 0) + 1
    n = len(inputs)

    def run_full() -> None:
        for inp in inputs:
            evaluate(inp)

    def run_resumed() -> None:
        for inp in resumed:
            evaluate(inp)

    resumed_full = [evaluate(r) for r in resumed]
    full_rates = rate(run_full, n, args.repeat)
    full_floor = rate(lambda: floor_pass(inputs, full), n, args.repeat)
    res_rates = rate(run_resumed, n, args.repeat)
    res_floor = rate(lambda: floor_pass(resumed, resumed_full), n, args.repeat)

    print(f"patients: {n}  administrations: {doses} (mean {doses / n:.1f} per patient)")
    print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
    print(f"resumed decisions that differ from full-history: {differ}")
    for name, rates, floor, target in (("full-history", full_rates, full_floor, 20_000),
                                       ("resumed", res_rates, res_floor, 50_000)):
        best, fl = max(rates), max(floor)
        verdict = "meets" if best >= target else "below"
        print(f"{name:>12}: {best:10,.0f} decisions/CPU-s (median "
              f"{statistics.median(rates):,.0f}; target >= {target:,}: {verdict})  floor "
              f"{fl:,.0f}/s  -> engine costs {fl / best:.1f}x the floor")

    python = [sys.executable]
    # what the ``tarla`` console script runs
    tarla = [sys.executable, "-c", "import sys; from tarla.cli import main; sys.exit(main())"]
    floor_cpu = child_cpu([*python, "-c", "pass"], None, args.repeat)
    help_cpu = child_cpu([*tarla, "--help"], None, args.repeat)
    eval_cpu = child_cpu([*tarla, "evaluate", "--json"], json.dumps(CLI_INPUT), args.repeat)
    print(f"start-up CPU (best of {args.repeat}): python -c pass {floor_cpu * 1e3:.0f} ms; "
          f"tarla --help {help_cpu * 1e3:.0f} ms ({help_cpu / floor_cpu:.1f}x); "
          f"tarla evaluate {eval_cpu * 1e3:.0f} ms ({eval_cpu / floor_cpu:.1f}x)")


if __name__ == "__main__":
    main()
