"""Courses store the core's derivation of their last dose (slot, kind, restart step, dose), so
the worklist resumes from it instead of re-deriving every dose of every due course.

A data migration: every course with doses on record is backfilled by deriving its slots with
the core (``tarla.domain.course.derive_slots``) in its site's time zone, exactly as
``refresh_course`` does after each recorded dose. A course whose history the core refuses (or
whose site zone is unknown) keeps NULL columns: the worklist then reads its whole history, and
the next write to the course fills them in.

Revision ID: 0003_course_resume
Revises: zz_web_0001
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision = "0003_course_resume"
down_revision = "zz_web_0001"
branch_labels = None
depends_on = None

_KINDS = "'planned', 'restart_continue', 'restart_step_up'"
_CHUNK = 500

_courses = sa.table("treatment_courses", sa.column("id", sa.Integer()),
                    sa.column("site_id", sa.Integer()),
                    sa.column("last_dose_at", sa.DateTime(timezone=True)),
                    sa.column("doses_given", sa.Integer()),
                    sa.column("last_slot_index", sa.Integer()),
                    sa.column("last_restart_step", sa.Integer()),
                    sa.column("last_kind", sa.String()),
                    sa.column("last_dose_mg", sa.Integer()))
_sites = sa.table("sites", sa.column("id", sa.Integer()), sa.column("timezone", sa.String()))
_admins = sa.table("administrations", sa.column("course_id", sa.Integer()),
                   sa.column("started_at", sa.DateTime(timezone=True)),
                   sa.column("dose_mg", sa.Integer()), sa.column("slot_seq", sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table("treatment_courses") as batch:
        batch.add_column(sa.Column("last_slot_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_restart_step", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("last_dose_mg", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_treatment_courses_last_kind"), f"last_kind IS NULL OR last_kind IN ({_KINDS})")
        batch.create_check_constraint(
            op.f("ck_treatment_courses_resume_point"), "last_slot_index IS NULL OR (last_dose_at IS NOT NULL AND "
                            "last_dose_mg IS NOT NULL AND last_kind IS NOT NULL AND "
                            "last_restart_step IS NOT NULL)")
    op.create_index("ix_administrations_course_started", "administrations",
                    ["course_id", "started_at"], unique=False)
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_administrations_course_started", table_name="administrations")
    with op.batch_alter_table("treatment_courses") as batch:
        batch.drop_constraint(op.f("ck_treatment_courses_resume_point"), type_="check")
        batch.drop_constraint(op.f("ck_treatment_courses_last_kind"), type_="check")
        batch.drop_column("last_dose_mg")
        batch.drop_column("last_kind")
        batch.drop_column("last_restart_step")
        batch.drop_column("last_slot_index")


def _utc(value: datetime) -> datetime:
    """What the column holds, as aware UTC (SQLite hands back the naive UTC it stored)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _backfill(conn: sa.Connection) -> None:
    from tarla.domain import course as core
    from tarla.domain.errors import InvalidInput

    sqlite = conn.dialect.name == "sqlite"
    zones: dict[str, ZoneInfo | None] = {}
    course_zone: dict[int, ZoneInfo | None] = {}
    for course_id, tz in conn.execute(
            sa.select(_courses.c.id, _sites.c.timezone)
            .join(_sites, _sites.c.id == _courses.c.site_id).order_by(_courses.c.id)):
        if tz not in zones:
            try:
                zones[tz] = ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                zones[tz] = None
        course_zone[course_id] = zones[tz]
    ids = list(course_zone)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        given: dict[int, list[core.Administration]] = defaultdict(list)
        for course_id, started_at, dose_mg in conn.execute(
                sa.select(_admins.c.course_id, _admins.c.started_at, _admins.c.dose_mg)
                .where(_admins.c.course_id.in_(chunk))
                .order_by(_admins.c.course_id, _admins.c.slot_seq)):
            given[course_id].append(core.Administration(_utc(started_at), dose_mg))
        updates = []
        for course_id, doses in given.items():
            zone = course_zone[course_id]
            if zone is None:
                continue
            try:
                history, _ = core.derive_slots(doses, zone)
            except InvalidInput:
                continue  # left NULL: the worklist reads this course's whole history
            last = history[-1]
            at = last.started_at.astimezone(UTC)
            updates.append({"cid": course_id, "at": at.replace(tzinfo=None) if sqlite else at,
                            "n": len(history), "slot": last.slot.index,
                            "step": last.restart_step, "kind": str(last.kind),
                            "mg": last.dose_mg})
        if updates:
            conn.execute(
                _courses.update().where(_courses.c.id == sa.bindparam("cid")).values(
                    last_dose_at=sa.bindparam("at"), doses_given=sa.bindparam("n"),
                    last_slot_index=sa.bindparam("slot"), last_restart_step=sa.bindparam("step"),
                    last_kind=sa.bindparam("kind"), last_dose_mg=sa.bindparam("mg")),
                updates)
