"""Capacity planning (issue 12): placeholder, filled by the capacity work.

Revision ID: 0010_capacity
Revises: 0009_interop
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010_capacity"
down_revision = "0009_interop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
