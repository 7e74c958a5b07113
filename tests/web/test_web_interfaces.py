"""Interface credentials (issue 16): a token per interface, hashed at rest, scoped to one site
and to read and/or lab-write, revocable, with its last use; never a user's session. Through
the service, the admin page and the ``tarla interface`` command."""

from __future__ import annotations

import hashlib
import json

from interop_support import NOW, bearer, second_site, token
from sqlalchemy import text

from tarla.cli import main as tarla_main


def _rows(app, sql: str) -> list:  # type: ignore[no-untyped-def]
    with app.state.bootstrapped.engine.connect() as conn:
        return list(conn.execute(text(sql)))


def _patient(world) -> int:  # type: ignore[no-untyped-def]
    return world.patients["new"]


def test_only_the_hash_of_a_token_is_stored(app) -> None:
    value = token(app, "read")
    rows = _rows(app, "SELECT token_hash, token_prefix, scopes FROM interface_tokens")
    assert [(r.token_hash, r.scopes) for r in rows] == [
        (hashlib.sha256(value.encode()).hexdigest(), "read")]
    assert value not in json.dumps([list(r) for r in rows])
    assert value not in json.dumps([list(r) for r in _rows(app, "SELECT * FROM audit_log")],
                                   default=str)


def test_no_token_is_401_with_a_bearer_challenge(client, world) -> None:
    r = client.get(f"/fhir/r4/Patient/{_patient(world)}")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.json()["issue"][0]["code"] == "login"


def test_an_unknown_token_is_401(client, world) -> None:
    r = client.get(f"/fhir/r4/Patient/{_patient(world)}", headers=bearer("tarla_not-a-token"))
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_a_signed_in_users_session_cookie_is_not_accepted(as_role, world) -> None:
    nurse = as_role("nurse")  # a live session cookie (and its CSRF header)
    r = nurse.get(f"/fhir/r4/Patient/{_patient(world)}")
    assert r.status_code == 401
    r = nurse.post("/cds-services/tarla-order-sign", json={"hook": "order-sign"})
    assert r.status_code == 401


def test_a_revoked_token_stops_working_at_once(app, client, world) -> None:
    value = token(app, "read")
    url = f"/fhir/r4/Patient/{_patient(world)}"
    assert client.get(url, headers=bearer(value)).status_code == 200
    from tarla.services import interfaces

    (record, _), = interfaces.list_tokens(app.state.bootstrapped.uow(), actor="operator",
                                          operator=True)
    interfaces.revoke_token(app.state.bootstrapped.uow(), actor="operator",
                            token_id=record.id, now=NOW, operator=True)
    assert client.get(url, headers=bearer(value)).status_code == 401


def test_a_token_without_the_read_scope_is_403(app, client, world) -> None:
    value = token(app, "lab-write")
    r = client.get(f"/fhir/r4/Patient/{_patient(world)}", headers=bearer(value))
    assert r.status_code == 403 and r.json()["issue"][0]["code"] == "forbidden"


def test_another_sites_patient_is_404_exactly_as_a_missing_one(app, client, world) -> None:
    second_site(app)
    north = bearer(token(app, "read", site="NORTH"))
    theirs = client.get(f"/fhir/r4/Patient/{_patient(world)}", headers=north)
    missing = client.get("/fhir/r4/Patient/999999", headers=north)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["issue"][0]["code"] == missing.json()["issue"][0]["code"] == "not-found"
    assert client.get(f"/fhir/r4/Patient/{_patient(world)}/$everything",
                      headers=north).status_code == 404


def test_the_last_use_is_recorded(app, client, world) -> None:
    value = token(app, "read")
    assert _rows(app, "SELECT last_used_at FROM interface_tokens")[0][0] is None
    client.get(f"/fhir/r4/Patient/{_patient(world)}", headers=bearer(value))
    assert _rows(app, "SELECT last_used_at FROM interface_tokens")[0][0] is not None


def test_an_admin_creates_a_token_shown_once_and_revokes_it_on_the_page(app, as_role) -> None:
    c = as_role("admin")
    assert c.get("/admin/interfaces").status_code == 200
    r = c.post("/admin/interfaces", data={"name": "ehr-fhir", "scopes": ["read"]})
    assert r.status_code == 201, r.text[-800:]
    shown = r.text.split('id="new-token"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert shown.startswith("tarla_")
    page = c.get("/admin/interfaces").text
    assert "ehr-fhir" in page and shown not in page and shown[:12] in page
    (tid,) = _rows(app, "SELECT id FROM interface_tokens")[0]
    assert c.post(f"/admin/interfaces/{tid}/revoke").status_code == 303
    assert "revoked" in c.get("/admin/interfaces").text
    assert [r.action for r in _rows(app, "SELECT action FROM audit_log WHERE entity_type = "
                                         "'interface_token' ORDER BY id")] == [
        "interface_token.create", "interface_token.revoke"]


def test_the_page_refuses_a_token_without_a_scope_and_writes_nothing(app, as_role) -> None:
    r = as_role("admin").post("/admin/interfaces", data={"name": "ehr"})
    assert r.status_code == 422 and "scope" in r.text
    assert _rows(app, "SELECT count(*) FROM interface_tokens")[0][0] == 0


def test_only_an_admin_reaches_the_page(as_role) -> None:
    assert as_role("nurse").get("/admin/interfaces").status_code == 403
    assert as_role("nurse").post("/admin/interfaces",
                                 data={"name": "x", "scopes": ["read"]}).status_code == 403


def test_an_admin_cannot_revoke_another_sites_token(app, as_role) -> None:
    second_site(app)
    token(app, "read", site="NORTH")
    (tid,) = _rows(app, "SELECT id FROM interface_tokens")[0]
    assert as_role("admin").post(f"/admin/interfaces/{tid}/revoke").status_code == 404
    assert _rows(app, "SELECT revoked_at FROM interface_tokens")[0][0] is None


def test_the_command_line_creates_lists_and_revokes(db_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", db_url)
    assert tarla_main(["interface", "create", "--site", "DEMO", "--name", "lab", "--scope",
                       "lab-write", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["token"].startswith("tarla_") and created["scopes"] == ["lab-write"]
    assert tarla_main(["interface", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["tokens"]
    assert [t["name"] for t in listed] == ["lab"] and "token" not in listed[0]
    assert tarla_main(["interface", "revoke", str(created["id"])]) == 0
    assert tarla_main(["interface", "revoke", str(created["id"])]) == 1
    assert "already revoked" in capsys.readouterr().err


def _exit_code(argv: list[str]) -> int:
    try:
        return tarla_main(argv)
    except SystemExit as exc:  # the CLI's invalid-input path exits 2 itself
        return int(exc.code or 0)


def test_the_command_line_names_the_field_of_bad_input(db_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", db_url)
    assert _exit_code(["interface", "create", "--site", "DEMO", "--name", "x"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "error: scopes: name at least one of read, lab-write")
    assert _exit_code(["interface", "create", "--site", "NOPE", "--name", "x",
                       "--scope", "read"]) == 1
    assert "error: site: no site with code 'NOPE'" in capsys.readouterr().err
