"""CLI commands: a site's capacity (issue 12): resources, opening hours, nurse shifts.

    tarla site show [--site CODE] [--json]
    tarla site set-resources --as ADMIN [--site CODE] [--chairs N] [--beds N]
          [--compounding-per-hour N] [--patients-per-nurse N] [--labs-minutes N]
          [--overtime-minutes N] [--plan-time-limit-s N] [--json]
    tarla site set-hours --as ADMIN --weekday mon (--opens 08:00 --closes 18:00 | --closed)
    tarla site set-shift --as ADMIN --name day --weekdays mon-fri --starts 07:30
          --ends 19:30 --nurses 4

The numbers are the site's policy (not label facts). Writes act as ``--as`` (an admin of the
site) and are audited; bad input exits 2 with ``error: <field>: <message>``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from tarla.cli import _io
from tarla.cli.records import _app, _refusals, _site_code

__all__ = ["register"]

_RESOURCES = ("chairs", "beds", "compounding_per_hour", "patients_per_nurse", "labs_minutes",
              "overtime_minutes", "plan_time_limit_s")


def _render(data: dict[str, Any]) -> str:
    lines = [f"site {data['site']} ({data['timezone']})"]
    r = data["resources"]
    if r is None:
        lines.append("  resources: not set (tarla site set-resources)")
    else:
        lines.append("  " + ", ".join(f"{k.replace('_', ' ')} {r[k]}" for k in _RESOURCES))
    lines.append("  hours: " + ("; ".join(f"{h['weekday']} {h['opens']}-{h['closes']}"
                                          for h in data["hours"]) or "closed every day"))
    for s in data["shifts"]:
        lines.append(f"  shift {s['name']}: {','.join(s['weekdays'])} {s['starts']}-{s['ends']}"
                     f", {s['nurses']} nurse(s)")
    lines.append(f"  ({data['policy_note']})")
    return "\n".join(lines)


def _actor(args: argparse.Namespace) -> str:
    if not args.actor:
        raise _io.UsageFailure("as", "name the administrator making the change (--as USERNAME)")
    return str(args.actor)


@_refusals
def _show(args: argparse.Namespace) -> int:
    from tarla.services import capacity
    from tarla.services.scope import OPERATOR

    app = _app()
    setup = capacity.setup_of(app.uow(), site_code=_site_code(app, args.site), viewer=OPERATOR)
    _io.emit(setup.to_json(), args.json, _render)
    return 0


@_refusals
def _set_resources(args: argparse.Namespace) -> int:
    from tarla.services import capacity

    values = {k: getattr(args, k) for k in _RESOURCES if getattr(args, k) is not None}
    if not values:
        raise _io.UsageFailure("resources", "name at least one of --" + ", --".join(
            k.replace("_", "-") for k in _RESOURCES))
    app = _app()
    setup = capacity.set_resources(app.uow(), site_code=_site_code(app, args.site),
                                   actor=_actor(args), now=datetime.now(UTC), **values)
    _io.emit(setup.to_json(), args.json, _render)
    return 0


@_refusals
def _set_hours(args: argparse.Namespace) -> int:
    from tarla.services import capacity

    if args.closed and (args.opens or args.closes):
        raise _io.UsageFailure("closed", "give either --closed or --opens/--closes")
    if not args.closed and not (args.opens and args.closes):
        raise _io.UsageFailure("opens" if not args.opens else "closes",
                               "is required (or --closed)")
    app = _app()
    setup = capacity.set_hours(app.uow(), site_code=_site_code(app, args.site),
                               weekday=args.weekday, opens=None if args.closed else args.opens,
                               closes=None if args.closed else args.closes,
                               actor=_actor(args), now=datetime.now(UTC))
    _io.emit(setup.to_json(), args.json, _render)
    return 0


@_refusals
def _set_shift(args: argparse.Namespace) -> int:
    from tarla.services import capacity

    app = _app()
    site = _site_code(app, args.site)
    if args.remove:
        setup = capacity.remove_shift(app.uow(), site_code=site, name=args.name,
                                      actor=_actor(args), now=datetime.now(UTC))
    else:
        for name in ("weekdays", "starts", "ends", "nurses"):
            if getattr(args, name) is None:
                raise _io.UsageFailure(name, "is required (or --remove)")
        setup = capacity.set_shift(app.uow(), site_code=site, name=args.name,
                                   weekdays=args.weekdays, starts=args.starts, ends=args.ends,
                                   nurses=args.nurses, actor=_actor(args),
                                   now=datetime.now(UTC))
    _io.emit(setup.to_json(), args.json, _render)
    return 0


def register(sub: Any) -> None:
    site = sub.add_parser("site", help="a site's capacity: chairs, beds, hours, nurse shifts")
    cmds = site.add_subparsers(dest="site_command", metavar="SUBCOMMAND",
                               parser_class=_io.ArgumentParser)
    cmds.required = True

    def common(p: argparse.ArgumentParser, write: bool = True) -> None:
        p.add_argument("--site", help="site code (default TARLA_SITE or the only site)")
        if write:
            p.add_argument("--as", dest="actor", help="the acting administrator's username")
        _io.add_io_arguments(p, with_input=False)

    show = cmds.add_parser("show", help="the site's resources, hours and shifts")
    common(show, write=False)
    show.set_defaults(handler=_show)

    res = cmds.add_parser("set-resources", help="chairs, beds and planning settings")
    common(res)
    for k in _RESOURCES:
        res.add_argument("--" + k.replace("_", "-"), dest=k)
    res.set_defaults(handler=_set_resources)

    hours = cmds.add_parser("set-hours", help="opening hours of one weekday")
    common(hours)
    hours.add_argument("--weekday", required=True, help="mon..sun (or 0..6, 0 is Monday)")
    hours.add_argument("--opens", help="HH:MM")
    hours.add_argument("--closes", help="HH:MM")
    hours.add_argument("--closed", action="store_true", help="closed that weekday")
    hours.set_defaults(handler=_set_hours)

    shift = cmds.add_parser("set-shift", help="add, change or remove a nurse shift")
    common(shift)
    shift.add_argument("--name", required=True)
    shift.add_argument("--weekdays", help="e.g. mon-fri or sat,sun")
    shift.add_argument("--starts", help="HH:MM")
    shift.add_argument("--ends", help="HH:MM (at or before --starts: overnight)")
    shift.add_argument("--nurses")
    shift.add_argument("--remove", action="store_true")
    shift.set_defaults(handler=_set_shift)
