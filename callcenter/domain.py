"""Domain events: what happened in the center, fanned out on the bus.

The runtime derives these from the ACD's notices enriched with call metadata (node, DID,
hotline, caller number). Storage, metrics, the console, tickets and ASR subscribe; nothing
calls them directly. Times are Unix epoch seconds (float).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallerJoined:
    call_id: str
    node: str
    did: str
    hotline: str  # label of the merged number the caller dialled
    region: str
    caller_number: str
    skill: str
    priority: int
    at: float
    ivr_path: str = ""  # the IVR menu path taken before joining ("" = direct)


@dataclass(frozen=True)
class OfferMade:
    call_id: str
    agent_ids: tuple[str, ...]
    at: float


@dataclass(frozen=True)
class OfferRejected:
    call_id: str
    agent_id: str
    reason: str  # "no_answer", "refused", "failed", "unreachable"
    ring_seconds: float
    at: float
    cause: int = 0  # the PBX's code for it (the SIP response, e.g. 486, 488, 603), 0 unknown


@dataclass(frozen=True)
class OfferCancelled:
    """The engine stopped a ring before it ended: `cause` is why (paused, logged_out: the agent
    may no longer take it; abandoned, timeout, overflow, callback...: the caller left). Not the
    agent's miss. queue_log writes it as app_queue's RINGCANCELED."""

    call_id: str
    agent_id: str
    cause: str
    ring_seconds: float
    at: float


@dataclass(frozen=True)
class AutoPauseAlert:
    """More than the configured share of logged-in agents is auto-paused (`active`), or no
    longer: the supervisor should look before the floor empties."""

    active: bool
    auto_paused: int
    logged_in: int
    at: float


@dataclass(frozen=True)
class CallConnected:
    call_id: str
    agent_id: str
    waited: float
    at: float
    ring_seconds: float = 0.0  # from the engine's offer to the agent's answer


@dataclass(frozen=True)
class CallerLeft:
    """The caller left the queue: answered, abandoned, timeout, overflow or no_agents."""

    call_id: str
    reason: str
    waited: float
    position: int  # 1-based position in the queue when leaving (0 when answered)
    at: float


@dataclass(frozen=True)
class CallFinished:
    call_id: str
    agent_id: str
    talk_seconds: float
    at: float


@dataclass(frozen=True)
class AgentStateChanged:
    agent_id: str
    status: str  # logged_out / available / on_break
    state: str  # idle / offered / on_call / wrap_up
    reason: str  # break reason, or "" when none
    at: float


@dataclass(frozen=True)
class PbxConnection:
    node: str
    up: bool
    at: float


@dataclass(frozen=True)
class RecordingStarted:
    """The PBX records this call; `path` is relative to the recordings root (no suffix)."""

    call_id: str
    node: str
    path: str
    at: float


@dataclass(frozen=True)
class CallClosed:
    """The caller's channel is gone: nothing more will happen on this call."""

    call_id: str
    node: str
    at: float


@dataclass(frozen=True)
class LiveTranscript:
    """Speech recognized while the call is up: a partial (may still change) or a final
    segment of one speaker ("caller" / "agent")."""

    call_id: str
    speaker: str
    text: str
    final: bool
    start: float
    end: float
    at: float


@dataclass(frozen=True)
class EmergencyLinked:
    """A step of an emergency transfer: requested (by an actor, blind or conference), an
    emergency trunk answered ("LINKED"), or a dial attempt ended (DIALSTATUS)."""

    call_id: str
    line: str
    mode: str
    actor: str
    target: str
    status: str
    at: float


@dataclass(frozen=True)
class Announced:
    """A waiting caller was told its position and expected wait (None: not estimated)."""

    call_id: str
    position: int
    expected_wait: float | None
    callback_offered: bool
    at: float


@dataclass(frozen=True)
class CallbackRequested:
    """The caller took the callback offer: it keeps its place (`arrived_at`) off the line."""

    call_id: str
    node: str
    number: str
    skill: str
    priority: int
    arrived_at: float
    at: float


@dataclass(frozen=True)
class CallbackAttempt:
    """One stage of calling back: "agent" (the reserved agent answered and the citizen is
    being called), then "answered" or why not ("no_answer", "busy", "unavailable", "error")."""

    call_id: str
    attempt: int
    agent_id: str
    outcome: str
    at: float


@dataclass(frozen=True)
class CallbackScheduled:
    """The next attempt may start at `due_at` (after a failed one, or calling hours)."""

    call_id: str
    attempts: int
    due_at: float
    at: float


@dataclass(frozen=True)
class CallbackClosed:
    """The callback is over: "completed" (bridged to an agent) or "unreached" (attempts used
    up: handed to a person)."""

    call_id: str
    outcome: str
    attempts: int
    at: float


@dataclass(frozen=True)
class SurveyEvent:
    """A survey call's progress: "answered", a digit, "none" (SurveyProgress), or the end of
    the attempt "ended:<status>"."""

    survey_id: str
    result: str
    at: float


@dataclass(frozen=True)
class CallReconciled:
    """What the PBX kept of a call that ended while the engine was down or cut off, or that
    the fallback route served: the recorder fills what the call's record is missing (a
    missing record is created), and only that, so reconciling twice changes nothing."""

    call_id: str
    node: str
    did: str
    hotline: str
    region: str
    caller_number: str
    skill: str
    priority: int
    joined_at: float
    ended_at: float
    route: str  # "engine" or "fallback"
    agent_id: str  # "" = nobody answered
    connected_at: float  # 0 = never
    fellback_at: float  # 0 = never went to the fallback route


DomainEvent = (
    CallerJoined
    | OfferMade
    | OfferRejected
    | OfferCancelled
    | AutoPauseAlert
    | CallConnected
    | CallerLeft
    | CallFinished
    | AgentStateChanged
    | PbxConnection
    | RecordingStarted
    | CallClosed
    | LiveTranscript
    | EmergencyLinked
    | Announced
    | CallbackRequested
    | CallbackAttempt
    | CallbackScheduled
    | CallbackClosed
    | SurveyEvent
    | CallReconciled
)
