"""CLI commands: interface credentials (issue 16), as the operator (every site).

    tarla interface create --site CODE --name NAME --scope read [--scope lab-write] [--json]
    tarla interface list [--json]
    tarla interface revoke TOKEN_ID [--json]

``create`` prints the token once (only its SHA-256 is stored). Invalid input exits 2 with
``error: <field>: <message>``; a refusal (unknown site or token, already revoked) exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from tarla.cli import _io

__all__ = ["register"]

EXIT_REFUSED = 1
ACTOR = "operator"


def _app() -> Any:
    from tarla.bootstrap import bootstrap

    return bootstrap()


def _refused(args: argparse.Namespace, exc: Any) -> int:
    sys.stderr.write(f"error: {exc.field}: {exc.message}\n")
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps({"error": {"field": exc.field, "message": exc.message}})
                         + "\n")
    return EXIT_REFUSED


def _row(record: Any, site_code: str) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")

    return {"id": record.id, "name": record.name, "site": site_code,
            "scopes": sorted(record.scopes), "token_prefix": record.token_prefix,
            "created_at": stamp(record.created_at), "created_by": record.created_by,
            "last_used_at": stamp(record.last_used_at), "revoked_at": stamp(record.revoked_at),
            "revoked_by": record.revoked_by}


def _create(args: argparse.Namespace) -> int:
    from tarla.services import interfaces
    from tarla.services.errors import ServiceError

    app = _app()
    try:
        created = interfaces.create_token(app.uow(), actor=ACTOR, site_code=args.site,
                                          name=args.name, scopes=args.scope or [],
                                          now=datetime.now(UTC), operator=True)
    except ServiceError as exc:
        return _refused(args, exc)
    finally:
        app.close()
    out = {**_row(created.record, created.site_code), "token": created.token}
    _io.emit(out, args.json, lambda r: (
        f"interface token {r['id']} for {r['name']} at {r['site']} ({', '.join(r['scopes'])})\n"
        f"token (shown once, store it now): {r['token']}"))
    return 0


def _list(args: argparse.Namespace) -> int:
    from tarla.services import interfaces

    app = _app()
    try:
        rows = [_row(r, code) for r, code in
                interfaces.list_tokens(app.uow(), actor=ACTOR, operator=True)]
    finally:
        app.close()

    def render(result: dict[str, Any]) -> str:
        if not result["tokens"]:
            return "no interface tokens"
        return "\n".join(
            f"{t['id']:>4}  {t['site']:<8} {t['name']:<24} {','.join(t['scopes']):<16} "
            f"{t['token_prefix']}...  last used {t['last_used_at'] or 'never'}"
            + (f"  REVOKED {t['revoked_at']}" if t["revoked_at"] else "")
            for t in result["tokens"])

    _io.emit({"tokens": rows}, args.json, render)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from tarla.services import interfaces
    from tarla.services.errors import ServiceError

    app = _app()
    try:
        record = interfaces.revoke_token(app.uow(), actor=ACTOR, token_id=args.token_id,
                                         now=datetime.now(UTC), operator=True)
        codes = {s.id: s.code for s in _sites(app)}
    except ServiceError as exc:
        return _refused(args, exc)
    finally:
        app.close()
    _io.emit(_row(record, codes.get(record.site_id, "?")), args.json,
             lambda r: f"interface token {r['id']} ({r['name']}) revoked")
    return 0


def _sites(app: Any) -> list[Any]:
    uow = app.uow()
    with uow.readonly():
        return list(uow.sites.list())


def _token_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError(f"{text!r} is not a token id (a number)")
    return int(text)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from tarla.services.interfaces import SCOPES

    grp = sub.add_parser("interface", help="API tokens of the EHR and laboratory interfaces")
    grp_sub = grp.add_subparsers(dest="interface_command", metavar="ACTION",
                                 parser_class=_io.ArgumentParser)
    grp_sub.required = True
    create = grp_sub.add_parser("create", help="a new token (printed once)")
    create.add_argument("--site", required=True, help="the site whose records it reads")
    create.add_argument("--name", required=True, help="the interface's name, e.g. ehr-fhir")
    create.add_argument("--scope", action="append", choices=SCOPES,
                        help="read (FHIR, CDS Hooks) and/or lab-write (labs in); repeatable")
    _io.add_io_arguments(create, with_input=False)
    create.set_defaults(handler=_create)
    lst = grp_sub.add_parser("list", help="every token (hashes are never shown)")
    _io.add_io_arguments(lst, with_input=False)
    lst.set_defaults(handler=_list)
    rev = grp_sub.add_parser("revoke", help="revoke a token (it stops authenticating)")
    rev.add_argument("token_id", type=_token_id, help="the token's id (see list)")
    _io.add_io_arguments(rev, with_input=False)
    rev.set_defaults(handler=_revoke)
