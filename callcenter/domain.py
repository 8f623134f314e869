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
    # where the priority and skill came from ("" = not known, e.g. a restored caller):
    # priority "number", "number+dialplan", "number+header:<trunk>"; skill "number",
    # "dialplan" or "header:<trunk>" (callcenter/call_priority.py)
    priority_source: str = ""
    skill_source: str = ""
    position: int = 1  # 1-based position in the queue at joining


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
    """A ring ended unanswered through no fault of the agent's phone: `reason` says why (the
    caller left: "abandoned", "timeout", ...; "answered_elsewhere" in a ring-all; "callback";
    the engine withdrew it: "cancelled", "caller_gone", or a rule's own word)."""

    call_id: str
    agent_id: str
    reason: str
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
    agent_leg: str = ""  # the PBX's id of the agent's channel ("" unknown)


@dataclass(frozen=True)
class CallerLeft:
    """The caller left the queue: answered, abandoned, timeout, overflow or no_agents."""

    call_id: str
    reason: str
    waited: float
    position: int  # 1-based position in the queue when leaving (0 when answered)
    at: float
    original_position: int = 0  # 1-based position at joining (0 unknown)


@dataclass(frozen=True)
class CallFinished:
    call_id: str
    agent_id: str
    talk_seconds: float
    at: float
    held: float = 0.0  # seconds from joining the queue to the answer
    original_position: int = 0  # 1-based position at joining (0 unknown)
    ended_by: str = ""  # who hung up first: "caller", "agent", "" unknown


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
class CallTransferred:
    """转专席: the agent's segment of a call ended by a blind transfer to `skill` (and to
    `to_agent` first, when named); the caller waits again. Talk and hold are the segment's."""

    call_id: str
    agent_id: str
    skill: str
    to_agent: str
    talk_seconds: float
    held: float
    at: float
    original_position: int = 0


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
    """The caller took the callback offer: it keeps its place (`arrived_at`) off the line.
    Or (`kind` "missed", 漏接回拨) a caller left the queue unanswered and the center will call
    it back: `call_id` is the task's own id, `missed_call_id` the call it missed, `reason`
    why that caller left (abandoned, timeout, overflow, no_agents)."""

    call_id: str
    node: str
    number: str
    skill: str
    priority: int
    arrived_at: float
    at: float
    kind: str = "queued"
    missed_call_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class MissedCall:
    """A caller left the queue unanswered (漏接) and what became of it: "task" (a callback task
    `task_id` was made), "merged" (a pending callback of the same number will call it),
    "repeat" (its number already had a missed-call callback today), "misdial" (hung up
    before [missed].min_wait), "undialable" (anonymous or not a number)."""

    call_id: str
    reason: str
    waited: float
    outcome: str
    task_id: str
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
    up: handed to a person); a missed-call callback also "merged" (the citizen took a
    queued callback meanwhile) or "returned" (the citizen called in again and was answered)."""

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
    | CallTransferred
    | AgentStateChanged
    | PbxConnection
    | RecordingStarted
    | CallClosed
    | LiveTranscript
    | EmergencyLinked
    | Announced
    | CallbackRequested
    | MissedCall
    | CallbackAttempt
    | CallbackScheduled
    | CallbackClosed
    | SurveyEvent
    | CallReconciled
)
