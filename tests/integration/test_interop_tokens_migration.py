"""Migration 0010_interop_tokens (issue 16) on SQLite and PostgreSQL: the table of interface
tokens comes, holds a token, goes away on downgrade and comes back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from tarla.adapters.db import make_engine
from tarla.adapters.migrate import current_revision, downgrade, upgrade

HERE, BEFORE = "0010_interop_tokens", "0009_interop_labs"


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_interface_tokens_table_goes_down_and_up_again(empty_database_url: str) -> None:
    url = empty_database_url
    assert upgrade(url, HERE) == HERE
    engine = make_engine(url)
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (code, name, timezone, policy, created_at) "
                          "VALUES ('DEMO', 'Demo', 'America/New_York', '{}', :now)"),
                     {"now": now})
        conn.execute(text(
            "INSERT INTO interface_tokens (site_id, name, scopes, token_hash, token_prefix, "
            "created_at, created_by) VALUES ((SELECT id FROM sites), 'ehr', 'read', :h, "
            "'tarla_abcdef', :now, 'operator')"), {"h": "a" * 64, "now": now})
        rows = conn.execute(text("SELECT name, scopes FROM interface_tokens")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("ehr", "read")]
    downgrade(url, BEFORE)
    assert current_revision(url) == BEFORE and "interface_tokens" not in _tables(url)
    assert upgrade(url, HERE) == HERE and "interface_tokens" in _tables(url)
