"""``tarla`` imports only what the command being run needs (issue 14: fast start-up).

Each check runs the CLI in a fresh interpreter and reads ``sys.modules`` at exit, so nothing
imported by the test process itself can hide an import.
"""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import run_tarla

#: Heavy libraries that listing the commands must not load.
HEAVY = ("sqlalchemy", "fastapi", "reportlab", "pydantic", "ortools", "fhir", "hl7",
         "icalendar", "jinja2")


def modules_loaded_by(*argv: str) -> set[str]:
    """The top-level packages and ``tarla`` modules in ``sys.modules`` after ``tarla argv``."""
    code = ("import atexit, json, sys\n"
            "atexit.register(lambda: sys.__stderr__.write('MODULES' + json.dumps(sorted("
            "sys.modules)) + '\\n'))\n"
            "from tarla.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, input="")
    line = next(x for x in result.stderr.splitlines() if x.startswith("MODULES"))
    return set(json.loads(line.removeprefix("MODULES")))


def test_tarla_help_lists_the_commands_without_importing_any_heavy_library() -> None:
    loaded = modules_loaded_by("--help")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert not {m for m in loaded if m.startswith("tarla.cli.") and m != "tarla.cli._io"}
    assert not {m for m in loaded if m.startswith(("tarla.adapters", "tarla.services",
                                                   "tarla.web", "tarla.domain.course"))}


def test_a_command_imports_only_its_own_group() -> None:
    loaded = modules_loaded_by("evaluate", "--help")
    groups = {m for m in loaded if m.startswith("tarla.cli.")} - {"tarla.cli._io"}
    assert groups == {"tarla.cli.course"}
    assert not {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "fastapi", "reportlab")}


def test_tarla_help_shows_each_command_with_the_help_its_group_registers() -> None:
    from tarla.cli import COMMANDS, GROUPS, HELP, build_parser

    registered: dict[str, str | None] = {}
    for group in GROUPS:
        action = next(a for a in build_parser((group,))._actions if a.dest == "command")
        for choice in action._choices_actions:  # type: ignore[attr-defined]
            registered[choice.dest] = choice.help
    assert set(registered) == set(COMMANDS)
    assert {c: HELP.get(c) for c in COMMANDS} == registered


def test_tarla_help_prints_every_command_and_exits_0() -> None:
    result = run_tarla(["--help"])
    assert result.returncode == 0
    assert "evaluate  what happens next for one patient" in result.stdout
    assert "worklist  doses due at a site on a day, with each decision" in result.stdout


def test_an_unknown_command_is_refused_with_exit_2_and_the_command_list() -> None:
    result = run_tarla(["evaluat"])
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "error: arguments: argument COMMAND: invalid choice: 'evaluat' (choose from 'schedule', "
        "'evaluate',")
    assert "Traceback" not in result.stderr


def test_no_command_is_refused_with_exit_2() -> None:
    result = run_tarla([])
    assert result.returncode == 2
    assert "error: arguments: the following arguments are required: COMMAND" in result.stderr


def test_bad_input_to_a_command_still_names_the_field_after_the_lazy_import() -> None:
    result = run_tarla(["evaluate", "--json"], {"timezone": "America/New_York"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "error" in json.loads(result.stdout)
