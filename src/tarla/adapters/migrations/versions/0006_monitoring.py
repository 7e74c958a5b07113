"""Monitoring, escalation and order sets (issue 11):

- ``vital_signs``: one charted set of vital signs for a course (optionally tied to a dose),
  the ASTCT CRS grade the core proposed from it and the grade the nurse charted (a correction
  carries its reason), and the CRS assessment it was charted as (grade >= 1);
- ``alerts``: an escalation raised in the same transaction as the vitals set or assessment
  that caused it, its acknowledgement by a physician, and the outcome of the site's outbound
  webhook (recorded after the commit; a failure never removes the alert);
- ``order_sets``: a site's management steps per event and grade range, versioned (an edit is
  a new row), effective only once signed off; at most one active row per event and range.

Revision ID: 0006_monitoring
Revises: 0005_label_signoff
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_monitoring"
down_revision = "0005_label_signoff"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("active")


def upgrade() -> None:
    op.create_table(
        "vital_signs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("nurse_id", sa.Integer(), nullable=False),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        sa.Column("systolic_mmhg", sa.Integer(), nullable=False),
        sa.Column("diastolic_mmhg", sa.Integer(), nullable=False),
        sa.Column("heart_rate", sa.Integer(), nullable=False),
        sa.Column("respiratory_rate", sa.Integer(), nullable=True),
        sa.Column("spo2", sa.Integer(), nullable=False),
        sa.Column("oxygen_device", sa.String(length=32), nullable=False),
        sa.Column("oxygen_l_min", sa.Float(), nullable=True),
        sa.Column("hypotension", sa.Boolean(), nullable=False),
        sa.Column("vasopressors", sa.Integer(), nullable=False),
        sa.Column("vasopressin", sa.Boolean(), nullable=False),
        sa.Column("fever_masked", sa.Boolean(), nullable=False),
        sa.Column("proposed_crs_grade", sa.Integer(), nullable=False),
        sa.Column("charted_crs_grade", sa.Integer(), nullable=False),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("proposed_crs_grade BETWEEN 0 AND 5",
                           name=op.f("ck_vital_signs_proposed_grade")),
        sa.CheckConstraint("charted_crs_grade BETWEEN 0 AND 5",
                           name=op.f("ck_vital_signs_charted_grade")),
        sa.CheckConstraint("charted_crs_grade = proposed_crs_grade OR "
                           "correction_reason IS NOT NULL",
                           name=op.f("ck_vital_signs_correction_has_reason")),
        sa.CheckConstraint("vasopressors >= 0", name=op.f("ck_vital_signs_vasopressors")),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name=op.f("fk_vital_signs_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(["administration_id"], ["administrations.id"],
                                name=op.f("fk_vital_signs_administration_id_administrations")),
        sa.ForeignKeyConstraint(["nurse_id"], ["users.id"],
                                name=op.f("fk_vital_signs_nurse_id_users")),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"],
                                name=op.f("fk_vital_signs_assessment_id_assessments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_signs")),
    )
    op.create_index("ix_vital_signs_course_taken", "vital_signs", ["course_id", "taken_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("infusion_running", sa.Boolean(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_status", sa.String(length=16), nullable=True),
        sa.Column("webhook_attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('crs', 'icans', 'fever')", name=op.f("ck_alerts_kind")),
        sa.CheckConstraint("source IN ('vitals', 'assessment')", name=op.f("ck_alerts_source")),
        sa.CheckConstraint("webhook_status IS NULL OR webhook_status IN "
                           "('pending', 'delivered', 'failed')",
                           name=op.f("ck_alerts_webhook_status")),
        sa.CheckConstraint("acknowledged_at IS NULL OR acknowledged_by IS NOT NULL",
                           name=op.f("ck_alerts_acknowledgement")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_alerts_site_id_sites")),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name=op.f("fk_alerts_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_alerts_patient_id_patients")),
        sa.ForeignKeyConstraint(["administration_id"], ["administrations.id"],
                                name=op.f("fk_alerts_administration_id_administrations")),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["users.id"],
                                name=op.f("fk_alerts_acknowledged_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_site_raised", "alerts", ["site_id", "raised_at"])
    op.create_index("ix_alerts_course_id", "alerts", ["course_id"])
    op.create_table(
        "order_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("min_grade", sa.Integer(), nullable=False),
        sa.Column("max_grade", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("event IN ('crs', 'icans')", name=op.f("ck_order_sets_event")),
        sa.CheckConstraint("min_grade BETWEEN 1 AND 5 AND max_grade BETWEEN min_grade AND 5",
                           name=op.f("ck_order_sets_grades")),
        sa.CheckConstraint("NOT active OR signed_at IS NOT NULL OR created_by IS NULL",
                           name=op.f("ck_order_sets_active_is_signed")),
        sa.CheckConstraint("revoked_at IS NULL OR (revoked_by IS NOT NULL AND "
                           "revoke_reason IS NOT NULL)", name=op.f("ck_order_sets_revocation")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_order_sets_site_id_sites")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_order_sets_created_by_users")),
        sa.ForeignKeyConstraint(["signed_by"], ["users.id"],
                                name=op.f("fk_order_sets_signed_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"],
                                name=op.f("fk_order_sets_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_sets")),
        sa.UniqueConstraint("site_id", "event", "min_grade", "max_grade", "version",
                            name=op.f("uq_order_sets_site_id_event_min_grade_max_grade_version")),
    )
    op.create_index("uq_order_sets_active", "order_sets",
                    ["site_id", "event", "min_grade", "max_grade"], unique=True,
                    sqlite_where=_ACTIVE, postgresql_where=_ACTIVE)


def downgrade() -> None:
    op.drop_index("uq_order_sets_active", table_name="order_sets")
    op.drop_table("order_sets")
    op.drop_index("ix_alerts_course_id", table_name="alerts")
    op.drop_index("ix_alerts_site_raised", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_vital_signs_course_taken", table_name="vital_signs")
    op.drop_table("vital_signs")
