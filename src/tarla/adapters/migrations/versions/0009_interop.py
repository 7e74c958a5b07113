"""Interoperability (issue 16): placeholder, filled by the interop work.

Revision ID: 0009_interop
Revises: 0008_billing
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_interop"
down_revision = "0008_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
