"""Data applications (GB/T 44192 7): early warnings and their tickets, quality inspection of
calls (scores, findings with transcript evidence, reviews), the versioned knowledge base with
its full-text search, generated reports.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "warnings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("key", sa.String(128), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("district", sa.String(64), nullable=False, server_default=""),
        sa.Column("topic", sa.String(64), nullable=False, server_default=""),
        sa.Column("onset_at", sa.Float, nullable=False),
        sa.Column("detected_at", sa.Float, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("acked_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("acked_at", sa.Float, nullable=True),
        sa.Column("ticket_id", sa.Integer, nullable=True),
        sa.Column("report_id", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_warnings_state", "warnings", ["state", "detected_at"])
    op.create_table(
        "warning_tickets",
        sa.Column("warning_id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, primary_key=True),
    )
    op.create_index("ix_warning_tickets_ticket", "warning_tickets", ["ticket_id"])
    op.create_table(
        "inspection_scores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=False, server_default=""),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("max_score", sa.Float, nullable=False),
        sa.Column("final_score", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("scored_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index("ix_inspection_scores_call_id", "inspection_scores", ["call_id"])
    op.create_table(
        "inspection_findings",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("score_id", sa.Integer, nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("passed", sa.Integer, nullable=False),
        sa.Column("points", sa.Float, nullable=False),
        sa.Column("speaker", sa.String(8), nullable=False, server_default=""),
        sa.Column("start", sa.Float, nullable=True),
        sa.Column("end", sa.Float, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_inspection_findings_score_id", "inspection_findings", ["score_id"])
    op.create_table(
        "inspection_reviews",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("score_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_inspection_reviews_score_id", "inspection_reviews", ["score_id"])
    op.create_table(
        "knowledge_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("department", sa.String(64), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("effective_from", sa.Float, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("search_text", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_knowledge_entries_status", "knowledge_entries", ["status", "expires_at"])
    op.create_table(
        "knowledge_versions",
        sa.Column("entry_id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False, server_default=""),
        sa.Column("reviewed_at", sa.Float, nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("period_from", sa.Float, nullable=False),
        sa.Column("period_to", sa.Float, nullable=False),
        sa.Column("params", sa.Text, nullable=False, server_default="{}"),
        sa.Column("figures", sa.Text, nullable=False, server_default="{}"),
        sa.Column("files", sa.Text, nullable=False, server_default="[]"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_report_runs_kind", "report_runs", ["kind", "period_from"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_knowledge_search ON knowledge_entries "
            "USING gin (to_tsvector('simple', search_text))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE knowledge_fts USING fts5(search_text, "
            "content='knowledge_entries', content_rowid='id', tokenize='unicode61')"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_ai AFTER INSERT ON knowledge_entries BEGIN "
            "INSERT INTO knowledge_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_ad AFTER DELETE ON knowledge_entries BEGIN "
            "INSERT INTO knowledge_fts(knowledge_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER knowledge_fts_au AFTER UPDATE OF search_text ON knowledge_entries "
            "BEGIN INSERT INTO knowledge_fts(knowledge_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO knowledge_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
    for event in ("UPDATE", "DELETE"):
        if op.get_bind().dialect.name == "postgresql":
            break
        op.execute(
            f"CREATE TRIGGER inspection_reviews_no_{event.lower()} BEFORE {event} "
            "ON inspection_reviews BEGIN "
            "SELECT RAISE(ABORT, 'inspection_reviews is append-only'); END"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER inspection_reviews_append_only BEFORE UPDATE OR DELETE "
            "ON inspection_reviews FOR EACH ROW EXECUTE FUNCTION cc_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS inspection_reviews_append_only ON inspection_reviews")
    else:
        op.execute("DROP TABLE IF EXISTS knowledge_fts")
    for table in (
        "report_runs",
        "knowledge_versions",
        "knowledge_entries",
        "inspection_reviews",
        "inspection_findings",
        "inspection_scores",
        "warning_tickets",
        "warnings",
    ):
        op.drop_table(table)
