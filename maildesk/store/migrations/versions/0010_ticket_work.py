"""ticket work by mail: a ticket folded into another remembers which (merge); a
known problem and its incidents, with the subject's problem key; a customer's
"status" mail is kept in the quarantine table as handled (kind status); a
ticket waiting for its customer has timers of its own (target waiting); agents
away are remembered (agent_absences)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_merged_into_tickets"),
            "tickets",
            ["merged_into"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.add_column(
            sa.Column("problem", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("incident_of", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_incident_of_tickets"),
            "tickets",
            ["incident_of"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.add_column(sa.Column("problem_key", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_tickets_incident_of", ["incident_of"], unique=False)
        batch_op.create_index(
            "ix_tickets_problem_key_created_at", ["problem_key", "created_at"], unique=False
        )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_quarantine_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_quarantine_kind"), "kind IN ('quarantined', 'held', 'status')"
        )

    with op.batch_alter_table("sla_timers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sla_timers_target"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_sla_timers_target"),
            "target IN ('first_response', 'next_response', 'resolution', 'waiting')",
        )
    op.create_table(
        "agent_absences",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_agent_absences")),
    )


def downgrade() -> None:
    op.drop_table("agent_absences")
    op.execute("DELETE FROM sla_timers WHERE target = 'waiting'")
    with op.batch_alter_table("sla_timers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_sla_timers_target"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_sla_timers_target"),
            "target IN ('first_response', 'next_response', 'resolution')",
        )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_quarantine_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_quarantine_kind"), "kind IN ('quarantined', 'held')"
        )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_problem_key_created_at")
        batch_op.drop_index("ix_tickets_incident_of")
        batch_op.drop_column("problem_key")
        batch_op.drop_constraint(batch_op.f("fk_tickets_incident_of_tickets"), type_="foreignkey")
        batch_op.drop_column("incident_of")
        batch_op.drop_column("problem")
        batch_op.drop_constraint(batch_op.f("fk_tickets_merged_into_tickets"), type_="foreignkey")
        batch_op.drop_column("merged_into")
