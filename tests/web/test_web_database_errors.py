"""Database errors as HTTP answers (issue 13): a database that cannot take the request now
(locked, full, read-only, timed out, unreachable) is 503 with ``Retry-After``; a value it
refuses is 422; a unique key taken meanwhile is 409; anything else stays a bug (500)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InternalError,
    OperationalError,
    ProgrammingError,
)

from tarla.web.problems import _database_problem


class _Driver(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("error", "status"), [
    (OperationalError("UPDATE", {}, _Driver("database is locked")), 503),
    (OperationalError("INSERT", {}, _Driver("database or disk is full")), 503),
    (OperationalError("INSERT", {}, _Driver("attempt to write a readonly database")), 503),
    (InternalError("INSERT", {}, _Driver("cannot execute INSERT in a read-only transaction",
                                         "25006")), 503),
    (OperationalError("UPDATE", {}, _Driver("canceling statement due to lock timeout",
                                            "55P03")), 503),
    (OperationalError("INSERT", {}, _Driver("could not extend file: No space left", "53100")),
     503),
    (DBAPIError("SELECT", {}, _Driver("canceling statement due to statement timeout",
                                      "57014")), 503),
    (DataError("INSERT", {}, _Driver("value too long for type character varying(64)",
                                     "22001")), 422),
    (IntegrityError("INSERT", {}, _Driver("duplicate key value", "23505")), 409),
], ids=["sqlite locked", "sqlite disk full", "sqlite read-only", "pg read-only",
        "pg lock timeout", "pg disk full", "pg statement timeout", "pg value too long",
        "pg unique key"])
def test_a_database_error_is_answered_with_its_status(error: Exception, status: int) -> None:
    found = _database_problem(error)
    assert found is not None and found[0] == status
    assert "nothing was saved" in found[2]


def test_a_programming_error_is_not_disguised_as_an_outage() -> None:
    assert _database_problem(ProgrammingError("SELECT", {}, _Driver("syntax error",
                                                                    "42601"))) is None
