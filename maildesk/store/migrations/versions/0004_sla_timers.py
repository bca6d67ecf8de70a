"""sla timers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 21:09:18.643762
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('reminder', 'breach')", name=op.f("ck_sla_timers_kind")),
        sa.CheckConstraint(
            "state IN ('pending', 'fired', 'cancelled')", name=op.f("ck_sla_timers_state")
        ),
        sa.CheckConstraint(
            "target IN ('first_response', 'next_response', 'resolution')",
            name=op.f("ck_sla_timers_target"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sla_timers_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_timers")),
    )
    with op.batch_alter_table("sla_timers", schema=None) as batch_op:
        batch_op.create_index("ix_sla_timers_state_due_at", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_sla_timers_ticket_id", ["ticket_id"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("resolution_due")
        batch_op.drop_column("first_response_due")

    with op.batch_alter_table("sla_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_timers_ticket_id")
        batch_op.drop_index("ix_sla_timers_state_due_at")

    op.drop_table("sla_timers")
