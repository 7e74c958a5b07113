"""Capacity planning (issue 12): placeholder.

Revision ID: 0011_capacity
Revises: 0010_interop_tokens
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011_capacity"
down_revision = "0010_interop_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
