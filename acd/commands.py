"""What to do: the outputs of the routing core.

Actions go to the PBX driver or the timer wheel; notices are facts for the domain-event bus.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.events import TimerKey
from acd.model import AgentId, CallId, SkillId

# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """Ring these agents for this caller (more than one: ring-all, the first to answer wins)."""

    call_id: CallId
    agent_ids: tuple[AgentId, ...]
    timeout: float
    callback: bool = False  # reserve this agent, then call the citizen back


@dataclass(frozen=True)
class CancelOffer:
    """Stop ringing these agents for this caller; the caller stays in the queue."""

    call_id: CallId
    agent_ids: tuple[AgentId, ...]


@dataclass(frozen=True)
class Overflow:
    """Send the caller out of the queue: to `target`, or to the timeout route when empty."""

    call_id: CallId
    target: str
    reason: str


@dataclass(frozen=True)
class SetTimer:
    key: TimerKey
    at: float


@dataclass(frozen=True)
class CancelTimer:
    key: TimerKey


# --- notices -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerQueued:
    call_id: CallId
    skill: SkillId
    priority: int
    arrived_at: float


@dataclass(frozen=True)
class OfferRejected:
    """An offer to this agent ended unanswered: `reason` is the outcome (no_answer, refused,
    failed, unreachable), `cause` the PBX's code (SIP response) when known."""

    call_id: CallId
    agent_id: AgentId
    reason: str
    ring_seconds: float
    cause: int = 0


@dataclass(frozen=True)
class OfferCancelled:
    """The engine stopped a ring that had not ended: the agent may no longer take it (paused,
    on break, logged out) or the caller left (abandoned, timeout, callback...). `cause` says
    which; nobody is charged a miss. app_queue writes RINGCANCELED for such a ring."""

    call_id: CallId
    agent_id: AgentId
    cause: str
    ring_seconds: float


@dataclass(frozen=True)
class AutoPauseAlert:
    """More than the configured share of logged-in agents is auto-paused (`active`), or no
    longer: a supervisor should look before the floor empties."""

    active: bool
    auto_paused: int
    logged_in: int


@dataclass(frozen=True)
class CallConnected:
    call_id: CallId
    agent_id: AgentId
    waited: float
    ring_seconds: float = 0.0  # from the offer to the answer


@dataclass(frozen=True)
class CallerLeft:
    call_id: CallId
    reason: str
    waited: float
    position: int


@dataclass(frozen=True)
class CallFinished:
    call_id: CallId
    agent_id: AgentId
    talk_seconds: float


@dataclass(frozen=True)
class AgentStateChanged:
    agent_id: AgentId
    status: str
    state: str
    reason: str


Action = Offer | CancelOffer | Overflow | SetTimer | CancelTimer
Notice = (
    CallerQueued
    | OfferRejected
    | OfferCancelled
    | CallConnected
    | CallerLeft
    | CallFinished
    | AgentStateChanged
    | AutoPauseAlert
)
Command = Action | Notice
