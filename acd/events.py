"""What happens: the only inputs of the routing core (`Acd.handle(event, now)`)."""

from __future__ import annotations

from dataclasses import dataclass

from acd.model import AgentId, AgentSpec, CallId, SkillId

TimerKey = tuple[str, str, int]
"""(kind, subject id, generation): a timer is stale when its generation is no longer current."""


@dataclass(frozen=True)
class CallerArrived:
    """A caller entered the queue. `arrived_at` is kept by the PBX across engine restarts, so a
    restored caller keeps its place; None means now."""

    call_id: CallId
    skill: SkillId
    priority: int = 0
    arrived_at: float | None = None
    callback: bool = False  # a citizen waiting off the line to be called back (keeps its place)


@dataclass(frozen=True)
class CallerHungUp:
    call_id: CallId


@dataclass(frozen=True)
class CallerWithdrawn:
    """The caller left the queue by a route the engine did not choose (e.g. the dialplan's
    fallback when the engine's heartbeat went stale). `reason` is recorded as given."""

    call_id: CallId
    reason: str


@dataclass(frozen=True)
class CallbackAccepted:
    """The waiting caller chose to be called back and hangs up: it keeps its place in the
    queue, is no longer limited by max_wait, and is offered to one agent at a time."""

    call_id: CallId


@dataclass(frozen=True)
class CallerPriorityChanged:
    call_id: CallId
    priority: int


@dataclass(frozen=True)
class CallerTransferred:
    """转专席: the agent sends the connected caller to another skill's queue (blind). The
    agent's leg ends (wrap-up); the caller waits again with `skill`, keeping its priority and
    its original arrival time, so it is ahead of that skill's callers who arrived after it.
    `agent_id`: ring this agent of that skill first (it must be idle now)."""

    call_id: CallId
    skill: SkillId
    agent_id: AgentId = ""


@dataclass(frozen=True)
class OfferAnswered:
    call_id: CallId
    agent_id: AgentId


@dataclass(frozen=True)
class OfferFailed:
    """The agent's phone did not take the call. `reason` is one of `acd.states.OfferOutcome`
    (no_answer, refused, failed, unreachable) or cancelled / caller_gone (nobody's fault);
    `cause` is the PBX's code for it when it gave one (the SIP response, e.g. 486, 603)."""

    call_id: CallId
    agent_id: AgentId
    reason: str = "no_answer"
    cause: int = 0


@dataclass(frozen=True)
class AgentReachability:
    """A fact about the agent's phone: reachable (registered and answering qualify) or not.
    An unreachable agent is offered no calls; an offer ringing it ends at once."""

    agent_id: AgentId
    reachable: bool


@dataclass(frozen=True)
class CallEnded:
    """A connected call is over (either side hung up): `by` says who hung up first when the
    PBX knows ("caller" or "agent"; "" unknown)."""

    call_id: CallId
    by: str = ""


@dataclass(frozen=True)
class CallRestored:
    """After an engine restart: this call is already connected to this agent."""

    call_id: CallId
    agent_id: AgentId
    skill: SkillId
    connected_at: float


@dataclass(frozen=True)
class AgentConfigured:
    """Add an agent, or replace the skills of one (takes effect at its next offer)."""

    spec: AgentSpec


@dataclass(frozen=True)
class AgentLoggedIn:
    agent_id: AgentId
    ready: bool = True
    reason: str = ""  # the break reason when not ready


@dataclass(frozen=True)
class AgentLoggedOut:
    agent_id: AgentId


@dataclass(frozen=True)
class AgentPaused:
    agent_id: AgentId
    reason: str = ""


@dataclass(frozen=True)
class AgentResumed:
    """The agent is available again (also clears an auto-pause)."""

    agent_id: AgentId


@dataclass(frozen=True)
class AgentReady:
    """The agent ends wrap-up early."""

    agent_id: AgentId


@dataclass(frozen=True)
class RoutingHeld:
    """Make no offer until `RoutingReleased`: the runtime is restoring the queue from the PBX
    (after a start, an engine restart or a reconnect), and the first offers must go to the
    best callers of the whole restored queue, not to whoever was restored first."""


@dataclass(frozen=True)
class RoutingReleased:
    """The queue is whole again: route every waiting caller, best first."""


@dataclass(frozen=True)
class TimerFired:
    key: TimerKey


Event = (
    CallerArrived
    | CallerHungUp
    | CallerWithdrawn
    | CallbackAccepted
    | CallerPriorityChanged
    | CallerTransferred
    | OfferAnswered
    | OfferFailed
    | AgentReachability
    | CallEnded
    | CallRestored
    | AgentConfigured
    | AgentLoggedIn
    | AgentLoggedOut
    | AgentPaused
    | AgentResumed
    | AgentReady
    | RoutingHeld
    | RoutingReleased
    | TimerFired
)
