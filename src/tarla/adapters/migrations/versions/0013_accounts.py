"""Accounts, sessions and e-signatures (issue 13): placeholder.

Revision ID: 0013_accounts
Revises: 0012_records
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0013_accounts"
down_revision = "0012_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
