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
    NODE_LOST = "node_lost"  # the media node holding the caller died (engine.node_dead_after)


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK_TIME = "least_talk_time"
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    RING_ALL = "ring_all"
    LINEAR = "linear"  # agent order as configured, always from the first
    RR_MEMORY = "rrmemory"  # configured order, starting after the agent offered last
    WEIGHTED_RANDOM = "wrandom"  # random, weighted by proficiency, across proficiency levels
    # ring one agent (longest idle first), then add the next every `ring_progressively_delay`
    # seconds while the earlier ones keep ringing, until the offer timeout
    RING_PROGRESSIVELY = "ring_progressively"


# The names app_queue (queues.conf `strategy`) and mod_callcenter (callcenter.conf.xml
# `strategy`) users know, and the strategy each one is here.
STRATEGY_ALIASES: dict[str, Strategy] = {
    # app_queue
    "ringall": Strategy.RING_ALL,
    "leastrecent": Strategy.LONGEST_IDLE,
    "fewestcalls": Strategy.FEWEST_CALLS,
    "rrordered": Strategy.RR_MEMORY,
    "wrandom": Strategy.WEIGHTED_RANDOM,
    # mod_callcenter
    "ring-all": Strategy.RING_ALL,
    "longest-idle-agent": Strategy.LONGEST_IDLE,
    "round-robin": Strategy.RR_MEMORY,
    "top-down": Strategy.LINEAR,
    "sequentially-by-agent-order": Strategy.LINEAR,
    "agent-with-least-talk-time": Strategy.LEAST_TALK_TIME,
    "agent-with-fewest-calls": Strategy.FEWEST_CALLS,
    "ring-progressively": Strategy.RING_PROGRESSIVELY,
}


def strategy_named(name: str) -> Strategy | None:
    """The strategy of a name in queue.toml: ours, or app_queue's / mod_callcenter's word."""
    try:
        return Strategy(name)
    except ValueError:
        return STRATEGY_ALIASES.get(name)


class OfferOutcome(StrEnum):
    """How an offer ended without an answer. Only a no-answer counts towards auto-pause."""

    NO_ANSWER = "no_answer"  # it rang the whole offer timeout
    REFUSED = "refused"  # the phone said no (486 busy, 488 not acceptable, 603 decline, 480)
    FAILED = "failed"  # it failed at once (408, 503, an error)
    UNREACHABLE = "unreachable"  # no reachable contact (unregistered, qualify failed)


# Older reason words (and the driver's dial statuses) and the outcome each one is.
OUTCOME_OF = {
    "no_answer": OfferOutcome.NO_ANSWER,
    "refused": OfferOutcome.REFUSED,
    "busy": OfferOutcome.REFUSED,
    "failed": OfferOutcome.FAILED,
    "error": OfferOutcome.FAILED,
    "unavailable": OfferOutcome.UNREACHABLE,
    "unreachable": OfferOutcome.UNREACHABLE,
}


# The break reason the engine uses when it pauses an agent after too many unanswered offers.
AUTO_PAUSE_REASON = "no_answer"
