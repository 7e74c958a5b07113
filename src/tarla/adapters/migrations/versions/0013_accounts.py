"""Accounts, sessions and e-signatures (issue 13):

- ``esignatures``: one row per e-signature (the independent check of a bag, a physician's
  release of a held dose, a witnessed scan exception, a discharge): the signer, their name as
  shown, the meaning ("checked", "released hold", ...), the record signed and the SHA-256 of
  its canonical content when signed, how the signer authenticated (password re-entered, or a
  sign-in within the site's fresh-authentication window) and when
  (:mod:`tarla.adapters.orm_signatures`);
- ``web_password_resets``: a one-time password an administrator issued (who, when, until
  when); while a row exists the user must choose a new password before anything else
  (:mod:`tarla.web.sessions`, a table of the web entry point).

Revision ID: 0013_accounts
Revises: 0012_records
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_accounts"
down_revision = "0012_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "esignatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("meaning", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("method IN ('password', 'fresh-sign-in')",
                           name=op.f("ck_esignatures_method")),
        sa.ForeignKeyConstraint(["signer_id"], ["users.id"],
                                name=op.f("fk_esignatures_signer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_esignatures")),
    )
    op.create_index("ix_esignatures_entity", "esignatures", ["entity_type", "entity_id"])
    op.create_table(
        "web_password_resets",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_web_password_resets_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_web_password_resets"),
    )


def downgrade() -> None:
    op.drop_table("web_password_resets")
    op.drop_index("ix_esignatures_entity", table_name="esignatures")
    op.drop_table("esignatures")
