"""The web suite: the real app (``create_app``) over a migrated SQLite database holding the
demo site, driven by Starlette's TestClient. Time is fixed (the app's ``now``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tarla.bootstrap import bootstrap
from tarla.config import Settings
from world import World, build_world
from tarla.web.app import create_app
from tarla.web.config import WebOptions

ZONE = ZoneInfo("America/New_York")
TODAY = date(2026, 12, 15)
NOW = datetime.combine(TODAY, time(9, 0), ZONE)
PASSWORD = "correct horse battery"
SITE = "DEMO"
#: one user per role, and a second pharmacist
USERS = {"nurse": "rn.alvarez", "pharmacist": "rph.okoro", "pharmacist2": "rph.berg",
         "physician": "dr.khan", "scheduler": "sched.lee", "admin": "admin"}
STAFF = {"rn.alvarez": ("Rosa Alvarez, RN", ("nurse",)),
         "rn.chen": ("David Chen, RN", ("nurse",)),
         "rph.okoro": ("Ngozi Okoro, PharmD", ("pharmacist",)),
         "rph.berg": ("Lars Berg, PharmD", ("pharmacist",)),
         "dr.khan": ("Dr Aisha Khan", ("physician",)),
         "sched.lee": ("Min Lee", ("scheduler",)),
         "admin": ("Site administrator", ("admin",)),
         # holds every role, so the API fuzzing below reaches every operation
         "qa.all": ("QA, every role", ("nurse", "pharmacist", "physician", "scheduler",
                                       "admin"))}
ROLES = ("nurse", "pharmacist", "physician", "scheduler", "admin")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def __call__(self) -> datetime:
        return self.value


_WORLD: list[World] = []


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-template") / "demo.sqlite3"
    app = bootstrap(Settings(database_url=f"sqlite:///{path}"))
    try:
        app.migrate()
        _WORLD.append(build_world(app.uow, today=TODAY, zone=ZONE, users=STAFF,
                                  password=PASSWORD, site=SITE))
    finally:
        app.close()
    return path


@pytest.fixture
def world(demo_template: Path) -> World:
    return _WORLD[0]


@pytest.fixture
def db_url(demo_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "tarla.sqlite3"
    shutil.copyfile(demo_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(db_url: str, clock: Clock):  # type: ignore[no-untyped-def]
    application = create_app(Settings(database_url=db_url, default_site=SITE),
                             options=WebOptions(), now=clock)
    yield application
    application.state.bootstrapped.close()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def sign_in(c: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the CSRF token (the cookie stays in the client)."""
    r = c.post("/api/v1/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["csrf_token"]
    c.headers["X-CSRF-Token"] = token
    return token


@pytest.fixture
def as_role(app) -> Callable[[str], TestClient]:  # type: ignore[no-untyped-def]
    """A signed-in client for a role (nurse, pharmacist, pharmacist2, physician, ...)."""
    clients: list[TestClient] = []

    def make(role: str) -> TestClient:
        c = TestClient(app, base_url="http://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        sign_in(c, USERS[role])
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
