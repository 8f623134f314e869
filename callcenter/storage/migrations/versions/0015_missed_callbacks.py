"""漏接回拨: the callbacks table also holds the callback tasks of missed callers. `kind` says
which ("queued": the caller pressed 1; "missed": it left the queue unanswered), with the
missed call's id and why it left, and when the citizen was first dialled (time to callback).
Existing rows are queued callbacks.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="queued"))
        batch.add_column(
            sa.Column("missed_call_id", sa.String(64), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("missed_reason", sa.String(16), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("first_dialed_at", sa.Float(), nullable=True))
    op.create_index("ix_callbacks_kind_requested", "callbacks", ["kind", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_kind_requested", table_name="callbacks")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("first_dialed_at")
        batch.drop_column("missed_reason")
        batch.drop_column("missed_call_id")
        batch.drop_column("kind")
