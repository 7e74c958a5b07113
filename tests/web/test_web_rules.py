"""The Rules page: the e-signature that takes the "UNCONFIRMED RULE" badge off the worklist
(for the signing site only), revoking it, loading the shipped 2026 revision and comparing it
with the built-in label, and the version new courses start on.

The demo world's C1D1 and C1D8 doses due today rely on two UNVERIFIED rows (T3-DEXAMETHASONE
and T3-SALINE). A second site, NTH, with staff of its own and a C1D1 due today, is added here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_support import NOW, PASSWORD, TODAY, USERS, ZONE

from tarla.services import admin, clinical
from tarla.services.audit import ACCESS_ACTIONS
from tarla.web.auth import hash_password

C1D1_UNVERIFIED = ["T3-DEXAMETHASONE", "T3-SALINE"]
SHIPPED = "US-PI-2026-UNCONFIRMED"
BADGE = "UNCONFIRMED RULE"
NORTH = {"rn.north": ("Nora North, RN", ("nurse",)),
         "rph.north": ("Pia North, PharmD", ("pharmacist",)),
         "dr.north": ("Dr Ned North", ("physician",))}


@pytest.fixture
def north(app: Any) -> int:
    """The second site, its staff and a C1D1 due today; returns the course id."""
    uow = app.state.bootstrapped.uow
    setup = datetime.combine(TODAY - timedelta(days=30), time(8), ZONE)
    admin.create_site(uow(), code="NTH", name="North infusion centre", timezone=ZONE.key,
                      now=setup)
    digest = hash_password(PASSWORD)
    for username, (name, roles) in NORTH.items():
        admin.create_user(uow(), username=username, display_name=name, roles=roles, now=setup,
                          site_code="NTH", password_hash=digest)
    return clinical.enrol_patient(uow(), site_code="NTH", mrn="N-1", family_name="Berg",
                                  given_name="Ola", birth_date=date(1960, 1, 9),
                                  diagnosis="ES-SCLC", progressed_after_platinum=True,
                                  start_date=TODAY, actor="dr.north",
                                  now=NOW - timedelta(days=2)).course_id


def row(html: str, course_id: int) -> str:
    """The worklist row of the course (up to the end of its table row)."""
    start = html.index(f'id="course-{course_id}"')
    return html[start:html.index("</tr>", start)]


def sign(c: TestClient, rules: list[str], password: str = PASSWORD, **extra: str) -> Any:
    return c.post("/rules/sign-off", data={"rule_id": rules, "password": password,
                                           "comments": "Checked against PI rev 11/2025 Table 3",
                                           **extra})


def audit_actions(app: Any) -> list[str]:
    uow = app.state.bootstrapped.uow()
    with uow.readonly():
        return [e.action for e in uow.audit.entries() if e.action not in ACCESS_ACTIONS]


def test_signing_a_rule_takes_its_badge_off_today_for_that_site_only(
        as_role: Any, world: Any, client_for: Any, north: int) -> None:
    new = world.courses["new"]
    nurse = as_role("nurse")
    assert BADGE in row(nurse.get("/today").text, new)
    r = sign(as_role("pharmacist"), C1D1_UNVERIFIED)
    assert r.status_code == 303, r.text
    mine = row(nurse.get("/today").text, new)
    assert BADGE not in mine
    for rule in C1D1_UNVERIFIED:
        assert f"{rule} signed off by Ngozi Okoro, PharmD on Tue 15 Dec 2026" in mine
    theirs = row(client_for("rn.north").get("/today").text, north)  # the wall
    assert BADGE in theirs and "signed off by" not in theirs
    patient = nurse.get(f"/patients/{world.patients['new']}").text  # the decision display
    assert "signed off by Ngozi Okoro, PharmD on Tue 15 Dec 2026" in patient
    assert "NOT CONFIRMED against the current label text" not in patient


def test_a_wrong_password_is_refused_422_naming_the_password_and_nothing_is_signed(
        as_role: Any, app: Any) -> None:
    c = as_role("pharmacist")
    before = audit_actions(app)
    r = sign(c, C1D1_UNVERIFIED, password="not my password")
    assert r.status_code == 422
    assert re.search(r'id="e-password"[^>]*>is not your password: nothing was signed', r.text)
    assert audit_actions(app) == before
    assert "No sign-off yet." in c.get("/rules").text


def test_wrong_passwords_count_toward_the_sign_in_limit(as_role: Any, client_for: Any) -> None:
    c = as_role("pharmacist")
    for _ in range(5):
        assert sign(c, C1D1_UNVERIFIED, password="guess").status_code == 422
    r = sign(c, C1D1_UNVERIFIED)  # the right one, too late
    assert r.status_code == 422 and "too many wrong passwords: wait 15 minutes" in r.text
    other = TestClient(c.app, base_url="http://testserver", follow_redirects=False)
    with other:
        refused = other.post("/api/v1/session", json={"username": USERS["pharmacist"],
                                                      "password": PASSWORD})
    assert refused.status_code == 429  # the same limit as signing in


def test_revoking_the_sign_off_brings_the_badge_back(as_role: Any, world: Any,
                                                     app: Any) -> None:
    new = world.courses["new"]
    physician = as_role("physician")
    assert sign(physician, C1D1_UNVERIFIED).status_code == 303
    page = physician.get("/rules").text
    (signoff_id,) = re.findall(r'name="signoff_id" value="(\d+)"', page)
    r = physician.post("/rules/revoke", data={"signoff_id": signoff_id, "reason": ""})
    assert r.status_code == 422 and "say why it is revoked" in r.text
    r = physician.post("/rules/revoke", data={"signoff_id": signoff_id,
                                              "reason": "Table 3 doses not confirmed by P&T"})
    assert r.status_code == 303
    assert BADGE in row(as_role("nurse").get("/today").text, new)
    page = physician.get("/rules").text
    assert "revoked" in page and "Table 3 doses not confirmed by P&amp;T" in page
    assert audit_actions(app)[-2:] == ["label.sign_off", "label.revoke_sign_off"]


def test_the_diff_page_shows_the_changed_rows_of_the_shipped_revision(as_role: Any,
                                                                      app: Any) -> None:
    c = as_role("pharmacist")
    r = c.post("/rules/versions", data={"shipped": SHIPPED})
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/rules/diff?site=DEMO&a=US-PI-2025-11&b={SHIPPED}")
    html = c.get(r.headers["location"]).text
    assert "1</strong> changed, <strong>0</strong> added, <strong>0</strong> removed" in html
    changed = html[html.index('id="changed-T1-MON-C1D1-D8"'):]
    changed = changed[:changed.index("</tr>")]
    assert "tag, text" in changed and "SEED" in changed and "UNVERIFIED" in changed
    assert "reportedly shortens this monitoring" in changed
    assert "Courses on each version are computed with that version's rows" in html
    assert audit_actions(app)[-1] == "label.register"
    again = c.post("/rules/versions", data={"shipped": SHIPPED})
    assert again.status_code == 422 and "is already registered" in again.text


def test_a_tampered_revision_file_is_refused_and_not_registered(as_role: Any, app: Any) -> None:
    from importlib import resources

    text = resources.files("tarla.label").joinpath("versions", f"{SHIPPED}.json").read_text(
        encoding="utf-8").replace('"UNVERIFIED"', '"SEED"')
    c = as_role("physician")
    r = c.post("/rules/versions", files={"revision_file": ("rev.json", text.encode(),
                                                           "application/json")})
    assert r.status_code == 422 and "the rows are not the ones the hash was taken of" in r.text
    uow = app.state.bootstrapped.uow()
    with uow.readonly():
        assert not uow.label.has_version(SHIPPED)
    assert as_role("nurse").post("/rules/versions", data={"shipped": SHIPPED}).status_code == 403


def test_new_courses_start_on_the_version_the_site_chose(as_role: Any, app: Any,
                                                         world: Any) -> None:
    c = as_role("admin")
    assert c.post("/rules/versions", data={"shipped": SHIPPED}).status_code == 303
    r = c.post("/rules/new-courses", data={"label_version": SHIPPED})
    assert r.status_code == 303
    page = c.get(f"/rules?version={SHIPPED}").text
    assert f"start on <strong>{SHIPPED}</strong>" in page
    assert ("Courses on label US-PI-2026-UNCONFIRMED (started on it, or moved to it by a "
            "physician) are computed with its rows.") in page
    enrolled = clinical.enrol_patient(
        app.state.bootstrapped.uow(), site_code="DEMO", mrn="MRN-NEW", family_name="New",
        given_name="Course", birth_date=date(1961, 5, 5), diagnosis="ES-SCLC",
        progressed_after_platinum=True, start_date=TODAY, actor=USERS["physician"],
        now=NOW)
    course = enrolled.course_id
    uow = app.state.bootstrapped.uow()
    with uow.readonly():
        pinned = uow.label.pinned_courses(uow.sites.by_code("DEMO").id)  # type: ignore[union-attr]
        assert uow.courses.get(course).label_version == SHIPPED  # type: ignore[union-attr]
    assert pinned == {"US-PI-2025-11": len(world.courses), SHIPPED: 1}
    page = c.get("/rules").text
    assert f"{len(world.courses)} courses pinned" in page and "1 course pinned" in page
    assert audit_actions(app)[-2:] == ["label.set_site_version", "patient.enrol"]
    bedside = as_role("nurse").get(f"/patients/{world.patients['new']}").text
    assert "started on label" not in bedside  # an existing course keeps its version
    # The new course is computed with the revision's rows (its C1D1/C1D8 monitoring row is
    # UNVERIFIED there); an existing course still with the built-in ones (SEED).
    new = as_role("nurse").get(f"/api/v1/patients/{enrolled.patient_id}/evaluation").json()
    old = as_role("nurse").get(f"/api/v1/patients/{world.patients['new']}/evaluation").json()
    tags = {d["label_version"]: {r["rule"]: r["tag"] for r in d["reasons"]} for d in (new, old)}
    assert tags[SHIPPED]["T1-MON-C1D1-D8"] == "UNVERIFIED"
    assert tags["US-PI-2025-11"]["T1-MON-C1D1-D8"] == "SEED"
    assert "T1-MON-C1D1-D8" in new["unverified_unsigned"]


def test_a_nurse_reads_the_rules_but_cannot_sign_revoke_or_choose(as_role: Any) -> None:
    nurse = as_role("nurse")
    html = nurse.get("/rules").text
    assert "Only a pharmacist or a physician can sign rules off." in html
    assert 'name="password"' not in html
    for path, data in (("/rules/sign-off", {"rule_id": "T3-SALINE", "password": PASSWORD,
                                            "comments": "x"}),
                       ("/rules/revoke", {"signoff_id": "1", "reason": "x"}),
                       ("/rules/new-courses", {"label_version": "US-PI-2025-11"})):
        assert nurse.post(path, data=data).status_code == 403
