"""Accounts and sessions (issue 13): one-time resets instead of an administrator choosing a
password, deactivation and unlock (audited), a password change ending every session, the idle
timeout with a sign-in that returns to the page, no forwarded header believed by default, a
lock-out nobody can aim at a named user from one address, and ``tarla demo-users`` on demo
databases only. Each attack of the audit is a test: refused, nothing lost."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from web_support import PASSWORD, USERS, sign_in

from tarla.bootstrap import bootstrap
from tarla.cli import main
from tarla.config import Settings
from tarla.web.auth import verify_password
from tarla.web.config import WebOptions, load_web_options

NEW = "a brand new passphrase"


def _client(app, address: str = "testclient") -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url="http://testserver", follow_redirects=False,
                      client=(address, 50000))


def _audit(app, action: str) -> list[dict]:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with app.state.bootstrapped.engine.connect() as conn:
        rows = conn.execute(text("SELECT actor, action, after FROM audit_log WHERE action = :a"),
                            {"a": action}).all()
    return [{"actor": r[0], "action": r[1],
             "after": json.loads(r[2]) if isinstance(r[2], str) else r[2]} for r in rows]


def _issue(admin: TestClient, username: str) -> str:
    r = admin.post(f"/admin/users/{username}/reset")
    assert r.status_code == 200, r.text
    found = re.search(r'<code class="one-time">([^<]+)</code>', r.text)
    assert found is not None
    return found.group(1)


def test_an_administrator_cannot_set_another_users_password(as_role, app) -> None:
    admin = as_role("admin")
    r = admin.post("/admin/users/rn.chen/password", data={"password": "chosen by admin 1"})
    assert r.status_code in (404, 405)
    with _client(app) as c:  # the nurse's own password still works, the admin's choice not
        assert c.post("/api/v1/session", json={"username": "rn.chen",
                                               "password": "chosen by admin 1"}).status_code == 401
        sign_in(c, "rn.chen")


def test_a_one_time_password_ends_the_users_sessions_and_must_be_changed_first(
        as_role, app) -> None:
    nurse = as_role("nurse")
    assert nurse.get("/api/v1/me").status_code == 200
    temporary = _issue(as_role("admin"), USERS["nurse"])
    assert nurse.get("/api/v1/me").status_code == 401  # every session of theirs ended
    with _client(app) as c:
        sign_in(c, USERS["nurse"], temporary)
        r = c.get("/api/v1/patients")
        assert r.status_code == 403 and r.json()["errors"][0]["field"] == "password"
        page = c.get("/board")
        assert page.status_code == 303 and page.headers["location"] == "/account/password"
        assert c.get("/account/password").status_code == 200
        r = c.post("/account/password", data={"current_password": temporary,
                                              "new_password": NEW, "repeat_password": NEW})
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")
        assert c.get("/api/v1/me").status_code == 401  # the change ended this session too
    with _client(app) as c:
        assert c.post("/api/v1/session", json={"username": USERS["nurse"],
                                               "password": temporary}).status_code == 401
        sign_in(c, USERS["nurse"], NEW)
        assert c.get("/api/v1/patients").status_code == 200
    issued = _audit(app, "user.password_reset_issued")
    assert issued and issued[-1]["actor"] == USERS["admin"]
    assert temporary not in json.dumps(issued)  # the password itself is never audited


def test_a_one_time_password_expires_after_the_sites_window(as_role, app, clock) -> None:
    temporary = _issue(as_role("admin"), "rn.chen")
    clock.value += timedelta(hours=24, minutes=1)
    with _client(app) as c:
        assert c.post("/api/v1/session", json={"username": "rn.chen",
                                               "password": temporary}).status_code == 401


def test_an_administrator_does_not_reset_their_own_password_this_way(as_role) -> None:
    r = as_role("admin").post(f"/admin/users/{USERS['admin']}/reset")
    assert r.status_code == 403


def test_a_password_change_ends_every_other_session_and_needs_the_current_one(
        as_role, app) -> None:
    laptop, ward = as_role("pharmacist"), as_role("pharmacist")
    r = laptop.post("/account/password", data={"current_password": "not mine at all",
                                               "new_password": NEW, "repeat_password": NEW})
    assert r.status_code == 422 and "is not your current password" in r.text
    assert ward.get("/api/v1/me").status_code == 200  # nothing changed
    r = laptop.post("/account/password", data={"current_password": PASSWORD,
                                               "new_password": NEW, "repeat_password": NEW})
    assert r.status_code == 303
    assert ward.get("/api/v1/me").status_code == 401
    with _client(app) as c:
        assert c.post("/api/v1/session", json={"username": USERS["pharmacist"],
                                               "password": PASSWORD}).status_code == 401
        sign_in(c, USERS["pharmacist"], NEW)


def test_deactivating_a_user_ends_their_sessions_and_refuses_sign_in_until_reactivated(
        as_role, app) -> None:
    nurse, admin = as_role("nurse"), as_role("admin")
    r = admin.post(f"/admin/users/{USERS['nurse']}/active", data={"active": "0"})
    assert r.status_code == 303
    assert nurse.get("/api/v1/me").status_code == 401
    with _client(app) as c:
        assert c.post("/api/v1/session", json={"username": USERS["nurse"],
                                               "password": PASSWORD}).status_code == 401
    assert "deactivated" in admin.get("/admin/users").text
    assert admin.post(f"/admin/users/{USERS['nurse']}/active",
                      data={"active": "1"}).status_code == 303
    with _client(app) as c:
        sign_in(c, USERS["nurse"])
    assert [e["actor"] for e in _audit(app, "user.deactivated")] == [USERS["admin"]]
    assert len(_audit(app, "user.reactivated")) == 1


def test_an_administrator_cannot_deactivate_themselves(as_role) -> None:
    assert as_role("admin").post(f"/admin/users/{USERS['admin']}/active",
                                 data={"active": "0"}).status_code == 403


def test_another_sites_user_cannot_be_reset_deactivated_or_unlocked(client_for) -> None:
    admin = client_for(USERS["admin"])
    for action, data in (("reset", {}), ("active", {"active": "0"}), ("unlock", {})):
        assert admin.post(f"/admin/users/nobody.here/{action}", data=data).status_code == 404


def test_failures_from_one_address_never_lock_the_user_out_at_another(app) -> None:
    with _client(app, "203.0.113.66") as attacker:
        for _ in range(5):
            attacker.post("/api/v1/session", json={"username": "rn.chen", "password": "x"})
        assert attacker.post("/api/v1/session", json={"username": "rn.chen",
                                                      "password": PASSWORD}).status_code == 429
    with _client(app, "10.1.2.3") as ward:
        sign_in(ward, "rn.chen")  # the nurse at her workstation signs in


def test_a_spoofed_x_forwarded_for_does_not_reset_the_count(app) -> None:
    with _client(app, "127.0.0.1") as c:
        for i in range(5):
            c.post("/api/v1/session", json={"username": "rn.chen", "password": "x"},
                   headers={"X-Forwarded-For": f"198.51.100.{i}"})
        r = c.post("/api/v1/session", json={"username": "rn.chen", "password": PASSWORD},
                   headers={"X-Forwarded-For": "198.51.100.200"})
        assert r.status_code == 429


def test_one_address_guessing_many_names_is_limited_as_a_whole(app) -> None:
    with _client(app, "203.0.113.7") as c:
        for i in range(20):
            assert c.post("/api/v1/session", json={"username": f"guess{i}",
                                                   "password": "x"}).status_code == 401
        r = c.post("/api/v1/session", json={"username": "rn.alvarez", "password": PASSWORD})
        assert r.status_code == 429 and "from this device" in r.json()["detail"]
    with _client(app, "10.9.9.9") as other:
        sign_in(other, "rn.alvarez")


def test_an_administrator_unlocks_a_user_and_it_is_audited(as_role, app) -> None:
    with _client(app, "10.0.0.5") as c:
        for _ in range(5):
            c.post("/api/v1/session", json={"username": "rn.chen", "password": "x"})
        admin = as_role("admin")
        assert "locked out from 1 address" in admin.get("/admin/users").text
        assert admin.post("/admin/users/rn.chen/unlock").status_code == 303
        sign_in(c, "rn.chen")
    assert _audit(app, "user.unlocked")[-1]["after"] == {"failed_sign_ins_cleared": 5}


def test_the_idle_timeout_defaults_to_15_minutes_and_sign_in_returns_to_the_page(
        db_url, clock, world) -> None:  # type: ignore[no-untyped-def]
    from tarla.web.app import create_app

    options = load_web_options({})
    assert options.session_idle == timedelta(minutes=15)
    app = create_app(Settings(database_url=db_url), options=options, now=clock)
    try:
        with _client(app) as c:
            sign_in(c, USERS["nurse"])
            assert c.get("/board").status_code == 200
            clock.value += timedelta(minutes=16)
            r = c.get("/patients?q=a")
            assert (r.status_code, r.headers["location"]) == (303,
                                                              "/sign-in?next=/patients%3Fq%3Da")
            form = c.get(r.headers["location"])
            token = form.cookies.get("tarla_login_csrf") or c.cookies.get("tarla_login_csrf")
            back = c.post("/sign-in", data={"username": USERS["nurse"], "password": PASSWORD,
                                            "csrf_token": token, "next": "/patients?q=a"})
            assert back.status_code == 303 and back.headers["location"] == "/patients?q=a"
            clock.value += timedelta(minutes=16)
            r = c.get("/board/rows", headers={"HX-Request": "true",
                                              "HX-Current-URL": "http://testserver/board"})
            assert (r.status_code, r.headers["hx-redirect"]) == (401, "/sign-in?next=/board")
            # a form posted after the timeout ...
            r = c.post("/sign-out", data={"csrf_token": "x"},
                       headers={"referer": "http://testserver/board"})
            assert r.headers["location"] == "/sign-in?next=/board"  # ... returns to its page
    finally:
        app.state.bootstrapped.close()


def test_the_idle_timeout_is_configurable(monkeypatch) -> None:
    assert load_web_options({"TARLA_SESSION_IDLE_MINUTES": "5"}).session_idle == \
        timedelta(minutes=5)
    assert WebOptions().session_idle > timedelta(0)


def test_no_forwarded_header_is_trusted_unless_proxies_are_named() -> None:
    from tarla.cli.web import proxy_options

    assert proxy_options({}) == {"proxy_headers": False}
    assert proxy_options({"TARLA_TRUSTED_PROXIES": "10.0.0.2, 10.0.1.0/24"}) == {
        "proxy_headers": True, "forwarded_allow_ips": "10.0.0.2,10.0.1.0/24"}
    with pytest.raises(SystemExit, match="TARLA_TRUSTED_PROXIES"):
        proxy_options({"TARLA_TRUSTED_PROXIES": "*"})


def test_demo_users_refuses_a_database_with_real_users(db_url, monkeypatch, capsys,
                                                       world) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TARLA_DATABASE_URL", db_url)
    before = _hash(db_url, "admin")
    with pytest.raises(SystemExit) as done:
        main(["demo-users"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: database: ") and "not a demo user" in err
    assert _hash(db_url, "admin") == before  # nothing changed


def test_demo_users_refuses_a_database_without_the_demo_site(tmp_path, monkeypatch,
                                                             capsys) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = bootstrap(Settings(database_url=url))
    app.migrate()
    app.close()
    monkeypatch.setenv("TARLA_DATABASE_URL", url)
    with pytest.raises(SystemExit) as done:
        main(["demo-users"])
    assert done.value.code == 2
    assert "error: database: the database holds no site" in capsys.readouterr().err


def test_make_run_prints_passwords_only_when_it_created_them(tmp_path, monkeypatch,
                                                             capsys) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    monkeypatch.setenv("TARLA_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert main(["demo-data", "--site", "DEMO", "--patients", "1"]) == 0
    capsys.readouterr()
    assert main(["demo-users", "--only-new", "--json"]) == 0
    first = {u["username"]: u["password"] for u in json.loads(capsys.readouterr().out)}
    admin = next(name for name in first if name.startswith("admin"))
    assert verify_password(_hash(url, admin), first[admin])
    assert main(["demo-users", "--only-new"]) == 0  # the next start: nothing reset or shown
    out = capsys.readouterr().out
    assert "already has a password" in out and first[admin] not in out
    assert verify_password(_hash(url, admin), first[admin])


def _hash(url: str, username: str) -> str | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT password_hash FROM users WHERE username = :u"),
                             {"u": username}).scalar_one()
    engine.dispose()
    return value  # type: ignore[no-any-return]
