"""``tarla demo-data`` loads a site with patients at every stage, on both databases, and the
worklist shows what is due with each decision."""

from __future__ import annotations

import json

import pytest

from tarla.cli import main


def test_demo_data_loads_and_the_worklist_shows_every_kind_of_decision(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", database_url)
    assert main(["demo-data", "--patients", "7", "--seed", "5", "--today", "2026-12-01",
                 "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["patients"] == 7 and set(loaded["stages"]) == {
        "new", "step_up", "maintenance", "restart", "held_crs", "discontinued", "lab_hold"}

    assert main(["worklist", "--date", "2026-12-01", "--json"]) == 0
    wl = json.loads(capsys.readouterr().out)
    decisions = {i["decision"] for i in wl["items"]}
    assert {"give", "hold"} <= decisions
    kinds = {i["kind"] for i in wl["items"]}
    assert "restart_step_up" in kinds
    assert all(i["error"] is None for i in wl["items"])

    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out

    assert main(["demo-data", "--patients", "1", "--today", "2026-12-01"]) == 1
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("patients,seed", [(30, 1), (45, 3)])
def test_larger_demo_sites_load_even_when_charting_happens_out_of_order(
        patients: int, seed: int, tmp_path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Demo patients with a single dose get an assessment charted at a time before an event
    # already on file; evaluating "as of" that moment must ignore the later record, not fail.
    monkeypatch.setenv("TARLA_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    assert main(["demo-data", "--patients", str(patients), "--seed", str(seed), "--today",
                 "2026-11-23", "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["patients"] == patients
