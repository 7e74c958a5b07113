"""The ``tarla`` command line: parse, call one function, render.

Each command group lives in its own module with a ``register(subparsers)`` function. Errors are
mapped here, once: invalid input -> exit 2 with ``error: <field>: <message>`` on stderr (and an
``{"error": {...}}`` object on stdout with ``--json``); never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tarla.cli import _io
from tarla.cli import course as _course
from tarla.cli import demo as _demo
from tarla.cli import pharmacy as _pharmacy
from tarla.cli import records as _records
from tarla.cli import toxicity as _toxicity

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = _io.ArgumentParser(prog="tarla", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_io.ArgumentParser)
    sub.required = True
    for module in (_course, _toxicity, _pharmacy, _records, _demo):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return _io.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
