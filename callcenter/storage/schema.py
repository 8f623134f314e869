"""Tables of call records, queue events and agent status. Times are epoch seconds (float)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
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
    # GB/T 44192 8.2: the caller's number is ciphertext only (callcenter.data.crypto);
    # caller_number_hash is its keyed blind index (repeat callers, look-ups by number).
    caller_number: Mapped[str] = mapped_column(Text, default="")
    caller_number_hash: Mapped[str] = mapped_column(String(64), default="")
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
        Index("ix_calls_caller_hash", "caller_number_hash", "joined_at"),
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
    """A leg of a recording: mixed, caller, agent or emergency (the 110/119/120/122 leg)."""

    __tablename__ = "recording_files"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    leg: Mapped[str] = mapped_column(String(16), primary_key=True)
    file: Mapped[str] = mapped_column(String(255))  # relative to the root
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    duration: Mapped[float] = mapped_column(Float)


class RecordingAccess(Base):
    """Audit log: every access to a recording (append-only)."""

    __tablename__ = "recording_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    leg: Mapped[str] = mapped_column(String(16))
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
    # GB/T 44192 8.2: the citizen's number is ciphertext only (as calls.caller_number);
    # caller_number_hash is its keyed blind index (repeat linking, search by number).
    caller_number: Mapped[str] = mapped_column(Text)
    caller_number_hash: Mapped[str] = mapped_column(String(64), default="")
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
    # GB/T 44192 5.1: who the request is about. id_card holds ciphertext only (see
    # callcenter.data.crypto); id_card_hash is its keyed blind index, for lookups and fusion.
    id_card: Mapped[str] = mapped_column(Text, default="")
    id_card_hash: Mapped[str] = mapped_column(String(64), default="")
    enterprise_code: Mapped[str] = mapped_column(String(18), default="")  # GB 32100 USCC
    enterprise_name: Mapped[str] = mapped_column(String(128), default="")
    grid: Mapped[str] = mapped_column(String(32), default="")  # street / grid code
    received_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # reached us

    __table_args__ = (
        Index("ix_tickets_status", "status", "created_at"),
        Index("ix_tickets_department", "department", "status", "created_at"),
        Index("ix_tickets_caller_hash", "caller_number_hash", "created_at"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_call_id", "call_id"),
        Index("ix_tickets_id_card_hash", "id_card_hash"),
        Index("ix_tickets_enterprise_code", "enterprise_code"),
        Index("ix_tickets_closed_at", "closed_at"),  # reports pick closed tickets by it
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
    completed (bridged to an agent) or unreached (handed to a person). Or (`kind` "missed",
    漏接回拨) the callback task of a caller who left the queue unanswered: `missed_call_id` is
    that call, `requested_at` when it left; it may also close "merged" or "returned"."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_kind_requested", "kind", "requested_at"),)

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(Text, default="")  # ciphertext, as calls.caller_number
    number_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
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
    kind: Mapped[str] = mapped_column(String(8), default="queued", server_default="queued")
    missed_call_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    missed_reason: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # when the citizen was first dialled (time to callback = first_dialed_at - requested_at)
    first_dialed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


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
    number: Mapped[str] = mapped_column(Text)  # ciphertext, as tickets.caller_number
    number_hash: Mapped[str] = mapped_column(String(64), default="")
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


# --- data foundation (GB/T 44192 5, 6, 8): see callcenter.data ------------------------------

BigId = BigInteger().with_variant(Integer, "sqlite")


class ChangeLog(Base):
    """Every insert or update of a ticket, written by database triggers (no code path can
    miss one): what incremental governance and export feeds read after their cursor."""

    __tablename__ = "change_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tbl: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)


class RefDepartment(Base):
    """Imported department directory (承办单位): code, name, government function."""

    __tablename__ = "ref_departments"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    parent: Mapped[str] = mapped_column(String(64), default="")
    function: Mapped[str] = mapped_column(String(64), default="")  # 政府职能
    contact: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    active: Mapped[int] = mapped_column(Integer, default=1)
    import_id: Mapped[int] = mapped_column(Integer, default=0)


class RefHoliday(Base):
    """Imported holiday calendar: a day off, or a weekend day that is worked (调休)."""

    __tablename__ = "ref_holidays"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    kind: Mapped[str] = mapped_column(String(8))  # holiday, workday
    name: Mapped[str] = mapped_column(String(64), default="")
    import_id: Mapped[int] = mapped_column(Integer, default=0)


class RefEnterprise(Base):
    """Imported enterprise registry, keyed by unified social credit code."""

    __tablename__ = "ref_enterprises"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    legal_person: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="")
    import_id: Mapped[int] = mapped_column(Integer, default=0)


class RefGrid(Base):
    """Imported grid / street list (网格): where a request is handled on the ground."""

    __tablename__ = "ref_grids"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    street: Mapped[str] = mapped_column(String(64))
    district: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[int] = mapped_column(Integer, default=0)


class ImportRun(Base):
    """One import of an external file: what, by whom, how many rows, the report."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    dry_run: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # imported, rejected, checked
    rows: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)  # JSON


class ExportCursor(Base):
    """Where an export feed is: the last source row the receiver acknowledged."""

    __tablename__ = "export_cursors"

    feed: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigId, default=0)
    delivered: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[float] = mapped_column(Float)


class ExportDelivery(Base):
    """Each batch a feed sent: range, attempts, outcome."""

    __tablename__ = "export_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(64))
    first: Mapped[int] = mapped_column(BigId)
    last: Mapped[int] = mapped_column(BigId)
    events: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # delivered, failed
    error: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_export_deliveries_feed", "feed", "id"),)


class QualityRun(Base):
    """One governance run: full or incremental, up to which change, scores per dimension."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(12))  # full, incremental
    actor: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    from_seq: Mapped[int] = mapped_column(BigId, default=0)
    upto_seq: Mapped[int] = mapped_column(BigId, default=0)
    records: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)
    scores: Mapped[str] = mapped_column(Text, default="{}")  # JSON: dimension -> score


class QualityIssue(Base):
    """A problem a rule found: record, field, rule, dimension, run. Closed (not deleted) when
    a later run finds the record clean."""

    __tablename__ = "quality_issues"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer)
    tbl: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text, default="")  # masked
    open: Mapped[int] = mapped_column(Integer, default=1)
    closed_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_quality_issues_record", "tbl", "record_id", "open"),
        Index("ix_quality_issues_run", "run_id", "rule"),
    )


class DataCorrection(Base):
    """A correction made through the system: who, when, the value before and after (masked
    for personal fields), why. Append-only; the record itself keeps its own history."""

    __tablename__ = "data_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tbl: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    issue_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_data_corrections_record", "tbl", "record_id"),)


class Profile(Base):
    """A fused citizen (person) or enterprise: the records of one party across tickets,
    calls and callbacks."""

    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(12))  # person, enterprise
    name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(Text, default="")  # ciphertext of the number, normalised
    phone_hash: Mapped[str] = mapped_column(String(64), default="")  # its blind index
    id_card_hash: Mapped[str] = mapped_column(String(64), default="")
    enterprise_code: Mapped[str] = mapped_column(String(18), default="")
    records: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[float] = mapped_column(Float)
    last_seen: Mapped[float] = mapped_column(Float)
    run_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_profiles_phone_hash", "phone_hash"),
        Index("ix_profiles_id_card_hash", "id_card_hash"),
        Index("ix_profiles_enterprise_code", "enterprise_code"),
    )


class ProfileLink(Base):
    """One record belonging to a profile, and the key that linked it."""

    __tablename__ = "profile_links"

    profile_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_type: Mapped[str] = mapped_column(String(12), primary_key=True)  # ticket, call, callback
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    via: Mapped[str] = mapped_column(String(16))  # id_card, enterprise, phone+name, phone, call
    at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_profile_links_record", "record_type", "record_id"),)


class TicketTopic(Base):
    """Topic libraries: a ticket filed under a government function, a problem domain and a
    request category."""

    __tablename__ = "ticket_topics"

    library: Mapped[str] = mapped_column(String(16), primary_key=True)  # function, domain, category
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)

    __table_args__ = (Index("ix_ticket_topics_ticket", "ticket_id"),)


class DataAccess(Base):
    """Append-only audit (database triggers refuse update and delete): every read of
    sensitive data, every export, every recording access."""

    __tablename__ = "data_access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # read, decrypt, export, recording, purge
    dataset: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str] = mapped_column(String(64), default="")
    fields: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    purpose: Mapped[str] = mapped_column(Text, default="")
    remote: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_data_access_actor", "actor", "at"),)


class RetentionRun(Base):
    """A retention pass: per data set, what was deleted or anonymised."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)  # JSON


# --- data applications (GB/T 44192 7): warnings, quality inspection, knowledge base, reports --


class Warning(Base):
    """An early warning (预警): a surge, a cluster of similar requests, a sensitive or group
    request, a repeated citizen or problem; with its evidence and what was done about it."""

    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))  # surge, cluster, sensitive, group, repeat_*
    key: Mapped[str] = mapped_column(String(128), unique=True)  # one warning per event
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(8))  # blue, yellow, orange, red
    score: Mapped[float] = mapped_column(Float)
    district: Mapped[str] = mapped_column(String(64), default="")
    topic: Mapped[str] = mapped_column(String(64), default="")
    onset_at: Mapped[float] = mapped_column(Float)  # when the event began, by the evidence
    detected_at: Mapped[float] = mapped_column(Float)
    evidence: Mapped[str] = mapped_column(Text)  # JSON: counts, expected, series, ticket ids
    state: Mapped[str] = mapped_column(String(16))  # open, acknowledged, escalated, closed
    acked_by: Mapped[str] = mapped_column(String(64), default="")
    acked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the 督办 it became
    report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the special report
    updated_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_warnings_state", "state", "detected_at"),)


class WarningTicket(Base):
    __tablename__ = "warning_tickets"

    warning_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)

    __table_args__ = (Index("ix_warning_tickets_ticket", "ticket_id"),)


class InspectionScore(Base):
    """智能质检: one call scored by the rules in force; reviewed, disputed or overridden."""

    __tablename__ = "inspection_scores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    agent_id: Mapped[str] = mapped_column(String(32), default="")
    rules_version: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)  # what the rules gave
    max_score: Mapped[float] = mapped_column(Float)
    final_score: Mapped[float] = mapped_column(Float)  # after review (= score until then)
    state: Mapped[str] = mapped_column(String(16))  # scored, reviewed, disputed, overridden
    scored_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)

    # a call is scored once per rules version, however many workers score the backlog
    __table_args__ = (
        Index("ux_inspection_scores_call_rules", "call_id", "rules_version", unique=True),
    )


class InspectionFinding(Base):
    """One rule's result on one call, with the transcript span that is its evidence."""

    __tablename__ = "inspection_findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(Integer, index=True)
    rule: Mapped[str] = mapped_column(String(64))
    passed: Mapped[int] = mapped_column(Integer)
    points: Mapped[float] = mapped_column(Float)  # deducted (negative) or earned
    speaker: Mapped[str] = mapped_column(String(8), default="")
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    evidence: Mapped[str] = mapped_column(Text, default="")


class InspectionReview(Base):
    """Append-only: a supervisor's review, an agent's dispute, an override, with the reason."""

    __tablename__ = "inspection_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    score_id: Mapped[int] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(16))  # review, dispute, override, resolve
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[float] = mapped_column(Float)


class KnowledgeEntry(Base):
    """A knowledge-base entry (policy answer, department duty, notice): its current state;
    every version is kept in knowledge_versions."""

    __tablename__ = "knowledge_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # policy, duty, notice
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))  # draft, review, published, expired, retired
    version: Mapped[int] = mapped_column(Integer)  # the latest version (published or a draft)
    # the approved version search and agents see (a newer draft may be under review); None
    # when nothing is published: never approved, expired or retired
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    effective_from: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    search_text: Mapped[str] = mapped_column(Text, default="")  # published version's words

    __table_args__ = (Index("ix_knowledge_entries_status", "status", "expires_at"),)


class KnowledgeVersion(Base):
    __tablename__ = "knowledge_versions"

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)
    reviewer: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class ReportRun(Base):
    """A generated report (daily, weekly, monthly, special): period, figures, files."""

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # daily, weekly, monthly, special
    title: Mapped[str] = mapped_column(String(200))
    period_from: Mapped[float] = mapped_column(Float)
    period_to: Mapped[float] = mapped_column(Float)
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON: filters, comparisons
    figures: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the KPIs as computed
    files: Mapped[str] = mapped_column(Text, default="[]")  # JSON: paths relative to reports
    actor: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # running, done, failed
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_report_runs_kind", "kind", "period_from"),)


__all__ = [
    "InspectionFinding",
    "InspectionReview",
    "InspectionScore",
    "KnowledgeEntry",
    "KnowledgeVersion",
    "ReportRun",
    "Warning",
    "WarningTicket",
    "ChangeLog",
    "DataAccess",
    "DataCorrection",
    "ExportCursor",
    "ExportDelivery",
    "ImportRun",
    "Profile",
    "ProfileLink",
    "QualityIssue",
    "QualityRun",
    "RefDepartment",
    "RefEnterprise",
    "RefGrid",
    "RefHoliday",
    "RetentionRun",
    "TicketTopic",
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
