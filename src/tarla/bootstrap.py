"""Composition root: settings -> engine -> session factory -> unit of work.

Nothing is built at import time. Entry points (CLI, web, tests, bench) call :func:`bootstrap`
once and pass ``app.uow()`` (a fresh unit of work per use case) to the services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tarla.adapters.db import make_engine, make_session_factory
from tarla.adapters.decisions_repo import KeyedLocks
from tarla.adapters.uow import SqlAlchemyUnitOfWork
from tarla.config import Settings, load_settings

__all__ = ["App", "bootstrap"]


@dataclass(frozen=True, slots=True)
class App:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    #: The wall clock of writes: a write recomputes the stored worklist decisions of the
    #: courses it touched for the site's day as of this instant (issue 14).
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: This process's locks: concurrent worklist misses of one site's day compute once.
    locks: KeyedLocks = field(default_factory=KeyedLocks)

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.session_factory, before_commit=self._keep_current,
                                    locks=self.locks)

    def _keep_current(self, uow: Any, courses: set[int], patients: set[int]) -> None:
        from tarla.services.decisions import keep_current

        keep_current(uow, courses, patients, now=self.clock())

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
