"""Fixtures shared by every suite. Tests never read ../shared: data lives in tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ARTIFACTS, run_tarla


@pytest.fixture
def tarla():
    return run_tarla


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
