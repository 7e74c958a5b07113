"""CLI commands: toxicity grading (``tarla grade crs|icans|lab``).

Reads one JSON object (file or stdin), validates it with :mod:`tarla.schemas.toxicity`, grades
it with :mod:`tarla.domain.grading` and prints the contract's JSON (``--json``) or a short text.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from tarla.cli import _io
from tarla.domain.grading import (
    grade_crs,
    grade_icans,
    grade_lab,
)
from tarla.schemas.toxicity import CrsInput, IcansInput, LabInput, crs_to_json, icans_to_json, lab_to_json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this group's subcommands."""
    grade = sub.add_parser(
        "grade", help="grade a toxicity: CRS/ICANS (ASTCT 2019) or a lab value (CTCAE v5.0)",
        description="Grade a toxicity from a JSON object (file or standard input).")
    kinds = grade.add_subparsers(dest="kind", metavar="KIND", parser_class=_io.ArgumentParser)
    kinds.required = True
    commands: Sequence[tuple[str, str, Callable[[argparse.Namespace], int]]] = (
        ("crs", "cytokine release syndrome, ASTCT 2019 (temperature, hypotension, oxygen)", _crs),
        ("icans", "ICANS, ASTCT 2019 (ICE score or items, consciousness, seizure, motor, "
                  "cerebral oedema)", _icans),
        ("lab", "one lab value, CTCAE v5.0 (test, value, unit; uln/lln/baseline as needed)",
         _lab),
    )
    for name, text, handler in commands:
        parser = kinds.add_parser(name, help=text, description=f"Grade {text}.")
        _io.add_io_arguments(parser)
        parser.set_defaults(handler=handler)


def _crs(args: argparse.Namespace) -> int:
    given = CrsInput.model_validate(_io.read_json_input(args.input))
    result = crs_to_json(grade_crs(**given.model_dump()))
    _io.emit(result, args.json, _render("CRS"))
    return _io.EXIT_OK


def _icans(args: argparse.Namespace) -> int:
    given = IcansInput.model_validate(_io.read_json_input(args.input))
    result = icans_to_json(grade_icans(**given.model_dump()))
    _io.emit(result, args.json, _render("ICANS"))
    return _io.EXIT_OK


def _lab(args: argparse.Namespace) -> int:
    given = LabInput.model_validate(_io.read_json_input(args.input))
    graded = grade_lab(given.test, given.value, given.unit, uln=given.uln, lln=given.lln,
                       baseline=given.baseline, symptomatic=given.symptomatic)
    _io.emit(lab_to_json(graded, given), args.json, _render_lab)
    return _io.EXIT_OK


def _driver_lines(result: dict[str, Any]) -> list[str]:
    return [f"  grade {d['grade']}  {d['criterion']}: {d['detail']}\n"
            f"           [{d['source']}]" for d in result["drivers"]]


def _render(what: str) -> Callable[[dict[str, Any]], str]:
    def render(result: dict[str, Any]) -> str:
        head = f"{what} grade {result['grade']} ({result['system']})"
        return "\n".join([head, *_driver_lines(result)])
    return render


def _render_lab(result: dict[str, Any]) -> str:
    head = (f"{result['test']}: {result['term']} grade {result['grade']} ({result['system']}, "
            f"MedDRA {result['meddra_code']})")
    return "\n".join([head, *_driver_lines(result)])
