"""Hand-made hostile requests, on SQLite and PostgreSQL: each is refused with a 4xx naming
the field (or answered 503 when the database cannot take it), never a 5xx, and nothing is
saved. (The audit of issue 13 measured 24 and 29 such 5xx answers.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from web_support import NOW, SITE, USERS, Clock, sign_in

from tarla.config import Settings
from tarla.web.app import create_app
from tarla.web.config import WebOptions

THIRTEEN_MB = 13 * 1024 * 1024


@pytest.fixture
def hostile(backend_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(backend_app, base_url="http://testserver", follow_redirects=False) as c:
        sign_in(c, USERS["physician"])
        yield c


def _patients(c: TestClient) -> int:
    r = c.get("/api/v1/patients", params={"q": ""})
    assert r.status_code == 200, r.text
    return len(r.json()["patients"]) if isinstance(r.json(), dict) else len(r.json())


def _enrol(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "mrn": "HOSTILE-1", "family_name": "Doe", "given_name": "Jan", "birth_date": "1960-02-03",
        "diagnosis": "ES-SCLC", "progressed_after_platinum": True,
        "start_date": "2026-12-16"}
    body.update(changes)
    return body


def _problem(r, status: int, field: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]], r.json()


def test_a_13_mb_sign_in_body_is_refused_413_before_it_is_read(backend_app) -> None:
    with TestClient(backend_app) as c:
        r = c.post("/api/v1/session", content=b"{" + b" " * THIRTEEN_MB + b"}",
                   headers={"content-type": "application/json"})
        _problem(r, 413, "body")
        assert "1048576 bytes" in r.json()["detail"]
        sign_in(c, USERS["nurse"])  # the worker is alive and answers the next request


def test_a_13_mb_body_streamed_without_a_length_is_cut_off_at_the_limit_413(backend_app) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(13):
            yield b" " * (1024 * 1024)

    with TestClient(backend_app) as c:
        r = c.post("/api/v1/session", content=chunks(),
                   headers={"content-type": "application/json"})
        _problem(r, 413, "body")


def test_a_nul_byte_in_a_json_field_is_refused_naming_the_field_and_nothing_is_saved(
        hostile: TestClient) -> None:
    before = _patients(hostile)
    _problem(hostile.post("/api/v1/patients", json=_enrol(family_name="Do\x00e")), 422,
             "family_name")
    assert _patients(hostile) == before


def test_a_nul_byte_in_the_query_string_is_refused_naming_the_parameter(
        hostile: TestClient) -> None:
    _problem(hostile.get("/api/v1/patients", params={"q": "Do\x00e"}), 422, "q")


def test_a_nul_byte_in_a_page_form_is_refused_422_and_nothing_is_saved(
        hostile: TestClient) -> None:
    before = _patients(hostile)
    form = {"mrn": "HOSTILE-2", "family_name": "Doe\x00", "given_name": "Jan",
            "birth_date": "1960-02-03", "diagnosis": "ES-SCLC", "progressed": "yes",
            "start_date": "2026-12-16", "csrf_token": hostile.headers["X-CSRF-Token"]}
    r = hostile.post("/patients/new", data=form)
    assert r.status_code == 422 and "family_name" in r.text
    assert _patients(hostile) == before


@pytest.mark.parametrize("path", ["/api/v1/patients/9223372036854775808",
                                  "/api/v1/patients/99999999999999999999999999999999",
                                  "/api/v1/courses/18446744073709551616/care",
                                  "/api/v1/preparations/9223372036854775807",
                                  "/api/v1/preparations/2147483648"])
def test_an_id_beyond_the_id_columns_range_is_404_not_a_database_overflow(
        hostile: TestClient, path: str) -> None:
    r = hostile.get(path)
    assert r.status_code == 404 and r.headers["content-type"].startswith(
        "application/problem+json")


def test_a_page_with_a_huge_id_is_404(hostile: TestClient) -> None:
    assert hostile.get("/patients/99999999999999999999").status_code == 404
    assert hostile.get("/bedside/99999999999999999999").status_code == 404


def test_a_json_number_or_query_id_beyond_its_range_is_refused_naming_the_field(
        hostile: TestClient) -> None:
    _problem(hostile.post("/api/v1/preparations", json={"course_id": 2**70}), 422, "course_id")
    _problem(hostile.get("/api/v1/alerts", params={"course_id": str(2**64)}), 422, "course_id")


@pytest.mark.parametrize(("field", "value"), [("start_date", "9999-12-31"),
                                              ("start_date", "0001-01-01"),
                                              ("birth_date", "1850-06-01")])
def test_a_date_outside_1900_to_2200_is_refused_at_input_and_nothing_is_saved(
        hostile: TestClient, field: str, value: str) -> None:
    before = _patients(hostile)
    r = hostile.post("/api/v1/patients", json=_enrol(**{field: value}))
    _problem(r, 422, field)
    assert "outside 1900-2200" in r.json()["detail"]
    assert _patients(hostile) == before


def test_the_enrol_page_refuses_a_start_date_of_9999_12_31(hostile: TestClient) -> None:
    form = {"mrn": "HOSTILE-3", "family_name": "Doe", "given_name": "Jan",
            "birth_date": "1960-02-03", "diagnosis": "ES-SCLC", "progressed": "yes",
            "start_date": "9999-12-31", "csrf_token": hostile.headers["X-CSRF-Token"]}
    r = hostile.post("/patients/new", data=form)
    assert r.status_code == 422 and "start_date" in r.text and "9999" in r.text


def test_a_long_string_is_refused_by_the_model_not_by_the_database(hostile: TestClient) -> None:
    _problem(hostile.post("/api/v1/patients", json=_enrol(mrn="M" * 5000)), 422, "mrn")


def test_healthz_reads_the_database_and_says_ok(hostile: TestClient) -> None:
    r = hostile.get("/healthz")
    assert r.status_code == 200 and r.json()["database"] == "ok"


def test_a_read_only_database_answers_a_write_503_with_retry_after_and_reads_go_on(
        backend_app, hostile: TestClient) -> None:  # type: ignore[no-untyped-def]
    engine = backend_app.state.bootstrapped.engine
    assert hostile.post("/api/v1/patients", json=_enrol(mrn="HOSTILE-OK")).status_code == 201
    before = _patients(hostile)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect",
                     lambda dbapi, _rec: dbapi.execute("PRAGMA query_only = ON"))
    else:
        with engine.connect() as conn:
            name = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.execute(text(f"ALTER DATABASE {name} SET default_transaction_read_only = on"))
            conn.commit()
    engine.dispose()  # new connections: read-only from now on
    r = hostile.post("/api/v1/patients", json=_enrol(mrn="HOSTILE-RO"))
    _problem(r, 503, "database")
    assert int(r.headers["retry-after"]) > 0
    assert _patients(hostile) == before  # reads still work, and nothing was saved


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_healthz_is_503_when_the_database_cannot_be_reached(
        kind: str, tmp_path, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path}/no/such/dir/tarla.sqlite3"
    else:
        url = request.getfixturevalue("web_pg_server").url("no_such_database")
    app = create_app(Settings(database_url=url, default_site=SITE), options=WebOptions(),
                     now=Clock(NOW))
    try:
        with TestClient(app) as c:
            r = c.get("/healthz")
            assert r.status_code == 503 and r.json()["status"] == "unavailable"
            assert r.headers["retry-after"] == "30"
            signed = c.post("/api/v1/session", json={"username": "x", "password": "y"})
            assert signed.status_code == 503 and signed.json()["errors"][0]["field"] == \
                "database"
    finally:
        app.state.bootstrapped.close()
