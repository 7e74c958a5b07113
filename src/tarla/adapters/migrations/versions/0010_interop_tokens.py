"""Interface credentials (issue 16): ``interface_tokens``, the API tokens of the systems that
talk to Tarla (FHIR R4 reads, CDS Hooks, labs sent in), one site and its scopes each; only the
SHA-256 of a token is stored (:mod:`tarla.adapters.interface_tokens`).

Revision ID: 0010_interop_tokens
Revises: 0009_interop_labs
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_interop_tokens"
down_revision = "0009_interop_labs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interface_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint("revoked_at IS NULL OR revoked_by IS NOT NULL",
                           name="ck_interface_tokens_revocation"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"],
                                name="fk_interface_tokens_site_id_sites"),
        sa.PrimaryKeyConstraint("id", name="pk_interface_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_interface_tokens_token_hash"),
    )
    op.create_index("ix_interface_tokens_site_id_name", "interface_tokens", ["site_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_interface_tokens_site_id_name", table_name="interface_tokens")
    op.drop_table("interface_tokens")
