"""Tables of call records, queue events and agent status. Times are epoch seconds (float)."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CallRecord(Base):
    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(32))
    did: Mapped[str] = mapped_column(String(32))
    hotline: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(32))
    skill: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    joined_at: Mapped[float] = mapped_column(Float)
    left_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    leave_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    waited: Mapped[float | None] = mapped_column(Float, nullable=True)
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    connected_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_calls_joined_at", "joined_at"),
        Index("ix_calls_caller_number", "caller_number", "joined_at"),
        Index("ix_calls_agent_id", "agent_id"),
    )


class QueueEvent(Base):
    __tablename__ = "queue_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    call_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(24))
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_queue_events_call_id", "call_id"),
        Index("ix_queue_events_at", "at"),
        Index("ix_queue_events_agent_id", "agent_id"),
    )


class AgentStatusRecord(Base):
    """The status an agent chose, so a restarted engine restores who is in and who is out."""

    __tablename__ = "agent_status"

    agent_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[float] = mapped_column(Float)


class Recording(Base):
    """One call's recording (GB/T 44190 6.1.2.2): who, which number, when, how long."""

    __tablename__ = "recordings"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(255))  # relative to the root, without suffix
    agent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    did: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)
    size: Mapped[int] = mapped_column(Integer)  # bytes of every leg together
    sha256: Mapped[str] = mapped_column(String(64))  # of the mixed file
    indexed_at: Mapped[float] = mapped_column(Float)
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_recordings_started_at", "started_at"),
        Index("ix_recordings_agent_id", "agent_id"),
    )


class RecordingFile(Base):
    """A leg of a recording: mixed, caller or agent."""

    __tablename__ = "recording_files"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    leg: Mapped[str] = mapped_column(String(8), primary_key=True)
    file: Mapped[str] = mapped_column(String(255))  # relative to the root
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    duration: Mapped[float] = mapped_column(Float)


class RecordingAccess(Base):
    """Audit log: every access to a recording (append-only)."""

    __tablename__ = "recording_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    leg: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(16))  # metadata, download, delete
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    remote: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_recording_access_call_id", "call_id", "at"),)


class AsrJob(Base):
    """Transcription backlog: one job per recording, processed in order, never skipped."""

    __tablename__ = "asr_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(8))  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    audio_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_asr_jobs_state", "state", "id"),)


class TranscriptSegment(Base):
    """A timed piece of a call's transcript, labelled caller or agent."""

    __tablename__ = "transcript_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    words: Mapped[str] = mapped_column(Text)  # JSON: [[start, end, word, conf], ...]

    __table_args__ = (Index("ix_transcript_segments_call_id", "call_id", "seq"),)


__all__ = [
    "AgentStatusRecord",
    "AsrJob",
    "Base",
    "CallRecord",
    "QueueEvent",
    "Recording",
    "RecordingAccess",
    "RecordingFile",
    "TranscriptSegment",
]
