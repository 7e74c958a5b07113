"""The label as a signed, versioned value (label-facts §8, §9):

- ``label_versions``: the drug, the content hash of the rows (sha256, see
  :mod:`tarla.label.value`), the base version of a revision and who registered it. Versions
  registered before this migration keep a NULL hash until the app completes them from the
  code's rows (only if the stored rows are exactly those rows);
- ``label_rules``: each row's table and its other fields (canonical JSON), so a stored version
  can be compared and re-hashed;
- ``label_signoffs``: the drug and the content hash signed (an e-signature pinned to the rows
  read), and the revocation (when, by whom, why). Sign-offs made before this migration keep a
  NULL hash: they were not e-signatures and do not count as one;
- ``site_label_versions``: the version a site's new courses start on (no row: built in).

Revision ID: 0005_label_signoff
Revises: 0004_closed_loop
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_label_signoff"
down_revision = "0004_closed_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("label_versions") as batch:
        batch.add_column(sa.Column("drug", sa.String(length=64), nullable=False,
                                   server_default="tarlatamab"))
        batch.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("base_version", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("registered_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_label_versions_base_version_label_versions"),
                                 "label_versions", ["base_version"], ["id"])
        batch.create_foreign_key(op.f("fk_label_versions_registered_by_users"), "users",
                                 ["registered_by"], ["id"])
    with op.batch_alter_table("label_rules") as batch:
        batch.add_column(sa.Column("label_table", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("fields_json", sa.Text(), nullable=True))
    with op.batch_alter_table("label_signoffs") as batch:
        batch.add_column(sa.Column("drug", sa.String(length=64), nullable=False,
                                   server_default="tarlatamab"))
        batch.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("revoke_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(op.f("fk_label_signoffs_revoked_by_users"), "users",
                                 ["revoked_by"], ["id"])
        batch.create_check_constraint(
            op.f("ck_label_signoffs_revocation"),
            "revoked_at IS NULL OR (revoked_by IS NOT NULL AND revoke_reason IS NOT NULL)")
    op.create_table(
        "site_label_versions",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=64), nullable=False),
        sa.Column("label_version", sa.String(length=32), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name=op.f("fk_site_label_versions_site_id_sites")),
        sa.ForeignKeyConstraint(["label_version"], ["label_versions.id"],
                                name=op.f("fk_site_label_versions_label_version_label_versions")),
        sa.ForeignKeyConstraint(["set_by"], ["users.id"],
                                name=op.f("fk_site_label_versions_set_by_users")),
        sa.PrimaryKeyConstraint("site_id", "drug", name=op.f("pk_site_label_versions")),
    )


def downgrade() -> None:
    op.drop_table("site_label_versions")
    with op.batch_alter_table("label_signoffs") as batch:
        batch.drop_constraint(op.f("ck_label_signoffs_revocation"), type_="check")
        batch.drop_constraint(op.f("fk_label_signoffs_revoked_by_users"), type_="foreignkey")
        for column in ("revoke_reason", "revoked_by", "revoked_at", "content_hash", "drug"):
            batch.drop_column(column)
    with op.batch_alter_table("label_rules") as batch:
        batch.drop_column("fields_json")
        batch.drop_column("label_table")
    with op.batch_alter_table("label_versions") as batch:
        batch.drop_constraint(op.f("fk_label_versions_registered_by_users"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_label_versions_base_version_label_versions"),
                              type_="foreignkey")
        for column in ("registered_by", "base_version", "content_hash", "drug"):
            batch.drop_column(column)
