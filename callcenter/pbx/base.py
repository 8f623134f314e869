"""The PBX driver seam: our vocabulary, not AMI's or ESL's.

A driver translates. It holds no routing rules: it reports what the PBX did as `PbxEvent`s
and carries out commands. A command coroutine returns once the PBX accepted the command;
its result arrives later as an event. Every event carries the node it came from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from callcenter.errors import CallcenterError


class PbxError(CallcenterError):
    """The root of the PBX wings' errors: a PBX (or its proxy) refused a command or could not
    be reached, a 502 unless a subclass says otherwise."""

    status = 502
    error_id = "pbx.error"


class SandboxError(PbxError):
    """The sandbox PBX could not be built, started or reached."""

    status = 500
    error_id = "pbx.sandbox"


@dataclass(frozen=True)
class CallRequest:
    """Priority and skill a call asks for, as raw text from the PBX (validated above the
    driver, callcenter/call_priority.py). `source` is "dialplan" (channel variables) or
    "header:<trunk>" (SIP headers, passed on only from a trunk marked trust_headers)."""

    source: str
    priority_boost: str = ""
    skill: str = ""


@dataclass(frozen=True)
class CallerEntered:
    """A caller is waiting in the hold context (new, or found by a snapshot)."""

    node: str
    call_id: str
    channel: str
    did: str
    skill: str
    priority: int
    arrived_at: float
    caller_number: str
    restored: bool = False  # True when found by snapshot() rather than announced
    ivr_path: str = ""  # the menu path the caller took before joining
    requests: tuple[CallRequest, ...] = ()  # what the dialplan or a trusted header asked for


@dataclass(frozen=True)
class CallInProgress:
    """Found by snapshot(): this caller is already talking to this agent."""

    node: str
    call_id: str
    agent_id: str
    skill: str
    connected_at: float
    recording: str = ""  # relative path of the call's recording, when one is running


@dataclass(frozen=True)
class RecordingStarted:
    """The PBX started recording the call: `path` is relative to the recordings root, without
    the suffixes (`<path>.wav` mixed, `<path>-caller.wav`, `<path>-agent.wav`)."""

    node: str
    call_id: str
    path: str


@dataclass(frozen=True)
class EmergencyStatus:
    """An emergency trunk answered ("LINKED") or a dial attempt ended (the PBX's dial status:
    ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, ...)."""

    node: str
    call_id: str
    line: str
    target: str
    status: str


@dataclass(frozen=True)
class CallbackRequested:
    """The waiting caller pressed the key that accepts the callback offer and hangs up."""

    node: str
    call_id: str
    number: str


@dataclass(frozen=True)
class CallbackDialed:
    """Calling a citizen back: "answered" when the citizen picked up, else why not (no_answer,
    busy, unavailable, error); "ended" when the answered call is over."""

    node: str
    call_id: str
    status: str


@dataclass(frozen=True)
class SurveyProgress:
    """A survey call: "answered", then the digit pressed ("1"/"2"/"3") or "none"."""

    node: str
    survey_id: str
    result: str


@dataclass(frozen=True)
class OutboundEnded:
    """A survey call attempt is over: "answered" (the call took place), or why it did not
    (no_answer, busy, unavailable, error)."""

    node: str
    survey_id: str
    status: str


@dataclass(frozen=True)
class AgentAnswered:
    node: str
    call_id: str
    agent_id: str
    agent_leg: str = ""  # the PBX's id of the agent's channel (its uniqueid), "" unknown


@dataclass(frozen=True)
class AgentNotAnswered:
    """The agent's phone did not take the call. `reason`: no_answer (rang on), refused (the
    phone said no: busy, decline, not acceptable, temporarily unavailable), failed (at once:
    timeout, server error), unreachable (no reachable contact), cancelled (we stopped it);
    callbacks also use busy, unavailable and error. `cause`: the SIP response when known."""

    node: str
    call_id: str
    agent_id: str
    reason: str
    cause: int = 0


@dataclass(frozen=True)
class AgentContact:
    """Whether an agent's phone can be reached on this node: `status` is registered,
    reachable, unreachable (it stopped answering qualify) or unregistered (no contact)."""

    node: str
    agent_id: str
    reachable: bool
    status: str


@dataclass(frozen=True)
class AgentLegEnded:
    """The agent's side of a connected call hung up. `by`: who hung up first, "caller" or
    "agent" ("" when the PBX did not say)."""

    node: str
    call_id: str
    agent_id: str
    by: str = ""


@dataclass(frozen=True)
class CallerGone:
    """The caller's channel hung up. `by`: on a connected call, who hung up first ("caller"
    or "agent"; "" when not connected or not known): the two channels' Hangup events come
    in either order."""

    node: str
    call_id: str
    by: str = ""


@dataclass(frozen=True)
class CallerFellBack:
    """The dialplan moved a waiting caller to the fallback route (engine heartbeat stale)."""

    node: str
    call_id: str


@dataclass(frozen=True)
class CommandFailed:
    node: str
    call_id: str
    command: str
    agent_ids: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class LinkUp:
    node: str


@dataclass(frozen=True)
class LinkDown:
    node: str
    message: str


PbxEvent = (
    CallerEntered
    | CallInProgress
    | AgentAnswered
    | AgentNotAnswered
    | AgentContact
    | AgentLegEnded
    | CallerGone
    | CallerFellBack
    | RecordingStarted
    | EmergencyStatus
    | CallbackRequested
    | CallbackDialed
    | SurveyProgress
    | OutboundEnded
    | CommandFailed
    | LinkUp
    | LinkDown
)


@dataclass(frozen=True)
class FinishedCall:
    """A hotline call that has ended, as the PBX itself kept it: read back after a start or a
    reconnect, so calls that ended while the engine was down or cut off, and callers the
    fallback route served, get complete records. Times are epoch seconds, 0 = never."""

    node: str
    call_id: str
    did: str
    skill: str
    priority: int
    caller_number: str
    arrived_at: float
    ended_at: float
    route: str  # "engine" (the engine's queue), "fallback" (the PBX's own), "callback", "other"
    agent_id: str = ""  # the agent who answered ("" = nobody)
    connected_at: float = 0.0
    fellback_at: float = 0.0  # when it left the engine's queue for the fallback route


@dataclass(frozen=True)
class OutboundCall:
    """One outbound attempt: `ref` is the call id (callback) or survey id, `number` the
    citizen's number as dialled (digits, no "+": the node's settings say how it is dialled),
    `caller_id` what the citizen sees."""

    ref: str
    attempt: int
    number: str
    timeout: float
    caller_id: str
    skill: str = ""


class PbxDriver(Protocol):
    node: str

    async def connect(self) -> None:
        """Connect and keep reconnecting; LinkUp/LinkDown events report the link."""

    def events(self) -> AsyncIterator[PbxEvent]:
        """Every event, in the order the PBX produced it."""
        ...

    async def snapshot(self) -> list[PbxEvent]:
        """Rebuild state after a (re)connect: waiting callers and calls in progress."""
        ...

    async def agent_contacts(self) -> list[PbxEvent]:
        """Ask the PBX which agents' phones are reachable now (an AgentContact per agent)."""
        ...

    async def finished_calls(self) -> list[FinishedCall]:
        """The ended hotline calls the PBX still keeps (at most a day or so of them)."""
        ...

    async def forget_finished(self, call_ids: list[str]) -> None:
        """Let the PBX drop these finished calls' records (they are reconciled)."""

    async def offer(self, call_id: str, agent_ids: tuple[str, ...], timeout: float) -> None:
        """Ring these agents for the caller; the first to answer is bridged to it."""

    async def cancel_offer(self, call_id: str, agent_ids: tuple[str, ...]) -> None:
        """Stop ringing; the caller returns to waiting. Each ring stopped still ends with one
        report, as every ring does (AgentNotAnswered "cancelled", or the outcome that crossed
        the cancel), unless the caller is gone: the routing core takes that report as the
        old ring's, not as one about a newer offer of the caller to the same agent."""

    async def overflow(self, call_id: str, target: str, reason: str) -> None:
        """Send the caller out of the queue (timeout or overflow route)."""

    async def heartbeat(self, now: float) -> None:
        """Tell the dialplan the engine is alive (else callers fall back)."""

    async def set_priority(self, call_id: str, priority: int) -> None:
        """Keep the caller's effective priority on the PBX so a restarted engine restores it."""

    async def set_skill(self, call_id: str, skill: str) -> None:
        """Keep a skill the call asked for (dialplan or trusted header) on the PBX, so a
        restarted engine restores it and the PBX's record of the call holds it."""

    async def stream_audio(self, call_id: str, leg: str, address: str, stream_id: str) -> None:
        """Stream one leg's voice ("caller" or "agent") of a connected call, listen-only, to
        the engine's live-audio listener at `address` (host:port) under the UUID `stream_id`,
        carried as the wing's `LiveAudioListener` receives it."""

    async def emergency_transfer(self, call_id: str, line: str, mode: str) -> None:
        """Send a connected caller to an emergency line: "blind" (the agent drops off) or
        "conference" (caller, agent and the emergency operator together)."""

    async def transfer(self, call_id: str, skill: str) -> None:
        """Blind transfer of a connected caller to another skill's queue: the caller goes back
        to waiting (hold music) with `skill` kept on the PBX (a restart restores it there),
        and the agent's leg ends without ending the call."""

    async def spy(self, call_id: str, extension: str, mode: str) -> None:
        """Ring a supervisor's phone (its `extension`) and connect it to the agent's side of a call:
        "listen" (silent), "whisper" (heard by the agent only) or "barge" (heard by both)."""

    async def announce(self, call_id: str, prompts: tuple[str, ...], callback_offer: bool) -> None:
        """Play these prompt ids to a waiting caller (at the next second of its hold loop);
        `callback_offer`: from now on the caller's 1 key accepts a callback."""

    async def callback(self, call: OutboundCall, agent_id: str, ring_timeout: float) -> None:
        """Call back: ring the reserved agent (AgentAnswered / AgentNotAnswered as for an
        offer); once it answers, call the citizen and bridge (CallbackDialed). The answered
        call ends with AgentLegEnded and CallerGone."""

    async def survey_call(self, call: OutboundCall, input_timeout: float, retries: int) -> None:
        """Call a citizen for a survey (SurveyProgress, then OutboundEnded)."""

    async def hangup(self, call_id: str) -> None: ...

    async def close(self) -> None: ...


# -- live audio: what a PBX streams to the engine (stream_audio), whatever carries it ------


class LiveAudioError(PbxError):
    """The sender broke its framing; its connection is closed."""

    error_id = "pbx.live_audio"


@dataclass(frozen=True)
class StreamStarted:
    """The stream says who it is: the `stream_id` given to stream_audio (a UUID, lowercase)."""

    stream_id: str


@dataclass(frozen=True)
class AudioChunk:
    """Voice: 16-bit little-endian signed linear PCM, mono, at `rate` Hz."""

    rate: int
    pcm: bytes


LiveAudio = StreamStarted | AudioChunk

# Receives one stream: the peer ("host:port") and its items, which end when the stream ends
# (the iterator raises LiveAudioError when the sender breaks its framing).
LiveAudioHandler = Callable[[str, AsyncIterator[LiveAudio]], Awaitable[None]]


class LiveAudioListener(Protocol):
    """The engine's end of stream_audio at one address, as the wing's PBX carries it."""

    async def start(self, host: str, port: int, handle: LiveAudioHandler) -> int:
        """Listen at host:port (0: any free port), pass every stream to `handle` in a task
        of its own; returns the bound port."""
        ...

    async def close(self) -> None:
        """Stop listening, end every stream (its items end), wait for their handlers."""
        ...


class LiveAudioListeners:
    """Several wings' listeners at one address (a center with nodes of several kinds): each
    binds the same host and port (TCP and UDP apart); the first one's port is the others'."""

    def __init__(self, listeners: list[LiveAudioListener]) -> None:
        if not listeners:
            raise ValueError("no live audio listener")
        self.listeners = listeners
        self._started: list[LiveAudioListener] = []

    async def start(self, host: str, port: int, handle: LiveAudioHandler) -> int:
        try:
            for listener in self.listeners:
                port = await listener.start(host, port, handle)
                self._started.append(listener)
        except BaseException:
            await self.close()
            raise
        return port

    async def close(self) -> None:
        started, self._started = self._started, []
        for listener in started:
            await listener.close()
