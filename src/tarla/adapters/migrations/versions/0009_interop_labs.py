"""Labs in by interface (issue 16): placeholder.

Revision ID: 0009_interop_labs
Revises: 0008_billing
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_interop_labs"
down_revision = "0008_billing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
