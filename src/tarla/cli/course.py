"""CLI commands of the course engine: ``tarla schedule`` and ``tarla evaluate``."""

from __future__ import annotations

import argparse
from typing import Any
from zoneinfo import ZoneInfo

from tarla.cli._io import add_io_arguments, emit, read_json_input
from tarla.domain.course import evaluate
from tarla.schemas.course import (
    EvaluateRequest,
    ScheduleRequest,
    decision_to_json,
    schedule_to_json,
    to_course_input,
)

__all__ = ["register", "render_decision", "render_schedule"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sched = sub.add_parser("schedule", help="the planned course calendar from a start date",
                           description="Planned course for N cycles. Give --start-date and "
                                       "--timezone, or a JSON file/stdin with start_date, "
                                       "timezone, cycles.")
    sched.add_argument("--start-date", help="C1D1 date, YYYY-MM-DD (site local)")
    sched.add_argument("--timezone", help="IANA time zone of the site, e.g. America/New_York")
    sched.add_argument("--cycles", type=int, help="number of cycles to plan (default 2)")
    add_io_arguments(sched)
    sched.set_defaults(handler=_schedule)

    ev = sub.add_parser("evaluate", help="what happens next for one patient",
                        description="Evaluate one patient's course as of a moment. Input: the "
                                    "JSON of the `tarla evaluate` contract (file or stdin).")
    add_io_arguments(ev)
    ev.set_defaults(handler=_evaluate)


def _schedule(args: argparse.Namespace) -> int:
    if args.start_date or args.timezone:
        data: dict[str, Any] = {"start_date": args.start_date, "timezone": args.timezone}
        if args.cycles is not None:
            data["cycles"] = args.cycles
    else:
        data = read_json_input(args.input)
        if isinstance(data, dict) and args.cycles is not None:
            data["cycles"] = args.cycles
    req = ScheduleRequest.model_validate(data)
    emit(schedule_to_json(req), args.json, render_schedule)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    req = EvaluateRequest.model_validate(read_json_input(args.input))
    decision = evaluate(to_course_input(req))
    emit(decision_to_json(decision, ZoneInfo(req.timezone)), args.json, render_decision)
    return 0


# --------------------------------------------------------------------------- text rendering


def _care_lines(care: dict[str, Any]) -> list[str]:
    mon = care["monitoring"]
    where = ("in a healthcare facility, from the start of the infusion" if mon["kind"] == "facility"
             else "after the end of the infusion")
    hours = (f"{mon['hours'][0]}" if mon["hours"][0] == mon["hours"][1]
             else f"{mon['hours'][0]}-{mon['hours'][1]}")
    lines = [f"  Monitoring:     {hours} h {where}"]
    prox = care["proximity"]
    if prox:
        lines.append(f"  Afterwards:     stay within {prox['within_hours']} h of the facility "
                     f"until {prox['until_hours_from_start']} h from infusion start"
                     + (", with a caregiver" if prox["caregiver"] else ""))
    for label, key in (("Before:", "premedication"), ("After:", "post_infusion")):
        for m in care[key]:
            lines.append(f"  {label:<15} {m['drug']} {m['dose']} {m['route']}, {m['timing']}")
    labs = ", ".join(care["labs_before"]) or "none required"
    lines.append(f"  Labs before:    {labs}")
    return lines


def render_decision(d: dict[str, Any]) -> str:
    lines = [f"Decision: {d['decision'].upper()}    (label {d['label_version']}, "
             f"as of {d['as_of_date']})"]
    nd = d["next_dose"]
    if nd:
        lines.append(f"Next dose: {nd['slot']}  {nd['dose_mg']} mg  due {nd['due_date']}  "
                     f"[{nd['kind']}]")
    if d["care"]:
        lines.extend(_care_lines(d["care"]))
    if d["pending_checks"]:
        lines.append(f"Pending before giving: {', '.join(d['pending_checks'])} "
                     "(no result since the previous dose)")
    if d["history"]:
        lines.append("History:")
        for h in d["history"]:
            lines.append(f"  {h['slot']:<7} {h['started_at']}  {h['dose_mg']:>2} mg  {h['kind']}")
    if d["warnings"]:
        lines.append("Warnings:")
        lines.extend(f"  ! {w['text']} [{w['rule']} {w['tag']}]" for w in d["warnings"])
    lines.append("Because:")
    lines.extend(f"  - {r['text']} [{r['rule']} {r['tag']}]" for r in d["reasons"])
    if d["unverified"]:
        lines.append("NOTE: this decision relies on rules marked UNVERIFIED (best available "
                     "reading of the label, not confirmed against the current text); they need "
                     "a site sign-off.")
    return "\n".join(lines)


def render_schedule(s: dict[str, Any]) -> str:
    lines = [f"Planned course from {s['start_date']} ({s['timezone']}), {s['cycles']} cycles, "
             f"label {s['label_version']}", ""]
    lines.append(f"{'slot':<7} {'date':<11} {'dose':>5}  monitoring             premed  labs")
    for slot in s["slots"]:
        care = slot["care"]
        mon = care["monitoring"]
        hours = (f"{mon['hours'][0]}" if mon["hours"][0] == mon["hours"][1]
                 else f"{mon['hours'][0]}-{mon['hours'][1]}")
        mon_text = f"{mon['kind']} {hours} h" + (" +48h" if care["proximity"] else "")
        lines.append(f"{slot['slot']:<7} {slot['date']:<11} {slot['dose_mg']:>3} mg  "
                     f"{mon_text:<22} {'yes' if care['premedication'] else '-':<7} "
                     f"{'yes' if care['labs_before'] else '-'}")
    if s["unverified"]:
        lines.append("\nNOTE: some rules used are UNVERIFIED and need a site sign-off.")
    return "\n".join(lines)
