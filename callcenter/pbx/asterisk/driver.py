"""The Asterisk driver: AMI through panoramisk, translated into our PbxEvent vocabulary.

How a call flows (see dialplans/asterisk/extensions.conf.j2):
  caller joins  -> UserEvent CCJoin -> CallerEntered
  caller waits  -> UserEvent CCWait (in cc-hold; only now may it be redirected)
  offer         -> Setvar CC_TARGETS / CC_RING_TIMEOUT, Redirect to cc-offer (Dial)
  agent rings   -> DialBegin (DialString names the agent)
  agent answers -> DialEnd ANSWER -> AgentAnswered (CC_AGENT kept on the caller's channel)
  no answer     -> DialEnd NOANSWER/BUSY/... -> AgentNotAnswered; the dialplan returns the
                   caller to cc-hold (CCWait again)
  hangups       -> Hangup -> CallerGone / AgentLegEnded
The driver keeps only what translation needs: which channel is whose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from panoramisk import Manager
from panoramisk.message import Message

from callcenter import trace
from callcenter.pbx.asterisk.settings import overflow_location
from callcenter.pbx.base import (
    AgentAnswered,
    AgentContact,
    AgentLegEnded,
    AgentNotAnswered,
    CallbackDialed,
    CallbackRequested,
    CallerEntered,
    CallerFellBack,
    CallerGone,
    CallInProgress,
    CallRequest,
    CommandFailed,
    EmergencyStatus,
    FinishedCall,
    LinkDown,
    LinkUp,
    OutboundCall,
    OutboundEnded,
    PbxEvent,
    RecordingStarted,
    SurveyProgress,
)

log = logging.getLogger(__name__)

# A refused AMI login (wrong secret or user, or an address manager.conf does not permit) is
# a configuration error, not a dropped link: it is retried after 5 s, then 10, 20 ... and at
# most every 5 minutes, so a secret changed on the PBX first is picked up without a restart,
# and the engine never hammers the AMI port (or trips fail2ban on the PBX).
LOGIN_RETRY_FIRST = 5.0
LOGIN_RETRY_MAX = 300.0


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager, told when Asterisk refuses the login, and holding every
    (re)connect until `not_before` (loop time): panoramisk itself retries every
    reconnect_timeout seconds, refused login or not."""

    def __init__(self, on_refused: Any, **config: Any) -> None:
        super().__init__(**config)
        self.on_refused = on_refused
        self.not_before = 0.0
        self.stopped = False  # closed for good: no reconnect
        self._pending: asyncio.TimerHandle | None = None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.stopped:
            return None
        wait = self.not_before - self.loop.time()
        if wait > 0:
            if self._pending is None or self._pending.cancelled():
                self._pending = self.loop.call_later(wait, self._connect_later)
            return None
        return super().connect(*args, **kwargs)

    def _connect_later(self) -> None:
        self._pending = None
        self.connect()

    def stop(self) -> None:
        self.stopped = True
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self.close()

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        if not ok:
            reply = future.result()
            self.on_refused(str(reply.get("Message", "") or "no reason given"))
        return ok


SNAPSHOT_VARIABLES = (
    "CC_REC_REL",
    "CC_DID",
    "CC_SKILL",
    "CC_PRIORITY",
    "CC_ARRIVED",
    "CC_WHERE",
    "CC_AGENT",
    "CC_CONNECTED",
    "CC_CALL_ID",
)

# AstDB family where the dialplan's hangup handler (cc-done) keeps every ended call
FINISHED_FAMILY = "cc-done"

DIAL_STATUS_REASON = {
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "unavailable",
    "CANCEL": "cancelled",
}


# The SIP response that ended an agent's leg (Hangup's TechCause) and what it means for the
# offer. Asterisk's DialStatus alone says NOANSWER for 480, 488 and 603 alike.
REFUSED_SIP = frozenset({403, 480, 486, 488, 600, 603, 606})
UNREACHABLE_SIP = frozenset({404, 410, 604})
# Without a SIP response: what the dial status means for an agent's leg.
AGENT_DIAL_STATUS = {
    "NOANSWER": "no_answer",
    "BUSY": "refused",
    "CHANUNAVAIL": "unreachable",
    "CONGESTION": "failed",
}
# ContactStatus (and PJSIPShowContacts' Status) values of a contact that cannot be dialled.
_DEAD_CONTACT = frozenset({"Unreachable", "Removed"})


def agent_leg_outcome(dial_status: str, sip: int) -> str:
    """An agent's leg ended unanswered: no_answer, refused, failed or unreachable."""
    if sip in REFUSED_SIP:
        return "refused"
    if sip in UNREACHABLE_SIP:
        return "unreachable"
    if 400 <= sip < 700:
        return "failed"  # 408 timeout, 5xx, other 4xx/6xx: it failed at once
    return AGENT_DIAL_STATUS.get(dial_status, "failed")


@dataclass
class _Call:
    call_id: str
    channel: str
    where: str  # join, hold, offer, connected, fallback, gone
    pending: tuple[tuple[str, ...], float] | None = None  # an offer waiting for CCWait
    cancelled: set[str] = field(default_factory=set)
    agent_id: str = ""
    recording: str = ""  # relative path of the call's recording (no suffix)
    dialling: set[str] = field(default_factory=set)  # offered agents with no leg yet
    ended_by: str = ""  # who hung up first once connected: "caller" or "agent"
    hanging_up: bool = False  # the caller asked to hang up (before any answer)
    dropping: set[str] = field(default_factory=set)  # legs of a Dial replaced by a grown one


@dataclass
class _Callback:
    """Calling a citizen back through Local/s@cc-callback-agent: `uid` is the ;1 half."""

    call_id: str
    agent_id: str
    uid: str
    answered: bool = False  # the reserved agent answered
    reported: bool = False  # the agent's answer (or not) was reported
    cancelled: bool = False


class AsteriskDriver:
    def __init__(
        self,
        node: str,
        host: str,
        port: int,
        username: str,
        secret: str,
        agent_dials: Mapping[str, str],
        reconnect_timeout: int = 1,
        save_stream: BinaryIO | None = None,
        phone_dial: str = "PJSIP/{extension}",
        outbound_dial: str = "PJSIP/{number}@carrier-out",
    ) -> None:
        """`agent_dials` maps agent id -> dial string (e.g. "PJSIP/1001"); `phone_dial` makes
        the dial string of any other phone (a supervisor's) from its extension, and
        `outbound_dial` that of a citizen's number (callbacks, surveys)."""
        self.node = node
        self._phone_dial = phone_dial
        self._outbound_dial = outbound_dial
        self._dials = dict(agent_dials)
        # DialBegin's DialString is the part after the technology: "1001" for PJSIP/1001
        self._by_dialstring = {d.split("/", 1)[1]: a for a, d in agent_dials.items()}
        # Agents dialled straight at a PJSIP AOR ("PJSIP/1001") have contacts whose state
        # Asterisk reports; any other dial string (a Local channel, "PJSIP/1001@proxy") has
        # none here, so its reachability is not this node's to judge.
        self._by_aor = {
            d[len("PJSIP/") :]: a
            for a, d in agent_dials.items()
            if d.startswith("PJSIP/") and not any(c in d[len("PJSIP/") :] for c in "/@")
        }
        self._events: asyncio.Queue[PbxEvent] = asyncio.Queue()
        self._calls: dict[str, _Call] = {}
        self._legs: dict[str, tuple[str, str]] = {}  # agent channel -> (call id, agent id)
        self._leg_uids: dict[str, str] = {}  # agent channel -> its uniqueid (DialBegin)
        # agent channels that ended unanswered, reported at their Hangup (which has the cause)
        self._unanswered: dict[str, tuple[str, str, str]] = {}
        self._contacts: dict[str, dict[str, str]] = {}  # agent id -> contact URI -> status
        self._reachable: dict[str, bool] = {}  # agent id -> as last reported
        self._callbacks: dict[str, _Callback] = {}  # call id -> the callback being made
        self._callback_uids: dict[str, str] = {}  # uniqueid of its ;1 half -> call id
        self._up = False
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._where = f"user {username!r} at {host}:{port}"
        self.refused_logins = 0  # refused in a row (0 once a login succeeds)
        self._manager = _Manager(
            self._on_login_refused,
            host=host,
            port=port,
            username=username,
            secret=secret,
            ping_delay=5,
            ping_interval=5,
            reconnect_timeout=reconnect_timeout,
            forgetable_actions=("ping", "login", "setvar", "redirect", "hangup", "status"),
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            save_stream=save_stream,
        )
        for name, handler in (
            ("UserEvent", self._on_user_event),
            ("DialBegin", self._on_dial_begin),
            ("DialEnd", self._on_dial_end),
            ("Hangup", self._on_hangup),
            ("HangupRequest", self._on_hangup_request),
            ("SoftHangupRequest", self._on_hangup_request),
            ("ContactStatus", self._on_contact_status),
        ):
            self._manager.register_event(name, handler)

    # --- link --------------------------------------------------------------------------------

    async def connect(self) -> None:
        self._manager.loop = asyncio.get_running_loop()
        self._manager.connect()

    @property
    def up(self) -> bool:
        return self._up

    def _on_login(self, manager: Manager) -> None:
        if self.refused_logins:
            log.warning(
                "PBX node %s: AMI login accepted after %d refused", self.node, self.refused_logins
            )
        self.refused_logins = 0
        self._up = True
        self._events.put_nowait(LinkUp(self.node))

    def _on_login_refused(self, message: str) -> None:
        """Asterisk refused the login: say so once per attempt, and wait before the next."""
        self.refused_logins += 1
        delay = min(LOGIN_RETRY_MAX, LOGIN_RETRY_FIRST * 2 ** (self.refused_logins - 1))
        self._manager.not_before = self._manager.loop.time() + delay
        problem = (
            f"AMI authentication failed: Asterisk refused the login of {self._where} "
            f"({message}); check the node's secret and manager.conf"
        )
        log.error(
            "PBX node %s: %s; attempt %d, next in %.0f s",
            self.node,
            problem,
            self.refused_logins,
            delay,
        )
        if self.refused_logins == 1:
            self._events.put_nowait(LinkDown(self.node, problem))
        self._manager.close()  # Asterisk closes it too; no ping on an unauthenticated link
        self._manager.connect()  # held until not_before

    def _on_disconnect(self, manager: Manager, exc: Any) -> None:
        if self._up:
            self._up = False
            self._events.put_nowait(LinkDown(self.node, str(exc)))

    async def close(self) -> None:
        self._closing = True
        # panoramisk schedules a reconnect on connection loss; stop() keeps it from firing
        self._manager.stop()

    async def events(self) -> AsyncIterator[PbxEvent]:
        while True:
            yield await self._events.get()

    def events_nowait(self) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    # --- AMI events ----------------------------------------------------------------------------

    def _on_user_event(self, manager: Manager, m: Message) -> None:
        kind = m.get("UserEvent", "")
        if kind in ("CCSurvey", "CCOutbound"):
            self._on_survey_event(kind, m)
            return
        call_id = _one(m.get("CallId", ""))
        if not call_id:
            return
        if kind == "CCJoin":
            trace.mark("read", call_id)
            self._calls[call_id] = _Call(call_id, m.get("Channel", ""), "join")
            self._events.put_nowait(
                CallerEntered(
                    node=self.node,
                    call_id=call_id,
                    channel=m.get("Channel", ""),
                    did=m.get("Did", ""),
                    skill=m.get("Skill", ""),
                    priority=_int(m.get("CcPriority", "0")),
                    arrived_at=_float(m.get("Arrived", "0")),
                    caller_number=m.get("Caller", ""),
                    ivr_path=m.get("IvrPath", ""),
                    requests=_join_requests(m),
                )
            )
        elif kind == "CCWait":
            call = self._calls.get(call_id)
            if call is None:
                return
            if call.where == "offer" and call.dialling:
                # Dial came back without ringing them: no contact to dial (not registered,
                # or qualify found it unreachable). The caller moves on now.
                for agent_id in sorted(call.dialling):
                    reason = "cancelled" if agent_id in call.cancelled else "unreachable"
                    self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, reason))
            call.dialling.clear()
            call.where = "hold"
            call.cancelled.clear()
            if call.pending is not None:
                agents, timeout = call.pending
                call.pending = None
                self._spawn(self._send_offer(call, agents, timeout))
        elif kind == "CCFallback":
            call = self._calls.get(call_id)
            if call is not None:
                call.where = "fallback"
            self._events.put_nowait(CallerFellBack(self.node, call_id))
        elif kind == "CCEmergency":
            self._events.put_nowait(
                EmergencyStatus(
                    self.node,
                    call_id,
                    m.get("Line", ""),
                    m.get("Target", ""),
                    m.get("Status", ""),
                )
            )
        elif kind == "CCCallback":
            call = self._calls.get(call_id)
            if call is not None:
                call.where = "callback"
                call.pending = None
            self._events.put_nowait(CallbackRequested(self.node, call_id, m.get("Number", "")))
        elif kind == "CCCallbackAgent":
            self._callback_agent(call_id, m.get("Status", ""))
        elif kind == "CCCallbackCitizen":
            status = m.get("Status", "")
            if status == "ANSWERED":
                self._events.put_nowait(CallbackDialed(self.node, call_id, "answered"))
            elif status != "ANSWER":  # ANSWER: the answered call is over (its hangup follows)
                reason = DIAL_STATUS_REASON.get(status, "error")
                self._events.put_nowait(CallbackDialed(self.node, call_id, reason))
        elif kind == "CCRecording":
            path = m.get("File", "")
            call = self._calls.get(call_id)
            if call is not None:
                call.recording = path
            if path:
                self._events.put_nowait(RecordingStarted(self.node, call_id, path))

    def _callback_agent(self, call_id: str, status: str) -> None:
        cb = self._callbacks.get(call_id)
        if cb is None or cb.reported:
            return
        cb.reported = True
        if status == "ANSWER":
            cb.answered = True
            self._events.put_nowait(AgentAnswered(self.node, call_id, cb.agent_id))
            return
        reason = "cancelled" if cb.cancelled else DIAL_STATUS_REASON.get(status, "error")
        self._forget_callback(cb)
        self._events.put_nowait(AgentNotAnswered(self.node, call_id, cb.agent_id, reason))

    def _forget_callback(self, cb: _Callback) -> None:
        self._callback_uids.pop(cb.uid, None)
        if self._callbacks.get(cb.call_id) is cb:
            del self._callbacks[cb.call_id]

    def _on_survey_event(self, kind: str, m: Message) -> None:
        survey_id = _one(m.get("Id", ""))
        if not survey_id:
            return
        if kind == "CCSurvey":
            self._events.put_nowait(SurveyProgress(self.node, survey_id, m.get("Result", "")))
        else:
            status = m.get("Status", "")
            outcome = "answered" if status == "ANSWER" else DIAL_STATUS_REASON.get(status, "error")
            self._events.put_nowait(OutboundEnded(self.node, survey_id, outcome))

    def _on_dial_begin(self, manager: Manager, m: Message) -> None:
        call = self._calls.get(m.get("Linkedid", ""))
        if call is None or m.get("Channel") != call.channel:
            return
        agent_id = self._by_dialstring.get(m.get("DialString", ""))
        dest = m.get("DestChannel", "")
        if agent_id is None or not dest:
            return
        self._legs[dest] = (call.call_id, agent_id)
        self._leg_uids[dest] = m.get("DestUniqueid", "")
        call.dialling.discard(agent_id)
        if agent_id in call.cancelled:
            self._spawn(self._hangup_channel(dest))

    def _on_dial_end(self, manager: Manager, m: Message) -> None:
        dest = m.get("DestChannel", "")
        leg = self._legs.get(dest)
        if leg is None:
            return
        call_id, agent_id = leg
        status = m.get("DialStatus", "")
        call = self._calls.get(call_id)
        if status == "ANSWER":
            if call is not None:
                call.where = "connected"
                call.agent_id = agent_id
                self._spawn(self._mark_connected(call.channel, agent_id, time.time()))
            uid = self._leg_uids.get(dest, "")
            self._events.put_nowait(AgentAnswered(self.node, call_id, agent_id, uid))
            return
        del self._legs[dest]
        self._leg_uids.pop(dest, None)
        if call is not None and dest in call.dropping:
            call.dropping.discard(dest)  # the Dial was replaced by a grown one: it rings again
            return
        if call is not None and call.hanging_up:
            return  # the caller hung up while it rang: its CallerGone ends the ring, no miss
        if call is not None and agent_id in call.cancelled:
            self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, "cancelled"))
            return
        # reported when the leg hangs up: its Hangup carries the SIP response (TechCause)
        self._unanswered[dest] = (call_id, agent_id, status)

    def _on_hangup(self, manager: Manager, m: Message) -> None:
        channel = m.get("Channel", "")
        callback_of = self._callback_uids.get(m.get("Uniqueid", ""))
        if callback_of is not None:
            cb = self._callbacks[callback_of]
            self._forget_callback(cb)
            if cb.answered:
                self._events.put_nowait(AgentLegEnded(self.node, cb.call_id, cb.agent_id))
                self._events.put_nowait(CallbackDialed(self.node, cb.call_id, "ended"))
            elif not cb.reported:
                reason = "cancelled" if cb.cancelled else "error"
                self._events.put_nowait(
                    AgentNotAnswered(self.node, cb.call_id, cb.agent_id, reason)
                )
            return
        ended = self._unanswered.pop(channel, None)
        if ended is not None:
            call_id, agent_id, status = ended
            sip = _int(m.get("TechCause", "0"))
            reason = agent_leg_outcome(status, sip)
            self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, reason, sip))
            return
        leg = self._legs.pop(channel, None)
        self._leg_uids.pop(channel, None)
        if leg is not None:
            call_id, agent_id = leg
            call = self._calls.get(call_id)
            if call is not None and call.agent_id == agent_id:
                by = call.ended_by
                self._events.put_nowait(AgentLegEnded(self.node, call_id, agent_id, by))
            return
        call_id = m.get("Linkedid", "")
        call = self._calls.get(call_id)
        if call is not None and call.channel == channel:
            del self._calls[call_id]
            self._events.put_nowait(CallerGone(self.node, call_id, call.ended_by))

    def _on_hangup_request(self, manager: Manager, m: Message) -> None:
        """A side of a connected call asked to hang up: the first one is who ended the call
        (Hangup events come in teardown order, the agent's leg first either way)."""
        channel = m.get("Channel", "")
        leg = self._legs.get(channel)
        if leg is not None:
            call = self._calls.get(leg[0])
            if call is not None and call.where == "connected" and call.agent_id == leg[1]:
                call.ended_by = call.ended_by or "agent"
            return
        call = self._calls.get(m.get("Linkedid", ""))
        if call is not None and call.channel == channel:
            if call.where == "connected":
                call.ended_by = call.ended_by or "caller"
            else:
                call.hanging_up = True

    # --- commands ------------------------------------------------------------------------------

    async def offer(self, call_id: str, agent_ids: tuple[str, ...], timeout: float) -> None:
        call = self._calls.get(call_id)
        if call is None:
            self._fail(call_id, "offer", agent_ids, "caller_gone")
            return
        trace.mark("sending" if call.where == "hold" else "held", call_id)
        if call.where == "hold":
            await self._send_offer(call, agent_ids, timeout)
        elif call.where == "offer" and self._grows(call, agent_ids):
            # ring-progressively: a Dial cannot gain a target, so the caller is sent to Dial
            # again with the grown set (the phones already ringing ring again at once)
            call.dropping.update(
                dest for dest, (call_id, _) in self._legs.items() if call_id == call.call_id
            )
            call.cancelled.difference_update(agent_ids)
            await self._send_offer(call, agent_ids, timeout)
        elif call.where in ("join", "offer"):
            call.pending = (agent_ids, timeout)  # sent when the caller is back in cc-hold
        else:
            self._fail(call_id, "offer", agent_ids, f"caller is in {call.where}")

    def _grows(self, call: _Call, agent_ids: tuple[str, ...]) -> bool:
        """The offer adds agents to the Dial ringing now: every agent with a live leg (or
        about to have one) is in it."""
        live = {a for call_id, a in self._legs.values() if call_id == call.call_id}
        if not live or call.pending is not None or call.agent_id:
            return False
        return (live | call.dialling) <= set(agent_ids) and len(agent_ids) > len(live)

    async def _send_offer(self, call: _Call, agent_ids: tuple[str, ...], timeout: float) -> None:
        call.where = "offer"
        call.dialling = set(agent_ids)
        targets = "&".join(self._dials[a] for a in agent_ids if a in self._dials)
        # The variables and the Redirect go out back to back, in one round trip: Asterisk runs
        # a session's actions in order, so cc-offer's Dial sees both variables set.
        trace.mark("written", call.call_id)
        *_, ok = await self._actions(
            [
                _setvar_action(call.channel, "CC_TARGETS", targets),
                _setvar_action(call.channel, "CC_RING_TIMEOUT", str(int(timeout + 0.5))),
                {
                    "Action": "Redirect",
                    "Channel": call.channel,
                    "Context": "cc-offer",
                    "Exten": "s",
                    "Priority": "1",
                },
            ]
        )
        if not ok:
            call.where = "hold"
            self._fail(call.call_id, "offer", agent_ids, "redirect refused")

    async def _mark_connected(self, channel: str, agent_id: str, at: float) -> None:
        """Keep who answered, and when, on the caller's channel: snapshot() reads them."""
        await self._actions(
            [
                _setvar_action(channel, "CC_AGENT", agent_id),
                _setvar_action(channel, "CC_CONNECTED", f"{at:.3f}"),
            ]
        )

    async def cancel_offer(self, call_id: str, agent_ids: tuple[str, ...]) -> None:
        cb = self._callbacks.get(call_id)
        if cb is not None and not cb.answered and cb.agent_id in agent_ids:
            cb.cancelled = True
            await self._hangup_channel(cb.uid)  # Hangup finds a channel by its uniqueid too
            return
        call = self._calls.get(call_id)
        if call is None:
            return
        if call.pending is not None:
            call.pending = None
            return
        call.cancelled.update(agent_ids)
        for dest, (leg_call, agent_id) in list(self._legs.items()):
            if leg_call == call_id and agent_id in agent_ids and call.agent_id != agent_id:
                await self._hangup_channel(dest)

    async def overflow(self, call_id: str, target: str, reason: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        call.pending = None
        call.where = "overflow"
        if target:  # the caller's queue's own overflow target (cc-overflow goes there)
            await self._action(
                {
                    "Action": "Setvar",
                    "Channel": call.channel,
                    "Variable": "CC_OVERFLOW",
                    "Value": overflow_location(target),
                }
            )
        await self._action(
            {
                "Action": "Redirect",
                "Channel": call.channel,
                "Context": "cc-overflow",
                "Exten": "s",
                "Priority": "1",
            }
        )

    async def heartbeat(self, now: float) -> None:
        if self._up:
            await self._action(
                {"Action": "Setvar", "Variable": "CC_HEARTBEAT", "Value": str(int(now))}
            )

    async def set_priority(self, call_id: str, priority: int) -> None:
        await self._set_on_caller(call_id, "__CC_PRIORITY", str(priority))

    async def set_skill(self, call_id: str, skill: str) -> None:
        await self._set_on_caller(call_id, "__CC_SKILL", skill)

    async def _set_on_caller(self, call_id: str, variable: str, value: str) -> None:
        """A channel variable on the caller's channel (inherited by what it dials: `__`)."""
        call = self._calls.get(call_id)
        if call is not None:
            await self._action(
                {"Action": "Setvar", "Channel": call.channel, "Variable": variable, "Value": value}
            )

    def _agent_channel(self, call: _Call) -> str:
        return next(
            (
                dest
                for dest, (cid, agent) in self._legs.items()
                if cid == call.call_id and agent == call.agent_id
            ),
            "",
        )

    async def emergency_transfer(self, call_id: str, line: str, mode: str) -> None:
        call = self._calls.get(call_id)
        agent_channel = self._agent_channel(call) if call is not None else ""
        if call is None or not agent_channel:
            self._fail(call_id, "emergency", (), "no connected call to transfer")
            return
        if mode == "blind":
            # the agent's leg is the transferer: the caller goes to the emergency line
            ok = await self._action(
                {
                    "Action": "BlindTransfer",
                    "Channel": agent_channel,
                    "Exten": line,
                    "Context": "cc-emergency",
                }
            )
        else:
            room = "cc-" + call_id.replace(".", "-")
            for channel in (call.channel, agent_channel):
                await self._action(
                    {"Action": "Setvar", "Channel": channel, "Variable": "CC_CONF", "Value": room}
                )
            ok = await self._action(
                {
                    "Action": "Redirect",
                    "Channel": call.channel,
                    "ExtraChannel": agent_channel,
                    "Context": "cc-conference",
                    "Exten": "s",
                    "Priority": "1",
                    "ExtraContext": "cc-conference",
                    "ExtraExten": "s",
                    "ExtraPriority": "1",
                }
            )
            if ok:
                ok = await self._action(
                    {
                        "Action": "Originate",
                        "Channel": f"Local/{line}@cc-emergency/n",
                        "Application": "ConfBridge",
                        "Data": f"{room},cc-bridge,cc-emergency-user",
                        "Variable": [f"CC_CALL_ID={call_id}", f"CC_REC_REL={call.recording}"],
                        "Async": "true",
                    }
                )
        if not ok:
            self._fail(call_id, "emergency", (), f"the PBX refused the {mode} transfer")

    async def transfer(self, call_id: str, skill: str) -> None:
        call = self._calls.get(call_id)
        agent_channel = self._agent_channel(call) if call is not None else ""
        if call is None or not agent_channel:
            self._fail(call_id, "transfer", (), "no connected call to transfer")
            return
        # the agent's leg is no longer the call's: its hangup ends no call (the engine already
        # ended the agent's segment), and an offer waits until the caller is back in cc-hold
        self._legs.pop(agent_channel, None)
        self._leg_uids.pop(agent_channel, None)
        call.agent_id = ""
        call.ended_by = ""
        call.where = "join"
        oks = await self._actions(
            [
                # on the channel, so a restarted engine's snapshot restores the new skill
                _setvar_action(call.channel, "__CC_SKILL", skill),
                _setvar_action(call.channel, "CC_AGENT", ""),
                _setvar_action(call.channel, "CC_CONNECTED", ""),
                {
                    "Action": "Redirect",
                    "Channel": call.channel,
                    "Context": "cc-hold",
                    "Exten": "s",
                    "Priority": "1",
                },
            ]
        )
        # the caller left the bridge: the agent's leg ends (Dial hangs it up; make sure)
        await self._hangup_channel(agent_channel)
        if not all(oks):
            self._fail(call_id, "transfer", (), "the PBX refused the transfer")

    async def spy(self, call_id: str, extension: str, mode: str) -> None:
        dial = self._phone_dial.format(extension=extension)
        call = self._calls.get(call_id)
        channel = self._agent_channel(call) if call is not None else ""
        if call is None or not channel:
            self._fail(call_id, "spy", (), "no connected call to listen to")
            return
        # q: no beep; E: end with the agent's leg; w: whisper to the agent; B: talk to both
        options = {"listen": "qE", "whisper": "qEw", "barge": "qEB"}[mode]
        ok = await self._action(
            {
                "Action": "Originate",
                "Channel": dial,
                "Application": "ChanSpy",
                "Data": f"{channel},{options}",
                "Async": "true",
                "CallerID": f'"{mode}" <{call.agent_id}>',
            }
        )
        if not ok:
            self._fail(call_id, "spy", (), "the PBX refused to ring the supervisor")

    async def stream_audio(self, call_id: str, leg: str, address: str, stream_id: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        channel = call.channel if leg == "caller" else self._agent_channel(call)
        if not channel:
            log.warning("call %s: no %s channel to stream", call_id, leg)
            return
        # A listen-only spy (q quiet, E end with the spied channel, o only the audio coming
        # from that channel) whose audio goes to the AudioSocket server as 8 kHz slin.
        await self._action(
            {
                "Action": "Originate",
                "Channel": f"AudioSocket/{address}/{stream_id}/c(slin)",
                "Application": "ChanSpy",
                "Data": f"{channel},qEo",
                "Async": "true",
                "CallerID": f"live-asr <{leg}>",
            }
        )

    async def announce(self, call_id: str, prompts: tuple[str, ...], callback_offer: bool) -> None:
        call = self._calls.get(call_id)
        if call is None or call.where != "hold" or not prompts:
            return
        if callback_offer:
            await self._setvar(call.channel, "CC_CALLBACK", "offered")
        await self._setvar(call.channel, "CC_ANNOUNCE", "&".join(prompts))

    async def callback(self, call: OutboundCall, agent_id: str, ring_timeout: float) -> None:
        uid = f"cb-{call.ref}-{call.attempt}"
        cb = _Callback(call.ref, agent_id, uid)
        self._callbacks[call.ref] = cb
        self._callback_uids[uid] = call.ref
        ring = int(ring_timeout + 0.5) + 5  # the engine's own timer cancels first
        ok = await self._action(
            {
                "Action": "Originate",
                "Channel": "Local/s@cc-callback-agent/n",
                "Context": "cc-callback-dial",
                "Exten": "s",
                "Priority": "1",
                "Async": "true",
                "ChannelId": uid,
                "Timeout": str((ring + 5) * 1000),
                "CallerID": f'"12345 callback" <{call.caller_id}>',
                "Variable": [
                    f"CC_CALL_ID={call.ref}",
                    f"CC_TARGETS={self._dials.get(agent_id, '')}",
                    f"CC_RING_TIMEOUT={ring}",
                    f"CC_DIAL={self._outbound_dial.format(number=call.number)}",
                    f"CC_OUT_TIMEOUT={int(call.timeout + 0.5)}",
                    f"CC_CALLER_ID={call.caller_id}",
                    f"CC_AGENT={agent_id}",
                    f"CC_SKILL={call.skill}",
                ],
            }
        )
        if not ok and not cb.reported:
            cb.reported = True
            self._forget_callback(cb)
            self._events.put_nowait(AgentNotAnswered(self.node, call.ref, agent_id, "error"))

    async def survey_call(self, call: OutboundCall, input_timeout: float, retries: int) -> None:
        ok = await self._action(
            {
                "Action": "Originate",
                "Channel": "Local/s@cc-survey-dial/n",
                "Context": "cc-survey",
                "Exten": "s",
                "Priority": "1",
                "Async": "true",
                "ChannelId": f"sv-{call.ref}-{call.attempt}",
                "Timeout": str(int(call.timeout + 10) * 1000),
                "CallerID": f'"12345" <{call.caller_id}>',
                "Variable": [
                    f"CC_SURVEY_ID={call.ref}",
                    f"CC_DIAL={self._outbound_dial.format(number=call.number)}",
                    f"CC_OUT_TIMEOUT={int(call.timeout + 0.5)}",
                    f"CC_CALLER_ID={call.caller_id}",
                    f"CC_INPUT_TIMEOUT={int(input_timeout + 0.5)}",
                    f"CC_INPUT_RETRIES={retries}",
                ],
            }
        )
        if not ok:
            self._events.put_nowait(OutboundEnded(self.node, call.ref, "error"))

    async def _setvar(self, channel: str, name: str, value: str) -> bool:
        return await self._action(
            {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}
        )

    async def hangup(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is not None:
            await self._hangup_channel(call.channel)

    async def snapshot(self) -> list[PbxEvent]:
        """Channels in our contexts, rebuilt from Asterisk (after a connect or reconnect)."""
        reply = await self._manager.send_action(
            {"Action": "Status", "Variables": ",".join(SNAPSHOT_VARIABLES), "AllVariables": "false"}
        )
        messages = reply if isinstance(reply, list) else [reply]
        found: list[PbxEvent] = []
        channels: list[Message] = [m for m in messages if m.get("Event") == "Status"]
        calls: dict[str, _Call] = {}
        callbacks: dict[str, _Callback] = {}
        agent_of: dict[str, str] = {}
        for m in channels:
            v = _variables(m)
            where = v.get("CC_WHERE", "")
            call_id = m.get("Linkedid", "")
            if where == "callback" and v.get("CC_CALL_ID") and v.get("CC_AGENT"):
                # calling a citizen back, the agent on the line (the ;1 half of the Local)
                cb = _Callback(v["CC_CALL_ID"], v["CC_AGENT"], m.get("Uniqueid", ""), True, True)
                callbacks[cb.call_id] = cb
                found.append(
                    CallInProgress(
                        node=self.node,
                        call_id=cb.call_id,
                        agent_id=cb.agent_id,
                        skill=v.get("CC_SKILL", ""),
                        connected_at=_float(v.get("CC_CONNECTED", "0")),
                        recording=v.get("CC_REC_REL", ""),
                    )
                )
                continue
            if where not in ("hold", "offer") or not call_id:
                continue
            channel = m.get("Channel", "")
            agent = v.get("CC_AGENT", "")
            if where == "offer" and agent:
                calls[call_id] = _Call(
                    call_id,
                    channel,
                    "connected",
                    agent_id=agent,
                    recording=v.get("CC_REC_REL", ""),
                )
                agent_of[call_id] = agent
                found.append(
                    CallInProgress(
                        node=self.node,
                        call_id=call_id,
                        agent_id=agent,
                        skill=v.get("CC_SKILL", ""),
                        connected_at=_float(v.get("CC_CONNECTED") or v.get("CC_ARRIVED", "0")),
                        recording=v.get("CC_REC_REL", ""),
                    )
                )
            else:
                calls[call_id] = _Call(call_id, channel, where)
                found.append(
                    CallerEntered(
                        node=self.node,
                        call_id=call_id,
                        channel=channel,
                        did=v.get("CC_DID", ""),
                        skill=v.get("CC_SKILL", ""),
                        priority=_int(v.get("CC_PRIORITY", "0")),
                        arrived_at=_float(v.get("CC_ARRIVED", "0")),
                        caller_number=m.get("CallerIDNum", ""),
                        restored=True,
                    )
                )
        legs: dict[str, tuple[str, str]] = {}
        for m in channels:
            call_id = m.get("Linkedid", "")
            call = calls.get(call_id)
            if call is None or m.get("Channel") == call.channel:
                continue
            agent = agent_of.get(call_id) or self._agent_of_channel(m.get("Channel", ""))
            if agent:
                legs[m.get("Channel", "")] = (call_id, agent)
        self._calls = calls
        self._legs = legs
        self._callbacks = callbacks
        self._callback_uids = {cb.uid: cb.call_id for cb in callbacks.values()}
        found.sort(key=lambda e: e.arrived_at if isinstance(e, CallerEntered) else 0.0)
        return found

    # --- agents' phones --------------------------------------------------------------------------

    def _on_contact_status(self, manager: Manager, m: Message) -> None:
        agent_id = self._by_aor.get(m.get("AOR", ""))
        if agent_id is None:
            return
        uri, status = m.get("URI", ""), m.get("ContactStatus", "")
        contacts = self._contacts.setdefault(agent_id, {})
        if status == "Removed":
            contacts.pop(uri, None)
        else:
            contacts[uri] = status
        self._report_contact(agent_id)

    def _report_contact(self, agent_id: str, force: bool = False) -> AgentContact | None:
        statuses = self._contacts.get(agent_id, {}).values()
        live = [s for s in statuses if s not in _DEAD_CONTACT]
        reachable = bool(live)
        if reachable:
            status = "reachable" if "Reachable" in live else "registered"
        else:
            status = "unreachable" if statuses else "unregistered"
        if not force and self._reachable.get(agent_id) == reachable:
            return None
        self._reachable[agent_id] = reachable
        event = AgentContact(self.node, agent_id, reachable, status)
        if not force:
            self._events.put_nowait(event)
        return event

    async def agent_contacts(self) -> list[PbxEvent]:
        """Every agent's phone as Asterisk has it now (PJSIPShowContacts): an agent with no
        contact is unregistered; one whose every contact fails qualify is unreachable. Only
        agents dialled at a PJSIP AOR are reported (others have no contact to judge by)."""
        reply = await self._manager.send_action({"Action": "PJSIPShowContacts"})
        messages = reply if isinstance(reply, list) else [reply]
        contacts: dict[str, dict[str, str]] = {}
        for m in messages:
            if m.get("Event") != "ContactList":
                continue
            # ObjectName is "<aor>;@<hash>": the contact of that AOR
            agent_id = self._by_aor.get(m.get("ObjectName", "").split(";@", 1)[0])
            if agent_id is not None:
                contacts.setdefault(agent_id, {})[m.get("Uri", "")] = m.get("Status", "")
        self._contacts = contacts
        found: list[PbxEvent] = []
        for agent_id in sorted(self._by_aor.values()):
            event = self._report_contact(agent_id, force=True)
            if event is not None:
                found.append(event)
        return found

    def _agent_of_channel(self, channel: str) -> str:
        # "PJSIP/1001-0000002a" -> "1001"
        resource = channel.split("/", 1)[-1].rsplit("-", 1)[0]
        return self._by_dialstring.get(resource, "")

    async def finished_calls(self) -> list[FinishedCall]:
        """Ended calls as the dialplan's hangup handler (cc-done) kept them in AstDB."""
        reply = await asyncio.wait_for(
            self._manager.send_action({"Action": "DBGetTree", "Family": FINISHED_FAMILY}), 10
        )
        messages = reply if isinstance(reply, list) else [reply]
        found: list[FinishedCall] = []
        for m in messages:
            if m.get("Event") != "DBGetTreeResponse":
                continue
            call = self._finished(str(m.get("Key", "")).rsplit("/", 1)[-1], str(m.get("Val", "")))
            if call is None:
                log.warning("node %s: unreadable %s entry %s", self.node, FINISHED_FAMILY, m)
            else:
                found.append(call)
        return sorted(found, key=lambda c: c.ended_at)

    def _finished(self, call_id: str, value: str) -> FinishedCall | None:
        fields = value.split("|")
        if len(fields) != 13 or fields[0] != "v1" or not call_id:
            return None
        _, arrived, ended, where, did, skill, priority, number = fields[:8]
        agent, connected, fellback, answered_by, answered_at = fields[8:]
        if where.startswith("callback"):
            route = "callback"
        elif fellback or where == "fallback":
            route = "fallback"
        elif where in ("hold", "offer"):
            route = "engine"
        else:
            route = "other"
        if answered_by and answered_at:  # the dialplan saw the answer itself (cc-answered)
            # an agent rung through a SIP proxy answers on a channel named after the proxy
            # (PJSIP/kamailio-...): then the agent the engine marked on the caller, if any
            agent, connected = self._agent_of_channel(answered_by) or agent, answered_at
        elif route == "fallback" or not (agent and connected):
            agent, connected = "", ""
        if not agent:
            connected = ""
        return FinishedCall(
            node=self.node,
            call_id=call_id,
            did=did,
            skill=skill,
            priority=_int(priority),
            caller_number=number,
            arrived_at=_float(arrived),
            ended_at=_float(ended),
            route=route,
            agent_id=agent,
            connected_at=_float(connected) if connected else 0.0,
            fellback_at=_float(fellback) if fellback else 0.0,
        )

    async def forget_finished(self, call_ids: list[str]) -> None:
        for call_id in call_ids:
            await self._action({"Action": "DBDel", "Family": FINISHED_FAMILY, "Key": call_id})

    # --- plumbing ------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run an action from an AMI callback; the task is kept and its failure logged."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI action failed on node %s", self.node, exc_info=task.exception())

    async def _hangup_channel(self, channel: str) -> None:
        await self._action({"Action": "Hangup", "Channel": channel})

    async def _action(self, action: dict[str, str | list[str]]) -> bool:
        return (await self._actions([action]))[0]

    async def _actions(self, actions: list[dict[str, str | list[str]]]) -> list[bool]:
        """Send actions back to back, then read their replies: one round trip for all, not
        one each. Asterisk runs a session's actions in order, so each sees the effect of those
        before it. Returns whether Asterisk accepted each."""
        if not self._up:
            return [False] * len(actions)
        # Originate: take the "queued" response, not the later OriginateResponse event
        replies = [
            self._manager.send_action(
                a, **({"as_list": False} if a.get("Action") == "Originate" else {})
            )
            for a in actions
        ]  # panoramisk writes each to the socket now
        return [await self._accepted(a, r) for a, r in zip(actions, replies, strict=True)]

    async def _accepted(self, action: dict[str, str | list[str]], pending: Any) -> bool:
        try:
            reply = await asyncio.wait_for(pending, timeout=5)
        except (TimeoutError, OSError) as exc:
            log.warning("AMI %s failed: %s", action.get("Action"), exc)
            return False
        message = reply[0] if isinstance(reply, list) and reply else reply
        ok = bool(getattr(message, "success", False))
        if not ok:
            log.debug("AMI %s refused: %s", action.get("Action"), getattr(message, "message", ""))
        return ok

    def _fail(self, call_id: str, command: str, agent_ids: tuple[str, ...], message: str) -> None:
        self._events.put_nowait(CommandFailed(self.node, call_id, command, agent_ids, message))


def _setvar_action(channel: str, name: str, value: str) -> dict[str, str | list[str]]:
    return {"Action": "Setvar", "Channel": channel, "Variable": name, "Value": value}


def _variables(m: Message) -> dict[str, str]:
    raw = m.get("Variable", [])
    items = raw if isinstance(raw, list) else [raw]
    out: dict[str, str] = {}
    for item in items:
        name, _, value = str(item).partition("=")
        out[name] = value
    return out


def _join_requests(m: Message) -> tuple[CallRequest, ...]:
    """What CCJoin carries beyond the number's own skill and priority: the dialplan's
    CC_PRIORITY_BOOST / CC_SKILL_OVERRIDE, and the X-CC-* headers the dialplan read only on
    a channel of a trunk marked trust_headers (HeaderFrom: the trunk's name). Raw text."""
    found: list[CallRequest] = []
    boost, skill = _one(m.get("Boost", "")), _one(m.get("SkillOverride", ""))
    if boost or skill:
        found.append(CallRequest("dialplan", boost, skill))
    trunk = _one(m.get("HeaderFrom", ""))
    boost, skill = _one(m.get("HeaderBoost", "")), _one(m.get("HeaderSkill", ""))
    if trunk and (boost or skill):
        found.append(CallRequest(f"header:{trunk}", boost, skill))
    return tuple(found)


def _one(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value)


def _int(value: Any) -> int:
    try:
        return int(float(_one(value)))
    except ValueError:
        return 0


def _float(value: Any) -> float:
    try:
        return float(_one(value))
    except ValueError:
        return 0.0
