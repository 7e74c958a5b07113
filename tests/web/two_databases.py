"""The web app over the demo world on SQLite AND PostgreSQL (``backend_app``), for the tests
that must hold on both (hostile requests, the API fuzzing). PostgreSQL is a throwaway server
(``tests/integration/pgserver.py``) started once per session; failing to start it is a
failure, never a skip. Each test gets a fresh copy of a template database."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_support import NOW, PASSWORD, SITE, STAFF, TODAY, ZONE, Clock
from world import build_world

from tarla.bootstrap import bootstrap
from tarla.config import Settings
from tarla.web.app import create_app
from tarla.web.config import WebOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from pgserver import ThrowawayPostgres  # noqa: E402

__all__ = ["web_pg_server", "web_pg_template", "backend_app"]

_names = itertools.count()


@pytest.fixture(scope="session")
def web_pg_server() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - must fail loudly, never skip
        server.stop()
        pytest.fail(f"PostgreSQL could not be started: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def web_pg_template(web_pg_server: ThrowawayPostgres) -> str:
    web_pg_server.execute("CREATE DATABASE web_demo_template")
    app = bootstrap(Settings(database_url=web_pg_server.url("web_demo_template")))
    try:
        app.migrate()
        build_world(app.uow, today=TODAY, zone=ZONE, users=STAFF, password=PASSWORD, site=SITE)
    finally:
        app.close()
    return "web_demo_template"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_app(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The app over a fresh demo database of each kind."""
    if request.param == "sqlite":
        url = request.getfixturevalue("db_url")
    else:
        server: ThrowawayPostgres = request.getfixturevalue("web_pg_server")
        template = request.getfixturevalue("web_pg_template")
        name = f"web{next(_names)}"
        server.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        url = server.url(name)
    app = create_app(Settings(database_url=url, default_site=SITE), options=WebOptions(),
                     now=Clock(NOW))
    yield app
    app.state.bootstrapped.close()
