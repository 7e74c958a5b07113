"""The benchmark scripts run (issue 14): a small size of each, so that they keep working. What
they measure is printed for a person to read; nothing here asserts a speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_worklist_benchmark_prints_the_worklist_next_to_its_floor() -> None:
    out = _run("bench/worklist.py", "--patients", "60", "--db", "sqlite", "--runs", "3")
    line = next(x for x in out.splitlines() if x.startswith("sqlite"))
    assert re.search(r"due +\d+ +worklist p50 +[\d.]+ ms +p95 +[\d.]+ ms", line), line
    assert re.search(r"floor \(raw SQL, same rows\) p50 +[\d.]+ p95 +[\d.]+ ms +-> p95 +[\d.]+x",
                     line), line
    assert "first read after the day rolled over" in out


def test_the_engine_benchmark_prints_both_rates_and_that_resumed_equals_full_history() -> None:
    out = _run("bench/evaluate.py", "--patients", "300", "--repeat", "1")
    assert "resumed decisions that differ from full-history: 0" in out
    assert re.search(r"full-history: +[\d,]+ decisions/CPU-s", out), out
    assert re.search(r"resumed: +[\d,]+ decisions/CPU-s", out), out
    assert re.search(r"tarla --help [\d.]+ ms", out), out
