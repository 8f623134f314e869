"""Data foundation (GB/T 44192 5, 6, 8): identity columns on tickets (ID card as ciphertext
with a blind index, enterprise code, grid, when the request reached us), the change log
written by triggers, imported reference data, export cursors, governance runs and issues,
corrections, fused profiles, topic libraries, the append-only data access log, retention.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer, "sqlite")

NOW_PG = "extract(epoch from clock_timestamp())"
NOW_SQLITE = "((julianday('now') - 2440587.5) * 86400.0)"


def upgrade() -> None:
    with op.batch_alter_table("tickets") as t:
        t.add_column(sa.Column("id_card", sa.Text, nullable=False, server_default=""))
        t.add_column(sa.Column("id_card_hash", sa.String(64), nullable=False, server_default=""))
        t.add_column(sa.Column("enterprise_code", sa.String(18), nullable=False, server_default=""))
        t.add_column(
            sa.Column("enterprise_name", sa.String(128), nullable=False, server_default="")
        )
        t.add_column(sa.Column("grid", sa.String(32), nullable=False, server_default=""))
        t.add_column(sa.Column("received_at", sa.Float, nullable=True))
    op.create_index("ix_tickets_id_card_hash", "tickets", ["id_card_hash"])
    op.create_index("ix_tickets_enterprise_code", "tickets", ["enterprise_code"])
    op.create_table(
        "change_log",
        sa.Column("seq", BIG, primary_key=True, autoincrement=True),
        sa.Column("tbl", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_table(
        "ref_departments",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("parent", sa.String(64), nullable=False, server_default=""),
        sa.Column("function", sa.String(64), nullable=False, server_default=""),
        sa.Column("contact", sa.String(64), nullable=False, server_default=""),
        sa.Column("phone", sa.String(32), nullable=False, server_default=""),
        sa.Column("active", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("import_id", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "ref_holidays",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False, server_default=""),
        sa.Column("import_id", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "ref_enterprises",
        sa.Column("code", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("legal_person", sa.String(64), nullable=False, server_default=""),
        sa.Column("address", sa.String(200), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default=""),
        sa.Column("import_id", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "ref_grids",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("district", sa.String(64), nullable=False),
        sa.Column("import_id", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("dry_run", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_table(
        "export_cursors",
        sa.Column("feed", sa.String(64), primary_key=True),
        sa.Column("position", BIG, nullable=False, server_default=sa.text("0")),
        sa.Column("delivered", BIG, nullable=False, server_default=sa.text("0")),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "export_deliveries",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("feed", sa.String(64), nullable=False),
        sa.Column("first", BIG, nullable=False),
        sa.Column("last", BIG, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_export_deliveries_feed", "export_deliveries", ["feed", "id"])
    op.create_table(
        "quality_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mode", sa.String(12), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("from_seq", BIG, nullable=False, server_default=sa.text("0")),
        sa.Column("upto_seq", BIG, nullable=False, server_default=sa.text("0")),
        sa.Column("records", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("problems", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("scores", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "quality_issues",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("tbl", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False, server_default=""),
        sa.Column("open", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("closed_run_id", sa.Integer, nullable=True),
    )
    op.create_index("ix_quality_issues_run", "quality_issues", ["run_id", "rule"])
    op.create_index("ix_quality_issues_record", "quality_issues", ["tbl", "record_id", "open"])
    op.create_table(
        "data_corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tbl", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("issue_id", BIG, nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_data_corrections_record", "data_corrections", ["tbl", "record_id"])
    op.create_table(
        "profiles",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False, server_default=""),
        sa.Column("id_card_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("enterprise_code", sa.String(18), nullable=False, server_default=""),
        sa.Column("records", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("run_at", sa.Float, nullable=False),
    )
    op.create_index("ix_profiles_id_card_hash", "profiles", ["id_card_hash"])
    op.create_index("ix_profiles_enterprise_code", "profiles", ["enterprise_code"])
    op.create_index("ix_profiles_phone", "profiles", ["phone"])
    op.create_table(
        "profile_links",
        sa.Column("profile_id", BIG, primary_key=True),
        sa.Column("record_type", sa.String(12), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_profile_links_record", "profile_links", ["record_type", "record_id"])
    op.create_table(
        "ticket_topics",
        sa.Column("library", sa.String(16), primary_key=True),
        sa.Column("term", sa.String(64), primary_key=True),
        sa.Column("ticket_id", sa.Integer, primary_key=True),
    )
    op.create_index("ix_ticket_topics_ticket", "ticket_topics", ["ticket_id"])
    op.create_table(
        "data_access_log",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("dataset", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("fields", sa.Text, nullable=False, server_default=""),
        sa.Column("purpose", sa.Text, nullable=False, server_default=""),
        sa.Column("remote", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_data_access_actor", "data_access_log", ["actor", "at"])
    op.create_index("ix_data_access_log_at", "data_access_log", ["at"])
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("dry_run", sa.Integer, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    _triggers()


def _triggers() -> None:
    """Change log on tickets; data_access_log refuses update and delete."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION cc_log_ticket_change() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO change_log(tbl, record_id, at) "
            f"VALUES ('tickets', NEW.id::text, {NOW_PG}); RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER tickets_change_log AFTER INSERT OR UPDATE ON tickets "
            "FOR EACH ROW EXECUTE FUNCTION cc_log_ticket_change()"
        )
        op.execute(
            "CREATE FUNCTION cc_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER data_access_log_append_only BEFORE UPDATE OR DELETE "
            "ON data_access_log FOR EACH ROW EXECUTE FUNCTION cc_append_only()"
        )
        return
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER tickets_change_log_{event.lower()} AFTER {event} ON tickets BEGIN "
            "INSERT INTO change_log(tbl, record_id, at) "
            f"VALUES ('tickets', CAST(new.id AS TEXT), {NOW_SQLITE}); END"
        )
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER data_access_log_no_{event.lower()} BEFORE {event} "
            "ON data_access_log BEGIN SELECT RAISE(ABORT, 'data_access_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tickets_change_log ON tickets")
        op.execute("DROP FUNCTION IF EXISTS cc_log_ticket_change()")
        op.execute("DROP TRIGGER IF EXISTS data_access_log_append_only ON data_access_log")
        op.execute("DROP FUNCTION IF EXISTS cc_append_only()")
    else:
        for name in ("tickets_change_log_insert", "tickets_change_log_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in (
        "retention_runs",
        "data_access_log",
        "ticket_topics",
        "profile_links",
        "profiles",
        "data_corrections",
        "quality_issues",
        "quality_runs",
        "export_deliveries",
        "export_cursors",
        "import_runs",
        "ref_grids",
        "ref_enterprises",
        "ref_holidays",
        "ref_departments",
        "change_log",
    ):
        op.drop_table(table)
    op.drop_index("ix_tickets_enterprise_code", "tickets")
    op.drop_index("ix_tickets_id_card_hash", "tickets")
    with op.batch_alter_table("tickets") as t:
        for column in (
            "received_at",
            "grid",
            "enterprise_name",
            "enterprise_code",
            "id_card_hash",
            "id_card",
        ):
            t.drop_column(column)
