"""Standing rules of the codebase, checked on every run (DEVELOPERS.md non-negotiables)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT

SRC = ROOT / "src" / "tarla"
PURE = [SRC / "domain", SRC / "label"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


PURE_FILES = sorted(p for d in PURE for p in d.rglob("*.py"))


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_imports_only_the_standard_library_and_itself(path: Path) -> None:
    stdlib = sys.stdlib_module_names
    bad = {n for n in _imports(path)
           if n.split(".")[0] not in stdlib and not n.startswith(("tarla.domain", "tarla.label"))}
    assert not bad, f"{path.name} imports {sorted(bad)}"
    io = {n for n in _imports(path) if n.split(".")[0] in {"os", "subprocess", "socket", "io",
                                                            "sqlite3", "pathlib", "random"}}
    assert not io, f"{path.name} does I/O or randomness: {sorted(io)}"


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_never_reads_the_clock(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for needle in ("datetime.now(", "date.today(", "time.time(", "datetime.utcnow("):
        assert needle not in text, f"{path.name} reads the clock ({needle})"


def test_every_label_row_has_a_unique_rule_id_and_a_tag() -> None:
    from tarla.label import Provenance, all_rules

    rows = list(all_rules())
    ids = [r.rule_id for r in rows]
    assert len(ids) == len(set(ids))
    assert all(isinstance(r.tag, Provenance) and r.text for r in rows)


def test_mypy_strict_passes_on_the_pure_core() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
                             "src/tarla/domain", "src/tarla/label"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src", "tests", "bench"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_cli_command_map_names_every_registered_command() -> None:
    from tarla.cli import COMMANDS, GROUPS, build_parser

    for group in GROUPS:
        parser = build_parser((group,))
        action = next(a for a in parser._actions if a.dest == "command")
        for command in action.choices:  # type: ignore[union-attr]
            assert COMMANDS.get(command) == group, f"{command} is registered by {group}"
