"""Migrations: from an empty database to head, and forward over a database holding data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from tarla.adapters.db import make_engine
from tarla.adapters.migrate import current_revision, downgrade, head_revision, upgrade
from tarla.adapters.orm import Base
from tarla.bootstrap import bootstrap

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
        _second_course_with_a_restart(conn, now)
    engine.dispose()

    assert upgrade(url) == head_revision()
    _assert_resume_columns_backfilled(url)

    engine = make_engine(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT username, active FROM users")).one() == ("rn", True)
        assert conn.execute(text("SELECT slot, dose_mg FROM administrations WHERE id = 1")).one() == \
            ("C1D1", 1)
        conn.execute(text(
            "INSERT INTO vials (site_id, gtin, lot, serial, expiry, component, strength_mg, "
            "status, received_at) VALUES (1, '00355513059015', 'L1', 'S1', '2027-12-31', "
            "'drug', 1, 'in_stock', :t)"), {"t": now})
        assert conn.execute(text("SELECT count(*) FROM vials")).scalar() == 1
    engine.dispose()


def _second_course_with_a_restart(conn: Connection, now: datetime) -> None:
    """Patient 2: 1 mg, 10 mg a week later, then 7 weeks off: the third dose is the Table 4
    restart 1 mg step-up, which only a derivation of the whole sequence can tell. Patient 3:
    enrolled, nothing given yet."""
    for pid in (2, 3):
        conn.execute(text(
            "INSERT INTO patients (id, site_id, mrn, family_name, given_name, birth_date, "
            "diagnosis, progressed_after_platinum, version, created_at, updated_at) VALUES "
            f"({pid}, 1, 'M{pid}', 'Doe', 'J', '1958-04-02', 'ES-SCLC', true, 1, :t, :t)"),
            {"t": now})
        conn.execute(text(
            "INSERT INTO treatment_courses (id, patient_id, site_id, label_version, policy, "
            "status, start_date, next_due_date, doses_given, version, created_at, updated_at) "
            f"VALUES ({pid}, {pid}, 1, 'US-PI-2025-11', '{{}}', 'active', '2026-01-05', "
            "'2026-01-12', 0, 1, :t, :t)"), {"t": now})
    doses = ((datetime(2026, 1, 5, 14, 0, tzinfo=UTC), 1, "C1D1", 1, 1),
             (datetime(2026, 1, 12, 14, 0, tzinfo=UTC), 10, "C1D8", 1, 8),
             (datetime(2026, 3, 2, 15, 0, tzinfo=UTC), 1, "C1D15", 1, 15))
    for seq, (at, mg, slot, cycle, day) in enumerate(doses):
        conn.execute(text(
            "INSERT INTO administrations (id, course_id, slot_seq, slot, cycle, day, dose_mg, "
            "kind, started_at, nurse_id, recorded_at) VALUES "
            f"({10 + seq}, 2, {seq}, '{slot}', {cycle}, {day}, {mg}, 'planned', :t, 1, :t)"),
            {"t": at})


def _assert_resume_columns_backfilled(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, doses_given, last_slot_index, last_restart_step, last_kind, "
            "last_dose_mg FROM treatment_courses ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (1, 1, 0, 0, "planned", 1),
        (2, 3, 2, 1, "restart_step_up", 1),
        (3, 0, None, None, None, None),
    ]
    app = bootstrap(database_url=url)
    try:
        with app.uow().readonly() as uow:
            second, third = uow.courses.get(2), uow.courses.get(3)
    finally:
        app.close()
    assert second is not None and third is not None
    assert second.last_dose_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert third.last_dose_at is None


def test_migration_0003_goes_down_and_up_again_over_data(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "zz_web_0001")
    engine = make_engine(url)
    now = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, timezone, policy, created_at) "
                          "VALUES (1, 'NYC', 'NYC', 'America/New_York', '{}', :t)"), {"t": now})
        conn.execute(text("INSERT INTO users (id, username, display_name, site_id, created_at) "
                          "VALUES (1, 'rn', 'RN', 1, :t)"), {"t": now})
        conn.execute(text("INSERT INTO label_versions (id, source, registered_at) "
                          "VALUES ('US-PI-2025-11', 'x', :t)"), {"t": now})
        _second_course_with_a_restart(conn, now)
    engine.dispose()
    assert upgrade(url, "0003_course_resume") == "0003_course_resume"
    assert downgrade(url, "zz_web_0001") == "zz_web_0001"
    assert upgrade(url) == head_revision()
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT last_kind FROM treatment_courses WHERE id = 2")
                            ).scalar() == "restart_step_up"
    engine.dispose()


def test_migration_0004_turns_web_hold_overrides_into_releases_and_back(
        empty_database_url: str) -> None:
    """An override of the old web layer becomes a physician release naming the rules it named
    (slot unknown: it covers no slot, so it releases nothing by itself), and back again."""
    url = empty_database_url
    upgrade(url, "0003_course_resume")
    engine = make_engine(url)
    now = datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, timezone, policy, created_at) "
                          "VALUES (1, 'NYC', 'NYC', 'America/New_York', '{}', :t)"), {"t": now})
        conn.execute(text("INSERT INTO users (id, username, display_name, site_id, created_at) "
                          "VALUES (1, 'dr', 'Dr', 1, :t)"), {"t": now})
        conn.execute(text("INSERT INTO label_versions (id, source, registered_at) "
                          "VALUES ('US-PI-2025-11', 'x', :t)"), {"t": now})
        _second_course_with_a_restart(conn, now)
        conn.execute(text(
            "INSERT INTO web_hold_overrides (course_id, for_date, reason, decided_by, "
            "decided_at, held_by) VALUES (3, '2026-12-08', 'CRS settled', 1, :t, "
            "'T5-CRS-G2,T7-NEUT')"), {"t": now})
    engine.dispose()
    assert upgrade(url) == head_revision()
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT course_id, for_date, slot, reason, covers_rules, "
                                "covers_labs, decided_by FROM dose_releases")).one()
    engine.dispose()
    rules = row.covers_rules if isinstance(row.covers_rules, list) else json.loads(
        row.covers_rules)
    labs = row.covers_labs if isinstance(row.covers_labs, list) else json.loads(row.covers_labs)
    assert (row.course_id, str(row.for_date), row.slot, row.reason, rules, labs,
            row.decided_by) == (3, "2026-12-08", "", "CRS settled", ["T5-CRS-G2", "T7-NEUT"],
                                [], 1)
    assert downgrade(url, "0003_course_resume") == "0003_course_resume"
    engine = make_engine(url)
    with engine.connect() as conn:
        back = conn.execute(text("SELECT course_id, reason, held_by FROM web_hold_overrides")
                            ).one()
    engine.dispose()
    assert tuple(back) == (3, "CRS settled", "T5-CRS-G2,T7-NEUT")
    assert upgrade(url) == head_revision()


def test_migration_0005_keeps_old_sign_offs_on_record_uncounted_and_goes_down_and_up(
        empty_database_url: str) -> None:
    """A sign-off made before e-signatures keeps no content hash: it stays on record and does
    not count. A version registered before hashes is completed only from identical rows; here
    its one row is not the code's, so it stays without a hash (and nothing of it counts)."""
    from zoneinfo import ZoneInfo

    from tarla.services import label

    url = empty_database_url
    upgrade(url, "0004_closed_loop")
    engine = make_engine(url)
    now = datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, code, name, timezone, policy, created_at) "
                          "VALUES (1, 'NYC', 'NYC', 'America/New_York', '{}', :t)"), {"t": now})
        conn.execute(text("INSERT INTO users (id, username, display_name, site_id, created_at) "
                          "VALUES (1, 'rph', 'Rph', 1, :t)"), {"t": now})
        conn.execute(text("INSERT INTO label_versions (id, source, registered_at) "
                          "VALUES ('US-PI-2025-11', 'x', :t)"), {"t": now})
        conn.execute(text("INSERT INTO label_rules (label_version, rule_id, tag, text) "
                          "VALUES ('US-PI-2025-11', 'T3-SALINE', 'UNVERIFIED', 'old text')"))
        conn.execute(text("INSERT INTO label_signoffs (id, site_id, label_version, signed_by, "
                          "signed_at, comments) VALUES (1, 1, 'US-PI-2025-11', 1, :t, 'ok')"),
                     {"t": now})
        conn.execute(text("INSERT INTO label_signoff_rules (signoff_id, label_version, rule_id) "
                          "VALUES (1, 'US-PI-2025-11', 'T3-SALINE')"))
    engine.dispose()
    assert upgrade(url) == head_revision()
    app = bootstrap(database_url=url)
    try:
        uow = app.uow()
        with uow:
            label.ensure_label_version(uow, now)
            uow.commit()
        with app.uow().readonly() as u:
            stored = u.label.version("US-PI-2025-11")
            (old,) = u.label.signoffs(1, "US-PI-2025-11")
            signed = label.signed_rules(u, site_id=1, label_version="US-PI-2025-11",
                                        zone=ZoneInfo("America/New_York"))
    finally:
        app.close()
    assert stored is not None and (stored.drug, stored.content_hash) == ("tarlatamab", None)
    assert (old.drug, old.content_hash, old.rule_ids, old.revoked_at) == (
        "tarlatamab", None, ("T3-SALINE",), None)
    assert signed == {}
    assert downgrade(url, "0004_closed_loop") == "0004_closed_loop"
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM label_signoffs")).scalar() == 1
    engine.dispose()
    assert upgrade(url) == head_revision()
