"""FHIR R4 out (issue 16) through the real app: every resource the server answers is valid
against the official R4 4.0.1 JSON schema and survives a round trip through the fhir.resources
models; ``$everything`` of a demo patient validates; errors are OperationOutcomes."""

from __future__ import annotations

import pytest
from interop_support import bearer, token

from fhir_schema import assert_valid_r4, round_trip

FHIR = "application/fhir+json"


@pytest.fixture
def reader(app, client):  # type: ignore[no-untyped-def]
    client.headers.update(bearer(token(app, "read")))
    return client


def _ok(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text[-800:]
    assert r.headers["content-type"].startswith(FHIR)
    body = r.json()
    assert_valid_r4(body)
    assert round_trip(body) == body
    return body


def test_the_capability_statement_needs_no_credentials_and_is_valid(client) -> None:
    cs = _ok(client.get("/fhir/r4/metadata"))
    assert cs["fhirVersion"] == "4.0.1" and cs["kind"] == "instance"
    types = {r["type"] for r in cs["rest"][0]["resource"]}
    assert types == {"Patient", "CarePlan", "MedicationRequest", "MedicationAdministration",
                     "Observation", "AdverseEvent"}


@pytest.mark.parametrize("key", ["new", "stepup", "nolabs", "held"])
def test_everything_of_a_demo_patient_is_a_valid_searchset(reader, world, key: str) -> None:
    pid = world.patients[key]
    bundle = _ok(reader.get(f"/fhir/r4/Patient/{pid}/$everything"))
    assert bundle["type"] == "searchset" and bundle["total"] == len(bundle["entry"])
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Patient" and "CarePlan" in kinds and "Observation" in kinds
    for entry in bundle["entry"]:
        res = entry["resource"]
        assert entry["fullUrl"] == f"http://testserver/fhir/r4/{res['resourceType']}/{res['id']}"
        assert_valid_r4(res)


def test_every_resource_of_the_held_patient_reads_back_alone_and_validates(reader, world) -> None:
    # C1D1 and C1D8 given, CRS grade 2 after C1D8: every resource type is present
    pid = world.patients["held"]
    bundle = _ok(reader.get(f"/fhir/r4/Patient/{pid}/$everything"))
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert kinds == {"Patient", "CarePlan", "MedicationRequest", "MedicationAdministration",
                     "Observation", "AdverseEvent"}
    for entry in bundle["entry"]:
        res = entry["resource"]
        assert _ok(reader.get(f"/fhir/r4/{res['resourceType']}/{res['id']}")) == res


def test_the_held_patients_next_dose_is_an_on_hold_request(reader, world) -> None:
    pid, cid = world.patients["held"], world.courses["held"]
    req = _ok(reader.get(f"/fhir/r4/MedicationRequest/{pid}-c{cid}-next"))
    assert req["status"] == "on-hold" and "CRS grade 2" in req["statusReason"]["text"]
    crs = _ok(reader.get("/fhir/r4/AdverseEvent", params={"patient": pid}))["entry"]
    assert [e["resource"]["extension"][0]["valueCodeableConcept"]["text"] for e in crs] == [
        "Grade 2"]


def test_the_given_dose_carries_lot_bag_times_and_nurse(reader, world) -> None:
    pid = world.patients["stepup"]  # C1D1 given a week ago through the closed loop
    (entry,) = _ok(reader.get("/fhir/r4/MedicationAdministration",
                              params={"patient": f"Patient/{pid}"}))["entry"]
    adm = entry["resource"]
    assert adm["dosage"]["dose"]["value"] == 1
    assert adm["contained"][0]["batch"]["lotNumber"]
    assert adm["device"][0]["identifier"]["value"].startswith("PREP-")
    assert adm["effectivePeriod"]["start"].startswith("2026-12-08T14:00:00")
    assert adm["performer"][0]["actor"]["display"] == "David Chen, RN"


def test_labs_are_loinc_observations(reader, world) -> None:
    obs = _ok(reader.get("/fhir/r4/Observation", params={"patient": world.patients["new"]}))
    codes = {e["resource"]["code"]["coding"][0]["code"] for e in obs["entry"]}
    assert {"751-8", "777-3", "718-7", "1742-6", "1920-8", "1975-2"} <= codes


def test_a_patient_is_found_by_mrn(reader, world) -> None:
    found = _ok(reader.get("/fhir/r4/Patient", params={"identifier": "MRN100002"}))
    assert [e["resource"]["id"] for e in found["entry"]] == [str(world.patients["stepup"])]
    other = _ok(reader.get("/fhir/r4/Patient",
                           params={"identifier": "http://elsewhere|MRN100002"}))
    assert other["total"] == 0


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/fhir/r4/Patient/999999", 404, "not-found"),
    ("/fhir/r4/Patient/abc/$everything", 404, "not-found"),
    ("/fhir/r4/Observation/1-lab-999999", 404, "not-found"),
    ("/fhir/r4/Observation/<script>", 404, "not-found"),
    ("/fhir/r4/Encounter/1", 404, "not-found"),
    ("/fhir/r4/Observation", 400, "structure"),
    ("/fhir/r4/Observation?patient=abc", 400, "structure"),
    ("/fhir/r4/Patient", 400, "structure"),
    ("/fhir/r4/Patient/1/_history", 404, "not-found"),
])
def test_client_mistakes_are_4xx_operation_outcomes(reader, path: str, status: int,
                                                   code: str) -> None:
    r = reader.get(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR)
    outcome = r.json()
    assert_valid_r4(outcome)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code and outcome["issue"][0]["diagnostics"]


def test_writes_other_than_labs_in_are_refused_as_not_supported(reader, world) -> None:
    r = reader.put(f"/fhir/r4/Patient/{world.patients['new']}", json={})
    assert r.status_code == 405 and r.json()["issue"][0]["code"] == "not-supported"


def _observation(mrn: str, ident: str = "LAB-0001") -> dict:
    return {"resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:lab:results", "value": ident}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
            "subject": {"identifier": {"value": mrn}},
            "effectiveDateTime": "2026-12-15T07:00:00-05:00",
            "valueQuantity": {"value": 3.1, "unit": "10^9/L"},
            "referenceRange": [{"low": {"value": 1.8}}]}


def test_a_laboratory_posts_an_observation_with_a_lab_write_token(app, client) -> None:
    lab = bearer(token(app, "lab-write", name="lab"))
    r = client.post("/fhir/r4/Observation", json=_observation("MRN100003"), headers=lab)
    assert r.status_code == 201, r.text
    assert_valid_r4(r.json())
    assert r.json()["issue"][0]["severity"] == "information"
    again = client.post("/fhir/r4/Observation", json=_observation("MRN100003"), headers=lab)
    assert again.status_code == 200 and "repeat" in again.json()["issue"][0]["diagnostics"]


def test_a_posted_observation_for_an_unknown_patient_waits_in_the_work_queue(app,
                                                                            client) -> None:
    lab = bearer(token(app, "lab-write", name="lab"))
    r = client.post("/fhir/r4/Observation", json=_observation("MRN-NOBODY", "LAB-2"),
                    headers=lab)
    assert r.status_code == 202 and r.json()["issue"][0]["severity"] == "warning"


def test_a_posted_observation_without_its_identifier_is_refused_naming_it(app, client) -> None:
    lab = bearer(token(app, "lab-write", name="lab"))
    body = _observation("MRN100003")
    body.pop("identifier")
    r = client.post("/fhir/r4/Observation", json=body, headers=lab)
    assert r.status_code == 422
    assert_valid_r4(r.json())
    assert r.json()["issue"][0]["expression"] == ["Observation.identifier[0].value"]
    bad = client.post("/fhir/r4/Observation", content=b"{oops", headers=lab)
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"


def test_posting_labs_needs_the_lab_write_scope(reader) -> None:
    r = reader.post("/fhir/r4/Observation", json=_observation("MRN100003"))
    assert r.status_code == 403


def test_a_fhir_read_of_a_patient_is_in_the_access_log_under_the_interfaces_name(
        app, reader, world) -> None:
    from sqlalchemy import text

    pid = world.patients["new"]
    _ok(reader.get(f"/fhir/r4/Patient/{pid}/$everything"))
    with app.state.bootstrapped.engine.connect() as conn:
        actors = [r[0] for r in conn.execute(text(
            "SELECT actor FROM audit_log WHERE action LIKE 'access%' ORDER BY id"))]
    assert actors[-1] == "interface:ehr"


def test_everything_of_every_patient_of_the_demo_data_validates(tmp_path) -> None:
    """The demo site of ``make run`` (21 patients at every stage: new, step-up, maintenance,
    restart after a delay, held for CRS, held for labs, discontinued)."""
    from fastapi.testclient import TestClient
    from web_support import NOW, TODAY, Clock

    from tarla.bootstrap import bootstrap
    from tarla.config import Settings
    from tarla.services.demo import load_demo_data
    from tarla.web.app import create_app
    from tarla.web.config import WebOptions

    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    wired = bootstrap(Settings(database_url=url))
    try:
        wired.migrate()
        load_demo_data(wired.uow, patients=21, today=TODAY)
    finally:
        wired.close()
    app = create_app(Settings(database_url=url), options=WebOptions(), now=Clock(NOW))
    try:
        with TestClient(app, base_url="http://testserver") as c:
            c.headers.update(bearer(token(app, "read")))
            seen = 0
            with app.state.bootstrapped.engine.connect() as conn:
                from sqlalchemy import text

                ids = [r[0] for r in conn.execute(text("SELECT id FROM patients"))]
            for pid in ids:
                bundle = _ok(c.get(f"/fhir/r4/Patient/{pid}/$everything"))
                seen += len(bundle["entry"])
            assert len(ids) == 21 and seen > 21 * 3
    finally:
        app.state.bootstrapped.close()
