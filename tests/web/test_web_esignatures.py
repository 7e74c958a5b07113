"""E-signatures through the API and the pages (issue 13): past the site's few minutes after
signing in, the independent check and the release of a held dose need the password
re-entered (422 naming ``password``, nothing saved); the signed record shows who signed,
when and meaning what."""

from __future__ import annotations

from datetime import timedelta

from web_loop import preparation, prepare_bag
from web_support import PASSWORD

LATER = timedelta(minutes=10)  # past the default 5 minutes of a fresh sign-in


def test_the_api_check_needs_the_password_after_the_fresh_window(as_role, world, clock) -> None:
    pid = prepare_bag(as_role, world.courses["new"], check=False)
    checker = as_role("pharmacist2")
    clock.value += LATER
    r = checker.post(f"/api/v1/preparations/{pid}/check", json={})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = checker.post(f"/api/v1/preparations/{pid}/check", json={"password": "not mine!"})
    assert r.status_code == 422 and "is not the password" in r.json()["detail"]
    assert preparation(checker, pid)["preparation"]["checked_by"] is None  # nothing saved
    r = checker.post(f"/api/v1/preparations/{pid}/check", json={"password": PASSWORD})
    assert r.status_code == 200 and r.json()["preparation"]["status"] == "checked"
    page = checker.get(f"/pharmacy/preparations/{pid}").text
    assert "E-signed by <strong>Lars Berg, PharmD</strong>" in page
    assert "meaning: <strong>checked</strong>" in page and "password re-entered" in page


def test_a_check_right_after_signing_in_is_signed_by_that_sign_in(as_role, world) -> None:
    pid = prepare_bag(as_role, world.courses["new"], check=False)
    checker = as_role("pharmacist2")
    assert checker.post(f"/pharmacy/preparations/{pid}/check", data={}).status_code == 303
    assert "within minutes of signing in" in checker.get(f"/pharmacy/preparations/{pid}").text


def test_the_page_release_of_a_held_dose_needs_the_password_after_the_fresh_window(
        as_role, world, clock) -> None:
    course = world.courses["held"]
    doctor = as_role("physician")
    clock.value += LATER
    reason = "CRS resolved clinically; benefit outweighs the risk"
    r = doctor.post(f"/bedside/{course}/release", data={"reason": reason})
    assert r.status_code == 422 and "re-enter the password of dr.khan" in r.text
    assert "released for" not in r.text
    r = doctor.post(f"/bedside/{course}/release", data={"reason": reason,
                                                        "password": PASSWORD})
    assert r.status_code == 200 and "released for" in r.text
    assert "meaning: <strong>released hold</strong>" in r.text
    assert "E-signed by <strong>Dr Aisha Khan</strong>" in r.text


def test_the_api_release_refuses_a_wrong_password(as_role, world, clock) -> None:
    doctor = as_role("physician")
    clock.value += LATER
    r = doctor.post(f"/api/v1/courses/{world.courses['held']}/releases",
                    json={"reason": "CRS resolved clinically; benefit outweighs risk",
                          "password": "wrong password"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"


def test_the_api_discharge_needs_the_password_after_the_fresh_window(
        as_role, world, clock) -> None:
    nurse = as_role("nurse")
    clock.value += LATER
    r = nurse.post(f"/api/v1/courses/{world.courses['new']}/discharge",
                   json={"discharged_at": clock.value.isoformat()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    assert "re-enter the password of rn.alvarez to sign the discharge" in r.json()["detail"]
