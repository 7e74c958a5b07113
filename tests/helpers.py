"""Helpers shared by the suites. Tests never read ../shared: what they need is copied into tests/data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
ARTIFACTS = ROOT / "test-artifacts"


def run_tarla(args: list[str], stdin: Any = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``tarla`` command exactly as a user would."""
    text = None if stdin is None else (stdin if isinstance(stdin, str) else json.dumps(stdin))
    exe = Path(sys.executable).with_name("tarla")
    env = {k: v for k, v in os.environ.items() if k != "TARLA_DEBUG"}
    return subprocess.run([str(exe), *args], input=text if text is not None else "",
                          capture_output=True, text=True, timeout=120, env=env)


