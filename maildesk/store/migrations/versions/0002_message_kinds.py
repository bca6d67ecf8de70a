"""message kinds, held messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:20:15.881898
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="mail", nullable=False)
        )
        batch_op.add_column(
            sa.Column("guard_reasons", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_messages_kind"), "kind IN ('mail', 'auto', 'bounce')"
        )

    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="quarantined", nullable=False)
        )
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_quarantine_dedupe_key"), ["dedupe_key"])
        batch_op.create_foreign_key(
            batch_op.f("fk_quarantine_ticket_id_tickets"),
            "tickets",
            ["ticket_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            op.f("ck_quarantine_kind"), "kind IN ('quarantined', 'held')"
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_quarantine_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_quarantine_ticket_id_tickets"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_quarantine_dedupe_key"), type_="unique")
        batch_op.drop_column("ticket_id")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("kind")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_messages_kind"), type_="check")
        batch_op.drop_column("guard_reasons")
        batch_op.drop_column("kind")
