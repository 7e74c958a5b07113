"""Interface credentials (issue 16): placeholder.

Revision ID: 0010_interop_tokens
Revises: 0009_interop_labs
"""
from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010_interop_tokens"
down_revision = "0009_interop_labs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
