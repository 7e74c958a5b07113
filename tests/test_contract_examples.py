"""The public contract examples (copied from shared/contracts/examples into tests/data),
run through the real ``tarla`` command with ``--json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from helpers import DATA, run_tarla

CASES = sorted((DATA / "contracts").glob("*.json"))


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        assert isinstance(obj, dict) and part in obj, f"field {dotted!r} missing (at {part!r})"
        obj = obj[part]
    return obj


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or expected is None:
        return actual is expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return not isinstance(actual, bool) and math.isclose(actual, expected, abs_tol=1e-6)
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(_equal(a, e) for a, e in zip(actual, expected)))
    return actual == expected


def _mentions_drug(item: Any, drug: str) -> bool:
    return drug.lower() in json.dumps(item).lower()


def check(expect: dict[str, Any], out: dict[str, Any]) -> None:
    for path, want in expect.items():
        value = _get(out, path)
        if isinstance(want, dict) and "$len" in want:
            assert isinstance(value, list) and len(value) == want["$len"], (path, value)
        elif isinstance(want, dict) and "$nonempty" in want:
            assert value, (path, value)
        elif isinstance(want, dict) and "$any_drug" in want:
            assert any(_mentions_drug(v, want["$any_drug"]) for v in value), (path, value)
        elif isinstance(want, dict) and "$any_code" in want:
            assert any(isinstance(v, dict) and v.get("code") == want["$any_code"]
                       for v in value), (path, value)
        else:
            assert _equal(value, want), f"{path}: expected {want!r}, got {value!r}"


@pytest.mark.parametrize("case_file", CASES, ids=[p.stem for p in CASES])
def test_public_contract_example(case_file: Path) -> None:
    case = json.loads(case_file.read_text())
    result = run_tarla([*case["command"], "--json"], case["input"])
    assert "Traceback" not in result.stderr + result.stdout
    expect = dict(case["expect"])
    if "$exit" in expect:
        assert result.returncode == expect.pop("$exit"), result.stderr
        assert result.stderr.startswith("error: "), result.stderr
        return
    if "$exit_or" in expect:
        alt = expect.pop("$exit_or")
        if result.returncode == alt["exit"]:
            return
        expect.update({k: v for k, v in alt.items() if k != "exit"})
    assert result.returncode == 0, result.stderr
    check(expect, json.loads(result.stdout))
