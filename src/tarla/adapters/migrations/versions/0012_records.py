"""Anchored audit and access log (issue 13): placeholder.

Revision ID: 0012_records
Revises: 0011_capacity
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012_records"
down_revision = "0011_capacity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
