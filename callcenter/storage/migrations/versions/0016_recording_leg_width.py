"""Recording legs are named up to 16 characters: the emergency operator's leg ("emergency", 9)
did not fit the 8 of `recording_files.leg` and `recording_access.leg`, so on PostgreSQL
indexing a call transferred to 110/119/120/122 failed (SQLite does not enforce the width).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("recording_files", "recording_access")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "leg", type_=sa.String(16), existing_type=sa.String(8), existing_nullable=False
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "leg", type_=sa.String(8), existing_type=sa.String(16), existing_nullable=False
            )
