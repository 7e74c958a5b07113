"""CLI commands of the web app: ``tarla serve`` and ``tarla demo-users``.

    tarla serve [--host 127.0.0.1] [--port 8000] [--workers N] [--migrate]
    tarla demo-users [--site CODE] [--password PW] [--json]

``serve`` runs uvicorn on ``tarla.web.app:create_app`` (an app factory: each worker builds its
own app through the bootstrap). The database is ``TARLA_DATABASE_URL``; web options are read
from the environment (see :mod:`tarla.web.config`). ``demo-users`` gives a password to one
user per role (reusing the users ``tarla demo-data`` created) and prints them once.
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
    uvicorn.run("tarla.web.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, proxy_headers=True,
                forwarded_allow_ips="127.0.0.1")
    return 0


def _demo_users(args: argparse.Namespace) -> int:
    from tarla.bootstrap import bootstrap
    from tarla.web.accounts import ensure_demo_users

    app = bootstrap()
    try:
        users = ensure_demo_users(app.uow, now=datetime.now(UTC), site_code=args.site,
                                  password=args.password)
    finally:
        app.close()
    if args.json:
        sys.stdout.write(json.dumps([{"username": u.username, "roles": list(u.roles),
                                      "password": u.password, "created": u.created,
                                      "site": u.site} for u in users], indent=2) + "\n")
        return 0
    sys.stdout.write("Demo users (passwords are shown once; store them safely). Sites are "
                     "walls: each user sees their own site's patients only.\n")
    for u in users:
        sys.stdout.write(f"  {u.site or '(no site)':<9} {u.username:<14} "
                         f"{', '.join(u.roles):<12} {u.password}\n")
    return 0
