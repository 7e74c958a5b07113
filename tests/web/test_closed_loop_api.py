"""Every unsafe attempt of the closed loop (the table in ``tests/closed_loop_cases.py``) through
the JSON API: the world is arranged with the real use cases on the app's own database (the
demo site of ``world.py``), then the attempt is ONE request by the signed-in actor at the
row's time (the app's clock). It must answer 409 with the row's rule id in the problem's
``errors`` (a refused kit scan: 201 with the rule in ``reasons``, stored as evidence), and the
records must be as they were: the counts of administrations, preparations, their events,
scans and steps, releases, labs, adverse events and audit entries, and the state and version
of every preparation, course and adverse event."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from web_support import PASSWORD, Clock, sign_in

from closed_loop_cases import EXISTING, TABLE, Act, LoopWorld, Staff, Unsafe, at
from tarla.domain.identification import label_barcode, wristband_barcode

STAFF = Staff(site="DEMO", nurse="rn.alvarez", nurse2="rn.chen", pharmacist="rph.okoro",
              pharmacist2="rph.berg", physician="dr.khan")
COUNTED = ("administrations", "preparations", "preparation_events", "preparation_scans",
           "preparation_steps", "dose_releases", "lab_results", "adverse_events", "audit_log")
STATE = {
    "preparations": "SELECT id, status, version, checked_by FROM preparations ORDER BY id",
    "courses": "SELECT id, status, version, next_due_date FROM treatment_courses ORDER BY id",
    "events": "SELECT id, version, resolved_at, resolution_proposed_at FROM adverse_events "
              "ORDER BY id",
    "ended": "SELECT id, ended_at FROM administrations ORDER BY id",
}


def records(app: Any) -> dict[str, Any]:
    with app.state.bootstrapped.engine.connect() as conn:
        out: dict[str, Any] = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                               for t in COUNTED}
        out.update({k: [tuple(r) for r in conn.execute(text(q))] for k, q in STATE.items()})
    return out


def request_of(act: Act) -> tuple[str, dict[str, Any]]:
    a = dict(act.args)
    if act.op == "chart":
        body: dict[str, Any] = {"started_at": a["started_at"].isoformat()}
        for name in ("patient_scan", "bag_scan", "dose_mg", "preparation_id"):
            if a.get(name) is not None:
                body[name] = a[name]
        if a.get("reason") is not None or a.get("witness") is not None:
            body["scan_exception"] = {"reason": a.get("reason"), "witness": a.get("witness"),
                                      "witness_password": PASSWORD}  # the witness signs
        return f"/api/v1/courses/{a['course_id']}/administrations", body
    if act.op == "start_preparation":
        return "/api/v1/preparations", {"course_id": a["course_id"]}
    if act.op == "scan":
        return (f"/api/v1/preparations/{a['preparation_id']}/scans",
                {"scan": a["raw"], "component": "drug"})
    if act.op == "advance":
        return (f"/api/v1/preparations/{a['preparation_id']}/events",
                {"event": a["event"], "at": a["at"].isoformat()})
    if act.op == "check":
        return f"/api/v1/preparations/{a['preparation_id']}/check", {}
    raise AssertionError(act.op)


def rules_of(act: Act, response: Any) -> tuple[str, ...]:
    body = response.json()
    if response.status_code == 409:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["title"] == "Refused"
        return tuple(e["rule"] for e in body["errors"])
    if act.op == "scan" and response.status_code == 201 and body["verdict"] == "refuse":
        return tuple(r["rule"] for r in body["reasons"])
    if act.op == "start_preparation" and response.status_code == 200:
        return (EXISTING,)
    raise AssertionError(f"{act.op} was not refused: {response.status_code} {body}")


def signed_in(app: Any, clock: Clock, act: Act) -> TestClient:
    clock.value = act.now
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    client.__enter__()
    sign_in(client, act.actor)
    return client


@pytest.mark.parametrize("row", TABLE, ids=[r.id for r in TABLE])
def test_an_unsafe_request_is_refused_with_its_rule_and_writes_nothing(
        app: Any, clock: Clock, row: Unsafe) -> None:
    w = LoopWorld(app.state.bootstrapped.uow, STAFF)
    act = row.arrange(w)
    client = signed_in(app, clock, act)
    try:
        before = records(app)
        path, body = request_of(act)
        response = client.post(path, json=body)
        assert row.rule in rules_of(act, response), response.text
        after = records(app)
    finally:
        client.__exit__(None, None, None)
    if not row.stored_refusal:
        assert after == before
        return
    # the refused kit scan is kept as evidence, with its audit entry; nothing else changed
    assert (after["preparation_scans"], after["audit_log"]) == (
        before["preparation_scans"] + 1, before["audit_log"] + 1)
    assert response.json()["verdict"] == "refuse"
    assert {k: v for k, v in after.items() if k not in ("preparation_scans", "audit_log")} == \
        {k: v for k, v in before.items() if k not in ("preparation_scans", "audit_log")}


def test_a_second_start_answers_200_with_the_first_preparation(app: Any, clock: Clock
                                                                ) -> None:
    w = LoopWorld(app.state.bootstrapped.uow, STAFF)
    act = next(r for r in TABLE if r.id == "two-preparations-for-one-dose").arrange(w)
    client = signed_in(app, clock, act)
    with client:
        first = client.post("/api/v1/preparations", json={"course_id": act.args["course_id"]})
    assert first.status_code == 200
    prep = first.json()["preparation"]
    assert (prep["slot"], prep["dose_mg"], prep["status"]) == ("C1D1", 1, "ordered")
    assert first.json()["label_barcode"] == label_barcode(prep["id"])


def test_the_closed_loop_through_the_api_hangs_the_checked_bag_and_ends_the_infusion(
        app: Any, clock: Clock) -> None:
    w = LoopWorld(app.state.bootstrapped.uow, STAFF)
    p = w.enrol("CL1")
    w.labs(p, at(0, "07:00"))
    pid = w.prepare(p, at(0, "07:45"), "K-A")
    chart = Act("chart", STAFF.nurse, at(0, "09:00"), {})
    client = signed_in(app, clock, chart)
    with client:
        patient = client.get(f"/api/v1/patients/{p.patient_id}").json()
        assert patient["wristband_barcode"] == wristband_barcode("CL1") == "CL1"
        refused = client.post(f"/api/v1/courses/{p.course_id}/administrations", json={
            "started_at": at(0, "09:00").isoformat(), "patient_scan": "CL1",
            "bag_scan": label_barcode(pid), "dose_mg": 1})
        assert refused.status_code == 409
        assert [e["rule"] for e in refused.json()["errors"]] == ["CARE-PREMED"]
        premed = client.post(f"/api/v1/courses/{p.course_id}/premedications",
                             json={"given_at": at(0, "08:40").isoformat()})
        assert premed.status_code == 201, premed.text
        assert (premed.json()["drug"], premed.json()["dose"], premed.json()["slot"]) == (
            "dexamethasone", "8 mg", "C1D1")
        r = client.post(f"/api/v1/courses/{p.course_id}/administrations", json={
            "started_at": at(0, "09:00").isoformat(), "patient_scan": "CL1",
            "bag_scan": label_barcode(pid), "dose_mg": 1, "idempotency_key": "tablet-1:CL1"})
        assert r.status_code == 201, r.text
        given = r.json()
        assert (given["slot"], given["dose_mg"], given["preparation_id"],
                given["next_due_date"]) == ("C1D1", 1, pid, "2026-12-08")
        clock.value = at(0, "09:25")
        done = client.post(f"/api/v1/preparations/{pid}/completed",
                           json={"ended_at": at(0, "09:20").isoformat()})
        assert done.status_code == 200, done.text
        assert done.json()["warnings"] == [
            "The infusion ran 20 min from start to end, less than 45 minutes (site-policy "
            "threshold, UNVERIFIED); the label's infusion takes 60 minutes. Check the pump "
            "rate and the bag, and tell the prescriber. [INFUSION-SHORT]"]
        bag = client.get(f"/api/v1/preparations/{pid}").json()
    assert bag["preparation"]["status"] == "administered"
    assert [e["event"] for e in bag["events"]][-2:] == ["infusion_started",
                                                        "infusion_completed"]


def test_a_physician_releases_a_held_dose_through_the_api_naming_its_hold(
        app: Any, clock: Clock) -> None:
    w = LoopWorld(app.state.bootstrapped.uow, STAFF)
    p = w.enrol("CL1")
    w.give(p, 0, "K-A")
    event = w.crs_grade_2(p, at(0, "23:00"))
    w.labs(p, at(7, "07:00"))
    nurse = signed_in(app, clock, Act("resolve", STAFF.nurse, at(2, "10:05"), {}))
    with nurse:
        proposed = nurse.post(f"/api/v1/adverse-events/{event}/resolve",
                              json={"resolved_at": at(2, "10:00").isoformat()})
        assert proposed.status_code == 200, proposed.text
        assert proposed.json()["course_status"] == "held"
        assert proposed.json()["adverse_event"]["resolved_at"] is None
        release = nurse.post(f"/api/v1/courses/{p.course_id}/releases",
                             json={"reason": "the nurse may not release"})
        assert release.status_code == 403
    doctor = signed_in(app, clock, Act("release", STAFF.physician, at(7, "07:30"), {}))
    with doctor:
        r = doctor.post(f"/api/v1/courses/{p.course_id}/releases",
                        json={"reason": "CRS settled; benefit outweighs the risk"})
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ("slot", "for_date", "covers_rules", "covers_labs")} == {
        "slot": "C1D8", "for_date": "2026-12-08", "covers_rules": ["T5-CRS-G2"],
        "covers_labs": []}
    pharmacist = signed_in(app, clock, Act("start", STAFF.pharmacist, at(7, "07:45"), {}))
    with pharmacist:
        started = pharmacist.post("/api/v1/preparations", json={"course_id": p.course_id})
    assert started.status_code == 201, started.text
    assert started.json()["preparation"]["dose_mg"] == 10
