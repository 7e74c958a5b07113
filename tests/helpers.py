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




SCAN_DPI = 300  # what the barcode read-back renders at: a good office scanner's resolution


def required_tool(name: str, package: str) -> str:
    """The path of a command-line tool; a missing tool fails the test, it never skips it."""
    import shutil

    path = shutil.which(name)
    assert path, f"{name} is required (apt-get install {package}); this test must not skip"
    return path


def read_barcodes(pdf: Path, workdir: Path, crop: tuple[int, int] | None = None) -> list[str]:
    """The barcodes zbar decodes on page 1 of ``pdf`` rendered at 300 dpi, one text a line.

    ``crop`` is (x, width) in pixels of that rendering. zbar reports identical symbols once,
    so two copies of one barcode are read one crop each."""
    stem = workdir / f"scan-{pdf.stem}-{'all' if crop is None else crop[0]}"
    window = [] if crop is None else ["-x", str(crop[0]), "-W", str(crop[1])]
    subprocess.run([required_tool("pdftoppm", "poppler-utils"), "-r", str(SCAN_DPI), "-png",
                    "-singlefile", *window, str(pdf), str(stem)], check=True, capture_output=True)
    result = subprocess.run([required_tool("zbarimg", "zbar-tools"), "--raw", "-q",
                             f"{stem}.png"], capture_output=True, text=True)
    assert result.returncode in (0, 4), result.stderr  # 4: zbar found no barcode
    return result.stdout.splitlines()
