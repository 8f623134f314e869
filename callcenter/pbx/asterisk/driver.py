"""The Asterisk driver: AMI through panoramisk, translated into our PbxEvent vocabulary.

How a call flows (see dialplans/asterisk/extensions.conf.j2):
  caller joins  -> UserEvent CCJoin -> CallerEntered; the caller goes on to cc-hold (CCWait)
  offer         -> one Originate per agent: the agent's own leg, its uniqueid chosen here
                   (leg_uniqueid: call and agent), cc-agent-up run when it answers; the caller
                   stays in cc-hold's music, untouched
  agent rings   -> DialBegin of the originated leg (DestUniqueid names call and agent)
  agent answers -> cc-agent-up: the first answer sends the caller to cc-connect (record,
                   Bridge) and reports UserEvent CCAnswered -> AgentAnswered (CC_AGENT kept on
                   the caller's channel); the driver hangs up the other legs
  no answer     -> the leg's Hangup (DialEnd's status, the SIP cause) -> AgentNotAnswered; a
                   leg Asterisk could not create at all: OriginateResponse Failure
  hangups       -> Hangup -> CallerGone (its ringing legs are hung up) / AgentLegEnded
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

# An agent leg that ended unanswered with no DialEnd: its Hangup's Q.850 cause as a dial status
CAUSE_DIAL_STATUS = {17: "BUSY", 21: "BUSY", 1: "CHANUNAVAIL", 3: "CHANUNAVAIL", 20: "CHANUNAVAIL"}
CAUSE_DIAL_STATUS |= {34: "CONGESTION", 38: "CONGESTION", 41: "CONGESTION", 42: "CONGESTION"}

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
    dialling: set[str] = field(default_factory=set)  # agents originated, not yet ringing
    ended_by: str = ""  # who hung up first once connected: "caller" or "agent"
    hanging_up: bool = False  # the caller asked to hang up (before any answer)
    number: str = ""  # the caller's number (shown on the agents' phones)


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
        # agent legs originated for an offer, by the uniqueid given them -> (call id, agent id)
        self._originated: dict[str, tuple[str, str]] = {}
        # a restarted engine must not reuse a live leg's uniqueid: numbering starts at the clock
        self._seq = int(time.time() * 1000) % 10**10
        # agent channels whose DialEnd said how the ring ended (reported at their Hangup)
        self._dial_status: dict[str, str] = {}
        self._rang: set[str] = set()  # originated legs that rang, until their OriginateResponse
        self._retired: set[str] = set()  # legs of a call transferred away: never its answer again
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
            ("OriginateResponse", self._on_originate_response),
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
            self._calls[call_id] = _Call(
                call_id, m.get("Channel", ""), "join", number=_one(m.get("Caller", ""))
            )
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
            # the caller reached cc-hold (after its join, or back from a transfer); an offer
            # may already ring: originated legs need not wait for it
            if call.where != "join":
                return
            call.where = "hold"
            if call.pending is not None:
                agents, timeout = call.pending
                call.pending = None
                self._spawn(self._send_offer(call, agents, timeout))
        elif kind == "CCAnswered":
            self._on_answered(call_id, m)
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

    def _on_answered(self, call_id: str, m: Message) -> None:
        """cc-agent-up: this agent's leg answered first and the caller is on its way to it."""
        uid = _one(m.get("Uniqueid", ""))
        found = self._leg(uid)
        call = self._calls.get(call_id)
        if found is None or call is None or found[0] != call_id:
            return
        agent_id = found[1]
        channel = m.get("Channel", "")
        self._legs[channel] = (call_id, agent_id)
        self._leg_uids[channel] = uid
        call.where = "connected"
        call.agent_id = agent_id
        # the first answer wins: every other leg of this offer is cancelled
        for other_uid, (cid, other) in list(self._originated.items()):
            if cid == call_id and other_uid != uid:
                call.cancelled.add(other)
                self._spawn(self._hangup_channel(other_uid))  # Hangup takes a uniqueid too
        call.dialling.clear()
        self._spawn(self._mark_connected(call.channel, agent_id, time.time()))
        self._events.put_nowait(AgentAnswered(self.node, call_id, agent_id, uid))

    def _leg(self, uid: str) -> tuple[str, str] | None:
        """(call id, agent id) of an agent's leg this driver (or one before it: the uniqueid
        says) originated for a call it knows."""
        found = self._originated.get(uid)
        if uid in self._retired:
            return None
        if found is None:
            found = leg_of_uniqueid(uid)
            if found is None or found[0] not in self._calls or found[1] not in self._dials:
                return None
            self._originated[uid] = found
        return found

    def _on_dial_begin(self, manager: Manager, m: Message) -> None:
        """An agent's leg the driver originated rings (no caller: Originate dials alone)."""
        uid = m.get("DestUniqueid", "")
        found = self._leg(uid)
        dest = m.get("DestChannel", "")
        if found is None or not dest:
            return
        self._rang.add(uid)
        call = self._calls.get(found[0])
        if call is None:  # the caller hung up before this leg could be hung up with it
            self._spawn(self._hangup_channel(dest))
            return
        self._legs[dest] = found
        self._leg_uids[dest] = uid
        call.dialling.discard(found[1])
        if found[1] in call.cancelled:
            self._spawn(self._hangup_channel(dest))

    def _on_dial_end(self, manager: Manager, m: Message) -> None:
        dest = m.get("DestChannel", "")
        status = m.get("DialStatus", "")
        if dest in self._legs and status != "ANSWER":
            self._dial_status[dest] = status  # reported at its Hangup, which has the SIP cause

    def _on_originate_response(self, manager: Manager, m: Message) -> None:
        """An agent's leg Asterisk could not create (no contact, unknown endpoint): it never
        rang. A leg that rang is reported by its Hangup instead."""
        uid = _one(m.get("ActionID", ""))
        if uid in self._rang:
            self._rang.discard(uid)
            return
        found = self._leg(uid)
        if found is None or m.get("Response") != "Failure":
            return
        call_id, agent_id = found
        call = self._calls.get(call_id)
        self._originated.pop(uid, None)
        if call is None:
            return
        call.dialling.discard(agent_id)
        if not call.hanging_up:
            reason = "cancelled" if agent_id in call.cancelled else "unreachable"
            if _int(m.get("Reason", "0")) == 5:  # AST_CONTROL_BUSY
                reason = "refused"
            self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, reason))
        self._back_to_hold(call)

    def _on_hangup(self, manager: Manager, m: Message) -> None:
        channel = m.get("Channel", "")
        uid = m.get("Uniqueid", "")
        callback_of = self._callback_uids.get(uid)
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
        self._originated.pop(uid, None)
        self._retired.discard(uid)
        status = self._dial_status.pop(channel, "")
        leg = self._legs.pop(channel, None)
        self._leg_uids.pop(channel, None)
        if leg is not None:
            call_id, agent_id = leg
            call = self._calls.get(call_id)
            if call is None:
                return  # the caller is gone: its ringing legs end with it, no miss
            if call.agent_id == agent_id:
                by = call.ended_by
                self._events.put_nowait(AgentLegEnded(self.node, call_id, agent_id, by))
                return
            if agent_id in call.cancelled:
                self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, "cancelled"))
            elif not call.hanging_up:  # the caller hanging up ends the ring: no miss
                sip = _int(m.get("TechCause", "0"))
                status = status or CAUSE_DIAL_STATUS.get(_int(m.get("Cause", "0")), "NOANSWER")
                reason = agent_leg_outcome(status, sip)
                self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, reason, sip))
            self._back_to_hold(call)
            return
        call_id = m.get("Linkedid", "")
        call = self._calls.get(call_id)
        if call is not None and call.channel == channel:
            del self._calls[call_id]
            # the agents' legs still ringing end with the caller (a leg not created yet is
            # hung up at its DialBegin); the answered one leaves the bridge on its own
            for leg_uid, (cid, agent_id) in list(self._originated.items()):
                if cid == call_id and agent_id != call.agent_id:
                    self._spawn(self._hangup_channel(leg_uid))
            self._events.put_nowait(CallerGone(self.node, call_id, call.ended_by))

    def _back_to_hold(self, call: _Call) -> None:
        """The offer's last leg ended unanswered: the caller, still in cc-hold, may be offered
        again (an offer that came meanwhile goes out now)."""
        if call.where != "offer" or call.agent_id or call.dialling:
            return
        if any(cid == call.call_id for cid, _ in self._originated.values()):
            return
        call.where = "hold"
        call.cancelled.clear()
        if call.pending is not None:
            agents, timeout = call.pending
            call.pending = None
            self._spawn(self._send_offer(call, agents, timeout))

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
        trace.mark("sending" if call.where in ("join", "hold") else "held", call_id)
        if call.where in ("join", "hold"):
            # the agents' legs may ring while the caller is still on its way to cc-hold
            await self._send_offer(call, agent_ids, timeout)
        elif call.where == "offer" and self._grows(call, agent_ids):
            # ring-progressively: the added agents' legs ring beside those ringing already
            live = self._offered(call)
            call.cancelled.difference_update(agent_ids)
            await self._send_offer(call, tuple(a for a in agent_ids if a not in live), timeout)
        elif call.where == "offer":
            call.pending = (agent_ids, timeout)  # sent when the last leg of this offer ended
        else:
            self._fail(call_id, "offer", agent_ids, f"caller is in {call.where}")

    def _offered(self, call: _Call) -> set[str]:
        """Agents with a leg of this call's offer, ringing or about to."""
        return {a for cid, a in self._originated.values() if cid == call.call_id}

    def _grows(self, call: _Call, agent_ids: tuple[str, ...]) -> bool:
        """The offer adds agents to those ringing now: every agent with a live leg is in it."""
        live = self._offered(call) - call.cancelled
        if not live or call.pending is not None or call.agent_id:
            return False
        return live <= set(agent_ids) and len(agent_ids) > len(live)

    async def _send_offer(self, call: _Call, agent_ids: tuple[str, ...], timeout: float) -> None:
        """Originate each agent's leg (the caller stays in cc-hold). All actions go out back to
        back: one round trip whatever the number of agents."""
        call.where = "offer"
        agents = [a for a in agent_ids if a in self._dials]
        ring = int(timeout + 0.5) + 5  # the engine's own timer cancels first
        actions: list[dict[str, str | list[str]]] = []
        uids: list[str] = []
        for agent_id in agents:
            self._seq += 1
            uid = leg_uniqueid(call.call_id, agent_id, self._seq)
            uids.append(uid)
            self._originated[uid] = (call.call_id, agent_id)
            call.dialling.add(agent_id)
            dial = self._dials[agent_id]
            actions.append(
                {
                    "Action": "Originate",
                    "ActionID": uid,  # OriginateResponse names the leg by it
                    "Channel": dial,
                    "Context": "cc-agent-up",
                    "Exten": "s",
                    "Priority": "1",
                    "Async": "true",
                    "ChannelId": uid,
                    "Timeout": str(ring * 1000),
                    "CallerID": f'"{call.number}" <{call.number}>',
                    "PreDialGoSub": "cc-predial,s,1",
                    "Variable": [
                        f"CC_CALLER_CHAN={call.channel}",
                        f"CC_CALL_ID={call.call_id}",
                        f"CC_AGENT_DIAL={dial}",
                    ],
                }
            )
        trace.mark("written", call.call_id)
        oks = await self._actions(actions)
        refused = [a for a, ok in zip(agents, oks, strict=True) if not ok]
        for uid, ok in zip(uids, oks, strict=True):
            if not ok:
                self._originated.pop(uid, None)
        call.dialling.difference_update(refused)
        if agents and len(refused) == len(agents) and not self._offered(call):
            call.where = "hold"
            self._fail(call.call_id, "offer", tuple(agent_ids), "originate refused")
            return
        for agent_id in refused:
            self._events.put_nowait(AgentNotAnswered(self.node, call.call_id, agent_id, "failed"))
        if not agents:
            call.where = "hold"
            self._fail(call.call_id, "offer", agent_ids, "no dial string for these agents")

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
        if call.pending is not None and set(call.pending[0]) & set(agent_ids):
            # an offer waiting for the ring before it to end: never sent, and each of its
            # rings ends here (one report per ring, as a leg's hang-up would give)
            for agent_id in call.pending[0]:
                self._events.put_nowait(AgentNotAnswered(self.node, call_id, agent_id, "cancelled"))
            call.pending = None
        call.cancelled.update(agent_ids)
        # by uniqueid: a leg not ringing yet is hung up at its DialBegin (cancelled)
        for uid, (leg_call, agent_id) in list(self._originated.items()):
            if leg_call == call_id and agent_id in agent_ids and call.agent_id != agent_id:
                await self._hangup_channel(uid)

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
        old = self._leg_uids.pop(agent_channel, "")
        self._originated.pop(old, None)
        self._retired.add(old)
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
        # the agents' legs the engine originated: their uniqueid names call and agent
        legs: dict[str, tuple[str, str]] = {}
        leg_uids: dict[str, str] = {}
        originated: dict[str, tuple[str, str]] = {}
        for m in channels:
            uid, channel = m.get("Uniqueid", ""), m.get("Channel", "")
            leg = leg_of_uniqueid(uid)
            call = calls.get(leg[0]) if leg is not None else None
            if leg is None or call is None:
                continue
            originated[uid] = leg
            legs[channel] = leg
            leg_uids[channel] = uid
            if call.where == "hold":  # ringing: the caller waits in cc-hold meanwhile
                call.where = "offer"
        self._calls = calls
        self._legs = legs
        self._leg_uids = leg_uids
        self._originated = originated
        self._dial_status = {}
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


def leg_uniqueid(call_id: str, agent_id: str, n: int) -> str:
    """The uniqueid of an agent's leg originated for a call: it names call and agent, in the
    shape of Asterisk's own ("<name>-<digits>.<digits>", as queue_log readers expect of the
    agent channel's id): "it-1796.7" and "1001" -> "it-1796_7-1001.<n>"."""
    head, _, tail = call_id.rpartition(".")
    return f"{head}_{tail}-{agent_id}.{n}" if head else f"{call_id}-{agent_id}.{n}"


def leg_of_uniqueid(uid: str) -> tuple[str, str] | None:
    """(call id, agent id) from leg_uniqueid's; None for any other uniqueid (the ;2 half of a
    Local channel, "<...>;2", is not the leg)."""
    rest, _, n = uid.rpartition(".")
    call, _, agent = rest.rpartition("-")
    head, _, tail = call.rpartition("_")
    if not (n.isdigit() and agent and head and tail.isdigit()):
        return None
    return f"{head}.{tail}", agent


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
