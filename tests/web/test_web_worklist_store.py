"""Today's worklist through the web app (issue 14): served from the stored decisions, paged
by the database, with an ETag; a write through the app stores its course's new decision by
the app's clock; a bad page is a 422 naming the field.

The app's day is Tuesday 2026-12-15 (New York), 09:00."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from web_support import NOW


def _rows(app: Any, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with app.state.bootstrapped.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_pages_of_the_api_join_up_to_the_whole_list(as_role) -> None:  # type: ignore[no-untyped-def]
    nurse = as_role("nurse")
    whole = nurse.get("/api/v1/worklist").json()
    assert whole["total"] == len(whole["items"]) >= 4
    pages = [nurse.get(f"/api/v1/worklist?offset={o}&limit=2").json()
             for o in range(0, whole["total"], 2)]
    assert [i for p in pages for i in p["items"]] == whole["items"]
    assert {(p["total"], p["limit"]) for p in pages} == {(whole["total"], 2)}
    assert [p["offset"] for p in pages] == list(range(0, whole["total"], 2))
    assert all(p["counts"] == whole["counts"] for p in pages)


def test_an_unchanged_list_is_304_to_its_etag_and_a_write_changes_it(as_role) -> None:  # type: ignore[no-untyped-def]
    nurse = as_role("nurse")
    first = nurse.get("/api/v1/worklist")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = nurse.get("/api/v1/worklist", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag

    r = as_role("scheduler").post("/patients/new", data={
        "mrn": "MRN300001", "family_name": "Aalto", "given_name": "Ilona",
        "birth_date": "1960-05-05", "diagnosis": "ES-SCLC", "progressed": "yes",
        "start_date": NOW.date().isoformat()})
    assert r.status_code == 303, r.text[-2000:]
    changed = nurse.get("/api/v1/worklist", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert "Aalto, Ilona" in [i["name"] for i in changed.json()["items"]]


def test_enrolling_through_the_app_stores_the_decision_by_the_apps_clock(as_role,
                                                                          app) -> None:  # type: ignore[no-untyped-def]
    r = as_role("scheduler").post("/patients/new", data={
        "mrn": "MRN300002", "family_name": "Berg", "given_name": "Ona",
        "birth_date": "1959-01-02", "diagnosis": "ES-SCLC", "progressed": "yes",
        "start_date": NOW.date().isoformat()})
    assert r.status_code == 303, r.text[-2000:]
    stored = _rows(app, "SELECT d.day, d.decision, d.inputs_version, c.inputs_version "
                        "FROM course_decisions d JOIN treatment_courses c ON c.id = d.course_id "
                        "JOIN patients p ON p.id = c.patient_id WHERE p.mrn = 'MRN300002'")
    assert [(str(day)[:10], decision, mine == theirs)
            for day, decision, mine, theirs in stored] == [("2026-12-15", "give", True)]


def test_a_bad_page_is_422_naming_the_field(as_role) -> None:  # type: ignore[no-untyped-def]
    nurse = as_role("nurse")
    for query, field in (("offset=-1", "offset"), ("limit=0", "limit"),
                         ("limit=lots", "limit")):
        r = nurse.get(f"/api/v1/worklist?{query}")
        assert r.status_code == 422, (query, r.text)
        assert field in r.text
    assert nurse.get("/today?page=0").status_code == 422


def test_the_today_screen_pages_a_long_list(as_role, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tarla.web.pages import today

    nurse = as_role("nurse")
    total = nurse.get("/api/v1/worklist").json()["total"]
    assert total >= 4
    monkeypatch.setattr(today, "PER_PAGE", 2)
    first = nurse.get("/today").text
    pages = -(-total // 2)
    assert f"Patients 1–2 of {total} · page 1 of {pages}" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = nurse.get("/today?page=2").text
    assert f"Patients 3–4 of {total} · page 2 of {pages}" in second
    assert 'rel="next"' in second and 'rel="prev"' in second
    ids = re.compile(r'id="course-(\d+)"')
    assert set(ids.findall(first)).isdisjoint(ids.findall(second))
    assert len(ids.findall(first)) == len(ids.findall(second)) == 2
