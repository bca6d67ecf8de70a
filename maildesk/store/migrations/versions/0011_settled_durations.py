"""analytics: a ticket keeps its business-time durations as its timers settle
(first response and resolution, in minutes) and who gave the first response;
tickets are found by their arrival time (the report's period); the weekly
report's mailings (report_mailings), one row per week

Tickets settled before this revision keep empty durations; the report counts
those from their timestamps, as it did before. The first responder is filled
in from the audit log (the first "replied" or "broadcast" event).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_response_minutes", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("resolution_minutes", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("first_responder", sa.String(length=320), nullable=True))
        batch_op.create_index("ix_tickets_created_at", ["created_at"], unique=False)
    op.create_table(
        "report_mailings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_mailings")),
        sa.UniqueConstraint("week", name=op.f("uq_report_mailings_week")),
    )
    op.execute(
        "UPDATE tickets SET first_responder = ("
        " SELECT events.actor FROM events WHERE events.ticket_id = tickets.id"
        " AND events.kind IN ('replied', 'broadcast') ORDER BY events.at, events.id LIMIT 1"
        ") WHERE first_response_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("report_mailings")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_created_at")
        batch_op.drop_column("first_responder")
        batch_op.drop_column("resolution_minutes")
        batch_op.drop_column("first_response_minutes")
