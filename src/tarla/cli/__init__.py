"""The ``tarla`` command line: parse, call one function, render.

Each command group lives in its own module with a ``register(subparsers)`` function. Only the
module that owns the command being run is imported (start-up stays fast); help and unknown
commands import them all. Errors are mapped in :mod:`tarla.cli._io`, once: invalid input ->
exit 2 with ``error: <field>: <message>`` on stderr (and an ``{"error": {...}}`` object on
stdout with ``--json``); never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from tarla.cli import _io

__all__ = ["main", "build_parser", "COMMANDS"]

#: command -> the module of ``tarla.cli`` that registers it (a test keeps this in sync).
COMMANDS: dict[str, str] = {
    "schedule": "course", "evaluate": "course",
    "grade": "toxicity",
    "prepare": "pharmacy", "clock": "pharmacy", "scan": "pharmacy", "bill": "pharmacy",
    "label": "pharmacy",
    "db": "records", "demo-data": "records", "audit": "records", "worklist": "records",
    "serve": "web", "demo-users": "web",
    "demo": "demo",
}
GROUPS: tuple[str, ...] = ("course", "toxicity", "pharmacy", "records", "web", "demo")


def build_parser(groups: Sequence[str] = GROUPS) -> _io.ArgumentParser:
    parser = _io.ArgumentParser(prog="tarla", description="Tarlatamab (IMDELLTRA) therapy "
                                "operations: schedule, evaluate, grade, prepare, record.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_io.ArgumentParser)
    sub.required = True
    for name in groups:
        importlib.import_module(f"tarla.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    group = COMMANDS.get(first or "")
    parser = build_parser((group,) if group else GROUPS)
    args = parser.parse_args(args_list)
    return _io.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
