"""Composition root: settings -> engine -> session factory -> unit of work.

Nothing is built at import time. Entry points (CLI, web, tests, bench) call :func:`bootstrap`
once and pass ``app.uow()`` (a fresh unit of work per use case) to the services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tarla.adapters.db import make_engine, make_session_factory
from tarla.adapters.uow import SqlAlchemyUnitOfWork
from tarla.config import Settings, load_settings

__all__ = ["App", "bootstrap"]


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.session_factory)

    @property
    def uow_factory(self) -> Callable[[], SqlAlchemyUnitOfWork]:
        return self.uow

    def migrate(self, revision: str = "head") -> str | None:
        from tarla.adapters.migrate import upgrade

        return upgrade(self.settings.database_url, revision)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, database_url: str | None = None) -> App:
    settings = settings or load_settings()
    if database_url is not None:
        settings = Settings(database_url=database_url, default_site=settings.default_site,
                            sql_echo=settings.sql_echo)
    engine = make_engine(settings.database_url, echo=settings.sql_echo)
    return App(settings, engine, make_session_factory(engine))
