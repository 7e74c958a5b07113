"""The SQLAlchemy unit of work: one session, one transaction, driver errors translated.

Constraint violations never leave this module as ``IntegrityError``: they become the service
errors named in :data:`tarla.adapters.orm.UNIQUE_MESSAGES` / ``CHECK_MESSAGES`` (a second
recording of a dose slot -> ``AlreadyRecorded``), a stale optimistic update becomes
``Conflict``, and so does SQLite's "database is locked" after the busy timeout.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from sqlalchemy import UniqueConstraint
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from tarla.adapters import orm
from tarla.adapters.audit_store import SqlAnchoredAudit
from tarla.adapters.capacity_repo import SqlCapacity
from tarla.adapters.db import WRITE_OPTION
from tarla.adapters.decisions_repo import TOUCHED, KeyedLocks, SqlDecisions, track_touched
from tarla.adapters.interface_tokens import SqlInterfaceTokens
from tarla.adapters.labs_in_repo import SqlLabsIn
from tarla.adapters.repositories import (
    SqlAdministrations,
    SqlCare,
    SqlCharges,
    SqlCourses,
    SqlEvents,
    SqlInventory,
    SqlLabel,
    SqlLabs,
    SqlMonitoring,
    SqlOrderSets,
    SqlPatients,
    SqlPreparations,
    SqlReleases,
    SqlSites,
    SqlUsers,
    SqlWorklist,
)
from tarla.services import errors

__all__ = ["SqlAlchemyUnitOfWork", "translate_errors"]

_log = logging.getLogger(__name__)


def _unique_by_columns() -> dict[tuple[str, frozenset[str]], str]:
    """SQLite names the columns of a failed UNIQUE constraint, not the constraint."""
    out: dict[tuple[str, frozenset[str]], str] = {}
    for table in orm.Base.metadata.tables.values():
        for c in table.constraints:
            if isinstance(c, UniqueConstraint) or c is table.primary_key:
                name = c.name if isinstance(c.name, str) else None
                if name:
                    out[(table.name, frozenset(col.name for col in c.columns))] = name
        for index in table.indexes:  # unique (partial) indexes
            if index.unique and isinstance(index.name, str):
                out[(table.name, frozenset(col.name for col in index.columns))] = index.name
    return out


_BY_COLUMNS = _unique_by_columns()
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")


def _constraint_name(exc: IntegrityError) -> str | None:
    orig = exc.orig
    diag = getattr(orig, "diag", None)  # psycopg
    if diag is not None and getattr(diag, "constraint_name", None):
        return str(diag.constraint_name)
    text = str(orig)
    m = _SQLITE_UNIQUE.search(text)
    if m:
        cols = [c.strip() for c in m.group(1).split(",")]
        table = cols[0].split(".")[0]
        return _BY_COLUMNS.get((table, frozenset(c.split(".", 1)[1] for c in cols)))
    m = _SQLITE_CHECK.search(text)
    return m.group(1) if m else None


def _service_error(exc: IntegrityError) -> errors.ServiceError | None:
    name = _constraint_name(exc)
    known = orm.UNIQUE_MESSAGES.get(name or "") or orm.CHECK_MESSAGES.get(name or "")
    if known:
        cls, field, message = known
        return getattr(errors, cls)(field, message)  # type: ignore[no-any-return]
    text = str(exc.orig).lower()
    if "foreign key" in text:
        return errors.NotFound("reference", "a record it refers to does not exist"
                                            + (f" ({name})" if name else ""))
    if "unique" in text or "duplicate key" in text:
        return errors.AlreadyRecorded(name or "record", "this is already on record")
    return None


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except IntegrityError as exc:
        mapped = _service_error(exc)
        if mapped is None:
            from tarla.domain.errors import InvalidInput

            mapped = InvalidInput("record", f"the database refused it: "  # type: ignore[assignment]
                                            f"{str(exc.orig).splitlines()[0]}")
        raise mapped from None
    except StaleDataError:
        raise errors.Conflict("version", "the record was changed by someone else since it was "
                                         "read; reload and retry") from None
    except (OverflowError, DataError) as exc:
        # an id or number no column can hold (SQLite: past 64 bits; PostgreSQL: past the
        # column's integer type): nothing on record can match it
        if isinstance(exc, DataError) and "out of range" not in str(exc.orig):
            raise
        from tarla.domain.errors import InvalidInput

        raise InvalidInput("record", "a number is out of the range the records can hold "
                                     "(no record has such an id)") from None
    except OperationalError as exc:
        if "database is locked" in str(exc.orig) or "could not serialize" in str(exc.orig):
            raise errors.Conflict("database", "the database is busy with another change; "
                                              "try again") from None
        raise


class _Translating:
    """Wraps a repository so every call maps driver errors (flushes happen inside)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with translate_errors():
                return attr(*args, **kwargs)

        return call


class SqlAlchemyUnitOfWork:
    """``before_commit`` (wired by :func:`tarla.bootstrap.bootstrap`) runs inside a writing
    transaction just before it commits, with the unit of work and the (courses, patients) it
    wrote: it keeps their stored worklist decisions current in the same transaction."""

    def __init__(self, session_factory: sessionmaker[Session] | Callable[[], Session], *,
                 before_commit: Callable[[Any, set[int], set[int]], None] | None = None,
                 locks: KeyedLocks | None = None) -> None:
        self._factory = session_factory
        self._write = True
        self._before_commit = before_commit
        self.locks = locks or KeyedLocks()
        self.session: Session | None = None

    def readonly(self) -> Self:
        self._write = False
        return self

    def __enter__(self) -> Self:
        session = self._factory()
        self.session = session
        if self._write:
            # SQLite: BEGIN IMMEDIATE (see db.py); PostgreSQL ignores the option.
            with translate_errors():
                session.connection(execution_options={WRITE_OPTION: True})
        elif session.get_bind().dialect.name == "postgresql":
            # One snapshot for every query of a read (the worklist reads several tables
            # against the courses' stored cut-offs); SQLite's read transaction already is one.
            with translate_errors():
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for name, cls in (("sites", SqlSites), ("users", SqlUsers), ("patients", SqlPatients),
                          ("courses", SqlCourses), ("administrations", SqlAdministrations),
                          ("events", SqlEvents), ("labs", SqlLabs),
                          ("preparations", SqlPreparations), ("inventory", SqlInventory),
                          ("releases", SqlReleases),
                          ("label", SqlLabel), ("audit", SqlAnchoredAudit), ("worklist", SqlWorklist),
                          ("monitoring", SqlMonitoring), ("order_sets", SqlOrderSets),
                          ("care", SqlCare), ("charges", SqlCharges)):
            setattr(self, name, _Translating(cls(session)))
        self.capacity = _Translating(SqlCapacity(session))  # type: ignore[assignment]
        self.interface_tokens = _Translating(SqlInterfaceTokens(session))  # issue 16
        self.labs_in = _Translating(SqlLabsIn(session))  # type: ignore[assignment]
        from tarla.adapters.signatures_repo import SqlSignatures  # issue 13: e-signatures

        self.signatures = _Translating(SqlSignatures(session))  # type: ignore[assignment]
        self.decisions = _Translating(SqlDecisions(session))  # issue 14
        if self._before_commit is not None:
            track_touched(session)
        return self

    def __exit__(self, *exc: object) -> None:
        session, self.session = self.session, None
        self._write = True
        if session is not None:
            try:
                session.rollback()
            finally:
                session.close()

    def flush(self) -> None:
        assert self.session is not None
        with translate_errors():
            self.session.flush()

    def commit(self) -> None:
        assert self.session is not None
        with translate_errors():
            if self._before_commit is not None:
                self.session.flush()
                courses, patients = self.session.info.pop(TOUCHED, (set(), set()))
                if courses or patients:
                    self._keep_current(courses, patients)
            self.session.commit()

    def _keep_current(self, courses: set[int], patients: set[int]) -> None:
        """The hook, in a savepoint: should it fail, what it wrote is undone and the write
        commits all the same. Nothing stale is served for it: the rows it would have replaced
        no longer match their courses' ``inputs_version`` (bumped by the database), so the
        worklist computes them when it next reads them."""
        assert self.session is not None and self._before_commit is not None
        try:
            with self.session.begin_nested():
                self._before_commit(self, courses, patients)
        except Exception:  # noqa: BLE001 - a stored decision must never block a clinical write
            _log.exception("could not recompute the stored decisions of courses %s and of "
                           "patients %s; the worklist will compute them when read",
                           sorted(courses), sorted(patients))

    def rollback(self) -> None:
        if self.session is not None:
            self.session.rollback()
