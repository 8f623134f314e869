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


class Ticket(Base):
    """A 工单: intake facts, the lifecycle state (see callcenter.tickets.model.TicketState),
    the classifier's proposal and the text it is found by."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # phone, web, app, miniprogram, wechat, sms
    call_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    caller_number: Mapped[str] = mapped_column(String(32))
    caller_name: Mapped[str] = mapped_column(String(64))
    did: Mapped[str] = mapped_column(String(32))
    hotline: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(64))
    skill: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(32))
    ivr_path: Mapped[str] = mapped_column(String(128))
    request_type: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)  # JSON of the rest of TicketState
    proposal: Mapped[str] = mapped_column(Text)  # JSON: the classifier's proposal and evidence
    confirmed: Mapped[int] = mapped_column(Integer)  # 1 once the agent confirmed or edited
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    deadline: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    repeat_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    repeats: Mapped[int] = mapped_column(Integer)
    search_text: Mapped[str] = mapped_column(Text)  # segmented words, for full-text search

    __table_args__ = (
        Index("ix_tickets_status", "status", "created_at"),
        Index("ix_tickets_department", "department", "status", "created_at"),
        Index("ix_tickets_caller", "caller_number", "created_at"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_call_id", "call_id"),
    )


class TicketHistory(Base):
    """Append-only: one row per action (who, when, from, to, note)."""

    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # JSON object

    __table_args__ = (Index("ux_ticket_history_seq", "ticket_id", "seq", unique=True),)


class TicketComment(Base):
    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class TicketAttachment(Base):
    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))  # relative to the attachments root


class EmergencyLink(Base):
    """GB/T 44190 6.3.1: each step of a transfer to 110/119/120/122 (who asked, how, which
    trunk was tried, how it ended)."""

    __tablename__ = "emergency_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    line: Mapped[str] = mapped_column(String(8))
    mode: Mapped[str] = mapped_column(String(16))  # blind, conference, dialled, (pbx: "")
    actor: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # requested, LINKED, ANSWER, NOANSWER, ...
    at: Mapped[float] = mapped_column(Float)


class CallbackRecord(Base):
    """A queued callback (keep your place): from the caller's key press until it is
    completed (bridged to an agent) or unreached (handed to a person)."""

    __tablename__ = "callbacks"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))
    skill: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    arrived_at: Mapped[float] = mapped_column(Float)  # first arrival: the place kept
    requested_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)  # waiting, scheduled, dialing,
    # completed, unreached
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[float] = mapped_column(Float, default=0.0)
    agent_id: Mapped[str] = mapped_column(String(32), default="")
    updated_at: Mapped[float] = mapped_column(Float)


class CallbackAttemptRecord(Base):
    """Each stage of each callback attempt (agent reserved, citizen answered or why not)."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float)


class Survey(Base):
    """A satisfaction survey call (回访) of a ticket that reached 办结."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(Integer, unique=True)
    number: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), index=True)  # scheduled, calling, rated,
    # manual (handed to a person), cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[float] = mapped_column(Float)
    rating: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class SurveyAttempt(Base):
    __tablename__ = "survey_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(Integer, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), default="")  # rated:1, no_input, no_answer..


class AuditEntry(Base):
    """What a supervisor or agent did to the live center (listen in, force a status, change a
    caller's priority...): who, when, to what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


__all__ = [
    "AuditEntry",
    "CallbackAttemptRecord",
    "CallbackRecord",
    "Survey",
    "SurveyAttempt",
    "EmergencyLink",
    "Ticket",
    "TicketAttachment",
    "TicketComment",
    "TicketHistory",
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
