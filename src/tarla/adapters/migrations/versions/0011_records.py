"""Trustworthy records (issue 13): placeholder, filled by the records work.

Revision ID: 0011_records
Revises: 0010_capacity
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011_records"
down_revision = "0010_capacity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
