"""Capacity planning (issue 12): a site's resources and its appointments.

- ``site_resources``: one row per site: chairs, monitoring beds, pharmacy compounding
  capacity per hour, patients per nurse, the minutes a labs draw takes before a dose, how long
  a chair stay may run past closing (overtime) and the planner's time limit (site policy, not
  label facts);
- ``site_hours``: opening hours per weekday (0 Monday .. 6 Sunday; no row: closed);
- ``site_shifts``: nurse shifts on some weekdays (``weekdays``: digits, 0 Monday;
  ``starts``/``ends`` as HH:MM, ``ends`` <= ``starts`` crosses midnight) with the nurses on
  duty;
- ``capacity_plans``: a proposal of the planner (its bookings are ``appointments`` rows with
  status ``proposed``), accepted or superseded;
- ``appointments``: one linked booking per due dose (labs -> dose -> chair observation or a
  monitoring bed), with the decision fingerprint it was planned on (``fingerprint``: action,
  dose, slot, care kind, due date), so a changed decision is flagged.

Revision ID: 0011_capacity
Revises: 0010_interop_tokens
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_capacity"
down_revision = "0010_interop_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_resources",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("chairs", sa.Integer(), nullable=False),
        sa.Column("beds", sa.Integer(), nullable=False),
        sa.Column("compounding_per_hour", sa.Integer(), nullable=False),
        sa.Column("patients_per_nurse", sa.Integer(), nullable=False),
        sa.Column("labs_minutes", sa.Integer(), nullable=False),
        sa.Column("overtime_minutes", sa.Integer(), nullable=False),
        sa.Column("plan_time_limit_s", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("chairs >= 0 AND beds >= 0 AND compounding_per_hour >= 0 "
                           "AND patients_per_nurse >= 1 AND labs_minutes >= 0 "
                           "AND overtime_minutes >= 0 AND plan_time_limit_s > 0",
                           name=op.f("ck_site_resources_counts")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_site_resources_site_id_sites")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"],
                                name=op.f("fk_site_resources_updated_by_users")),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_resources")),
    )
    op.create_table(
        "site_hours",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=False),
        sa.Column("closes", sa.String(length=5), nullable=False),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name=op.f("ck_site_hours_weekday")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_site_hours_site_id_sites")),
        sa.PrimaryKeyConstraint("site_id", "weekday", name=op.f("pk_site_hours")),
    )
    op.create_table(
        "site_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column("starts", sa.String(length=5), nullable=False),
        sa.Column("ends", sa.String(length=5), nullable=False),
        sa.Column("nurses", sa.Integer(), nullable=False),
        sa.CheckConstraint("nurses >= 0",
                           name=op.f("ck_site_shifts_counts")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_site_shifts_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_shifts")),
        sa.UniqueConstraint("site_id", "name", name=op.f("uq_site_shifts_site_id_name")),
    )
    op.create_table(
        "capacity_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("solver_status", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'accepted', 'superseded')",
                           name=op.f("ck_capacity_plans_status")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_capacity_plans_site_id_sites")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_capacity_plans_created_by_users")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"],
                                name=op.f("fk_capacity_plans_decided_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_plans")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("dose_mg", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("care_kind", sa.String(length=8), nullable=False),
        sa.Column("labs_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chair_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'accepted', 'cancelled', 'superseded')",
                           name=op.f("ck_appointments_status")),
        sa.CheckConstraint("care_kind IN ('chair', 'bed')",
                           name=op.f("ck_appointments_care_kind")),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_appointments_ends_after_start")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_appointments_site_id_sites")),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name=op.f("fk_appointments_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(["plan_id"], ["capacity_plans.id"],
                                name=op.f("fk_appointments_plan_id_capacity_plans")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_appointments_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(op.f("ix_appointments_site_id_start_at"), "appointments",
                    ["site_id", "start_at"])
    op.create_index(op.f("ix_appointments_course_id"), "appointments", ["course_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_appointments_course_id"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_site_id_start_at"), table_name="appointments")
    op.drop_table("appointments")
    op.drop_table("capacity_plans")
    op.drop_table("site_shifts")
    op.drop_table("site_hours")
    op.drop_table("site_resources")
