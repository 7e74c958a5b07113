"""Shared plumbing of the CLI: reading JSON input, printing results, mapping errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from tarla.domain.errors import InvalidInput, NotEnoughInformation

__all__ = ["ArgumentParser", "add_io_arguments", "read_json_input", "run", "emit", "UsageFailure"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_INVALID = 2
EXIT_INTERNAL = 70


class UsageFailure(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors through our error path (exit 2, no traceback)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        wants_json = "--json" in sys.argv
        _fail("arguments", message, wants_json)


def add_io_arguments(parser: argparse.ArgumentParser, *, with_input: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    if with_input:
        parser.add_argument("input", nargs="?", default="-",
                            help="JSON input file (default: standard input)")


def read_json_input(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageFailure("input", f"cannot read {source}: {exc.strerror}") from None
    if not text.strip():
        raise UsageFailure("input", "no JSON input given (pass a file or pipe JSON on stdin)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageFailure("input", f"not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                    f"{exc.msg})") from None


def emit(result: dict[str, Any], as_json: bool, render: Callable[[dict[str, Any]], str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(result).rstrip("\n") + "\n")


def _fail(field: str, message: str, as_json: bool) -> NoReturn:
    sys.stderr.write(f"error: {field}: {message}\n")
    if as_json:
        sys.stdout.write(json.dumps({"error": {"field": field, "message": message}}) + "\n")
    sys.exit(EXIT_INVALID)


def run(args: argparse.Namespace) -> int:
    """Run the handler a subcommand set with ``set_defaults(handler=...)``; map errors once."""
    # Imported here, not at module level: ``tarla --help`` needs neither (start-up time);
    # every command's own module has imported pydantic by the time it runs.
    from pydantic import ValidationError

    from tarla.schemas import field_error_from_validation

    as_json = bool(getattr(args, "json", False))
    try:
        code: int = args.handler(args)
        return code
    except ValidationError as exc:
        field, message = field_error_from_validation(exc)
        _fail(field, message, as_json)
    except (InvalidInput, NotEnoughInformation, UsageFailure) as exc:
        _fail(exc.field, exc.message, as_json)
    except BrokenPipeError:  # pragma: no cover - `tarla ... | head`
        return EXIT_OK
    except Exception as exc:  # a bug, not bad input: say so plainly, without a traceback
        if os.environ.get("TARLA_DEBUG"):
            raise
        sys.stderr.write(f"internal error: {type(exc).__name__}: {exc}\n"
                         "This is a bug in Tarla, not a problem with your input; nothing was "
                         "saved. Re-run with TARLA_DEBUG=1 for details.\n")
        return EXIT_INTERNAL
