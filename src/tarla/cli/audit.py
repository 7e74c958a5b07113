"""CLI commands of the anchored audit (issue 13).

    tarla audit verify [--json]        chain + every clinical row + the signed checkpoints;
                                       exit 0 intact, 1 tampered (each problem on its own line)
    tarla audit checkpoint [--json]    seal the chain head in the checkpoint log (needs the key)
    tarla audit access --patient MRN | --user NAME [--site CODE] [--from D] [--to D] [--json]
                                       who read that patient's record / what that user did

The key is ``TARLA_AUDIT_KEY`` or ``TARLA_AUDIT_KEY_FILE``; the checkpoint log is
``TARLA_AUDIT_CHECKPOINTS`` (default ``var/audit-checkpoints.jsonl``).
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tarla.cli import _io
from tarla.domain.errors import InvalidInput

__all__ = ["verify", "checkpoint", "access", "register"]

EXIT_TAMPERED = 1


def _app() -> Any:
    from tarla.bootstrap import bootstrap

    return bootstrap()


def _key(required: bool) -> bytes | None:
    from tarla.config import load_audit_key

    try:
        key = load_audit_key()
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise InvalidInput(field, message) from None
    if key is None and required:
        raise InvalidInput("TARLA_AUDIT_KEY", "set TARLA_AUDIT_KEY or TARLA_AUDIT_KEY_FILE to "
                                              "sign checkpoints")
    return key


def verify(args: argparse.Namespace) -> int:
    from tarla.adapters.audit_store import CheckpointFile
    from tarla.services.audit_anchor import verify_all

    key = _key(required=False)
    app = _app()
    try:
        log = CheckpointFile(app.settings.audit_checkpoints)
        report = verify_all(app.uow(), checkpoints=log.read(), key=key, now=datetime.now(UTC))
    finally:
        app.close()
    _io.emit(report.to_json(), args.json, _render_verify)
    return 0 if report.intact else EXIT_TAMPERED


def _render_verify(r: dict[str, Any]) -> str:
    if r["intact"]:
        lines = [f"audit chain intact: {r['entries']} entries, every clinical row matches its "
                 f"audited state, {r['checkpoints']} checkpoint(s) verified"]
    else:
        lines = ["audit chain TAMPERED: " + r["problems"][0]]
        lines += [f"  also: {p}" for p in r["problems"][1:50]]
        if len(r["problems"]) > 50:
            lines.append(f"  ... and {len(r['problems']) - 50} more (--json lists them all)")
    lines += [f"note: {n}" for n in r["notes"]]
    return "\n".join(lines)


def checkpoint(args: argparse.Namespace) -> int:
    from tarla.adapters.audit_store import CheckpointFile
    from tarla.services.audit_anchor import write_checkpoint

    key = _key(required=True)
    assert key is not None
    app = _app()
    try:
        log = CheckpointFile(app.settings.audit_checkpoints)
        cp = write_checkpoint(app.uow(), log, key=key, now=datetime.now(UTC))
    finally:
        app.close()
    result = {"written_at": cp["written_at"], "head_id": cp["head_id"],
              "head_hash": cp["head_hash"], "log": str(log.path)}
    _io.emit(result, args.json, lambda r: (
        f"checkpoint written to {r['log']}: entry {r['head_id']} ({r['head_hash'][:16]}…) "
        f"at {r['written_at']}"))
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def access(args: argparse.Namespace) -> int:
    from tarla.services.audit import access_log
    from tarla.services.scope import OPERATOR

    if not (args.patient or args.user):
        raise InvalidInput("patient", "name a patient (--patient MRN) or a user (--user NAME)")
    start = None if args.date_from is None else datetime.combine(args.date_from, time(),
                                                                 tzinfo=UTC)
    end = None if args.date_to is None else datetime.combine(args.date_to + timedelta(days=1),
                                                             time(), tzinfo=UTC)
    app = _app()
    try:
        site_id = None
        if args.site:
            with app.uow().readonly() as uow:
                site = uow.sites.by_code(args.site)
            if site is None:
                raise InvalidInput("site", f"no site {args.site!r}")
            site_id = site.id
        rows = access_log(app.uow(), viewer=OPERATOR, mrn=args.patient, username=args.user,
                          start=start, end=end, site_id=site_id, limit=args.limit)
    finally:
        app.close()
    result = {"patient": args.patient, "user": args.user,
              "entries": [r.to_json() for r in rows]}
    _io.emit(result, args.json, _render_access)
    return 0


def _render_access(r: dict[str, Any]) -> str:
    who = f"patient {r['patient']}" if r["patient"] else f"user {r['user']}"
    if not r["entries"]:
        return f"no access on record for {who}"
    lines = [f"access log for {who} ({len(r['entries'])} entries, newest first):"]
    for e in r["entries"]:
        what = e["what"] or ""
        patient = f" {e['mrn']}" if e["mrn"] else ""
        lines.append(f"  #{e['id']} {e['at']}  {e['actor']:<16} {e['event']:<16}"
                     f"{patient} {what} [{e['channel'] or '-'} from {e['address'] or '-'}]")
    return "\n".join(lines)


def register(aud_sub: Any) -> None:
    """Adds ``checkpoint`` and ``access`` next to ``verify`` (registered in records.py)."""
    cp = aud_sub.add_parser("checkpoint", help="seal the chain head in the signed checkpoint "
                                                "log outside the database")
    _io.add_io_arguments(cp, with_input=False)
    cp.set_defaults(handler=checkpoint)
    ac = aud_sub.add_parser("access", help="who read a patient's record, or what a user did")
    ac.add_argument("--patient", default=None, help="the patient's MRN")
    ac.add_argument("--user", default=None, help="a username")
    ac.add_argument("--site", default=None, help="site code (default: every site)")
    ac.add_argument("--from", dest="date_from", type=_date, default=None, help="YYYY-MM-DD")
    ac.add_argument("--to", dest="date_to", type=_date, default=None, help="YYYY-MM-DD")
    ac.add_argument("--limit", type=int, default=500, help="at most this many (default 500)")
    _io.add_io_arguments(ac, with_input=False)
    ac.set_defaults(handler=access)
