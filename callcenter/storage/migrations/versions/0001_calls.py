"""Call records, queue events, agent status.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("did", sa.String(32), nullable=False),
        sa.Column("hotline", sa.String(128), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(32), nullable=False),
        sa.Column("skill", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("joined_at", sa.Float, nullable=False),
        sa.Column("left_at", sa.Float),
        sa.Column("leave_reason", sa.String(16)),
        sa.Column("waited", sa.Float),
        sa.Column("position", sa.Integer),
        sa.Column("agent_id", sa.String(32)),
        sa.Column("connected_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("talk_seconds", sa.Float),
    )
    op.create_index("ix_calls_joined_at", "calls", ["joined_at"])
    op.create_index("ix_calls_caller_number", "calls", ["caller_number", "joined_at"])
    op.create_index("ix_calls_agent_id", "calls", ["agent_id"])
    op.create_table(
        "queue_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(24), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_queue_events_call_id", "queue_events", ["call_id"])
    op.create_index("ix_queue_events_at", "queue_events", ["at"])
    op.create_index("ix_queue_events_agent_id", "queue_events", ["agent_id"])
    op.create_table(
        "agent_status",
        sa.Column("agent_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_status")
    op.drop_table("queue_events")
    op.drop_table("calls")
