"""sla pause, next response, digests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=50), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_digests")),
        sa.UniqueConstraint("tier", "day", name=op.f("uq_sla_digests_tier_day")),
    )
    with op.batch_alter_table("sla_timers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_sla_timers_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_sla_timers_state"), "state IN ('pending', 'paused', 'fired', 'cancelled')"
        )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_response_due", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("first_tier", sa.String(length=50), nullable=True))
    op.execute("UPDATE tickets SET first_tier = tier")


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("first_tier")
        batch_op.drop_column("next_response_due")
    with op.batch_alter_table("sla_timers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sla_timers_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_sla_timers_state"), "state IN ('pending', 'fired', 'cancelled')"
        )
        batch_op.drop_column("paused_at")
    op.drop_table("sla_digests")
