"""Labs in by interface (issue 16):

- ``interface_messages``: every message as it arrived (HL7 v2 ORU^R01 or a FHIR
  Observation), with the acknowledgement sent, verbatim; unique per site, interface and
  control id, so a repeat is answered with the first acknowledgement and writes nothing;
- ``lab_queue_items``: the work queue of messages that could not be applied as they came
  (no patient with the MRN / date of birth, a LOINC code the site does not map), until a
  nurse applies or dismisses them with a reason;
- ``site_loinc_codes``: a site's own LOINC rows over the seeded table (a code mapped to a
  test, or ignored on purpose with ``test`` NULL).

Revision ID: 0009_interop_labs
Revises: 0008_billing
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_interop_labs"
down_revision = "0008_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interface_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("interface", sa.String(length=64), nullable=False),
        sa.Column("control_id", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("ack", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_field", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("lab_ids", sa.JSON(), nullable=False),
        sa.CheckConstraint("ack_code IN ('AA', 'AE', 'AR')",
                           name=op.f("ck_interface_messages_ack_code")),
        sa.CheckConstraint("status IN ('applied', 'queued', 'refused')",
                           name=op.f("ck_interface_messages_status")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_interface_messages_site_id_sites")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_interface_messages_patient_id_patients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interface_messages")),
        sa.UniqueConstraint("site_id", "interface", "control_id",
                            name=op.f("uq_interface_messages_site_id_interface_control_id")),
    )
    op.create_table(
        "lab_queue_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mrn", sa.String(length=64), nullable=True),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("kind IN ('unmatched_patient', 'unknown_code')",
                           name=op.f("ck_lab_queue_items_kind")),
        sa.CheckConstraint("status IN ('open', 'applied', 'dismissed')",
                           name=op.f("ck_lab_queue_items_status")),
        sa.CheckConstraint("status = 'open' OR (resolved_by IS NOT NULL AND resolution IS NOT "
                           "NULL)", name=op.f("ck_lab_queue_items_resolved_has_reason")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_lab_queue_items_site_id_sites")),
        sa.ForeignKeyConstraint(["message_id"], ["interface_messages.id"],
                                name=op.f("fk_lab_queue_items_message_id_interface_messages")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"],
                                name=op.f("fk_lab_queue_items_patient_id_patients")),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"],
                                name=op.f("fk_lab_queue_items_resolved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_queue_items")),
    )
    op.create_index(op.f("ix_lab_queue_items_site_id_status"), "lab_queue_items",
                    ["site_id", "status"])
    op.create_table(
        "site_loinc_codes",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("loinc", sa.String(length=16), nullable=False),
        sa.Column("test", sa.String(length=32), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_site_loinc_codes_site_id_sites")),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"],
                                name=op.f("fk_site_loinc_codes_updated_by_users")),
        sa.PrimaryKeyConstraint("site_id", "loinc", name=op.f("pk_site_loinc_codes")),
    )


def downgrade() -> None:
    op.drop_table("site_loinc_codes")
    op.drop_index(op.f("ix_lab_queue_items_site_id_status"), table_name="lab_queue_items")
    op.drop_table("lab_queue_items")
    op.drop_table("interface_messages")
