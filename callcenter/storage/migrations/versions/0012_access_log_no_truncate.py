"""The data access log refuses TRUNCATE on PostgreSQL as it refuses UPDATE and DELETE (0007): a
statement-level BEFORE TRUNCATE trigger raises, so the log of every decrypt cannot be emptied
in one statement that the row-level triggers never see. SQLite has no TRUNCATE (an unqualified
DELETE runs the row triggers, which already refuse it).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # cc_append_only() (0007) raises '<table> is append-only' for any trigger level
    op.execute(
        "CREATE TRIGGER data_access_log_no_truncate BEFORE TRUNCATE "
        "ON data_access_log FOR EACH STATEMENT EXECUTE FUNCTION cc_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS data_access_log_no_truncate ON data_access_log")
