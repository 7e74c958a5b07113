"""The access log (issue 13): every read of a patient's record and every sign-in, sign-out and
failed sign-in is an entry of the audit chain, shown to administrators of the same site on
``/admin/access`` (and ``GET /api/v1/access``, ``tarla audit access``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from web_support import NOW, PASSWORD, USERS, sign_in
from world import World

from tarla.cli import main
from tarla.services import admin, clinical
from tarla.services.audit_anchor import verify_all
from tarla.web.auth import hash_password

NURSE = USERS["nurse"]


def _entries(admin_client: TestClient, **query: str) -> list[dict[str, Any]]:
    r = admin_client.get("/api/v1/access", params=query)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def _said(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["actor"], e["event"], e["mrn"], e["what"], e["channel"]) for e in entries]


@pytest.fixture
def fresh(app: Any) -> Iterator[Callable[[], TestClient]]:
    clients: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app, base_url="http://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def test_a_scripted_session_is_listed_read_by_read(app: Any, world: World, db_url: str,
                                                   fresh: Callable[[], TestClient],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    patient = world.patients["stepup"]
    nurse = fresh()
    sign_in(nurse, NURSE)
    assert nurse.get(f"/patients/{patient}").status_code == 200
    assert nurse.get(f"/api/v1/patients/{patient}").status_code == 200
    pdf = nurse.get(f"/patients/{patient}/wristband.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert nurse.post("/sign-out").status_code == 303
    admin_client = fresh()
    sign_in(admin_client, USERS["admin"])

    assert _said(_entries(admin_client, user=NURSE)) == [
        (NURSE, "signed out", None, None, "web"),
        (NURSE, "read", "MRN100002", "wristband PDF", "export"),
        (NURSE, "read", "MRN100002", "patient", "api"),
        (NURSE, "read", "MRN100002", "patient page", "web"),
        (NURSE, "signed in", None, None, "api"),
    ]
    assert {e["address"] for e in _entries(admin_client, user=NURSE)} == {"testclient"}
    # the patient's view: only the reads, from the command line too
    monkeypatch.setenv("TARLA_DATABASE_URL", db_url)
    assert main(["audit", "access", "--patient", "MRN100002", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["entries"]
    assert [(e["actor"], e["what"]) for e in cli] == [
        (NURSE, "wristband PDF"), (NURSE, "patient"), (NURSE, "patient page")]
    assert main(["audit", "access", "--patient", "MRN100002"]) == 0
    assert "wristband PDF [export from testclient]" in capsys.readouterr().out
    # entries of the same chain, which still verifies
    report = verify_all(app.state.web.uow(), checkpoints=[], key=None, now=NOW)
    assert report.intact, report.problems()


def test_each_json_and_export_read_names_what_was_read(app: Any, world: World,
                                                       fresh: Callable[[], TestClient]) -> None:
    patient, course = world.patients["stepup"], world.courses["stepup"]
    physician = fresh()
    sign_in(physician, USERS["physician"])
    for url in (f"/api/v1/patients/{patient}/evaluation", f"/api/v1/patients/{patient}/labs",
                f"/api/v1/courses/{course}/administrations", f"/api/v1/courses/{course}/flowsheet",
                f"/patients/{patient}/course.ics", f"/patients/{patient}/passport.pdf"):
        assert physician.get(url).status_code == 200, url
    admin_client = fresh()
    sign_in(admin_client, USERS["admin"])
    reads = [e for e in _entries(admin_client, user=USERS["physician"]) if e["event"] == "read"]
    assert [(e["what"], e["channel"], e["mrn"]) for e in reversed(reads)] == [
        ("evaluation", "api", "MRN100002"), ("labs", "api", "MRN100002"),
        ("administrations", "api", "MRN100002"), ("flowsheet", "api", "MRN100002"),
        ("course calendar (.ics)", "export", "MRN100002"),
        ("wallet card PDF", "export", "MRN100002")]


def test_a_failed_sign_in_is_logged_with_the_name_typed_and_the_address(
        fresh: Callable[[], TestClient]) -> None:
    c = fresh()
    r = c.post("/api/v1/session", json={"username": NURSE, "password": "not the password"})
    assert r.status_code == 401
    r = c.post("/api/v1/session", json={"username": "nobody.here", "password": "guess"})
    assert r.status_code == 401
    admin_client = fresh()
    sign_in(admin_client, USERS["admin"])
    assert _said(_entries(admin_client, user=NURSE)) == [
        (NURSE, "sign-in failed", None, None, "api")]
    # an unknown name belongs to no site: a site's administrator does not see it
    assert _entries(admin_client, user="nobody.here") == []


def test_a_read_answered_404_is_not_logged(app: Any, fresh: Callable[[], TestClient]) -> None:
    nurse = fresh()
    sign_in(nurse, NURSE)
    assert nurse.get("/api/v1/patients/999999").status_code == 404
    with app.state.bootstrapped.engine.connect() as conn:
        reads = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = "
                                  "'access.read'")).scalar_one()
    assert reads == 0


def test_a_read_that_cannot_be_logged_is_not_served(app: Any, world: World,
                                                    fresh: Callable[[], TestClient]) -> None:
    nurse = fresh()
    sign_in(nurse, NURSE)
    with app.state.bootstrapped.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_gone"))
    r = nurse.get(f"/api/v1/patients/{world.patients['stepup']}")
    assert r.status_code == 503
    assert "MRN100002" not in r.text
    assert r.json()["errors"] == [{"field": "access_log", "message": "not written"}]


def test_only_an_administrator_sees_the_access_log(fresh: Callable[[], TestClient]) -> None:
    nurse = fresh()
    sign_in(nurse, NURSE)
    assert nurse.get("/admin/access").status_code == 403
    assert nurse.get("/api/v1/access").status_code == 403


def test_the_access_page_filters_by_patient_user_and_date(world: World,
                                                          fresh: Callable[[], TestClient]
                                                          ) -> None:
    nurse = fresh()
    sign_in(nurse, NURSE)
    nurse.get(f"/patients/{world.patients['stepup']}")
    nurse.get(f"/patients/{world.patients['held']}")
    admin_client = fresh()
    sign_in(admin_client, USERS["admin"])
    page = admin_client.get("/admin/access", params={"mrn": "MRN100005"})
    assert page.status_code == 200
    assert "MRN MRN100005" in page.text and "MRN MRN100002" not in page.text
    today = NOW.date().isoformat()
    assert len(_entries(admin_client, mrn="MRN100002", **{"from": today, "to": today})) == 1
    tomorrow = (NOW.date() + timedelta(days=1)).isoformat()
    assert _entries(admin_client, mrn="MRN100002", **{"from": tomorrow}) == []
    bad = admin_client.get("/admin/access", params={"from": "2026-13-01"})
    assert bad.status_code == 422 and "is not a date (YYYY-MM-DD)" in bad.text


def test_sites_are_walls_on_the_access_page(app: Any, world: World,
                                            fresh: Callable[[], TestClient]) -> None:
    uow, setup = app.state.web.uow, NOW - timedelta(days=1)
    admin.create_site(uow(), code="EAST", name="East infusion", timezone="America/New_York",
                      now=setup)
    digest = hash_password(PASSWORD)
    for username, roles, site in (("rn.east", ["nurse"], "EAST"),
                                  ("admin.east", ["admin"], "EAST"),
                                  ("dr.east", ["physician"], "EAST"),
                                  ("root", ["admin"], None)):
        admin.create_user(uow(), username=username, display_name=username, roles=roles,
                          now=setup, site_code=site, password_hash=digest)
    east = clinical.enrol_patient(uow(), site_code="EAST", mrn="MRN100002", family_name="East",
                                  given_name="Eve", birth_date=date(1960, 1, 1),
                                  diagnosis="ES-SCLC", progressed_after_platinum=True,
                                  start_date=NOW.date(), actor="dr.east", now=setup)
    rn_east, rn_demo = fresh(), fresh()
    sign_in(rn_east, "rn.east")
    sign_in(rn_demo, NURSE)
    assert rn_east.get(f"/patients/{east.patient_id}").status_code == 200
    assert rn_demo.get(f"/patients/{world.patients['stepup']}").status_code == 200
    assert rn_demo.get(f"/patients/{east.patient_id}").status_code == 404  # not logged

    demo_admin, east_admin, root = fresh(), fresh(), fresh()
    sign_in(demo_admin, USERS["admin"])
    sign_in(east_admin, "admin.east")
    sign_in(root, "root")
    # the same MRN at both sites: each administrator sees their own patient's reads only
    demo_view = _entries(demo_admin, mrn="MRN100002")
    east_view = _entries(east_admin, mrn="MRN100002")
    assert [(e["actor"], e["patient_name"]) for e in demo_view] == [(NURSE, "Nguyen, Linh")]
    assert [(e["actor"], e["patient_name"]) for e in east_view] == [("rn.east", "East, Eve")]
    assert {e["site_id"] for e in _entries(demo_admin)} == {demo_view[0]["site_id"]}
    assert "rn.east" not in demo_admin.get("/admin/access").text
    assert _entries(demo_admin, user="rn.east") == []
    # an administrator without a site oversees every site
    assert {e["actor"] for e in _entries(root, mrn="MRN100002")} == {NURSE, "rn.east"}


def test_the_app_writes_a_checkpoint_when_it_starts_if_told_to(db_url: str, tmp_path: Any,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    import time

    from tarla.config import Settings
    from tarla.web.app import create_app
    from tarla.web.config import WebOptions

    monkeypatch.setenv("TARLA_AUDIT_KEY", "a checkpoint key of 32 bytes....")
    path = tmp_path / "checkpoints.jsonl"
    application = create_app(Settings(database_url=db_url, audit_checkpoints=str(path),
                                      audit_checkpoint_minutes=60), options=WebOptions())
    try:
        with TestClient(application):
            deadline = time.monotonic() + 10
            while not path.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        [line] = path.read_text().splitlines()
        with application.state.bootstrapped.engine.connect() as conn:
            head = conn.execute(text("SELECT last_id FROM audit_head")).scalar_one()
        assert json.loads(line)["head_id"] == head
    finally:
        application.state.bootstrapped.close()


def test_the_app_refuses_periodic_checkpoints_without_a_key(db_url: str,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from tarla.config import Settings
    from tarla.web.app import create_app

    monkeypatch.delenv("TARLA_AUDIT_KEY", raising=False)
    monkeypatch.delenv("TARLA_AUDIT_KEY_FILE", raising=False)
    with pytest.raises(ValueError, match="^TARLA_AUDIT_CHECKPOINT_MINUTES: set, but neither"):
        create_app(Settings(database_url=db_url, audit_checkpoint_minutes=5))


def test_fhir_reads_by_an_interface_are_logged_under_its_name(app: Any, world: World,
                                                              fresh: Callable[[], TestClient]
                                                              ) -> None:
    from interop_support import bearer, token

    ehr = fresh()
    auth = bearer(token(app, "read", name="epic"))
    patient = world.patients["stepup"]
    assert ehr.get(f"/fhir/r4/Patient/{patient}", headers=auth).status_code == 200
    assert ehr.get("/fhir/r4/Observation", params={"patient": str(patient)},
                   headers=auth).status_code == 200
    assert ehr.get("/fhir/r4/Patient/999999", headers=auth).status_code == 404
    admin_client = fresh()
    sign_in(admin_client, USERS["admin"])
    assert _said(_entries(admin_client, user="interface:epic")) == [
        ("interface:epic", "read", "MRN100002", "FHIR Observation", "fhir"),
        ("interface:epic", "read", "MRN100002", "FHIR Patient", "fhir")]
