"""Sign-in, sessions, CSRF and the rate limit."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from web_support import PASSWORD, USERS, sign_in

from tarla.web.config import WebOptions


def _login_form(c: TestClient) -> str:
    r = c.get("/sign-in")
    assert r.status_code == 200
    return c.cookies.get("tarla_login_csrf")


def test_pages_without_sign_in_redirect_to_the_sign_in_page(client) -> None:
    r = client.get("/today?date=2026-12-15")
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=/today%3Fdate%3D2026-12-15" or \
        r.headers["location"].startswith("/sign-in?next=/today")


@pytest.mark.parametrize("path", ["/api/v1/worklist", "/api/v1/patients/1", "/api/v1/me"])
def test_api_without_sign_in_is_401(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_sign_in_form_sets_an_httponly_lax_session_cookie_holding_only_a_random_id(
        client, db_url: str) -> None:
    token = _login_form(client)
    r = client.post("/sign-in", data={"username": "rn.alvarez", "password": PASSWORD,
                                      "csrf_token": token, "next": "/patients"})
    assert r.status_code == 303 and r.headers["location"] == "/patients"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("tarla_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http in this test
    value = client.cookies.get("tarla_session")
    assert len(value) >= 40
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = [row[0] for row in conn.execute(text("SELECT id_hash FROM web_sessions"))]
    engine.dispose()
    assert value not in stored
    assert hashlib.sha256(value.encode()).hexdigest() in stored
    assert client.get("/today").status_code == 200


def test_session_cookie_is_secure_over_https(app) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        r = c.post("/api/v1/session", json={"username": "rn.alvarez", "password": PASSWORD})
        assert r.status_code == 200
        assert "Secure" in r.headers["set-cookie"]


def test_secure_cookie_can_be_forced_by_configuration(app) -> None:
    app.state.web.options = WebOptions(cookie_secure=True)
    with TestClient(app, base_url="http://testserver") as c:
        r = c.post("/api/v1/session", json={"username": "rn.alvarez", "password": PASSWORD})
        assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_re_renders_the_form_with_a_message(client) -> None:
    token = _login_form(client)
    r = client.post("/sign-in", data={"username": "rn.alvarez", "password": "nope",
                                      "csrf_token": token})
    assert r.status_code == 401
    assert "Wrong username or password." in r.text
    assert 'value="rn.alvarez"' in r.text


def test_sign_in_form_without_its_csrf_token_is_refused(client) -> None:
    client.get("/sign-in")
    r = client.post("/sign-in", data={"username": "rn.alvarez", "password": PASSWORD})
    assert r.status_code == 403
    assert client.cookies.get("tarla_session") is None


def test_five_failures_lock_the_user_on_this_address_with_429(client) -> None:
    for _ in range(5):
        r = client.post("/api/v1/session", json={"username": "rn.chen", "password": "wrong"})
        assert r.status_code == 401
    r = client.post("/api/v1/session", json={"username": "rn.chen", "password": PASSWORD})
    assert r.status_code == 429, "even the right password waits out the lock"
    body = r.json()
    assert body["status"] == 429 and "Wait" in body["detail"]
    assert int(r.headers["retry-after"]) > 0
    token = _login_form(client)
    r = client.post("/sign-in", data={"username": "rn.chen", "password": PASSWORD,
                                      "csrf_token": token})
    assert r.status_code == 429
    assert "failed sign-ins" in r.text
    # another user from the same address is not locked out
    assert client.post("/api/v1/session", json={"username": "rn.alvarez",
                                                "password": PASSWORD}).status_code == 200


def test_the_lock_lifts_after_the_window(client, clock) -> None:
    from datetime import timedelta

    for _ in range(5):
        client.post("/api/v1/session", json={"username": "rn.chen", "password": "wrong"})
    clock.value += timedelta(minutes=16)
    r = client.post("/api/v1/session", json={"username": "rn.chen", "password": PASSWORD})
    assert r.status_code == 200


def test_post_without_csrf_token_is_403_on_pages_and_api(client) -> None:
    sign_in(client, USERS["physician"])
    del client.headers["X-CSRF-Token"]
    r = client.post("/rules/sign-off", data={"rule_id": "T1-C1D1", "comments": "x"})
    assert r.status_code == 403
    r = client.post("/api/v1/prepare", json={"dose_mg": 10})
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "csrf_token"
    r = client.post("/api/v1/prepare", json={"dose_mg": 10},
                    headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403


def test_csrf_token_in_the_form_field_is_accepted(client) -> None:
    token = sign_in(client, USERS["physician"])
    del client.headers["X-CSRF-Token"]
    r = client.post("/sign-out", data={"csrf_token": token})
    assert r.status_code == 303
    assert client.get("/today").status_code == 303  # signed out: the session is gone


def test_open_redirects_are_refused(client) -> None:
    token = _login_form(client)
    r = client.post("/sign-in", data={"username": "rn.alvarez", "password": PASSWORD,
                                      "csrf_token": token, "next": "//evil.example/x"})
    assert r.headers["location"] == "/today"


def test_idle_session_expires(client, clock) -> None:
    from datetime import timedelta

    sign_in(client, USERS["nurse"])
    assert client.get("/api/v1/me").status_code == 200
    clock.value += timedelta(hours=9)
    assert client.get("/api/v1/me").status_code == 401


def test_me_returns_roles_and_the_csrf_token(client) -> None:
    token = sign_in(client, USERS["pharmacist"])
    body = client.get("/api/v1/me").json()
    assert body["roles"] == ["pharmacist"] and body["csrf_token"] == token


def test_no_route_answers_without_sign_in_but_sign_in_healthz_and_static(client) -> None:
    import re

    from fastapi.routing import iter_route_contexts

    # /passport/{token}: the wallet card's phone page, opened by an emergency department
    # from the QR code; its signed, expiring token is the key (tests/web/test_web_passport.py)
    public = {"/sign-in", "/healthz", "/api/v1/session", "/passport/{token}",
              # issue 16: what FHIR and CDS Hooks clients read before they authenticate
              "/fhir/r4/metadata", "/cds-services"}
    assert client.get("/passport/not-a-token").status_code == 404
    checked = 0
    for ctx in iter_route_contexts(client.app.routes):
        path, methods = ctx.path, ctx.methods or set()
        if path is None or path in public or path.startswith("/static") or path == "/":
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in sorted(methods - {"HEAD"}):
            r = client.request(method, url)
            assert r.status_code in (303, 401), (method, url, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/sign-in")
            checked += 1
    assert checked > 30
