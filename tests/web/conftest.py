"""The web suite: the real app (``create_app``) over a migrated SQLite database holding the
demo site, driven by Starlette's TestClient. Time is fixed (the app's ``now``)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from two_databases import backend_app, web_pg_server, web_pg_template  # noqa: F401
from web_support import NOW, PASSWORD, SITE, STAFF, TODAY, USERS, ZONE, Clock, sign_in  # noqa: F401
from world import World, build_world

from tarla.bootstrap import bootstrap
from tarla.config import Settings
from tarla.web.app import create_app
from tarla.web.config import WebOptions

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


@pytest.fixture
def client_for(app) -> Iterator[Callable[[str], TestClient]]:  # type: ignore[no-untyped-def]
    """A signed-in client for any username (e.g. staff of a second site, who have no role key
    in ``USERS``)."""
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        c = TestClient(app, base_url="http://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        sign_in(c, username)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
