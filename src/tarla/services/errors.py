"""Errors of the service layer, below the core's tree (``tarla.domain.errors``).

    TarlaError
     ├── InvalidInput (ValueError)            core: the caller sent something wrong
     ├── NotEnoughInformation (LookupError)   core: valid, but cannot decide
     └── ServiceError                         a use case refused to change the records
          ├── NotFound (LookupError)          no such patient / course / user ...
          ├── Conflict                        someone else changed it first (stale version)
          │    └── AlreadyRecorded            this dose slot / key / MRN is already on record
          ├── Refused                         a safety gate of the core said no (rules named)
          └── Forbidden (PermissionError)     the actor may not do this

Every error names a ``field`` and a human ``message`` like the core's errors, so each edge maps
them in one place (CLI: exit 1 for refusals; HTTP: 404/409/403).
"""

from __future__ import annotations

from tarla.domain.errors import TarlaError

__all__ = ["ServiceError", "NotFound", "Conflict", "AlreadyRecorded", "Forbidden", "Refused"]


class ServiceError(TarlaError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(ServiceError, LookupError):
    """The record named by ``field`` does not exist."""


class Conflict(ServiceError):
    """The record changed since the caller read it (optimistic version check), or a
    concurrent transaction won: reload and try again."""


class AlreadyRecorded(Conflict):
    """The thing is already on record (a dose slot given, an MRN taken): nothing was written."""


class Refused(ServiceError):
    """A gate of :mod:`tarla.domain.release` refused the act: ``refusals`` lists every
    (rule id, field, text); ``field``/``message`` are the first. Nothing was written."""

    def __init__(self, refusals: list[tuple[str, str, str]] | tuple[tuple[str, str, str], ...],
                 ) -> None:
        if not refusals:
            raise ValueError("a refusal needs at least one reason")
        rule, field, text = refusals[0]
        message = "; ".join(f"{t} [{r}]" for r, f, t in refusals if f == field)
        super().__init__(field, message)
        self.refusals = tuple(refusals)
        self.rules = tuple(dict.fromkeys(r for r, _, _ in refusals))

    @classmethod
    def of(cls, gate: object) -> Refused:
        """From a :class:`tarla.domain.release.Gate` (its refusals)."""
        return cls([(r.rule, r.field, r.text) for r in gate.refusals])  # type: ignore[attr-defined]


class Forbidden(ServiceError, PermissionError):
    """The actor lacks the role, or a four-eyes rule forbids it (checker = preparer)."""
