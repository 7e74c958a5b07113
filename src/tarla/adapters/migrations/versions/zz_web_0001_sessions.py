"""Web app: server-side sessions, failed sign-in attempts (tarla.web.sessions) and physician
overrides of a hold (tarla.web.overrides).

The tables are defined in :mod:`tarla.web.sessions` (a metadata of their own, not
``tarla.adapters.orm.Base``): the web entry point owns them.

Revision ID: zz_web_0001
Revises: 0002_inventory
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "zz_web_0001"
down_revision = "0002_inventory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_web_sessions_user_id_users"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "web_login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_login_attempts"),
    )
    op.create_index("ix_web_login_attempts_username_ip_at", "web_login_attempts",
                    ["username", "ip", "at"])
    op.create_table(
        "web_hold_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("for_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_courses.id"],
                                name="fk_web_hold_overrides_course_id_treatment_courses"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"],
                                name="fk_web_hold_overrides_decided_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_web_hold_overrides"),
    )
    op.create_index("ix_web_hold_overrides_course_id", "web_hold_overrides", ["course_id"])


def downgrade() -> None:
    op.drop_index("ix_web_hold_overrides_course_id", table_name="web_hold_overrides")
    op.drop_table("web_hold_overrides")
    op.drop_index("ix_web_login_attempts_username_ip_at", table_name="web_login_attempts")
    op.drop_table("web_login_attempts")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
