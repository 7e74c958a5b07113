"""The in-memory interface-token repository (issue 16) of
:class:`tarla.services.fakes.FakeUnitOfWork` (same calls as
:class:`tarla.adapters.interface_tokens.SqlInterfaceTokens`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from tarla.services.errors import AlreadyRecorded
from tarla.services.interfaces import InterfaceTokenRecord

__all__ = ["FakeInterfaceTokens"]


class FakeInterfaceTokens:
    def __init__(self, uow: Any) -> None:
        self.u = uow

    def t(self) -> Any:
        from tarla.services.fakes import _Table

        tables = self.u.state.tables
        if "interface_tokens" not in tables:  # created on first use, kept by commit
            tables["interface_tokens"] = _Table()
        return tables["interface_tokens"]

    def add(self, token: InterfaceTokenRecord) -> InterfaceTokenRecord:
        if self.t().where(token_hash=token.token_hash):
            raise AlreadyRecorded("token", "this token is already on record")
        return self.t().add(token)  # type: ignore[no-any-return]

    def get(self, token_id: int) -> InterfaceTokenRecord | None:
        return self.t().rows.get(token_id)  # type: ignore[no-any-return]

    def by_hash(self, token_hash: str) -> InterfaceTokenRecord | None:
        found = self.t().where(token_hash=token_hash)
        return found[0] if found else None

    def for_site(self, site_id: int | None) -> list[InterfaceTokenRecord]:
        rows = self.t().rows.values() if site_id is None else self.t().where(site_id=site_id)
        return sorted(rows, key=lambda r: r.id)

    def revoke(self, token_id: int, at: datetime, by: str) -> None:
        rows = self.t().rows
        rows[token_id] = dataclasses.replace(rows[token_id], revoked_at=at, revoked_by=by)

    def touch(self, token_id: int, at: datetime) -> None:
        rows = self.t().rows
        rows[token_id] = dataclasses.replace(rows[token_id], last_used_at=at)
