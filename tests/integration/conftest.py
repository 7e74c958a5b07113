"""The integration suite runs every test against SQLite AND PostgreSQL.

PostgreSQL is a throwaway server started once per session (``pgserver.py``); if it cannot be
started the tests FAIL. Each test gets a fresh database at the head revision, copied from a
template migrated once per session (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL), so the suite stays fast.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pgserver import ThrowawayPostgres
from records_helpers import T0, World

from tarla.adapters.migrate import upgrade
from tarla.bootstrap import App, bootstrap
from tarla.services import admin

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - must fail loudly, never skip
        server.stop()
        pytest.fail(f"PostgreSQL could not be started for the integration suite: {exc}",
                    pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: ThrowawayPostgres) -> str:
    pg_server.execute("CREATE DATABASE tarla_template")
    upgrade(pg_server.url("tarla_template"))
    return "tarla_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "tarla.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server: ThrowawayPostgres = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    name = f"t{next(_counter)}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return server.url(name)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    server: ThrowawayPostgres = request.getfixturevalue("pg_server")
    name = f"e{next(_counter)}"
    server.execute(f"CREATE DATABASE {name}")
    return server.url(name)


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    application = bootstrap(database_url=database_url)
    yield application
    application.close()


@pytest.fixture
def world(app: App) -> World:
    """A site with one of each role (these setup steps write their own audit entries)."""
    w = World(app)
    admin.create_site(app.uow(), code=w.site, name="NYC infusion", timezone="America/New_York",
                      now=T0)
    for name, roles in ((w.nurse, ["nurse"]), (w.nurse2, ["nurse"]),
                        (w.pharmacist, ["pharmacist"]), (w.pharmacist2, ["pharmacist"]),
                        (w.physician, ["physician"])):
        admin.create_user(app.uow(), username=name, display_name=name, roles=roles, now=T0,
                          site_code=w.site)
    return w
