"""Every use case writes exactly one audit entry in its own transaction (none when it fails),
and ``tarla audit verify`` finds an edited or a deleted entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
from records_helpers import PANEL, T0, World, audit_count, bag, chart, enrol, give, patient_of
from sqlalchemy import text

from signing import SIGNED
from tarla.cli import main
from tarla.domain.errors import InvalidInput
from tarla.services import bench, clinical, label, pharmacy
from tarla.services.audit import verify_chain
from tarla.services.demo import kit_scan
from tarla.services.errors import AlreadyRecorded, Forbidden, NotFound, Refused

Case = Callable[[World, dict[str, Any]], object]
Arrange = Callable[[World, dict[str, Any]], None]


def _labs(w: World, ctx: dict[str, Any]) -> None:
    clinical.record_lab_panel(w.app.uow(), patient_id=ctx["patient"], results=PANEL,
                              collected_at=T0 - timedelta(hours=1), actor=w.nurse,
                              now=T0 - timedelta(minutes=30))


def _started(w: World, ctx: dict[str, Any]) -> None:
    _labs(w, ctx)
    ctx["prep"] = pharmacy.start_preparation(w.app.uow(), course_id=ctx["course"],
                                             actor=w.pharmacist, now=T0).preparation_id


def _scanned(w: World, ctx: dict[str, Any]) -> None:
    _started(w, ctx)
    w.loop.scan(ctx["prep"], kit_scan(1, "K1"), T0 + timedelta(minutes=2))


def _scanned_and_watered(w: World, ctx: dict[str, Any]) -> None:
    _scanned(w, ctx)
    bench.confirm_step(w.app.uow(), preparation_id=ctx["prep"], step="water_added",
                       actor=w.pharmacist, now=T0 + timedelta(minutes=4), measured_ml=1.3)


def _compounded(w: World, ctx: dict[str, Any]) -> None:
    _labs(w, ctx)
    ctx["prep"] = w.loop.prepare(patient_of(w, ctx["course"]), T0, "K1", checked=False)


def _checked(w: World, ctx: dict[str, Any]) -> None:
    _labs(w, ctx)
    ctx["prep"] = bag(w, ctx["course"], 0)


def _running(w: World, ctx: dict[str, Any]) -> None:
    _checked(w, ctx)
    chart(w, ctx["course"], 0, ctx["prep"])


def _crs(w: World, ctx: dict[str, Any]) -> None:
    give(w, ctx["course"], 0, 1)
    ctx["event"] = w.loop.crs_grade_2(patient_of(w, ctx["course"]), T0 + timedelta(hours=14))


#: The e-signature of these tests: the users have no password hash, so a fake check (real
#: behaviour: one password is right) stands in for the sign-in's argon2 verification.
SIGNATURE: dict[str, Any] = {"password": "their password",
                             "verify": lambda _hash, password: password == "their password"}
_SHIPPED = "US-PI-2026-UNCONFIRMED"


def _shipped() -> str:
    return resources.files("tarla.label").joinpath("versions", f"{_SHIPPED}.json").read_text(
        encoding="utf-8")


def _signed(w: World, ctx: dict[str, Any]) -> None:
    ctx["signoff"] = label.sign_off_label(w.app.uow(), site_code=w.site, rule_ids=["T3-SALINE"],
                                          actor=w.pharmacist, now=T0, comments="checked",
                                          **SIGNATURE).signoff_id


def _registered(w: World, ctx: dict[str, Any]) -> None:
    label.register_revision(w.app.uow(), text=_shipped(), actor=w.pharmacist, now=T0)


def _nothing(w: World, ctx: dict[str, Any]) -> None:
    return None


DAY7 = T0 + timedelta(days=7)
#: name -> (what is on record first, the use case that must write exactly one entry)
USE_CASES: dict[str, tuple[Arrange, Case]] = {
    "enrol": (_nothing, lambda w, ctx: enrol(w, "MRN2")),
    "record_lab": (_nothing, lambda w, ctx: clinical.record_lab(
        w.app.uow(), patient_id=ctx["patient"], test="ALT", value=30, unit="U/L", uln=40,
        collected_at=T0 - timedelta(hours=1), actor=w.nurse, now=T0)),
    "record_lab_panel": (_nothing, _labs),
    "record_assessment": (_nothing, lambda w, ctx: clinical.record_assessment(
        w.app.uow(), course_id=ctx["course"], kind="CRS",
        inputs={"temperature_c": 38.5, "hypotension": False, "oxygen": "none"},
        assessed_at=T0, actor=w.nurse, now=T0 + timedelta(minutes=5))),
    "record_administration": (_checked, lambda w, ctx: chart(w, ctx["course"], 0,
                                                             ctx["prep"])),
    "complete_infusion": (_running, lambda w, ctx: clinical.complete_infusion(
        w.app.uow(), preparation_id=ctx["prep"], ended_at=T0 + timedelta(hours=2),
        actor=w.nurse, now=T0 + timedelta(hours=3))),
    "record_external_dose": (_nothing, lambda w, ctx: clinical.record_external_dose(
        w.app.uow(), course_id=ctx["course"], started_at=T0, dose_mg=1, actor=w.physician,
        source="Mercy Hospital infusion record", now=T0 + timedelta(hours=3))),
    "release_dose": (_nothing, lambda w, ctx: clinical.release_dose(
        w.app.uow(), course_id=ctx["course"], reason="point-of-care CBC reviewed",
        actor=w.physician, now=T0, signature=SIGNED)),
    "resolve_adverse_event (nurse's proposal)": (_crs, lambda w, ctx: w.loop.resolve(
        ctx["event"], T0 + timedelta(days=2), w.nurse)),
    "resolve_adverse_event (physician)": (_crs, lambda w, ctx: w.loop.resolve(
        ctx["event"], T0 + timedelta(days=2), w.physician)),
    "start_preparation": (_labs, lambda w, ctx: pharmacy.start_preparation(
        w.app.uow(), course_id=ctx["course"], actor=w.pharmacist, now=T0)),
    "record_scan": (_started, lambda w, ctx: w.loop.scan(
        ctx["prep"], kit_scan(1, "K1"), T0 + timedelta(minutes=2))),
    "confirm_step": (_scanned, lambda w, ctx: bench.confirm_step(
        w.app.uow(), preparation_id=ctx["prep"], step="water_added", actor=w.pharmacist,
        now=T0 + timedelta(minutes=4), measured_ml=1.3)),
    "advance_preparation": (_scanned_and_watered, lambda w, ctx: pharmacy.advance_preparation(
        w.app.uow(), preparation_id=ctx["prep"], event="reconstituted",
        at=T0 + timedelta(minutes=5), actor=w.pharmacist, now=T0 + timedelta(minutes=5))),
    "check_preparation": (_compounded, lambda w, ctx: pharmacy.check_preparation(
        w.app.uow(), preparation_id=ctx["prep"], actor=w.pharmacist2,
        now=T0 + timedelta(minutes=30), signature=SIGNED)),
    "sign_off_label": (_nothing, lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["T1-C1D1", "T1-C1D8"], actor=w.pharmacist,
        now=T0, comments="checked against the PI", **SIGNATURE)),
    "revoke_signoff": (_signed, lambda w, ctx: label.revoke_signoff(
        w.app.uow(), site_code=w.site, signoff_id=ctx["signoff"], reason="wrong PI revision",
        actor=w.physician, now=T0)),
    "register_revision": (_nothing, lambda w, ctx: label.register_revision(
        w.app.uow(), text=_shipped(), actor=w.pharmacist, now=T0)),
    "set_new_course_version": (_registered, lambda w, ctx: label.set_new_course_version(
        w.app.uow(), site_code=w.site, label_version=_SHIPPED, actor=w.physician, now=T0)),
}


@pytest.fixture
def ctx(world: World) -> dict[str, Any]:
    enrolled = enrol(world)
    return {"patient": enrolled.patient_id, "course": enrolled.course_id}


@pytest.mark.parametrize("name", sorted(USE_CASES))
def test_each_use_case_writes_exactly_one_audit_entry(world: World, ctx: dict[str, Any],
                                                      name: str) -> None:
    arrange, case = USE_CASES[name]
    arrange(world, ctx)
    before = audit_count(world)
    case(world, ctx)
    assert audit_count(world) == before + 1
    assert verify_chain(world.app.uow()).intact


def _second_chart(w: World, ctx: dict[str, Any]) -> object:
    return chart(w, ctx["course"], 0, ctx["given"], slot="C1D1")


FAILING: dict[str, tuple[Case, type[Exception]]] = {
    "second recording of a slot": (_second_chart, AlreadyRecorded),
    "nurse signs off the label": (lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["T1-C1D1"], actor=w.nurse, now=T0,
        **SIGNATURE), Forbidden),
    "unknown rule id": (lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["NOPE"], actor=w.pharmacist, now=T0,
        **SIGNATURE), InvalidInput),
    "a sign-off with a wrong password": (lambda w, ctx: label.sign_off_label(
        w.app.uow(), site_code=w.site, rule_ids=["T1-C1D1"], actor=w.pharmacist, now=T0,
        password="not it", verify=SIGNATURE["verify"]), InvalidInput),
    "a tampered label revision": (lambda w, ctx: label.register_revision(
        w.app.uow(), text=_shipped().replace('"UNVERIFIED"', '"SEED"'), actor=w.pharmacist,
        now=T0), InvalidInput),
    "duplicate MRN": (lambda w, ctx: enrol(w, "MRN1"), AlreadyRecorded),
    "preparer checks own bag": (lambda w, ctx: pharmacy.check_preparation(
        w.app.uow(), preparation_id=ctx["unchecked"], actor=w.pharmacist,
        now=T0 + timedelta(minutes=30), signature=SIGNED), Refused),
    "a dose before it is due": (lambda w, ctx: chart(w, ctx["course"], 3, ctx["given"]),
                                Refused),
    # an id no column can hold is refused (422), never a driver error (500)
    "an id past 64 bits": (lambda w, ctx: pharmacy.check_preparation(
        w.app.uow(), preparation_id=2**63, actor=w.pharmacist2, now=T0,
        signature=SIGNED), InvalidInput),
    "a release with nothing to release": (lambda w, ctx: clinical.release_dose(
        w.app.uow(), course_id=ctx["other_course"], reason="nothing is held here",
        actor=w.physician, now=T0, signature=SIGNED), InvalidInput),
}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_a_failed_use_case_writes_no_audit_entry(world: World, ctx: dict[str, Any],
                                                 name: str) -> None:
    ctx["given"] = give(world, ctx["course"], 0, 1).preparation_id
    other = enrol(world, "MRN2")
    ctx["other_course"] = other.course_id
    p2 = patient_of(world, other.course_id)
    world.loop.labs(p2, T0 - timedelta(hours=1))
    ctx["unchecked"] = world.loop.prepare(p2, T0, "K-OTHER", checked=False)
    before = audit_count(world)
    case, error = FAILING[name]
    with pytest.raises(error):
        case(world, ctx)
    assert audit_count(world) == before
    assert verify_chain(world.app.uow()).intact


def test_an_id_past_the_id_column_is_refused_as_input_not_a_driver_error(world: World
                                                                        ) -> None:
    # 3 000 000 000 fits SQLite's 64-bit integers (no such record: 404) but not PostgreSQL's
    # 32-bit id columns (422); neither is a 500, and nothing is written
    before = audit_count(world)
    expected = InvalidInput if world.app.engine.dialect.name == "postgresql" else NotFound
    with pytest.raises(expected):
        clinical.complete_infusion(world.app.uow(), preparation_id=3_000_000_000, ended_at=T0,
                                   actor=world.nurse, now=T0)
    assert audit_count(world) == before


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

