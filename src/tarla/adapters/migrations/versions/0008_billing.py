"""Charge capture and review (issue 15):

- ``user_roles.role`` admits ``billing`` (billing staff review and export the charges);
- ``billing_codes``: a site's administration codes (coding is the site's decision), each
  billed once per encounter or per started hour of the infusion;
- ``charge_reviews``: a biller's review of one encounter (an administration, or a prepared
  bag never given): accepted as computed or corrected to the mg given with a reason, or
  reopened; ``exported_at``/``export_batch`` make the export idempotent.

Revision ID: 0008_billing
Revises: 0007_care
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_billing"
down_revision = "0007_care"
branch_labels = None
depends_on = None

_OLD_ROLES = "role IN ('nurse', 'pharmacist', 'physician', 'scheduler', 'admin')"
_NEW_ROLES = "role IN ('nurse', 'pharmacist', 'physician', 'scheduler', 'admin', 'billing')"


def _roles(check: str) -> None:
    with op.batch_alter_table("user_roles") as batch:
        batch.drop_constraint(op.f("ck_user_roles_role"), type_="check")
        batch.create_check_constraint(op.f("ck_user_roles_role"), check)


def upgrade() -> None:
    _roles(_NEW_ROLES)
    op.create_table(
        "billing_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("per", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("per IN ('encounter', 'hour')", name=op.f("ck_billing_codes_per")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_billing_codes_site_id_sites")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_billing_codes_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_codes")),
        sa.UniqueConstraint("site_id", "code", name=op.f("uq_billing_codes_site_id_code")),
    )
    op.create_table(
        "charge_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("encounter_key", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("corrected_mg", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("export_batch", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('accepted', 'open')",
                           name=op.f("ck_charge_reviews_status")),
        sa.CheckConstraint("corrected_mg IS NULL OR reason IS NOT NULL",
                           name=op.f("ck_charge_reviews_correction_has_reason")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_charge_reviews_site_id_sites")),
        sa.ForeignKeyConstraint(["reviewed_by"], ["users.id"],
                                name=op.f("fk_charge_reviews_reviewed_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_reviews")),
        sa.UniqueConstraint("site_id", "encounter_key",
                            name=op.f("uq_charge_reviews_site_id_encounter_key")),
    )


def downgrade() -> None:
    op.drop_table("charge_reviews")
    op.drop_table("billing_codes")
    op.execute("DELETE FROM user_roles WHERE role = 'billing'")
    _roles(_OLD_ROLES)
