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


# --- no mutable state at module level in the pure core ------------------------------------------
# FastAPI runs the core in a thread pool: a list, dict or set kept at module level (a lazily
# filled cache) is shared by every request at once. Constants must be immutable: tuples,
# frozensets, MappingProxyType views of a dict nobody else holds, frozen dataclasses.

_MUTABLE_CALLS = {"list", "dict", "set", "bytearray", "defaultdict", "OrderedDict", "Counter",
                  "deque", "ChainMap", "WeakValueDictionary", "WeakKeyDictionary", "WeakSet"}
#: Calls whose result is read-only, even when built from a mutable literal passed to them.
_FREEZERS = {"tuple", "frozenset", "MappingProxyType"}
_MEMOS = {"lru_cache", "cache"}
#: The memos allowed, each with the argument that it is thread-safe (see its comment).
_ALLOWED_MEMOS = {
    # pure function of str/float/None arguments returning immutable values; lru_cache keeps
    # its table coherent across threads; typed=True. See the comment above it.
    ("domain/toxicity.py", "_grade_memo"),
}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return None


def _mutable_parts(value: ast.expr) -> list[str]:
    """The mutable containers a module-level value builds (not looking inside freezers,
    lambdas or generator expressions, whose contents are not kept as they are)."""
    found: list[str] = []
    todo = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Call) and _name(node.func) in _FREEZERS:
            continue
        if isinstance(node, ast.Lambda | ast.GeneratorExp):
            continue
        if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp
                      | ast.SetComp):
            found.append(ast.unparse(node)[:60])
            continue
        if isinstance(node, ast.Call) and _name(node.func) in _MUTABLE_CALLS:
            found.append(ast.unparse(node)[:60])
            continue
        todo.extend(ast.iter_child_nodes(node))  # type: ignore[arg-type]
    return found


def module_state_problems(source: str, where: str) -> list[str]:
    """Mutable module-level (and class-level) state in ``source``: container values, memo
    decorators not in :data:`_ALLOWED_MEMOS`, and ``global`` statements."""
    tree = ast.parse(source)
    problems: list[str] = []

    def scan(body: list[ast.stmt], scope: str) -> None:
        for node in body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets, value = [node.target], node.value
            names = [ast.unparse(t) for t in targets]
            if value is not None and names != ["__all__"]:  # __all__ is read by `import *` only
                problems.extend(f"{where}:{node.lineno} {scope}{', '.join(names)} = {part}"
                                for part in _mutable_parts(value))
            if isinstance(node, ast.ClassDef):
                scan(node.body, f"{node.name}.")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    if (_name(deco) in _MEMOS
                            and (where, node.name) not in _ALLOWED_MEMOS):
                        problems.append(f"{where}:{node.lineno} @{ast.unparse(deco)} on "
                                        f"{node.name} keeps a module-level cache")
            if isinstance(node, ast.If | ast.Try | ast.With):
                scan([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)], scope)
    scan(tree.body, "")
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                if (_name(deco) in _MEMOS and node.col_offset
                        and (where, node.name) not in _ALLOWED_MEMOS):
                    problems.append(f"{where}:{node.lineno} @{ast.unparse(deco)} on "
                                    f"{node.name}")
        if isinstance(node, ast.Global | ast.Nonlocal):
            problems.append(f"{where}:{node.lineno} rebinds {', '.join(node.names)}")
    return problems


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_keeps_no_mutable_state_at_module_level(path: Path) -> None:
    where = path.relative_to(SRC).as_posix()
    assert module_state_problems(path.read_text(encoding="utf-8"), where) == []


@pytest.mark.parametrize("source", [
    "_CACHE: list[int] = []",
    "_SEEN = {}",
    "_IDS = set()",
    "_BY_ID = {r.id: r for r in ROWS}",
    "_PAIRS = (1, [2])",
    "import functools\n@functools.lru_cache(maxsize=None)\ndef f(x):\n    return x",
    "from functools import cache\n@cache\ndef f(x):\n    return x",
    "class Rows:\n    seen = []",
    "_N = 0\ndef bump():\n    global _N\n    _N += 1",
])
def test_the_mutable_state_check_catches_each_kind(source: str) -> None:
    assert module_state_problems(source, "domain/example.py")


@pytest.mark.parametrize("source", [
    "__all__ = ['a', 'b']",
    "_ROWS = (1, 2)",
    "_NAMES = frozenset({'a', 'b'})",
    "from types import MappingProxyType\n_BY = MappingProxyType({1: 'a'})",
    "_SLOTS = tuple(s for s in range(3))",
    "def f():\n    seen = []\n    return seen",
    "from dataclasses import dataclass, field\n@dataclass(frozen=True)\nclass A:\n"
    "    xs: tuple[int, ...] = field(default_factory=tuple)",
])
def test_the_mutable_state_check_accepts_immutable_constants(source: str) -> None:
    assert module_state_problems(source, "domain/example.py") == []
