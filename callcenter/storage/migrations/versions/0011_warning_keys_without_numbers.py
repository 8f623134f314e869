"""A repeated caller's warning is keyed by the first ticket of the run alone
(`repeat_caller:<ticket id>`), no longer with a 16-hex SHA-256 of the phone number in it: an
unkeyed hash of an 11-digit number is undone by trying every number, so the key leaked the
number to anyone who could read the warnings table. Existing keys are rewritten.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PREFIX = "repeat_caller:"
DIGEST = 16  # hex characters of the old digest


def upgrade() -> None:
    # 'repeat_caller:' + 16 hex + ':' + the first ticket's id -> 'repeat_caller:' + the id
    start = len(PREFIX) + DIGEST + 2  # 1-based position of the id
    op.execute(
        sa.text(
            "UPDATE warnings SET key = :prefix || substr(key, :start) WHERE key LIKE :old"
        ).bindparams(prefix=PREFIX, start=start, old=PREFIX + "_" * DIGEST + ":%")
    )


def downgrade() -> None:
    pass  # the numbers' digests are not kept: the new keys serve the old code as well
