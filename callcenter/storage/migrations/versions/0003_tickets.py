"""Tickets (工单), their append-only history, comments, attachments; full-text search.

PostgreSQL searches a GIN index over to_tsvector('simple', search_text); SQLite an FTS5 table
kept in step by triggers. search_text holds jieba-segmented words separated by spaces, so both
match Chinese words.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(24), nullable=False, unique=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(64)),
        sa.Column("caller_number", sa.String(32), nullable=False),
        sa.Column("caller_name", sa.String(64), nullable=False),
        sa.Column("did", sa.String(32), nullable=False),
        sa.Column("hotline", sa.String(128), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("skill", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("ivr_path", sa.String(128), nullable=False),
        sa.Column("request_type", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64)),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("proposal", sa.Text, nullable=False),
        sa.Column("confirmed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("deadline", sa.Float),
        sa.Column("closed_at", sa.Float),
        sa.Column("repeat_of", sa.Integer),
        sa.Column("repeats", sa.Integer, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
    )
    op.create_index("ix_tickets_status", "tickets", ["status", "created_at"])
    op.create_index("ix_tickets_department", "tickets", ["department", "status", "created_at"])
    op.create_index("ix_tickets_caller", "tickets", ["caller_number", "created_at"])
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index("ix_tickets_call_id", "tickets", ["call_id"])
    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ux_ticket_history_seq", "ticket_history", ["ticket_id", "seq"], unique=True)
    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, nullable=False, index=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_tickets_search ON tickets "
            "USING gin (to_tsvector('simple', search_text))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE tickets_fts USING fts5("
            "search_text, content='tickets', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets BEGIN "
            "INSERT INTO tickets_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER tickets_fts_ad AFTER DELETE ON tickets BEGIN "
            "INSERT INTO tickets_fts(tickets_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER tickets_fts_au AFTER UPDATE OF search_text ON tickets BEGIN "
            "INSERT INTO tickets_fts(tickets_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO tickets_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS tickets_fts")
    for table in ("ticket_attachments", "ticket_comments", "ticket_history", "tickets"):
        op.drop_table(table)
