"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis): no
input, however malformed, gets a 5xx; every 4xx is a problem document. On SQLite and on
PostgreSQL (``backend_app``), with bounded examples (:data:`EXAMPLES` per operation,
derandomized), one test per operation and database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from web_support import sign_in

from tarla.config import Settings
from tarla.web.api import openapi_document
from tarla.web.app import create_app


def _operations() -> list[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite://"))
    doc = openapi_document(app)
    app.state.bootstrapped.close()
    return [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
            if p != "/api/v1/session"]  # signing in/out is covered by test_web_auth


OPERATIONS = _operations()
EXAMPLES = 60
#: per database: operations fuzzed, examples sent, 5xx answers (written to test-artifacts/)
TALLY: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Iterator[None]:
    yield
    out = Path(__file__).resolve().parents[2] / "test-artifacts" / "schemathesis.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({db: {**t, "operations": len(t["operations"])}
                               for db, t in TALLY.items()}, indent=2) + "\n")


def client_errors_are_problem_documents(ctx, response, case):  # type: ignore[no-untyped-def]
    if 400 <= response.status_code < 500:
        ctype = response.headers.get("content-type", [""])
        ctype = ctype[0] if isinstance(ctype, list) else ctype
        assert ctype.startswith("application/problem+json"), (response.status_code, ctype)
        body = response.json()
        assert {"type", "title", "status", "detail", "errors"} <= body.keys()
        assert body["status"] == response.status_code
    return None


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_never_answers_5xx(backend_app, method: str, path: str) -> None:
    app = backend_app
    client = TestClient(app)
    token = sign_in(client, "qa.all")
    headers = {"X-CSRF-Token": token}
    cookies = {"tarla_session": client.cookies.get("tarla_session")}
    schema = schemathesis.openapi.from_asgi(  # the document itself needs a session too
        "/api/v1/openapi.json", app,
        headers={"Cookie": f"tarla_session={cookies['tarla_session']}"})
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call_and_validate(
            headers=headers, cookies=cookies,
            checks=[not_a_server_error, client_errors_are_problem_documents])
        tally = TALLY.setdefault(app.state.bootstrapped.engine.dialect.name,
                                 {"operations": set(), "examples": 0, "5xx": 0})
        tally["operations"].add(f"{method} {path}")
        tally["examples"] += 1
        tally["5xx"] += response.status_code >= 500

    run()


def test_the_openapi_document_needs_a_session(client) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 401
    sign_in(client, "rn.alvarez")
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/evaluate" in doc["paths"] and "Problem" in doc["components"]["schemas"]
