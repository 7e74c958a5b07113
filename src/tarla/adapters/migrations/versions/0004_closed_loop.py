"""Closed-loop safety: what the services need to judge every dose and bag themselves.

- preparations freeze the engine's slot (``slot``); one open preparation per (course, slot);
- scans keep the raw text; a kit serial's drug vial is accepted once, ever;
- bench steps of the recipe (``preparation_steps``), each confirmed once;
- administrations keep the bedside scans, or the documented exception and its witness;
- adverse events: who resolved them (a physician), and a nurse's proposal awaiting one;
- intact-carton excursions can be marked frozen;
- physician releases (``dose_releases``) replace the web layer's ``web_hold_overrides``: each
  stores exactly the hold rules and missing labs it covers. Existing overrides are copied with
  the rules they named and no labs.

Revision ID: 0004_closed_loop
Revises: 0003_course_resume
"""
from __future__ import annotations

import json
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004_closed_loop"
down_revision = "0003_course_resume"
branch_labels = None
depends_on = None

_OPEN = sa.text("status NOT IN ('discarded', 'administered')")
_KIT = sa.text("verdict = 'accept' AND component = 'drug' AND serial IS NOT NULL")


def _as_date(value: object) -> object:
    """A raw SELECT on SQLite hands dates back as text; the typed insert wants a date."""
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _as_moment(value: object) -> object:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def upgrade() -> None:
    with op.batch_alter_table("preparations") as batch:
        batch.add_column(sa.Column("slot", sa.String(length=16), nullable=True))
    op.create_index("uq_preparations_open_slot", "preparations", ["course_id", "slot"],
                    unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN)
    with op.batch_alter_table("preparation_scans") as batch:
        batch.add_column(sa.Column("raw", sa.String(length=500), nullable=True))
    op.create_index("ix_preparation_scans_gtin_serial", "preparation_scans",
                    ["gtin", "serial"], unique=False)
    op.create_index("uq_preparation_scans_kit_serial", "preparation_scans", ["gtin", "serial"],
                    unique=True, sqlite_where=_KIT, postgresql_where=_KIT)
    with op.batch_alter_table("administrations") as batch:
        batch.add_column(sa.Column("patient_scan", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("bag_scan", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("scan_exception_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("witness_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_administrations_witness_id_users"), "users",
                                 ["witness_id"], ["id"])
    with op.batch_alter_table("adverse_events") as batch:
        batch.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resolution_proposed_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("resolution_proposed_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_adverse_events_resolved_by_users"), "users",
                                 ["resolved_by"], ["id"])
        batch.create_foreign_key(op.f("fk_adverse_events_resolution_proposed_by_users"),
                                 "users", ["resolution_proposed_by"], ["id"])
    with op.batch_alter_table("vial_excursions") as batch:
        batch.add_column(sa.Column("frozen", sa.Boolean(), nullable=False,
                                   server_default="0"))
    op.create_table(
        "preparation_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("preparation_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("measured_ml", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["preparation_id"], ["preparations.id"],
                                name=op.f("fk_preparation_steps_preparation_id_preparations")),
        sa.ForeignKeyConstraint(["confirmed_by"], ["users.id"],
                                name=op.f("fk_preparation_steps_confirmed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preparation_steps")),
        sa.UniqueConstraint("preparation_id", "step",
                            name=op.f("uq_preparation_steps_preparation_id_step")),
    )
    op.create_index(op.f("ix_preparation_steps_preparation_id"), "preparation_steps",
                    ["preparation_id"], unique=False)
    releases = op.create_table(
        "dose_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("for_date", sa.Date(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("covers_rules", sa.JSON(), nullable=False),
        sa.Column("covers_labs", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name=op.f("fk_dose_releases_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"],
                                name=op.f("fk_dose_releases_decided_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_releases")),
    )
    op.create_index("ix_dose_releases_course_id_for_date", "dose_releases",
                    ["course_id", "for_date"], unique=False)
    bind = op.get_bind()
    old = bind.execute(sa.text("SELECT course_id, for_date, reason, decided_by, decided_at, "
                               "held_by FROM web_hold_overrides")).all()
    if old:
        op.bulk_insert(releases, [
            {"course_id": r.course_id, "for_date": _as_date(r.for_date), "slot": "",
             "reason": r.reason, "covers_rules": [x for x in (r.held_by or "").split(",") if x],
             "covers_labs": [], "decided_by": r.decided_by,
             "decided_at": _as_moment(r.decided_at)}
            for r in old])
    op.drop_index("ix_web_hold_overrides_course_id", table_name="web_hold_overrides")
    op.drop_table("web_hold_overrides")


def downgrade() -> None:
    op.create_table(
        "web_hold_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("for_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name="fk_web_hold_overrides_course_id_treatment_courses"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"],
                                name="fk_web_hold_overrides_decided_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_web_hold_overrides"),
    )
    op.create_index("ix_web_hold_overrides_course_id", "web_hold_overrides", ["course_id"])
    bind = op.get_bind()
    for r in bind.execute(sa.text("SELECT course_id, for_date, reason, decided_by, decided_at, "
                                  "covers_rules FROM dose_releases")).all():
        rules = r.covers_rules if isinstance(r.covers_rules, list) else json.loads(
            r.covers_rules or "[]")
        bind.execute(sa.text("INSERT INTO web_hold_overrides (course_id, for_date, reason, "
                             "decided_by, decided_at, held_by) VALUES (:c, :f, :r, :d, :a, :h)"),
                     {"c": r.course_id, "f": r.for_date, "r": r.reason, "d": r.decided_by,
                      "a": r.decided_at, "h": ",".join(rules)[:200]})
    op.drop_index("ix_dose_releases_course_id_for_date", table_name="dose_releases")
    op.drop_table("dose_releases")
    op.drop_index(op.f("ix_preparation_steps_preparation_id"), table_name="preparation_steps")
    op.drop_table("preparation_steps")
    with op.batch_alter_table("vial_excursions") as batch:
        batch.drop_column("frozen")
    with op.batch_alter_table("adverse_events") as batch:
        batch.drop_constraint(op.f("fk_adverse_events_resolution_proposed_by_users"),
                              type_="foreignkey")
        batch.drop_constraint(op.f("fk_adverse_events_resolved_by_users"), type_="foreignkey")
        batch.drop_column("resolution_proposed_by")
        batch.drop_column("resolution_proposed_at")
        batch.drop_column("resolved_by")
    with op.batch_alter_table("administrations") as batch:
        batch.drop_constraint(op.f("fk_administrations_witness_id_users"), type_="foreignkey")
        batch.drop_column("witness_id")
        batch.drop_column("scan_exception_reason")
        batch.drop_column("bag_scan")
        batch.drop_column("patient_scan")
    op.drop_index("uq_preparation_scans_kit_serial", table_name="preparation_scans")
    op.drop_index("ix_preparation_scans_gtin_serial", table_name="preparation_scans")
    with op.batch_alter_table("preparation_scans") as batch:
        batch.drop_column("raw")
    op.drop_index("uq_preparations_open_slot", table_name="preparations")
    with op.batch_alter_table("preparations") as batch:
        batch.drop_column("slot")
