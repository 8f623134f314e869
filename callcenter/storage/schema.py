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


__all__ = ["AgentStatusRecord", "Base", "CallRecord", "QueueEvent"]
