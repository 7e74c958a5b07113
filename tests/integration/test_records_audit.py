"""Every use case writes exactly one audit entry in its own transaction (none when it fails),
and ``tarla audit verify`` finds an edited or a deleted entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from records_helpers import PANEL, T0, World, audit_count, enrol, give
from sqlalchemy import text

from tarla.cli import main
from tarla.domain.errors import InvalidInput
from tarla.services import clinical, label, pharmacy
from tarla.services.audit import verify_chain
from tarla.services.errors import AlreadyRecorded, Forbidden

Case = Callable[[World, dict[str, Any]], object]


def _prep(w: World, ctx: dict[str, Any]) -> pharmacy.PreparationResult:
    return pharmacy.start_preparation(w.app.uow(), course_id=ctx["course"], dose_mg=1,
                                      actor=w.pharmacist, now=T0)


USE_CASES: dict[str, Case] = {
    "enrol": lambda w, ctx: enrol(w, "MRN2"),
    "record_lab": lambda w, ctx: clinical.record_lab(
        w.app.uow(), patient_id=ctx["patient"], test="ALT", value=30, unit="U/L", uln=40,
        collected_at=T0 - timedelta(hours=1), actor=w.nurse, now=T0),
    "record_lab_panel": lambda w, ctx: clinical.record_lab_panel(
        w.app.uow(), patient_id=ctx["patient"], results=PANEL,
        collected_at=T0 - timedelta(hours=1), actor=w.nurse, now=T0),
    "record_assessment": lambda w, ctx: clinical.record_assessment(
        w.app.uow(), course_id=ctx["course"], kind="CRS",
        inputs={"temperature_c": 38.5, "hypotension": False, "oxygen": "none"},
        assessed_at=T0, actor=w.nurse, now=T0 + timedelta(minutes=5)),
    "record_administration": lambda w, ctx: give(w, ctx["course"], 0, 1),
    "start_preparation": _prep,
    "advance_preparation": lambda w, ctx: pharmacy.advance_preparation(
        w.app.uow(), preparation_id=ctx["prep"], event="reconstituted", at=T0,
        actor=w.pharmacist, now=T0 + timedelta(minutes=1)),
    "sign_off_label": lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["T1-C1D1", "T1-C1D8"], actor=w.pharmacist,
        now=T0, comments="checked against the PI"),
}


@pytest.fixture
def ctx(world: World) -> dict[str, Any]:
    enrolled = enrol(world)
    out: dict[str, Any] = {"patient": enrolled.patient_id, "course": enrolled.course_id}
    out["prep"] = _prep(world, out).preparation_id
    return out


@pytest.mark.parametrize("name", sorted(USE_CASES))
def test_each_use_case_writes_exactly_one_audit_entry(world: World, ctx: dict[str, Any],
                                                      name: str) -> None:
    before = audit_count(world)
    USE_CASES[name](world, ctx)
    assert audit_count(world) == before + 1
    assert verify_chain(world.app.uow()).intact


FAILING: dict[str, tuple[Case, type[Exception]]] = {
    "second recording of a slot": (lambda w, ctx: give(w, ctx["course"], 0, 1, slot="C1D1"),
                                   AlreadyRecorded),
    "nurse signs off the label": (lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["T1-C1D1"], actor=w.nurse, now=T0), Forbidden),
    "unknown rule id": (lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["NOPE"], actor=w.pharmacist, now=T0),
        InvalidInput),
    "duplicate MRN": (lambda w, ctx: enrol(w, "MRN1"), AlreadyRecorded),
    "preparer checks own bag": (lambda w, ctx: pharmacy.check_preparation(
        w.app.uow(), preparation_id=ctx["prep"], actor=w.pharmacist, now=T0), Forbidden),
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_a_failed_use_case_writes_no_audit_entry(world: World, ctx: dict[str, Any],
                                                 name: str) -> None:
    give(world, ctx["course"], 0, 1)
    before = audit_count(world)
    case, error = FAILING[name]
    with pytest.raises(error):
        case(world, ctx)
    assert audit_count(world) == before
    assert verify_chain(world.app.uow()).intact


def _verify(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            url: str) -> tuple[int, str]:
    monkeypatch.setenv("TARLA_DATABASE_URL", url)
    code = main(["audit", "verify"])
    return code, capsys.readouterr().out


def _tamper(w: World, sql: str) -> None:
    with w.app.engine.begin() as conn:
        conn.execute(text(sql))


def _history(w: World) -> None:
    enrolled = enrol(w)
    give(w, enrolled.course_id, 0, 1)
    give(w, enrolled.course_id, 7, 10)


def test_audit_verify_passes_an_intact_chain(world: World, database_url: str,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _history(world)
    code, out = _verify(monkeypatch, capsys, database_url)
    assert code == 0, out
    assert "intact" in out


def test_audit_verify_reports_an_edited_entry(world: World, database_url: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _history(world)
    _tamper(world, "UPDATE audit_log SET actor = 'mallory' WHERE id = 4")
    code, out = _verify(monkeypatch, capsys, database_url)
    assert code == 1
    assert "entry 4: hash mismatch (edited)" in out


def test_audit_verify_reports_a_deleted_entry(world: World, database_url: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _history(world)
    _tamper(world, "DELETE FROM audit_log WHERE id = 5")
    code, out = _verify(monkeypatch, capsys, database_url)
    assert code == 1
    assert "entry 6: previous hash does not match entry 4 (entry deleted?)" in out


def test_audit_verify_reports_a_deleted_last_entry(world: World, database_url: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _history(world)
    last = audit_count(world)
    _tamper(world, f"DELETE FROM audit_log WHERE id = {last}")
    code, out = _verify(monkeypatch, capsys, database_url)
    assert code == 1
    assert f"entry {last}: missing" in out

