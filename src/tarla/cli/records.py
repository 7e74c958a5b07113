"""CLI commands: records (database, demo data, audit chain, worklist).

    tarla db upgrade [--revision REV]
    tarla demo-data --patients N [--seed S] [--today YYYY-MM-DD] [--site CODE] [--timezone TZ]
    tarla audit verify [--json]          exit 0 intact, 1 tampered
    tarla audit checkpoint | access      see tarla.cli.audit
    tarla worklist [--date D] [--site S] [--json]

The database is ``TARLA_DATABASE_URL`` (default ``sqlite:///var/tarla.sqlite3``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tarla.cli import _io

__all__ = ["register"]

EXIT_REFUSED = 1


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _refusals(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Service refusals (not found, conflict, forbidden) -> exit 1 with ``error: field: msg``.
    Invalid input keeps the shared mapping of ``_io.run`` (exit 2)."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from tarla.services.errors import ServiceError

        try:
            return handler(args)
        except ServiceError as exc:
            sys.stderr.write(f"error: {exc.field}: {exc.message}\n")
            if getattr(args, "json", False):
                sys.stdout.write(json.dumps({"error": {"field": exc.field,
                                                       "message": exc.message}}) + "\n")
            return EXIT_REFUSED

    return run


def _app() -> Any:
    from tarla.bootstrap import bootstrap

    return bootstrap()


def _site_code(app: Any, requested: str | None) -> str:
    if requested:
        return requested
    if app.settings.default_site:
        return str(app.settings.default_site)
    with app.uow().readonly() as uow:
        sites = uow.sites.list()
    if len(sites) == 1:
        return str(sites[0].code)
    names = ", ".join(s.code for s in sites) or "none yet: run tarla demo-data"
    raise _io.UsageFailure("site", f"name a site with --site (sites: {names})")


# --------------------------------------------------------------------------- handlers


@_refusals
def _db_upgrade(args: argparse.Namespace) -> int:
    from tarla.adapters.migrate import upgrade
    from tarla.config import load_settings

    url = load_settings().database_url
    rev = upgrade(url, args.revision)
    _io.emit({"database": _safe_url(url), "revision": rev}, args.json,
             lambda r: f"database at revision {r['revision']}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@_refusals
def _demo_data(args: argparse.Namespace) -> int:
    from tarla.adapters.migrate import upgrade
    from tarla.services.demo import load_demo_data

    zone = ZoneInfo(args.timezone)
    today = args.today or datetime.now(UTC).astimezone(zone).date()
    app = _app()
    try:
        upgrade(app.settings.database_url)
        s = load_demo_data(app.uow, patients=args.patients, seed=args.seed, today=today,
                           timezone=args.timezone, site_code=args.site)
    finally:
        app.close()
    result = {"site": s.site, "today": s.today.isoformat(), "patients": s.patients,
              "stages": s.stages, "administrations": s.administrations,
              "preparations": s.preparations}
    _io.emit(result, args.json, lambda r: (
        f"site {r['site']}: {r['patients']} patients "
        f"({', '.join(f'{k} {v}' for k, v in r['stages'].items())}), "
        f"{r['administrations']} administrations, {r['preparations']} preparations under way; "
        f"today = {r['today']}"))
    return 0


@_refusals
def _audit_verify(args: argparse.Namespace) -> int:
    from tarla.cli import audit  # chain + rows + signed checkpoints (issue 13)

    return audit.verify(args)


@_refusals
def _worklist(args: argparse.Namespace) -> int:
    from tarla.services.queries import worklist
    from tarla.services.scope import OPERATOR

    app = _app()
    try:
        if args.refresh:
            return _refresh(app, args)
        code = _site_code(app, args.site)
        # the operator at the command line holds the database: any site
        wl = worklist(app.uow(), site_code=code, now=datetime.now(UTC), viewer=OPERATOR,
                      on=args.date, offset=args.offset, limit=args.limit)
    finally:
        app.close()
    _io.emit(wl.to_json(), args.json, _render_worklist)
    return 0


def _refresh(app: Any, args: argparse.Namespace) -> int:
    from tarla.domain.errors import InvalidInput
    from tarla.services.decisions import refresh_site

    with app.uow().readonly() as uow:
        sites = [s for s in uow.sites.list() if args.site in (None, s.code)]
    if not sites:
        raise InvalidInput("site", f"no site with code {args.site!r}")
    now = datetime.now(UTC)
    done = {s.code: refresh_site(app.uow(), s, now) for s in sites}
    _io.emit({"refreshed": done}, args.json,
             lambda r: "\n".join(f"{k}: {v} decision(s) computed" for k, v in r["refreshed"].items()))
    return 0


def _render_worklist(r: dict[str, Any]) -> str:
    lines = [f"{r['site']} worklist for {r['date']} ({r['timezone']}): "
             + (", ".join(f"{v} {k}" for k, v in r["counts"].items()) or "nothing due")]
    shown = len(r["items"])
    if shown < r.get("total", shown):
        lines.append(f"  rows {r['offset'] + 1}-{r['offset'] + shown} of {r['total']}")
    for i in r["items"]:
        what = (f"{i['slot']} {i['dose_mg']} mg ({i['kind']}, due {i['due_date']})"
                if i["slot"] else (i["error"] or ""))
        extra = []
        if i["pending_checks"]:
            extra.append("labs pending: " + ", ".join(i["pending_checks"]))
        if i["monitoring"]:
            extra.append(i["monitoring"])
        if i.get("unverified_unsigned"):
            extra.append("relies on an UNVERIFIED rule not signed off: "
                         + ", ".join(i["unverified_unsigned"]))
        for s in i.get("signed_off", ()):
            extra.append(f"{s['rule']} signed off by {s['by']} on {s['on']}")
        lines.append(f"  {i['decision'].upper():<11} {i['mrn']:<10} {i['name']:<24} {what}"
                     + (f"  [{'; '.join(extra)}]" if extra else ""))
    return "\n".join(lines)


# --------------------------------------------------------------------------- registration


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this group's subcommands."""
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION",
                               parser_class=_io.ArgumentParser)
    db_sub.required = True
    up = db_sub.add_parser("upgrade", help="migrate the database to the latest schema")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    _io.add_io_arguments(up, with_input=False)
    up.set_defaults(handler=_db_upgrade)

    demo = sub.add_parser("demo-data", help="load a realistic demo site (deterministic)")
    demo.add_argument("--patients", type=int, default=21, help="number of patients (default 21)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--today", type=_date, default=None,
                      help="the site's 'today' (default: today in --timezone)")
    demo.add_argument("--site", default="DEMO", help="site code (default DEMO)")
    demo.add_argument("--timezone", default="America/New_York", help="IANA time zone")
    _io.add_io_arguments(demo, with_input=False)
    demo.set_defaults(handler=_demo_data)

    aud = sub.add_parser("audit", help="the hash-chained audit log")
    aud_sub = aud.add_subparsers(dest="audit_command", metavar="ACTION",
                                 parser_class=_io.ArgumentParser)
    aud_sub.required = True
    ver = aud_sub.add_parser("verify", help="walk the chain; exit 1 at the first tampered entry")
    _io.add_io_arguments(ver, with_input=False)
    ver.set_defaults(handler=_audit_verify)
    from tarla.cli import audit as audit_cli

    audit_cli.register(aud_sub)

    wl = sub.add_parser("worklist", help="doses due at a site on a day, with each decision")
    wl.add_argument("--date", type=_date, default=None, help="YYYY-MM-DD (default: today)")
    wl.add_argument("--site", default=None, help="site code (default: TARLA_SITE or the only "
                                                 "site)")
    wl.add_argument("--offset", type=int, default=0, help="skip this many rows (default 0)")
    wl.add_argument("--limit", type=int, default=None, help="show at most this many rows")
    wl.add_argument("--refresh", action="store_true",
                    help="compute the stored decisions of every site's current day that are "
                         "missing or out of date (run it just after midnight), print how many")
    _io.add_io_arguments(wl, with_input=False)
    wl.set_defaults(handler=_worklist)
