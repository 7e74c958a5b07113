"""CLI commands: labs in by interface (issue 16).

    tarla hl7 import FILE [--site CODE] [--json]     one or more ORU^R01 messages (``-``: stdin);
                                                     prints each acknowledgement
    tarla hl7 listen --site CODE [--host 127.0.0.1] [--port 2575]
                                                     MLLP over TCP (loopback by default)
    tarla loinc list [--site CODE] [--json]          the site's LOINC -> test table
    tarla loinc set CODE TEST|--ignore --actor USER [--site CODE]
    tarla loinc reset CODE --actor USER [--site CODE]   back to the seeded row

Exit codes of ``hl7 import``: 0 every message acknowledged ``AA``; 1 any ``AE``/``AR`` (each
is stored and, where it applies, in the site's work queue); 2 unreadable input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tarla.cli import _io
from tarla.cli.records import EXIT_REFUSED, _app, _refusals, _site_code

__all__ = ["register"]


def _read(source: str) -> str:
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise _io.UsageFailure("file", f"cannot read {source}: {exc.strerror}") from None
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise _io.UsageFailure("file", "no HL7 message in the input")
    return text


@_refusals
def _hl7_import(args: argparse.Namespace) -> int:
    from tarla.adapters.hl7v2 import split_messages
    from tarla.services.labs_in import receive_hl7

    text = _read(args.file)
    messages = split_messages(text)
    if not messages:
        raise _io.UsageFailure("file", "no message starting with an MSH segment in the input")
    app = _app()
    try:
        code = _site_code(app, args.site)
        acks = [receive_hl7(app.uow(), site_code=code, raw=m, received_at=datetime.now(UTC))
                for m in messages]
    finally:
        app.close()
    result = {"site": code, "messages": [a.to_json() for a in acks]}
    _io.emit(result, args.json, _render_acks)
    return 0 if all(a.code == "AA" for a in acks) else EXIT_REFUSED


def _render_acks(r: dict[str, Any]) -> str:
    lines = []
    for a in r["messages"]:
        head = (f"{a['ack_code']} {a['control_id'] or '(no control id)'}: {a['status']}"
                + (" (repeat: the first acknowledgement, nothing written)" if a["replayed"]
                   else ""))
        if a["reason"]:
            head += f" - {a['field'] + ': ' if a['field'] else ''}{a['reason']}"
        if a["queue_item_id"]:
            head += f" [work queue item {a['queue_item_id']}]"
        lines.append(head)
        lines.extend(f"    {seg}" for seg in a["ack"].splitlines())
    return "\n".join(lines)


@_refusals
def _hl7_listen(args: argparse.Namespace) -> int:
    from tarla.adapters.hl7v2 import build_ack, serve_mllp
    from tarla.domain.errors import InvalidInput
    from tarla.services.errors import ServiceError
    from tarla.services.labs_in import receive_hl7

    app = _app()
    code = _site_code(app, args.site)
    with app.uow().readonly() as uow:  # refuse an unknown site before listening
        if uow.sites.by_code(code) is None:
            from tarla.services.errors import NotFound

            raise NotFound("site", f"no site with code {code!r}")

    async def handle(raw: str) -> str:
        received = datetime.now(UTC)
        try:
            ack = await asyncio.to_thread(receive_hl7, app.uow(), site_code=code, raw=raw,
                                          received_at=received)
        except (InvalidInput, ServiceError) as exc:
            # not stored (an empty block, the database busy): the sender may send it again
            sys.stdout.write(f"AE - not stored: {exc.field}: {exc.message}\n")
            sys.stdout.flush()
            return build_ack(raw, "AE", control_id=f"ACK{received:%Y%m%d%H%M%S%f}",
                             at=received, facility=code, field=exc.field,
                             reason=f"{exc.message} (not stored: send it again)")
        sys.stdout.write(f"{ack.code} {ack.control_id or '-'} {ack.status}"
                         f"{' ' + (ack.reason or '') if ack.code != 'AA' else ''}\n")
        sys.stdout.flush()
        return ack.message

    async def main() -> None:
        server = await serve_mllp(handle, args.host, args.port)
        bound = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}"
                          for s in server.sockets)
        sys.stdout.write(f"listening for HL7 v2 (MLLP) on {bound} for site {code}\n")
        sys.stdout.flush()
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C
        pass
    except OSError as exc:
        raise _io.UsageFailure("port", f"cannot listen on {args.host}:{args.port}: "
                                       f"{exc.strerror}") from None
    finally:
        app.close()
    return 0


@_refusals
def _loinc_list(args: argparse.Namespace) -> int:
    from tarla.services.labs_in import loinc_entries
    from tarla.services.scope import OPERATOR

    app = _app()
    try:
        code = _site_code(app, args.site)
        rows = loinc_entries(app.uow(), site_code=code, viewer=OPERATOR)
    finally:
        app.close()
    _io.emit({"site": code, "codes": [r.to_json() for r in rows]}, args.json, lambda r: "\n".join(
        [f"{r['site']} LOINC table (seed rows UNVERIFIED until the site confirms them):"]
        + [f"  {c['loinc']:<9} {c['test'] or '(ignored)':<12} {c['source']:<5} {c['name']}"
           for c in r["codes"]]))
    return 0


@_refusals
def _loinc_set(args: argparse.Namespace) -> int:
    from tarla.services.labs_in import set_loinc

    if args.ignore == (args.test is not None):
        raise _io.UsageFailure("test", "give a test, or --ignore (not both)")
    app = _app()
    try:
        code = _site_code(app, args.site)
        row = set_loinc(app.uow(), site_code=code, loinc=args.code, test=args.test,
                        actor=args.actor, now=datetime.now(UTC))
    finally:
        app.close()
    _io.emit({"site": code, **row.to_json()}, args.json,
             lambda r: f"{r['site']}: LOINC {r['loinc']} -> {r['test'] or 'ignored'}")
    return 0


@_refusals
def _loinc_reset(args: argparse.Namespace) -> int:
    from tarla.services.labs_in import reset_loinc

    app = _app()
    try:
        code = _site_code(app, args.site)
        reset_loinc(app.uow(), site_code=code, loinc=args.code, actor=args.actor,
                    now=datetime.now(UTC))
    finally:
        app.close()
    _io.emit({"site": code, "loinc": args.code, "reset": True}, args.json,
             lambda r: f"{r['site']}: LOINC {r['loinc']} maps as seeded again")
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this group's subcommands."""
    h = sub.add_parser("hl7", help="HL7 v2 laboratory results (ORU^R01) in")
    h_sub = h.add_subparsers(dest="hl7_command", metavar="ACTION",
                             parser_class=_io.ArgumentParser)
    h_sub.required = True
    imp = h_sub.add_parser("import", help="store, chart and acknowledge the messages of a file")
    imp.add_argument("file", help="a file of one or more messages ('-': standard input)")
    imp.add_argument("--site", default=None, help="site code (default: TARLA_SITE or the "
                                                  "only site)")
    _io.add_io_arguments(imp, with_input=False)
    imp.set_defaults(handler=_hl7_import)
    lis = h_sub.add_parser("listen", help="receive messages over MLLP (TCP)")
    lis.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    lis.add_argument("--port", type=_port, default=2575, help="TCP port (default 2575)")
    lis.add_argument("--site", required=True, help="the site whose laboratory sends")
    lis.set_defaults(handler=_hl7_listen, json=False)

    lo = sub.add_parser("loinc", help="the site's LOINC -> test table")
    lo_sub = lo.add_subparsers(dest="loinc_command", metavar="ACTION",
                               parser_class=_io.ArgumentParser)
    lo_sub.required = True
    ls = lo_sub.add_parser("list", help="the site's table (seeded rows and its own)")
    ls.add_argument("--site", default=None, help="site code")
    _io.add_io_arguments(ls, with_input=False)
    ls.set_defaults(handler=_loinc_list)
    st = lo_sub.add_parser("set", help="map a LOINC code to a test, or ignore it")
    st.add_argument("code", help="LOINC code, e.g. 26499-4")
    st.add_argument("test", nargs="?", default=None,
                    help="ANC, platelets, hemoglobin, lymphocytes, ALT, AST, bilirubin, sodium")
    st.add_argument("--ignore", action="store_true", help="results with this code are "
                                                          "neither charted nor queued")
    st.add_argument("--actor", required=True, help="username (pharmacist, physician, admin)")
    st.add_argument("--site", default=None, help="site code")
    _io.add_io_arguments(st, with_input=False)
    st.set_defaults(handler=_loinc_set)
    rs = lo_sub.add_parser("reset", help="drop the site's own row of a code")
    rs.add_argument("code", help="LOINC code")
    rs.add_argument("--actor", required=True, help="username (pharmacist, physician, admin)")
    rs.add_argument("--site", default=None, help="site code")
    _io.add_io_arguments(rs, with_input=False)
    rs.set_defaults(handler=_loinc_reset)
