"""The care around each dose (issue 11, parts 4 and 5):

- ``medication_administrations``: a premedication or post-infusion fluid charted for one dose
  of a course (label-facts §3 "Before and around each dose"), named by its slot (a
  premedication is charted before the dose exists) and, once known, its administration; or a
  physician's waiver of a premedication for that dose, with the reason;
- ``discharges``: the discharge after one dose (one per administration) with its checklist as
  charted: who was counselled when, the caregiver and phone number and the stay address for
  the 48 h window, the no-driving and contraception counselling, and the rule ids applied;
- ``patients.reproductive_potential``: whether the patient is of reproductive potential
  (NULL: not recorded), which decides the contraception item of the discharge checklist.

Revision ID: 0007_care
Revises: 0006_monitoring
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_care"
down_revision = "0006_monitoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients") as batch:
        batch.add_column(sa.Column("reproductive_potential", sa.Boolean(), nullable=True))
    op.create_table(
        "medication_administrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=True),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("drug", sa.String(length=100), nullable=False),
        sa.Column("dose", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nurse_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waived_by", sa.Integer(), nullable=True),
        sa.Column("waiver_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('premedication', 'post_infusion')",
                           name=op.f("ck_medication_administrations_kind")),
        sa.CheckConstraint("(nurse_id IS NOT NULL AND given_at IS NOT NULL) OR "
                           "(waived_by IS NOT NULL AND waiver_reason IS NOT NULL)",
                           name=op.f("ck_medication_administrations_given_or_waived")),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= given_at",
                           name=op.f("ck_medication_administrations_ended_after_given")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["treatment_courses.id"],
            name=op.f("fk_medication_administrations_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(
            ["administration_id"], ["administrations.id"],
            name=op.f("fk_medication_administrations_administration_id_administrations")),
        sa.ForeignKeyConstraint(["nurse_id"], ["users.id"],
                                name=op.f("fk_medication_administrations_nurse_id_users")),
        sa.ForeignKeyConstraint(["waived_by"], ["users.id"],
                                name=op.f("fk_medication_administrations_waived_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_administrations")),
    )
    op.create_index("ix_medication_administrations_course_slot", "medication_administrations",
                    ["course_id", "slot"])
    op.create_table(
        "discharges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("discharged_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_counselled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caregiver_counselled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("no_driving_counselled", sa.Boolean(), nullable=False),
        sa.Column("contraception_counselled", sa.Boolean(), nullable=True),
        sa.Column("caregiver_name", sa.String(length=200), nullable=True),
        sa.Column("caregiver_phone", sa.String(length=64), nullable=True),
        sa.Column("stay_address", sa.Text(), nullable=True),
        sa.Column("stay_address_confirmed", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name=op.f("fk_discharges_course_id_treatment_courses")),
        sa.ForeignKeyConstraint(["administration_id"], ["administrations.id"],
                                name=op.f("fk_discharges_administration_id_administrations")),
        sa.ForeignKeyConstraint(["discharged_by"], ["users.id"],
                                name=op.f("fk_discharges_discharged_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discharges")),
        sa.UniqueConstraint("administration_id", name=op.f("uq_discharges_administration_id")),
    )
    op.create_index(op.f("ix_discharges_course_id"), "discharges", ["course_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_discharges_course_id"), table_name="discharges")
    op.drop_table("discharges")
    op.drop_index("ix_medication_administrations_course_slot",
                  table_name="medication_administrations")
    op.drop_table("medication_administrations")
    with op.batch_alter_table("patients") as batch:
        batch.drop_column("reproductive_potential")
