"""Decisions kept current (issue 14): placeholder, filled by the speed work.

Revision ID: 0012_decisions
Revises: 0011_records
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012_decisions"
down_revision = "0011_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
