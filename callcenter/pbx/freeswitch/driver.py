"""The FreeSWITCH driver: inbound ESL (callcenter/pbx/freeswitch/esl.py), translated into our
PbxEvent vocabulary.

How a call flows (see dialplans/freeswitch/cc-dialplan.xml.j2):
  caller joins  -> CUSTOM cc::join (channel variables cc_did, cc_skill, ...) -> CallerEntered
  caller waits  -> the hold loop in cc-hold (music, a second at a time, heartbeat checked)
  offer         -> per agent: bgapi originate {origination_uuid=<leg>,...}user/<ext> &park();
                   its result says how the agent's phone answered: +OK (answered) or -ERR
                   <cause> (USER_NOT_REGISTERED at once: unreachable)
  agent answers -> uuid_bridge caller leg -> AgentAnswered (cc_engine_agent, cc_connected kept
                   on the caller's channel, for snapshot() and the record of the call)
  hangups       -> CHANNEL_HANGUP (the first side of a connected call is who hung up) and
                   CHANNEL_HANGUP_COMPLETE -> CallerGone / AgentLegEnded
  fallback      -> CUSTOM cc::fallback -> CallerFellBack (mod_callcenter serves the caller)
  ended calls   -> the dialplan's api_hangup_hook keeps each in mod_db (realm cc-done)
The driver keeps only what translation needs: which channel is whose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter import trace
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
    FinishedCall,
    LinkDown,
    LinkUp,
    OutboundCall,
    OutboundEnded,
    PbxError,
    PbxEvent,
    RecordingStarted,
    SurveyProgress,
)
from callcenter.pbx.freeswitch import emergency
from callcenter.pbx.freeswitch.esl import (
    EslAuthError,
    EslClient,
    EslConnectionLost,
    EslError,
    EslEvent,
)
from callcenter.pbx.freeswitch.live_sip import USER_PREFIX
from callcenter.pbx.freeswitch.settings import overflow_location

log = logging.getLogger(__name__)

EVENTS = (
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CUSTOM",  # every word after CUSTOM is a subclass
    "cc::join",
    "cc::fallback",
    "cc::survey",
    "cc::callback",
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
    "sofia::sip_user_state",
    *emergency.SUBCLASSES,
)
SIP_PROFILE = "cc"  # the SIP profile of cc-sofia.conf.xml.j2
FINISHED_REALM = "cc-done"  # mod_db realm of the dialplan's record of every ended call
RECONNECT_FIRST = 1.0
LOGIN_RETRY_MAX = 300.0
RING_GRACE = 5.0  # FreeSWITCH's own ring limit, past the engine's offer timeout

# An originate's -ERR cause (Q.850 name) and what it means for an offer, with the SIP
# response FreeSWITCH maps to that cause.
REFUSED = {
    "USER_BUSY": 486,
    "CALL_REJECTED": 603,
    "NO_USER_RESPONSE": 480,
    "INCOMPATIBLE_DESTINATION": 488,
    "DECLINE": 603,
}
UNREACHABLE = frozenset(
    {"USER_NOT_REGISTERED", "SUBSCRIBER_ABSENT", "NO_ROUTE_DESTINATION", "UNALLOCATED_NUMBER"}
)
NO_ANSWER = frozenset({"NO_ANSWER", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT"})
CANCELLED = frozenset({"ORIGINATOR_CANCEL", "LOSE_RACE", "PICKED_OFF"})


class PbxCapabilityError(PbxError):
    """A PbxDriver capability this wing does not carry out (yet)."""

    status = 501
    error_id = "pbx.capability"


def outbound_outcome(cause: str) -> str:
    """A call to a citizen that was not answered: no_answer, busy, unavailable or error."""
    if cause in NO_ANSWER or cause == "NO_USER_RESPONSE":
        return "no_answer"
    if cause == "USER_BUSY":
        return "busy"
    if cause in UNREACHABLE or cause in ("CALL_REJECTED", "NORMAL_TEMPORARY_FAILURE"):
        return "unavailable"
    return "error"


def offer_outcome(cause: str) -> tuple[str, int]:
    """An agent's leg that did not answer: (reason, SIP response when known)."""
    if cause in CANCELLED:
        return "cancelled", 0
    if cause in UNREACHABLE:
        return "unreachable", 0
    if cause in NO_ANSWER:
        return "no_answer", 0
    if cause in REFUSED:
        return "refused", REFUSED[cause]
    return "failed", 0


@dataclass
class _Call:
    call_id: str  # the caller's channel uuid
    where: str  # join, hold, connected, fallback, overflow
    agent_id: str = ""
    agent_leg: str = ""
    ringing: dict[str, str] = field(default_factory=dict)  # leg uuid -> agent id
    cancelled: set[str] = field(default_factory=set)  # leg uuids we stopped
    ended_by: str = ""
    recording: str = ""


@dataclass
class _Callback:
    """Calling a citizen back: the reserved agent's leg first, then the citizen's."""

    call_id: str
    agent_id: str
    agent_leg: str
    answered: bool = False  # the agent answered
    cancelled: bool = False


class FreeswitchDriver:
    def __init__(
        self,
        node: str,
        host: str,
        port: int,
        secret: str,
        agent_dials: Mapping[str, str],
        phone_dial: str = "user/{extension}",
        outbound_dial: str = "sofia/gateway/carrier-out/{number}",
        reconnect: float = RECONNECT_FIRST,
        extensions: Mapping[str, str] | None = None,
    ) -> None:
        """`agent_dials` maps agent id -> dial string (e.g. "user/1001"); `extensions` agent
        id -> phone extension (mod_callcenter's fallback agents are named by extension),
        by default the directory users of `agent_dials`."""
        self.node = node
        self._dials = dict(agent_dials)
        self._phone_dial = phone_dial
        self._outbound_dial = outbound_dial
        # a directory user's extension -> agent id ("user/1001" -> "1001": the registrations)
        self._by_user = {
            d.split("/", 1)[1].split("@", 1)[0]: a
            for a, d in agent_dials.items()
            if d.startswith("user/")
        }
        # mod_callcenter's agent name (the extension) -> agent id, whatever dials the phone
        # (user/1001, or sofia/gateway/kamailio/1001 behind a SIP proxy)
        self._by_extension = (
            {ext: a for a, ext in extensions.items()} if extensions is not None else self._by_user
        )
        self._client = EslClient(host, port, secret, events=EVENTS)
        self._reconnect = reconnect
        self._events: asyncio.Queue[PbxEvent] = asyncio.Queue()
        self._calls: dict[str, _Call] = {}
        self._legs: dict[str, tuple[str, str]] = {}  # agent leg uuid -> (call id, agent id)
        self._reachable: dict[str, bool] = {}
        self._surveys: dict[str, str] = {}  # answered survey leg -> survey id
        self._callbacks: dict[str, _Callback] = {}  # agent leg -> the callback being made
        self._up = False
        self._closing = False
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused_logins = 0
        self._record = False
        self._recordings = ""
        self._timezone = ""
        self._prompts = ""
        self._emergency = emergency.Emergency(
            node,
            self._client,
            self._events.put_nowait,
            self._connected_legs,
            lambda call_id, message: self._fail(call_id, "emergency", (), message),
            self._spawn,
        )

    # --- link --------------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"esl-{self.node}"
            )

    @property
    def up(self) -> bool:
        return self._up

    async def _run(self) -> None:
        delay = self._reconnect
        while not self._closing:
            try:
                await self._client.connect()
            except EslAuthError as exc:
                self.refused_logins += 1
                delay = min(LOGIN_RETRY_MAX, 5.0 * 2 ** (self.refused_logins - 1))
                problem = f"ESL authentication failed: {exc}; check the node's secret"
                log.error("PBX node %s: %s; next attempt in %.0f s", self.node, problem, delay)
                if self.refused_logins == 1:
                    self._events.put_nowait(LinkDown(self.node, problem))
                await asyncio.sleep(delay)
                continue
            except EslError as exc:
                log.debug("PBX node %s: %s", self.node, exc)
                await asyncio.sleep(self._reconnect)
                continue
            self.refused_logins = 0
            try:
                await self._settings()
            except EslError as exc:
                log.warning("PBX node %s: reading the node's settings failed: %s", self.node, exc)
            self._up = True
            self._events.put_nowait(LinkUp(self.node))
            message = "closed"
            try:
                async for event in self._client.events():
                    self._on_event(event)
            except EslConnectionLost as exc:
                message = str(exc)
            self._up = False
            if not self._closing:
                self._events.put_nowait(LinkDown(self.node, message))
                await asyncio.sleep(self._reconnect)

    async def _settings(self) -> None:
        """What the rendered configuration set as global variables: recording on or off,
        the recordings directory and the time zone of its date folders."""
        self._record = (await self._client.api("global_getvar cc_record")).strip() == "1"
        self._recordings = (await self._client.api("global_getvar cc_recordings")).strip()
        self._timezone = (await self._client.api("global_getvar cc_timezone")).strip()
        self._prompts = (await self._client.api("global_getvar cc_prompts")).strip()

    async def close(self) -> None:
        self._closing = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        await self._client.close()

    async def events(self) -> AsyncIterator[PbxEvent]:
        while True:
            yield await self._events.get()

    # --- events ------------------------------------------------------------------------------

    def _on_event(self, e: EslEvent) -> None:
        if self._emergency.on_event(e):
            return
        name = e.name
        if name == "CUSTOM":
            sub = e.get("Event-Subclass")
            if sub == "cc::join":
                self._on_join(e)
            elif sub == "cc::fallback":
                call = self._calls.get(e.uuid)
                if call is not None:
                    call.where = "fallback"
                    self._stop_ringing(call)
                self._events.put_nowait(CallerFellBack(self.node, e.uuid))
            elif sub == "cc::callback":
                call = self._calls.get(e.uuid)
                if call is not None:
                    call.where = "callback"
                self._events.put_nowait(CallbackRequested(self.node, e.uuid, e.get("Number")))
            elif sub == "cc::survey":
                survey_id = e.get("Survey-Id")
                if survey_id:
                    self._events.put_nowait(SurveyProgress(self.node, survey_id, e.get("Result")))
            elif sub in ("sofia::register", "sofia::unregister", "sofia::expire"):
                agent_id = self._by_user.get(e.get("from-user") or e.get("username"))
                if agent_id is not None:
                    registered = sub == "sofia::register"
                    status = "registered" if registered else "unregistered"
                    self._contact(agent_id, registered, status, force=False)
            elif sub == "sofia::sip_user_state":
                # the profile's OPTIONS pings (all-reg-options-ping): a registered phone
                # that stopped answering is UNREACHABLE, answering again REACHABLE
                agent_id = self._by_user.get(e.get("from-user"))
                state = e.get("Ping-Status").upper()
                if agent_id is not None and state in ("REACHABLE", "UNREACHABLE"):
                    reachable = state == "REACHABLE"
                    status = "reachable" if reachable else "unreachable"
                    self._contact(agent_id, reachable, status, force=False)
        elif name == "CHANNEL_HANGUP":
            self._on_hangup_begins(e)
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self._on_hangup_complete(e)

    def _on_join(self, e: EslEvent) -> None:
        call_id = e.uuid
        trace.mark("read", call_id)
        self._calls[call_id] = _Call(call_id, "hold")
        self._events.put_nowait(self._entered(e.var, call_id, e.var("cc_caller"), False))

    def _entered(self, var: Any, call_id: str, caller: str, restored: bool) -> CallerEntered:
        return CallerEntered(
            node=self.node,
            call_id=call_id,
            channel=call_id,
            did=var("cc_did"),
            skill=var("cc_skill"),
            priority=_int(var("cc_priority")),
            arrived_at=_micro(var("cc_arrived")),
            caller_number=caller,
            restored=restored,
            ivr_path=var("cc_ivr_path"),
            requests=join_requests(var),
        )

    def _on_hangup_begins(self, e: EslEvent) -> None:
        """The first side of a connected call to hang up is who ended it."""
        leg = self._legs.get(e.uuid)
        if leg is not None:
            call = self._calls.get(leg[0])
            if call is not None and call.agent_leg == e.uuid:
                call.ended_by = call.ended_by or "agent"
            return
        call = self._calls.get(e.uuid)
        if call is not None and call.where == "connected":
            call.ended_by = call.ended_by or "caller"

    def _on_hangup_complete(self, e: EslEvent) -> None:
        cb = self._callbacks.get(e.uuid)
        if cb is not None:
            del self._callbacks[e.uuid]
            if cb.answered:  # else its originate's result reports it
                self._events.put_nowait(AgentLegEnded(self.node, cb.call_id, cb.agent_id))
                self._events.put_nowait(CallbackDialed(self.node, cb.call_id, "ended"))
            return
        survey_id = self._surveys.get(e.uuid)
        if survey_id is not None:
            # an unanswered attempt is reported by its originate's result instead
            if e.get("Caller-Channel-Answered-Time", "0") not in ("", "0"):
                del self._surveys[e.uuid]
                self._events.put_nowait(OutboundEnded(self.node, survey_id, "answered"))
            return
        leg = self._legs.get(e.uuid)
        if leg is not None:
            call_id, agent_id = leg
            call = self._calls.get(call_id)
            if call is not None and call.agent_leg == e.uuid:
                del self._legs[e.uuid]
                self._events.put_nowait(AgentLegEnded(self.node, call_id, agent_id, call.ended_by))
            # an unanswered leg: its originate's result reports it
            return
        call = self._calls.pop(e.uuid, None)
        if call is not None:
            self._stop_ringing(call)
            self._events.put_nowait(CallerGone(self.node, call.call_id, call.ended_by))

    def _stop_ringing(self, call: _Call) -> None:
        for leg in list(call.ringing):
            call.cancelled.add(leg)
            self._spawn(self._kill(leg, "ORIGINATOR_CANCEL"))

    # --- commands ----------------------------------------------------------------------------

    async def offer(self, call_id: str, agent_ids: tuple[str, ...], timeout: float) -> None:
        call = self._calls.get(call_id)
        if call is None:
            self._fail(call_id, "offer", agent_ids, "caller_gone")
            return
        if call.where != "hold":
            self._fail(call_id, "offer", agent_ids, f"caller is in {call.where}")
            return
        trace.mark("sending", call_id)
        # agents with a live leg of this call ring on (ring-progressively adds beside them);
        # a leg being killed for a cancel is not one: a new offer to its agent rings anew
        ringing = {a for leg, a in call.ringing.items() if leg not in call.cancelled}
        for agent_id in agent_ids:
            if agent_id in ringing:
                continue
            dial = self._dials.get(agent_id)
            if dial is None:
                self._fail(call_id, "offer", (agent_id,), f"agent {agent_id} has no dial string")
                continue
            leg = str(uuid.uuid4())
            call.ringing[leg] = agent_id
            self._legs[leg] = (call_id, agent_id)
            self._spawn(self._ring(call, leg, agent_id, dial, timeout))
        trace.mark("written", call_id)

    async def _ring(self, call: _Call, leg: str, agent_id: str, dial: str, timeout: float) -> None:
        variables = ",".join(
            [
                f"origination_uuid={leg}",
                f"originate_timeout={int(timeout + RING_GRACE + 0.5)}",
                f"cc_offer_call={call.call_id}",
                f"cc_offer_agent={agent_id}",
                "ignore_early_media=true",
                "hangup_after_bridge=true",
            ]
        )
        try:
            result = await self._client.bgapi(f"originate {{{variables}}}{dial} &park()", False)
        except EslError as exc:
            result = f"-ERR LINK {exc}"
        call.ringing.pop(leg, None)
        if not result.startswith("+OK"):
            self._legs.pop(leg, None)
            cause = result.removeprefix("-ERR").strip().split()[0] if result.strip() else ""
            if self._calls.get(call.call_id) is not call and leg in call.cancelled:
                return  # the caller hung up or fell back while it rang: no miss
            reason, sip = offer_outcome(cause)
            if leg in call.cancelled:
                reason, sip = "cancelled", 0
            self._events.put_nowait(
                AgentNotAnswered(self.node, call.call_id, agent_id, reason, sip)
            )
            return
        if (
            self._calls.get(call.call_id) is not call
            or call.where != "hold"
            or leg in call.cancelled
        ):
            # answered too late: the caller is gone, taken by another agent, or we cancelled
            self._legs.pop(leg, None)
            await self._kill(leg, "LOSE_RACE")
            if self._calls.get(call.call_id) is call and call.agent_id != agent_id:
                self._events.put_nowait(
                    AgentNotAnswered(self.node, call.call_id, agent_id, "cancelled")
                )
            return
        call.where = "connected"
        call.agent_id = agent_id
        call.agent_leg = leg
        for other in list(call.ringing):
            call.cancelled.add(other)
            await self._kill(other, "LOSE_RACE")
        connected = int(time.time() * 1_000_000)
        try:
            await self._client.api(
                f"uuid_setvar_multi {call.call_id} cc_where=connected;"
                f"cc_engine_agent={agent_id};cc_connected={connected}"
            )
            # the agent's leg first: the second side is hung up when the bridge ends (the
            # first would go on in its dialplan: the caller back to the hold loop)
            await self._client.api(f"uuid_bridge {leg} {call.call_id}")
        except EslError as exc:
            log.warning("node %s: bridging %s to %s failed: %s", self.node, call.call_id, leg, exc)
            call.where, call.agent_id, call.agent_leg = "hold", "", ""
            self._legs.pop(leg, None)
            await self._kill(leg, "NORMAL_TEMPORARY_FAILURE")
            self._events.put_nowait(AgentNotAnswered(self.node, call.call_id, agent_id, "failed"))
            return
        self._events.put_nowait(AgentAnswered(self.node, call.call_id, agent_id, leg))
        if self._record and not call.recording:  # a transferred call is recorded already
            await self._start_recording(call)

    async def _start_recording(self, call: _Call) -> None:
        rel = await self._record_leg(call.call_id, call.call_id)
        if rel:
            call.recording = rel

    async def _record_leg(self, u: str, call_id: str) -> str:
        """Record the bridged call on the citizen's channel `u`: mixed, the citizen's voice
        alone (what its channel reads) and the agent's alone (what is written to it), as
        `<path>.wav`, `-caller`, `-agent`, named by `call_id`; RecordingStarted. Returns the
        relative path ("" when it failed)."""
        # the center's date (FreeSWITCH's strftime_tz knows only zones its timezones.conf lists)
        zone = ZoneInfo(self._timezone) if self._timezone else None
        rel = f"{datetime.now(zone):%Y/%m/%d}/{call_id}"
        base = f"{self._recordings}/{rel}"
        try:
            for suffix, read_only, write_only in (
                ("", "false", "false"),
                ("-caller", "true", "false"),
                ("-agent", "false", "true"),
            ):
                await self._client.api(
                    f"uuid_setvar_multi {u} RECORD_READ_ONLY={read_only};"
                    f"RECORD_WRITE_ONLY={write_only}"
                )
                await self._client.api(f"uuid_record {u} start {base}{suffix}.wav")
            await self._client.api(
                f"uuid_setvar_multi {u} RECORD_READ_ONLY=false;RECORD_WRITE_ONLY=false;cc_rec={rel}"
            )
        except EslError as exc:
            log.warning("node %s: recording %s failed: %s", self.node, u, exc)
            return ""
        self._events.put_nowait(RecordingStarted(self.node, call_id, rel))
        return rel

    async def cancel_offer(self, call_id: str, agent_ids: tuple[str, ...]) -> None:
        for leg, cb in list(self._callbacks.items()):
            if cb.call_id == call_id and not cb.answered and cb.agent_id in agent_ids:
                cb.cancelled = True
                await self._kill(leg, "ORIGINATOR_CANCEL")
                return
        call = self._calls.get(call_id)
        if call is None:
            return
        for leg, agent_id in list(call.ringing.items()):
            if agent_id in agent_ids and agent_id != call.agent_id:
                call.cancelled.add(leg)
                await self._kill(leg, "ORIGINATOR_CANCEL")

    async def overflow(self, call_id: str, target: str, reason: str) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        call.where = "overflow"
        self._stop_ringing(call)
        await self._client.api(f"uuid_transfer {call_id} {overflow_location(target)}", check=False)

    async def heartbeat(self, now: float) -> None:
        if self._up:
            with contextlib.suppress(EslError):
                await self._client.api(f"global_setvar cc_heartbeat={int(now)}")

    async def set_priority(self, call_id: str, priority: int) -> None:
        await self._set_on_caller(call_id, "cc_priority", str(priority))

    async def set_skill(self, call_id: str, skill: str) -> None:
        await self._set_on_caller(call_id, "cc_skill", skill)

    async def _set_on_caller(self, call_id: str, variable: str, value: str) -> None:
        if call_id in self._calls:
            await self._client.api(f"uuid_setvar {call_id} {variable} {value}", check=False)

    async def hangup(self, call_id: str) -> None:
        await self._kill(call_id, "NORMAL_CLEARING")

    # --- after a (re)connect -------------------------------------------------------------------

    async def _channels(self) -> list[dict[str, str]]:
        """Every channel with its variables (uuid_dump of each in `show channels`)."""
        listing = json.loads(await self._client.api("show channels as json") or "{}")
        found: list[dict[str, str]] = []
        for row in listing.get("rows", []) or []:
            dump = await self._client.api(f"uuid_dump {row.get('uuid', '')} json", check=False)
            if dump.startswith("{"):
                found.append({k: str(v) for k, v in json.loads(dump).items()})
        return found

    async def snapshot(self) -> list[PbxEvent]:
        """Waiting callers and calls in progress, from the channels' variables."""
        channels = await self._channels()
        calls: dict[str, _Call] = {}
        legs: dict[str, tuple[str, str]] = {}
        found: list[PbxEvent] = []
        by_offer = {
            c.get("variable_cc_offer_call", ""): c
            for c in channels
            if c.get("variable_cc_offer_call") and c.get("Answer-State") == "answered"
        }
        for c in channels:
            u = c.get("Unique-ID", "")

            def var(name: str, c: dict[str, str] = c) -> str:
                return c.get(f"variable_{name}", "")

            if not u or var("cc_call_id") != u:
                continue
            where = var("cc_where")
            if where in ("join", "hold"):
                calls[u] = _Call(u, "hold")
                found.append(self._entered(var, u, var("cc_caller"), True))
            elif where == "connected" and var("cc_engine_agent"):
                agent = var("cc_engine_agent")
                leg = by_offer.get(u, {}).get("Unique-ID", "")
                calls[u] = _Call(u, "connected", agent, leg, recording=var("cc_rec"))
                if leg:
                    legs[leg] = (u, agent)
                found.append(
                    CallInProgress(
                        node=self.node,
                        call_id=u,
                        agent_id=agent,
                        skill=var("cc_skill"),
                        connected_at=_micro(var("cc_connected") or var("cc_arrived")),
                        recording=var("cc_rec"),
                    )
                )
        self._calls = calls
        self._legs = legs
        found.sort(key=lambda e: e.arrived_at if isinstance(e, CallerEntered) else 0.0)
        return found

    def _contact(
        self, agent_id: str, reachable: bool, status: str, force: bool
    ) -> AgentContact | None:
        if not force and self._reachable.get(agent_id) == reachable:
            return None
        self._reachable[agent_id] = reachable
        event = AgentContact(self.node, agent_id, reachable, status)
        if not force:
            self._events.put_nowait(event)
        return event

    async def agent_contacts(self) -> list[PbxEvent]:
        """Every agent dialled as a directory user: registered on this node or not, and a
        registered phone whose every contact stopped answering the pings is unreachable."""
        found: list[PbxEvent] = []
        pinged = await self._ping_states()
        for user, agent_id in sorted(self._by_user.items()):
            contact = await self._client.api(f"sofia_contact */{user}", check=False)
            registered = bool(contact.strip()) and not contact.startswith("error/")
            states = pinged.get(user, set())
            if registered and states and "reachable" not in states:
                event = self._contact(agent_id, False, "unreachable", force=True)
            else:
                status = "registered" if registered else "unregistered"
                event = self._contact(agent_id, registered, status, force=True)
            if event is not None:
                found.append(event)
        return found

    async def _ping_states(self) -> dict[str, set[str]]:
        """Each registered user's contacts' ping status (lowercase), from the registrations
        the SIP profiles list ("Ping-Status:" per registration)."""
        text = await self._client.api(f"sofia status profile {SIP_PROFILE} reg", check=False)
        found: dict[str, set[str]] = {}
        user = ""
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "User":
                user = value.strip().split("@", 1)[0]
            elif name.strip() == "Ping-Status" and user:
                found.setdefault(user, set()).add(value.strip().lower())
        return found

    async def finished_calls(self) -> list[FinishedCall]:
        """Ended calls as the dialplan's hangup hook kept them in mod_db (realm cc-done)."""
        keys = await self._client.api(f"db list/{FINISHED_REALM}", check=False)
        found: list[FinishedCall] = []
        for key in (k.strip() for k in keys.split(",")):
            if not key or key.startswith("-ERR") or key.startswith("!err"):
                continue
            value = await self._client.api(f"db select/{FINISHED_REALM}/{key}", check=False)
            call = self._finished(key, value.strip())
            if call is None:
                log.warning(
                    "node %s: unreadable %s entry %s=%r", self.node, FINISHED_REALM, key, value
                )
            else:
                found.append(call)
        return sorted(found, key=lambda c: c.ended_at)

    def _finished(self, call_id: str, value: str) -> FinishedCall | None:
        fields = value.split("|")
        if len(fields) != 13 or fields[0] != "v1" or not call_id:
            return None
        _, arrived, ended, where, did, skill, priority, number = fields[:8]
        agent, connected, fellback, fallback_agent, fallback_answered = fields[8:]
        if where.startswith("callback"):
            route = "callback"
            connected_at = 0.0
        elif fellback or where == "fallback":
            route = "fallback"
            agent = self._by_extension.get(fallback_agent, "") if fallback_answered else ""
            connected_at = _float(fallback_answered) if agent else 0.0
        elif where in ("join", "hold", "connected"):
            route = "engine"
            connected_at = _micro(connected) if agent and connected else 0.0
        else:
            route = "other"
            connected_at = _micro(connected) if agent and connected else 0.0
        if not connected_at:
            agent = ""
        return FinishedCall(
            node=self.node,
            call_id=call_id,
            did=did,
            skill=skill,
            priority=_int(priority),
            caller_number=number,
            arrived_at=_micro(arrived),
            ended_at=_micro(ended),
            route=route,
            agent_id=agent,
            connected_at=connected_at,
            fellback_at=_micro(fellback),
        )

    async def forget_finished(self, call_ids: list[str]) -> None:
        for call_id in call_ids:
            await self._client.api(f"db delete/{FINISHED_REALM}/{call_id}", check=False)

    async def stream_audio(self, call_id: str, leg: str, address: str, stream_id: str) -> None:
        """A SIP call to the engine's live listener at `address` (callcenter/pbx/freeswitch/
        live_sip.py, user live-<stream_id>) whose media is a listen-only eavesdrop on the leg:
        eavesdrop_bridge_aleg keeps only the leg's read stream, what its own phone sends (no
        eavesdrop_whisper_*: nothing is mixed into the call). It ends with the leg."""
        call = self._calls.get(call_id)
        if call is None:
            return
        target = call_id if leg == "caller" else call.agent_leg
        if not target:
            log.warning("call %s: no %s leg to stream", call_id, leg)
            return
        variables = ",".join(
            [
                "eavesdrop_bridge_aleg=true",
                f"origination_caller_id_name=live-asr-{leg}",
                "originate_timeout=20",
            ]
        )
        command = (
            f"originate {{{variables}}}sofia/{SIP_PROFILE}/{USER_PREFIX}{stream_id}@{address} "
            f"&eavesdrop({target})"
        )
        self._spawn(self._start_stream(call_id, leg, command))

    async def _start_stream(self, call_id: str, leg: str, command: str) -> None:
        try:
            result = await self._client.bgapi(command, check=False)
        except EslError as exc:
            result = f"-ERR {exc}"
        if not result.startswith("+OK"):
            log.warning("call %s: the %s leg's live stream: %s", call_id, leg, result.strip())

    async def emergency_transfer(self, call_id: str, line: str, mode: str) -> None:
        """Blind or three-way to an emergency line (callcenter/pbx/freeswitch/emergency.py)."""
        await self._emergency.transfer(call_id, line, mode)

    def _connected_legs(self, call_id: str) -> tuple[str, str] | None:
        """A connected call's agent leg and recording path."""
        call = self._calls.get(call_id)
        if call is None or call.where != "connected" or not call.agent_leg:
            return None
        return call.agent_leg, call.recording

    async def transfer(self, call_id: str, skill: str) -> None:
        """Send a connected caller back to the hold loop with `skill` kept on its channel; the
        agent's leg (left alone when the bridge breaks) is hung up without ending the call."""
        call = self._calls.get(call_id)
        if call is None or call.where != "connected" or not call.agent_leg:
            self._fail(call_id, "transfer", (), "no connected call to transfer")
            return
        leg = call.agent_leg
        self._legs.pop(leg, None)  # its hangup ends no call: the engine ended that segment
        call.where, call.agent_id, call.agent_leg, call.ended_by = "hold", "", "", ""
        try:
            await self._client.api(
                f"uuid_setvar_multi {call_id} cc_skill={skill};cc_where=hold;"
                "cc_engine_agent=;cc_connected="
            )
            await self._client.api(f"uuid_transfer {call_id} hold XML cc-hold")
        except EslError as exc:
            self._fail(call_id, "transfer", (), f"the PBX refused the transfer: {exc}")
        await self._kill(leg, "NORMAL_CLEARING")

    async def spy(self, call_id: str, extension: str, mode: str) -> None:
        """Ring the supervisor's phone; once it answers it eavesdrops on the agent's leg:
        "listen" hears both sides, "whisper" is heard by the agent (the leg spied on),
        "barge" by both. The ring is awaited apart: the node's other commands go on."""
        call = self._calls.get(call_id)
        if call is None or call.where != "connected" or not call.agent_leg:
            self._fail(call_id, "spy", (), "no connected call to listen to")
            return
        # The eavesdrop target is the agent's leg. mod_dptools mixes the supervisor into that
        # leg's read stream for eavesdrop_whisper_aleg (what the agent's phone sends: the
        # caller hears it) and into its write stream for eavesdrop_whisper_bleg (what the
        # agent's phone is sent: the agent hears it); eavesdrop_bridge_* only choose what
        # the supervisor hears (both sides by default).
        talk = {
            "listen": [],
            "whisper": ["eavesdrop_whisper_bleg=true"],
            "barge": ["eavesdrop_whisper_aleg=true", "eavesdrop_whisper_bleg=true"],
        }[mode]
        variables = ",".join(
            [
                f"origination_caller_id_name={mode}",
                f"origination_caller_id_number={call.agent_id}",
                "originate_timeout=30",
                *talk,
            ]
        )
        command = (
            f"originate {{{variables}}}{self._phone_dial.format(extension=extension)} "
            f"&eavesdrop({call.agent_leg})"
        )
        self._spawn(self._ring_supervisor(call_id, command))

    async def _ring_supervisor(self, call_id: str, command: str) -> None:
        try:
            result = await self._client.bgapi(command, check=False)
        except EslError as exc:
            result = f"-ERR {exc}"
        if not result.startswith("+OK"):
            self._fail(call_id, "spy", (), f"the supervisor's phone: {result.strip()}")

    async def announce(self, call_id: str, prompts: tuple[str, ...], callback_offer: bool) -> None:
        """Leave the prompts in cc_announce: the hold loop plays them at its next turn;
        `callback_offer`: from now on the caller's 1 key takes the callback (cc_callback)."""
        call = self._calls.get(call_id)
        if call is None or call.where != "hold" or not prompts:
            return
        if callback_offer:
            await self._client.api(f"uuid_setvar {call_id} cc_callback offered")
        files = "!".join(f"{self._prompts}/{p}.wav" for p in prompts)
        await self._client.api(f"uuid_setvar {call_id} cc_announce file_string://{files}")

    async def callback(self, call: OutboundCall, agent_id: str, ring_timeout: float) -> None:
        """Ring the reserved agent; once answered, tell it (callback_agent), call the citizen
        showing the hotline's number, bridge and record under the call's own id."""
        dial = self._dials.get(agent_id)
        if dial is None:
            self._fail(call.ref, "callback", (agent_id,), f"agent {agent_id} has no dial string")
            return
        leg = str(uuid.uuid4())
        cb = _Callback(call.ref, agent_id, leg)
        self._callbacks[leg] = cb
        self._spawn(self._call_back(cb, call, dial, ring_timeout))

    async def _call_back(
        self, cb: _Callback, call: OutboundCall, dial: str, ring_timeout: float
    ) -> None:
        variables = ",".join(
            [
                f"origination_uuid={cb.agent_leg}",
                f"originate_timeout={int(ring_timeout + 0.5)}",
                f"origination_caller_id_number={call.caller_id}",
                f"cc_callback_call={call.ref}",
                "ignore_early_media=true",
            ]
        )
        try:
            result = await self._client.bgapi(f"originate {{{variables}}}{dial} &park()", False)
        except EslError as exc:
            result = f"-ERR LINK {exc}"
        if not result.startswith("+OK"):
            self._callbacks.pop(cb.agent_leg, None)
            cause = result.removeprefix("-ERR").strip().split()[0] if result.strip() else ""
            reason = "cancelled" if cb.cancelled else outbound_outcome(cause)
            self._events.put_nowait(AgentNotAnswered(self.node, call.ref, cb.agent_id, reason))
            return
        cb.answered = True
        self._events.put_nowait(AgentAnswered(self.node, call.ref, cb.agent_id, cb.agent_leg))
        with contextlib.suppress(EslError):
            await self._client.api(
                f"uuid_broadcast {cb.agent_leg} {self._prompts}/callback_agent.wav aleg"
            )
        citizen = str(uuid.uuid4())
        variables = ",".join(
            [
                f"origination_uuid={citizen}",
                f"originate_timeout={int(call.timeout + 0.5)}",
                f"origination_caller_id_number={call.caller_id}",
                f"origination_caller_id_name={call.caller_id}",
                "cc_where=callback",
                "ignore_early_media=true",
            ]
        )
        command = (
            f"originate {{{variables}}}{self._outbound_dial.format(number=call.number)} &park()"
        )
        try:
            result = await self._client.bgapi(command, False)
        except EslError as exc:
            result = f"-ERR LINK {exc}"
        if not result.startswith("+OK"):
            cause = result.removeprefix("-ERR").strip().split()[0] if result.strip() else ""
            self._events.put_nowait(CallbackDialed(self.node, call.ref, outbound_outcome(cause)))
            await self._kill(cb.agent_leg, "NORMAL_CLEARING")
            return
        self._events.put_nowait(CallbackDialed(self.node, call.ref, "answered"))
        try:
            # the agent's leg first: the citizen's is hung up when the bridge ends
            await self._client.api(f"uuid_bridge {cb.agent_leg} {citizen}")
        except EslError as exc:
            log.warning("node %s: callback bridge failed: %s", self.node, exc)
            await self._kill(citizen, "NORMAL_TEMPORARY_FAILURE")
            await self._kill(cb.agent_leg, "NORMAL_TEMPORARY_FAILURE")
            return
        if self._record:
            await self._record_leg(citizen, call.ref)

    async def survey_call(self, call: OutboundCall, input_timeout: float, retries: int) -> None:
        """Call the citizen into the dialplan's survey (cc-survey): SurveyProgress from its
        events, OutboundEnded once the answered call is over (or at once when unanswered)."""
        leg = str(uuid.uuid4())
        variables = ",".join(
            [
                f"origination_uuid={leg}",
                f"cc_survey_id={call.ref}",
                f"cc_input_timeout_ms={int(input_timeout * 1000)}",
                f"cc_input_tries={retries + 1}",
                f"origination_caller_id_number={call.caller_id}",
                f"origination_caller_id_name={call.caller_id}",
                f"originate_timeout={int(call.timeout + 0.5)}",
                "ignore_early_media=true",
            ]
        )
        dial = self._outbound_dial.format(number=call.number)
        command = f"originate {{{variables}}}{dial} survey XML cc-survey"
        self._spawn(self._survey(call.ref, leg, command))

    async def _survey(self, survey_id: str, leg: str, command: str) -> None:
        self._surveys[leg] = survey_id  # its hangup ends the answered call
        try:
            result = await self._client.bgapi(command, check=False)
        except EslError as exc:
            result = f"-ERR LINK {exc}"
        if not result.startswith("+OK"):
            self._surveys.pop(leg, None)
            cause = result.removeprefix("-ERR").strip().split()[0] if result.strip() else ""
            self._events.put_nowait(OutboundEnded(self.node, survey_id, outbound_outcome(cause)))

    # --- plumbing ------------------------------------------------------------------------------

    async def _kill(self, uuid_: str, cause: str) -> None:
        with contextlib.suppress(EslError):
            await self._client.api(f"uuid_kill {uuid_} {cause}", check=False)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("node %s: ESL task failed", self.node, exc_info=task.exception())

    def _fail(self, call_id: str, command: str, agent_ids: tuple[str, ...], message: str) -> None:
        self._events.put_nowait(CommandFailed(self.node, call_id, command, agent_ids, message))


def join_requests(var: Callable[[str], str]) -> tuple[CallRequest, ...]:
    """What the caller's channel asks for beyond the number's skill and priority: the
    dialplan's cc_priority_boost / cc_skill_override, and the X-CC-* headers the dialplan read
    only on a call from a trunk marked trust_headers (cc_headers_from: the trunk's name). Raw
    text: callcenter/call_priority.py decides what counts."""
    found: list[CallRequest] = []
    boost, skill = var("cc_priority_boost").strip(), var("cc_skill_override").strip()
    if boost or skill:
        found.append(CallRequest("dialplan", boost, skill))
    trunk = var("cc_headers_from").strip()
    boost, skill = var("cc_hdr_boost").strip(), var("cc_hdr_skill").strip()
    if trunk and (boost or skill):
        found.append(CallRequest(f"header:{trunk}", boost, skill))
    return tuple(found)


def _int(value: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        return 0


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0


def _micro(value: str) -> float:
    """Epoch microseconds (FreeSWITCH's) as epoch seconds; 0 when empty."""
    return _float(value) / 1_000_000
