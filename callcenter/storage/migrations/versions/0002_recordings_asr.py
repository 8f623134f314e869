"""Recordings, their legs and access audit; the transcription backlog and transcripts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(32), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("agent_id", sa.String(32)),
        sa.Column("did", sa.String(32)),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("indexed_at", sa.Float, nullable=False),
        sa.Column("deleted_at", sa.Float),
    )
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])
    op.create_index("ix_recordings_agent_id", "recordings", ["agent_id"])
    op.create_table(
        "recording_files",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("leg", sa.String(8), primary_key=True),
        sa.Column("file", sa.String(255), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
    )
    op.create_table(
        "recording_access",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("leg", sa.String(8), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("remote", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_recording_access_call_id", "recording_access", ["call_id", "at"])
    op.create_table(
        "asr_jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("finished_at", sa.Float),
        sa.Column("audio_seconds", sa.Float),
        sa.Column("wall_seconds", sa.Float),
    )
    op.create_index("ix_asr_jobs_state", "asr_jobs", ["state", "id"])
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("speaker", sa.String(8), nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("words", sa.Text, nullable=False),
    )
    op.create_index("ix_transcript_segments_call_id", "transcript_segments", ["call_id", "seq"])


def downgrade() -> None:
    for table in (
        "transcript_segments",
        "asr_jobs",
        "recording_access",
        "recording_files",
        "recordings",
    ):
        op.drop_table(table)
