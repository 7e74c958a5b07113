"""Every mutating route refuses every role it does not admit (routes x roles), before it
reads the body; and no mutating route is left without a role check."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from web_loop import prepare_bag
from web_support import ROLES, SITE, TODAY, USERS, sign_in

from tarla.bootstrap import bootstrap  # noqa: F401  (import check only)
from tarla.web.app import create_app

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: writes that need a session but no particular role
NO_ROLE_NEEDED = {("POST", "/sign-in"), ("POST", "/api/v1/session"),
                  ("DELETE", "/api/v1/session"), ("POST", "/sign-out"),
                  ("POST", "/account/password")}  # one's own password, whatever the role
#: interface endpoints (issue 16): an interface token and its scope, never a user's role
#: (tests/web/test_web_interfaces.py, test_web_fhir.py, test_web_cds_hooks.py)
NO_ROLE_NEEDED |= {("POST", "/cds-services/{service_id}"), ("POST", "/fhir/r4/Observation"),
                   *((m, "/fhir/r4/{rest:path}") for m in ("POST", "PUT", "PATCH", "DELETE"))}
#: POST routes that compute and store nothing (any signed-in role may call them)
PURE = {"/api/v1/evaluate", "/api/v1/schedule", "/api/v1/grade/crs", "/api/v1/grade/icans",
        "/api/v1/grade/lab", "/api/v1/prepare", "/api/v1/clock", "/api/v1/scan"}


def _roles(dependant) -> frozenset | None:  # type: ignore[no-untyped-def]
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "roles", None)
        if roles is not None:
            return frozenset(r.value for r in roles)
        found = _roles(dep)
        if found is not None:
            return found
    return None


def _mutating_routes() -> list[tuple[str, str, frozenset[str] | None]]:
    from tarla.config import Settings

    app = create_app(Settings(database_url="sqlite://"))
    out = []
    for ctx in iter_route_contexts(app.routes):
        methods = (ctx.methods or set()) & UNSAFE
        path = ctx.path
        if not methods or path is None:
            continue
        for m in sorted(methods):
            out.append((m, path, _roles(ctx.dependant)))
    app.state.bootstrapped.close()
    return out


ROUTES = _mutating_routes()


def test_every_mutating_route_checks_a_role() -> None:
    unguarded = [(m, p) for m, p, roles in ROUTES if roles is None and (m, p) not in NO_ROLE_NEEDED]
    assert unguarded == []
    assert len(ROUTES) >= 20


def test_only_pure_computations_admit_every_role() -> None:
    every = {p for m, p, roles in ROUTES if roles == frozenset(ROLES)}
    assert every == PURE


CASES = [(m, p, role) for m, p, roles in ROUTES if roles is not None
         for role in ROLES if role not in roles]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path).replace("{username}", "admin")


@pytest.mark.parametrize(("method", "path", "role"), CASES,
                         ids=[f"{m} {p} as {r}" for m, p, r in CASES])
def test_mutating_route_refuses_the_wrong_role(app, method: str, path: str, role: str) -> None:
    with TestClient(app, follow_redirects=False) as c:
        token = sign_in(c, USERS[role])
        url = _concrete(path)
        if path.startswith("/api/"):
            r = c.request(method, url, json={})
        else:
            r = c.request(method, url, data={"csrf_token": token})
        assert r.status_code == 403, (method, url, role, r.status_code, r.text[:200])


def test_only_a_pharmacist_verifies_and_never_the_one_who_prepared(as_role, world) -> None:
    pid = prepare_bag(as_role, world.courses["new"], check=False)
    c = as_role("pharmacist")
    r = c.post(f"/api/v1/preparations/{pid}/check", json={})
    assert r.status_code == 409
    assert r.json()["errors"][0]["rule"] == "GATE-CHECK-FOUR-EYES"
    assert as_role("physician").post(f"/api/v1/preparations/{pid}/check",
                                     json={}).status_code == 403
    assert as_role("nurse").post(f"/pharmacy/preparations/{pid}/check",
                                 data={}).status_code == 403
    r = as_role("pharmacist2").post(f"/api/v1/preparations/{pid}/check", json={})
    assert r.status_code == 200
    assert r.json()["preparation"]["status"] == "checked"


def test_only_a_physician_releases_a_held_dose(as_role, world) -> None:
    course = world.courses["held"]
    reason = {"reason": "CRS resolved clinically; benefit outweighs the risk"}
    for role in ("nurse", "pharmacist", "scheduler", "admin"):
        assert as_role(role).post(f"/bedside/{course}/release", data=reason).status_code == 403
    assert as_role("physician").post(f"/bedside/{course}/release", data=reason).status_code == 200


def test_only_a_nurse_charts_a_dose(as_role, world) -> None:
    course = world.courses["stepup"]
    data = {"started_at": "2026-12-15T09:00", "patient_scan": "MRN100002", "bag_scan": "PREP-1"}
    for role in ("physician", "pharmacist", "scheduler", "admin"):
        assert as_role(role).post(f"/bedside/{course}/administration",
                                  data=data).status_code == 403
    html = as_role("physician").get(f"/bedside/{course}").text
    assert 'id="f-patient_scan"' not in html


def test_only_admin_manages_users(as_role) -> None:
    r = as_role("physician").get("/admin/users")
    assert r.status_code == 403
    assert as_role("admin").get("/admin/users").status_code == 200


_ = (SITE, TODAY)
