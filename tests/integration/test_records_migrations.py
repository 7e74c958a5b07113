"""Migrations: from an empty database to head, and forward over a database holding data."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from tarla.adapters.db import make_engine
from tarla.adapters.migrate import current_revision, head_revision, upgrade
from tarla.adapters.orm import Base

FIRST = "0001_initial"


def _ours(diff: object) -> bool:
    """Tables owned by other entry points (web sessions) are not in our metadata."""
    return "web_" not in repr(diff)


def test_migrates_an_empty_database_to_the_models(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    assert upgrade(empty_database_url) == head_revision()
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                 Base.metadata)
    engine.dispose()
    assert [d for d in diffs if _ours(d)] == []


def test_migrates_forward_over_a_database_holding_data(empty_database_url: str) -> None:
    url = empty_database_url
    assert upgrade(url, FIRST) == FIRST
    now = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, timezone, policy, created_at) "
                          "VALUES (1, 'NYC', 'NYC', 'America/New_York', '{}', :t)"), {"t": now})
        conn.execute(text("INSERT INTO users (id, username, display_name, site_id, created_at) "
                          "VALUES (1, 'rn', 'RN', 1, :t)"), {"t": now})
        conn.execute(text("INSERT INTO label_versions (id, source, registered_at) "
                          "VALUES ('US-PI-2025-11', 'x', :t)"), {"t": now})
        conn.execute(text(
            "INSERT INTO patients (id, site_id, mrn, family_name, given_name, birth_date, "
            "diagnosis, progressed_after_platinum, version, created_at, updated_at) VALUES "
            "(1, 1, 'M1', 'Doe', 'J', '1958-04-02', 'ES-SCLC', true, 1, :t, :t)"), {"t": now})
        conn.execute(text(
            "INSERT INTO treatment_courses (id, patient_id, site_id, label_version, policy, "
            "status, start_date, next_due_date, doses_given, version, created_at, updated_at) "
            "VALUES (1, 1, 1, 'US-PI-2025-11', '{}', 'active', '2026-01-05', '2026-01-12', 1, "
            "1, :t, :t)"), {"t": now})
        conn.execute(text(
            "INSERT INTO administrations (id, course_id, slot_seq, slot, cycle, day, dose_mg, "
            "kind, started_at, nurse_id, recorded_at) VALUES "
            "(1, 1, 0, 'C1D1', 1, 1, 1, 'planned', :t, 1, :t)"), {"t": now})
    engine.dispose()

    assert upgrade(url) == head_revision()

    engine = make_engine(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT username, active FROM users")).one() == ("rn", True)
        assert conn.execute(text("SELECT slot, dose_mg FROM administrations")).one() == \
            ("C1D1", 1)
        conn.execute(text(
            "INSERT INTO vials (site_id, gtin, lot, serial, expiry, component, strength_mg, "
            "status, received_at) VALUES (1, '00355513059015', 'L1', 'S1', '2027-12-31', "
            "'drug', 1, 'in_stock', :t)"), {"t": now})
        assert conn.execute(text("SELECT count(*) FROM vials")).scalar() == 1
    engine.dispose()
