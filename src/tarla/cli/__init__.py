"""The ``tarla`` command line: parse, call one function, render.

Each command group lives in its own module with a ``register(subparsers)`` function. Only the
module that owns the command being run is imported (start-up stays fast); ``tarla``,
``tarla --help`` and an unknown command list the commands from :data:`COMMANDS` and
:data:`HELP` without importing any group. Errors are mapped in :mod:`tarla.cli._io`, once: invalid input ->
exit 2 with ``error: <field>: <message>`` on stderr (and an ``{"error": {...}}`` object on
stdout with ``--json``); never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tarla.cli import _io

__all__ = ["main", "build_parser", "COMMANDS", "HELP"]

#: command -> the module of ``tarla.cli`` that registers it (a test keeps this in sync).
COMMANDS: dict[str, str] = {
    "schedule": "course", "evaluate": "course",
    "grade": "toxicity",
    "prepare": "pharmacy", "clock": "pharmacy", "scan": "pharmacy", "bill": "pharmacy",
    "label": "pharmacy",
    "db": "records", "demo-data": "records", "audit": "records", "worklist": "records",
    "serve": "web", "demo-users": "web",
    "demo": "demo",
    "site": "capacity",
    "hl7": "interop", "loinc": "interop",
    "interface": "interface",
}
GROUPS: tuple[str, ...] = ("course", "toxicity", "pharmacy", "records", "web", "demo",
                          "capacity", "interop", "interface")


#: command -> its one-line help, as ``tarla --help`` lists it without importing the groups
#: (tests/unit/test_cli_startup.py checks it against what each group registers).
HELP: dict[str, str] = {
    "schedule": "the planned course calendar from a start date",
    "evaluate": "what happens next for one patient",
    "grade": "grade a toxicity: CRS/ICANS (ASTCT 2019) or a lab value (CTCAE v5.0)",
    "prepare": "the pharmacy recipe for one dose",
    "clock": "the in-use clock of one preparation",
    "scan": "verify one scanned component against the ordered dose",
    "bill": "claim lines (J9026, JW/JZ, NDC) for one encounter",
    "label": "print the bag label or the compounding worksheet (PDF)",
    "db": "database schema",
    "demo-data": "load a realistic demo site (deterministic)",
    "audit": "the hash-chained audit log",
    "worklist": "doses due at a site on a day, with each decision",
    "serve": "run the web app (uvicorn)",
    "demo-users": "set printed passwords for one demo user per role",
    "demo": "a guided tour of one synthetic patient's course",
    "site": "a site's capacity: chairs, beds, hours, nurse shifts",
    "hl7": "HL7 v2 laboratory results (ORU^R01) in",
    "loinc": "the site's LOINC -> test table",
    "interface": "API tokens of the EHR and laboratory interfaces",
}


def _top_parser() -> tuple[_io.ArgumentParser, argparse._SubParsersAction]:  # type: ignore[type-arg]
    parser = _io.ArgumentParser(prog="tarla", description="Tarlatamab (IMDELLTRA) therapy "
                                "operations: schedule, evaluate, grade, prepare, record.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_io.ArgumentParser)
    sub.required = True
    return parser, sub


def build_parser(groups: Sequence[str] = GROUPS) -> _io.ArgumentParser:
    """The full parser of the commands of ``groups`` (imports each group's module)."""
    parser, sub = _top_parser()
    for name in groups:
        importlib.import_module(f"tarla.cli.{name}").register(sub)
    return parser


def _listing_parser() -> _io.ArgumentParser:
    """Names every command with its help, imports none: for ``tarla``, ``tarla --help`` and
    an unknown command (argparse's usage, help and "invalid choice" messages)."""
    parser, sub = _top_parser()
    for command in COMMANDS:
        sub.add_parser(command, help=HELP.get(command, f"see tarla {command} --help"),
                       add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    group = COMMANDS.get(first or "")
    if group is None:
        # No command named (or an unknown one): argparse answers from the listing and exits.
        _listing_parser().parse_args(args_list)
        # Only reached if the first bare word was an option's value: parse with every group.
        parser = build_parser(GROUPS)
    else:
        parser = build_parser((group,))
    args = parser.parse_args(args_list)
    return _io.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
