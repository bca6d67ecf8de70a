"""trust: held mail's sender, rejected held mail, quiet tickets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(length=320), nullable=True))
        batch_op.drop_constraint(op.f("ck_quarantine_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_quarantine_state"),
            "state IN ('held', 'released', 'deleted', 'rejected')",
        )
        batch_op.create_index("ix_quarantine_ticket_id", ["ticket_id"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("quiet")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_quarantine_ticket_id")
        batch_op.drop_constraint(op.f("ck_quarantine_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_quarantine_state"), "state IN ('held', 'released', 'deleted')"
        )
        batch_op.drop_column("sender")
