"""Agent status (set by the person), agent state (set by the system), caller state, leaving."""

from __future__ import annotations

from enum import StrEnum


class AgentStatus(StrEnum):
    """What the person chose."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    ON_BREAK = "on_break"


class AgentState(StrEnum):
    """What the system knows the agent is doing."""

    IDLE = "idle"
    OFFERED = "offered"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class CallerState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"


class LeaveReason(StrEnum):
    """Why a caller left the queue."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    OVERFLOW = "overflow"
    NO_AGENTS = "no_agents"
    FALLBACK = "fallback"  # the dialplan's own route took the caller (engine unreachable)
    CALLBACK = "callback"  # a callback taken off the queue until its next attempt may start


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK_TIME = "least_talk_time"
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    RING_ALL = "ring_all"


# The break reason the engine uses when it pauses an agent after too many unanswered offers.
AUTO_PAUSE_REASON = "no_answer"
