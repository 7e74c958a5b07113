"""CLI commands of the web app: ``tarla serve`` and ``tarla demo-users``.

    tarla serve [--host 127.0.0.1] [--port 8000] [--workers N] [--migrate]
    tarla demo-users [--site CODE] [--password PW] [--only-new] [--json]

``serve`` runs uvicorn on ``tarla.web.app:serve_app`` (an app factory: each worker builds its
own app through the bootstrap). The database is ``TARLA_DATABASE_URL``; web options are read
from the environment (see :mod:`tarla.web.config`); forwarded headers are believed only from
``TARLA_TRUSTED_PROXIES``. ``demo-users`` gives a password to one user per role (reusing the
users ``tarla demo-data`` created) and prints them once; it refuses (exit 2) a database that
holds no demo site or any user who is not a demo user.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from tarla.cli import _io

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run the web app (uvicorn)",
                           description="Serve the infusion-centre web app and the JSON API.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--migrate", action="store_true",
                       help="bring the database schema up to date first")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(handler=_serve)

    demo = sub.add_parser("demo-users", help="set printed passwords for one demo user per role",
                          description="Give each demo user (one per role, two pharmacists) a "
                                      "password and print it. Reuses users made by "
                                      "`tarla demo-data`; creates the missing ones.")
    demo.add_argument("--site", help="site code for users created here (default: none)")
    demo.add_argument("--password", help="use this password for all of them (demo only; "
                                         "default: a random one each)")
    demo.add_argument("--only-new", action="store_true",
                      help="leave users who already have a password alone (and do not print "
                           "them): only users without one get a password (make run)")
    demo.add_argument("--json", action="store_true", help="print machine-readable JSON")
    demo.set_defaults(handler=_demo_users)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if not 0 < args.port < 65536:
        raise _io.UsageFailure("port", f"{args.port} is not a TCP port")
    if args.workers < 1:
        raise _io.UsageFailure("workers", "must be 1 or more")
    if args.migrate:
        from tarla.bootstrap import bootstrap

        app = bootstrap()
        try:
            app.migrate()
        finally:
            app.close()
    uvicorn.run("tarla.web.app:serve_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, **proxy_options())
    return 0


def proxy_options(environ: dict[str, str] | None = None) -> dict[str, object]:
    """uvicorn's forwarded-header settings: none believed unless ``TARLA_TRUSTED_PROXIES``
    names the proxies (then X-Forwarded-For/-Proto from those addresses only)."""
    from tarla.web.config import trusted_proxies

    proxies = trusted_proxies(environ)
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(proxies)}


def _demo_users(args: argparse.Namespace) -> int:
    from tarla.bootstrap import bootstrap
    from tarla.web.accounts import demo_database, ensure_demo_users

    app = bootstrap()
    try:
        refused = demo_database(app.uow)
        if refused is not None:
            raise _io.UsageFailure("database", refused)
        users = ensure_demo_users(app.uow, now=datetime.now(UTC), site_code=args.site,
                                  password=args.password, only_new=args.only_new)
    finally:
        app.close()
    if args.json:
        sys.stdout.write(json.dumps([{"username": u.username, "roles": list(u.roles),
                                      "password": u.password, "created": u.created,
                                      "site": u.site} for u in users], indent=2) + "\n")
        return 0
    if not users:
        sys.stdout.write("Every demo user already has a password (not shown again; "
                         "`tarla demo-users` without --only-new sets new ones).\n")
        return 0
    sys.stdout.write("Demo users (passwords are shown once; store them safely). Sites are "
                     "walls: each user sees their own site's patients only.\n")
    for u in users:
        sys.stdout.write(f"  {u.site or '(no site)':<9} {u.username:<14} "
                         f"{', '.join(u.roles):<12} {u.password}\n")
    return 0
