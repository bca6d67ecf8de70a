"""loops: text hashes of incoming mail, hourly mail budgets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_hash", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_messages_body_hash_received_at", ["body_hash", "received_at"], unique=False
        )
    op.create_table(
        "mail_budget",
        sa.Column("key", sa.String(length=340), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "hour", name=op.f("pk_mail_budget")),
    )


def downgrade() -> None:
    op.drop_table("mail_budget")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_body_hash_received_at")
        batch_op.drop_column("body_hash")
