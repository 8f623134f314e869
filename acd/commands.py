"""What to do: the outputs of the routing core.

Actions go to the PBX driver or the timer wheel; notices are facts for the domain-event bus.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.events import TimerKey
from acd.model import AgentId, CallId, SkillId
from acd.strategies import StrategyKey

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
    """A ring ended unanswered through nobody's fault at the agent's phone: the caller left
    (`reason` "abandoned", "timeout", ...), another agent of a ring-all answered
    ("answered_elsewhere"), the caller took a callback ("callback"), or the engine withdrew
    the offer ("cancelled", "caller_gone", or any other cause a rule names). Not a miss."""

    call_id: CallId
    agent_id: AgentId
    reason: str
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
    original_position: int = 0  # 1-based position when the caller joined (0 unknown)


@dataclass(frozen=True)
class CallFinished:
    call_id: CallId
    agent_id: AgentId
    talk_seconds: float
    held: float = 0.0  # seconds from joining the queue to the answer
    original_position: int = 0  # 1-based position when the caller joined (0 unknown)
    ended_by: str = ""  # who hung up first: "caller", "agent", "" unknown


@dataclass(frozen=True)
class CallTransferred:
    """The agent's segment of a call ended by a blind transfer to `skill` (app_queue's
    BLINDTRANSFER): `talk_seconds` with `agent_id`, `held` seconds waited before its answer.
    The caller waits again (`to_agent`: the agent rung first, "" any of the skill)."""

    call_id: CallId
    agent_id: AgentId
    skill: SkillId
    to_agent: AgentId
    talk_seconds: float
    held: float
    original_position: int = 0


@dataclass(frozen=True)
class AgentStateChanged:
    agent_id: AgentId
    status: str
    state: str
    reason: str


# --- decision facts (only when `Acd.explain` is on: the decision log) ----------------------


@dataclass(frozen=True)
class Candidate:
    """An idle agent who could take the caller: matched on `skill` at `proficiency`, ranked by
    the strategy's `key` (smallest first, within the highest proficiency)."""

    agent_id: AgentId
    skill: SkillId
    proficiency: int
    key: StrategyKey


@dataclass(frozen=True)
class OfferDecided:
    """Why this offer went to `chosen`: the idle agents who could take the caller, best first
    (at most `Acd.explain_top`), `considered` of them in all. Emitted just before its Offer."""

    call_id: CallId
    chosen: tuple[AgentId, ...]
    strategy: str
    candidates: tuple[Candidate, ...]
    considered: int


@dataclass(frozen=True)
class NotCandidate:
    """Why a logged-in agent could not be offered the caller now. `reason`: on_break (detail:
    the break reason), ringing (detail: the other caller), on_call, wrap_up, backing_off,
    unreachable, no_skill, proficiency (detail: "2<3"), held (routing held for a restore).
    `timer` is the timer that ends the condition (wrap-up, back-off, auto-pause), if any."""

    agent_id: AgentId
    reason: str
    detail: str = ""
    timer: TimerKey | None = None


@dataclass(frozen=True)
class CallerNotOffered:
    """A waiting caller was examined and no agent could be offered it: the logged-in agents
    with one of its skills and why each cannot take it, those a supervisor may think free
    first (at most `Acd.explain_top`; `more` left out)."""

    call_id: CallId
    skills: tuple[SkillId, ...]
    min_proficiency: int
    agents: tuple[NotCandidate, ...]
    more: int = 0


Action = Offer | CancelOffer | Overflow | SetTimer | CancelTimer
Notice = (
    CallerQueued
    | OfferRejected
    | OfferCancelled
    | CallConnected
    | CallerLeft
    | CallFinished
    | CallTransferred
    | AgentStateChanged
    | AutoPauseAlert
    | OfferDecided
    | CallerNotOffered
)
Command = Action | Notice
