"""Reports select the tickets closed in a period: an index on tickets.closed_at.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_closed_at", "tickets", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_closed_at", "tickets")
