"""A physician moves one existing course to another label version, from the patient page or
``POST /api/v1/courses/{course_id}/label-version``: their decision for that course, with a
reason and their password re-entered, audited with the versions before and after.

The fixture registers the shipped 2026 revision (a pharmacist, through the Rules page); every
course of the demo world is on the built-in version. A second site, NTH, with a physician and
a course of its own, is added to show the wall.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_support import NOW, PASSWORD, TODAY, USERS, ZONE

from tarla.label import LABEL_VERSION
from tarla.services import admin, clinical
from tarla.services.audit import ACCESS_ACTIONS
from tarla.web.auth import hash_password

SHIPPED = "US-PI-2026-UNCONFIRMED"
REASON = "P&T adopted the 2026 revision for courses still in cycle 1"
MISSING = 999999


@pytest.fixture
def shipped(as_role: Callable[[str], TestClient]) -> str:
    r = as_role("pharmacist").post("/rules/versions", data={"shipped": SHIPPED})
    assert r.status_code == 303, r.text[-800:]
    return SHIPPED


@pytest.fixture
def north(app: Any) -> int:
    """The second site, its physician and a course; returns the course id."""
    uow = app.state.bootstrapped.uow
    setup = datetime.combine(TODAY - timedelta(days=30), time(8), ZONE)
    admin.create_site(uow(), code="NTH", name="North infusion centre", timezone=ZONE.key,
                      now=setup)
    admin.create_user(uow(), username="dr.north", display_name="Dr Ned North",
                      roles=["physician"], now=setup, site_code="NTH",
                      password_hash=hash_password(PASSWORD))
    return clinical.enrol_patient(uow(), site_code="NTH", mrn="N-1", family_name="Berg",
                                  given_name="Ola", birth_date=date(1960, 1, 9),
                                  diagnosis="ES-SCLC", progressed_after_platinum=True,
                                  start_date=TODAY, actor="dr.north",
                                  now=NOW - timedelta(days=2)).course_id


def move_form(c: TestClient, course: int, **override: str) -> Any:
    data = {"label_version": SHIPPED, "reason": REASON, "password": PASSWORD, **override}
    return c.post(f"/courses/{course}/label-version", data=data)


def move_api(c: TestClient, course: int, **override: Any) -> Any:
    body = {"label_version": SHIPPED, "reason": REASON, "password": PASSWORD, **override}
    return c.post(f"/api/v1/courses/{course}/label-version", json=body)


def version_of(app: Any, course: int) -> str:
    uow = app.state.bootstrapped.uow()
    with uow.readonly():
        found = uow.courses.get(course)
        assert found is not None
        return found.label_version


def audit_entries(app: Any) -> list[Any]:
    uow = app.state.bootstrapped.uow()
    with uow.readonly():
        # the clinical trail only: reads and sign-ins are logged in the same chain
        return [e for e in uow.audit.entries() if e.action not in ACCESS_ACTIONS]


def digits(text: str) -> str:
    """The answer without the ids it was asked about (and any other number)."""
    return re.sub(r"\d+", "N", text)


def field_error(html: str, field: str) -> str:
    found = re.search(rf'id="e-{field}"[^>]*>([^<]*)<', html)
    assert found, f"no error shown for {field}"
    return found.group(1)


# --------------------------------------------------------------------------- the patient page


def test_a_physician_moves_the_course_from_the_patient_page_and_it_is_audited(
        as_role: Any, app: Any, world: Any, shipped: str) -> None:
    course, patient = world.courses["new"], world.patients["new"]
    physician = as_role("physician")
    page = physician.get(f"/patients/{patient}").text
    assert f"This course is on label version <strong>{LABEL_VERSION}</strong>" in page
    form = page[page.index(f'action="/courses/{course}/label-version"'):]
    form = form[:form.index("</form>")]
    assert re.findall(r'<option value="([^"]+)"', form) == [SHIPPED]  # not its own version
    r = move_form(physician, course)
    assert r.status_code == 303, r.text[-800:]
    assert r.headers["location"] == f"/patients/{patient}?moved=1#label-version"
    after = physician.get(r.headers["location"]).text
    assert f"This course is now on label version {SHIPPED}." in after
    assert f"This course is on label version <strong>{SHIPPED}</strong>" in after
    assert version_of(app, course) == SHIPPED
    assert version_of(app, world.courses["stepup"]) == LABEL_VERSION  # per course
    entry = audit_entries(app)[-1]
    assert (entry.action, entry.actor, entry.entity_type, entry.entity_id) == (
        "course.move_label_version", USERS["physician"], "course", str(course))
    assert (entry.before["label_version"], entry.after["label_version"], entry.after["reason"],
            entry.after["signature"]) == (LABEL_VERSION, SHIPPED, REASON, "password re-entered")


@pytest.mark.parametrize("role", ["nurse", "pharmacist"])
def test_a_nurse_or_pharmacist_sees_the_version_but_may_not_move_the_course(
        as_role: Any, app: Any, world: Any, shipped: str, role: str) -> None:
    course = world.courses["new"]
    c = as_role(role)
    page = c.get(f"/patients/{world.patients['new']}").text
    assert f"This course is on label version <strong>{LABEL_VERSION}</strong>" in page
    assert "/label-version" not in page and 'name="password"' not in page
    before = len(audit_entries(app))
    page_r, api_r = move_form(c, course), move_api(c, course)
    assert (page_r.status_code, api_r.status_code) == (403, 403)
    assert api_r.json()["errors"] == [{"field": "role", "message": "needs physician"}]
    assert version_of(app, course) == LABEL_VERSION and len(audit_entries(app)) == before


def test_another_sites_physician_gets_404_exactly_as_for_a_course_that_does_not_exist(
        as_role: Any, client_for: Any, app: Any, world: Any, north: int,
        shipped: str) -> None:
    mine, theirs = world.courses["new"], north
    before = len(audit_entries(app))
    for c, other in ((client_for("dr.north"), mine), (as_role("physician"), theirs)):
        for send in (move_form, move_api):
            walled, missing = send(c, other), send(c, MISSING)
            assert (walled.status_code, missing.status_code) == (404, 404)
            assert digits(walled.text) == digits(missing.text)
    assert move_api(client_for("dr.north"), theirs).status_code == 200  # their own: moved
    assert version_of(app, mine) == LABEL_VERSION
    assert len(audit_entries(app)) == before + 1


def test_a_refused_move_names_the_field_on_the_page_and_changes_nothing(
        as_role: Any, app: Any, world: Any, shipped: str) -> None:
    course = world.courses["new"]
    physician = as_role("physician")
    before = len(audit_entries(app))
    r = move_form(physician, course, label_version="US-PI-2099")
    assert r.status_code == 422
    assert field_error(r.text, "label_version") == ("&#39;US-PI-2099&#39; is not a registered "
                                                    "label version")
    r = move_form(physician, course, label_version=LABEL_VERSION)
    assert r.status_code == 409
    assert "is already on US-PI-2025-11: nothing changed" in field_error(r.text, "label_version")
    r = move_form(physician, course, password="not my password")
    assert r.status_code == 422
    assert field_error(r.text, "password") == "is not your password: nothing was changed"
    r = move_form(physician, course, reason="  ")
    assert r.status_code == 422
    assert field_error(r.text, "reason") == ("say why this course moves to another label "
                                             "version")
    assert 'value="P&amp;T adopted' not in r.text  # the blank reason is shown back, blank
    assert version_of(app, course) == LABEL_VERSION and len(audit_entries(app)) == before


# --------------------------------------------------------------------------- the API


def test_the_api_moves_the_course_and_answers_with_both_versions(
        as_role: Any, app: Any, world: Any, shipped: str) -> None:
    course = world.courses["stepup"]
    r = move_api(as_role("physician"), course)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["course_id"], body["previous"], body["label_version"]) == (
        course, LABEL_VERSION, SHIPPED)
    assert body["status"] == "active" and body["next_due_date"] == TODAY.isoformat()
    assert version_of(app, course) == SHIPPED
    assert audit_entries(app)[-1].action == "course.move_label_version"


@pytest.mark.parametrize("override, status, field", [
    ({"label_version": "US-PI-2099"}, 422, "label_version"),  # not registered
    ({"label_version": "X" * 33}, 422, "label_version"),
    ({"label_version": LABEL_VERSION}, 409, "label_version"),  # the version it is on
    ({"password": "not my password"}, 422, "password"),
    ({"password": ""}, 422, "password"),
    ({"reason": ""}, 422, "reason"),
    ({"reason": "   "}, 422, "reason"),
    ({"reason": "x" * 2001}, 422, "reason"),
])
def test_the_api_refuses_a_move_naming_the_field_and_changes_nothing(
        as_role: Any, app: Any, world: Any, shipped: str, override: dict[str, str],
        status: int, field: str) -> None:
    course = world.courses["new"]
    before = len(audit_entries(app))
    r = move_api(as_role("physician"), course, **override)
    assert r.status_code == status, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert version_of(app, course) == LABEL_VERSION and len(audit_entries(app)) == before


def test_the_api_needs_a_reason_and_a_password(as_role: Any, world: Any, shipped: str) -> None:
    r = as_role("physician").post(f"/api/v1/courses/{world.courses['new']}/label-version",
                                  json={"label_version": SHIPPED})
    assert r.status_code == 422
    assert {e["field"]: e["message"] for e in r.json()["errors"]} == {
        "reason": "is required", "password": "is required"}


def test_wrong_passwords_count_toward_the_sign_in_limit(as_role: Any, app: Any,
                                                        world: Any, shipped: str) -> None:
    physician = as_role("physician")
    course = world.courses["new"]
    for _ in range(5):
        assert move_api(physician, course, password="guess").status_code == 422
    r = move_form(physician, course)  # the right one, too late
    assert r.status_code == 422
    assert field_error(r.text, "password").startswith("too many wrong passwords: wait 15 ")
    assert version_of(app, course) == LABEL_VERSION
