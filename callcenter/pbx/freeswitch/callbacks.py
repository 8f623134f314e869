"""Queued callback on FreeSWITCH: the callback offer's key (1) while a caller waits, and calling
the citizen back through the reserved agent (the driver's `announce` and `callback`).

The offer key: once `announce` offered a callback, the caller's 1 (a DTMF event, while its
hold loop plays music or prompts) moves it to `callback XML cc-callback`
(dialplans/freeswitch/cc-callback.xml.j2), which marks the channel, says "we will call you
back" and hangs up; its CUSTOM cc::callback event becomes CallbackRequested.

Calling back: originate the reserved agent's phone (parked once answered: AgentAnswered, or
AgentNotAnswered from the originate's cause), play it the "calling the citizen" prompt,
originate the citizen over the node's outbound dial string with the hotline's caller id,
bridge the two (CallbackDialed "answered", recorded under the call's own id, the citizen's
voice as the caller leg), or report why not (CallbackDialed no_answer, busy, unavailable,
error) and let the agent go. Either side hanging up ends the other; the agent's leg ending is
AgentLegEnded then CallbackDialed "ended", as on Asterisk.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.pbx.base import (
    AgentAnswered,
    AgentLegEnded,
    AgentNotAnswered,
    CallbackDialed,
    CallbackRequested,
    OutboundCall,
    PbxEvent,
)
from callcenter.pbx.freeswitch.esl import EslClient, EslError, EslEvent

log = logging.getLogger(__name__)

# what this module reads besides the channels' hangups: events, then CUSTOM subclasses
EVENTS = ("DTMF",)
SUBCLASSES = ("cc::callback",)
OFFER_KEY = "1"
RING_GRACE = 5  # FreeSWITCH's own ring limit past the engine's: the engine's timer cancels first

# an originate's -ERR cause (Q.850 name) -> the callback's reason
_CAUSES = {
    "NO_ANSWER": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer",
    "PROGRESS_TIMEOUT": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "USER_BUSY": "busy",
    "CALL_REJECTED": "busy",
    "DECLINE": "busy",
    "USER_NOT_REGISTERED": "unavailable",
    "SUBSCRIBER_ABSENT": "unavailable",
    "NO_ROUTE_DESTINATION": "unavailable",
    "UNALLOCATED_NUMBER": "unavailable",
    "NORMAL_TEMPORARY_FAILURE": "unavailable",
    "DESTINATION_OUT_OF_ORDER": "unavailable",
    "NETWORK_OUT_OF_ORDER": "unavailable",
    "RECOVERY_ON_TIMER_EXPIRE": "unavailable",
    "ORIGINATOR_CANCEL": "cancelled",
    "LOSE_RACE": "cancelled",
}


def cause_reason(result: str) -> str:
    """A failed originate's result ("-ERR NO_ANSWER") as a callback reason."""
    words = result.removeprefix("-ERR").split()
    return _CAUSES.get(words[0] if words else "", "error")


@dataclass
class _Callback:
    call_id: str
    agent_id: str
    agent_leg: str
    citizen_leg: str = ""
    answered: bool = False  # the agent answered
    reached: bool = False  # the citizen answered and is bridged
    cancelled: bool = False
    ended_by: str = ""
    over: bool = False


class Callbacks:
    """The callback side of one node's driver. `emit` puts an event in the driver's stream;
    `where(call_id)` is where the driver has a waiting caller ("" when unknown) and
    `moved(call_id, where)` tells the driver the caller left its queue; `record(uuid, call_id)`
    starts the legs-apart recording of a channel under a call's id."""

    def __init__(
        self,
        node: str,
        client: EslClient,
        emit: Callable[[PbxEvent], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        dials: Mapping[str, str],
        outbound_dial: str,
        prompts: Callable[[], str],
        where: Callable[[str], str],
        moved: Callable[[str, str], None],
        record: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self.node = node
        self._client = client
        self._emit = emit
        self._spawn = spawn
        self._dials = dials
        self._outbound_dial = outbound_dial
        self._prompts = prompts
        self._where = where
        self._moved = moved
        self._record = record
        self._offered: set[str] = set()  # waiting callers whose 1 key accepts a callback
        self._calls: dict[str, _Callback] = {}  # call id -> the callback being made
        self._legs: dict[str, str] = {}  # agent or citizen leg uuid -> call id

    # --- the offer key ---------------------------------------------------------------------

    def offer(self, call_id: str) -> None:
        """From now on this waiting caller's 1 key accepts a callback."""
        self._offered.add(call_id)

    def on_event(self, e: EslEvent) -> bool:
        """Handle an event that is this module's; True when it was."""
        name = e.name
        if name == "DTMF":
            digit = e.get("DTMF-Digit")
            if e.uuid in self._offered and digit == OFFER_KEY and self._where(e.uuid) == "hold":
                self._offered.discard(e.uuid)
                self._spawn(self._accept(e.uuid))
            return True
        if name == "CUSTOM" and e.get("Event-Subclass") == "cc::callback":
            self._offered.discard(e.uuid)
            self._moved(e.uuid, "callback")
            self._emit(CallbackRequested(self.node, e.uuid, e.var("cc_caller")))
            return True
        if name == "CHANNEL_HANGUP":
            self._offered.discard(e.uuid)
            return self._hangup_begins(e.uuid)
        if name == "CHANNEL_HANGUP_COMPLETE":
            return self._hangup_complete(e.uuid)
        return False

    async def _accept(self, call_id: str) -> None:
        await self._api(f"uuid_transfer {call_id} callback XML cc-callback")

    # --- calling back ----------------------------------------------------------------------

    async def callback(self, call: OutboundCall, agent_id: str, ring_timeout: float) -> None:
        dial = self._dials.get(agent_id)
        if dial is None:
            self._emit(AgentNotAnswered(self.node, call.ref, agent_id, "error"))
            return
        leg = str(uuid.uuid4())
        cb = _Callback(call.ref, agent_id, leg)
        self._calls[call.ref] = cb
        self._legs[leg] = call.ref
        self._spawn(self._run(cb, call, dial, ring_timeout))

    async def _run(self, cb: _Callback, call: OutboundCall, dial: str, ring: float) -> None:
        variables = ",".join(
            [
                f"origination_uuid={cb.agent_leg}",
                f"originate_timeout={int(ring + 0.5) + RING_GRACE}",
                f"origination_caller_id_number={call.caller_id}",
                "origination_caller_id_name=callback",
                f"cc_cb_call={call.ref}",
                f"cc_engine_agent={cb.agent_id}",
                "cc_where=callback-ring",
                "ignore_early_media=true",
            ]
        )
        result = await self._originate(f"{{{variables}}}{dial} &park()")
        if not result.startswith("+OK") or cb.cancelled:
            self._forget(cb)
            if result.startswith("+OK"):
                await self._kill(cb.agent_leg, "ORIGINATOR_CANCEL")
            reason = "cancelled" if cb.cancelled else cause_reason(result)
            self._emit(AgentNotAnswered(self.node, cb.call_id, cb.agent_id, reason))
            return
        cb.answered = True
        self._emit(AgentAnswered(self.node, cb.call_id, cb.agent_id, cb.agent_leg))
        connected = int(time.time() * 1_000_000)
        await self._api(
            f"uuid_setvar_multi {cb.agent_leg} cc_where=callback;cc_connected={connected}"
        )
        await self._api(f"uuid_broadcast {cb.agent_leg} {self._prompts()}/callback_agent.wav aleg")
        cb.citizen_leg = str(uuid.uuid4())
        self._legs[cb.citizen_leg] = cb.call_id
        variables = ",".join(
            [
                f"origination_uuid={cb.citizen_leg}",
                f"originate_timeout={int(call.timeout + 0.5)}",
                f"origination_caller_id_number={call.caller_id}",
                f"origination_caller_id_name={call.caller_id}",
                f"cc_cb_citizen={call.ref}",
                "ignore_early_media=true",
            ]
        )
        number = self._outbound_dial.format(number=call.number)
        result = await self._originate(f"{{{variables}}}{number} &park()")
        if not result.startswith("+OK"):
            self._legs.pop(cb.citizen_leg, None)
            cb.citizen_leg = ""
            if not cb.over:
                self._emit(CallbackDialed(self.node, cb.call_id, cause_reason(result)))
                await self._kill(cb.agent_leg, "NORMAL_CLEARING")
            return
        if cb.over:  # the agent hung up while the citizen's phone rang
            await self._kill(cb.citizen_leg, "NORMAL_CLEARING")
            return
        try:
            await self._client.api(f"uuid_bridge {cb.agent_leg} {cb.citizen_leg}")
        except EslError as exc:
            log.warning("node %s: bridging callback %s failed: %s", self.node, cb.call_id, exc)
            self._emit(CallbackDialed(self.node, cb.call_id, "error"))
            await self._kill(cb.citizen_leg, "NORMAL_TEMPORARY_FAILURE")
            await self._kill(cb.agent_leg, "NORMAL_TEMPORARY_FAILURE")
            return
        cb.reached = True
        self._emit(CallbackDialed(self.node, cb.call_id, "answered"))
        await self._record(cb.citizen_leg, cb.call_id)

    def cancel(self, call_id: str, agent_ids: tuple[str, ...]) -> bool:
        """Stop ringing a callback's agent; False when `call_id` is no callback being made."""
        cb = self._calls.get(call_id)
        if cb is None:
            return False
        if not cb.answered and cb.agent_id in agent_ids:
            cb.cancelled = True
            self._spawn(self._kill(cb.agent_leg, "ORIGINATOR_CANCEL"))
        return True

    def _hangup_begins(self, leg: str) -> bool:
        call_id = self._legs.get(leg)
        cb = self._calls.get(call_id or "")
        if cb is None:
            return False
        if cb.reached and not cb.ended_by:
            cb.ended_by = "agent" if leg == cb.agent_leg else "caller"
        return True

    def _hangup_complete(self, leg: str) -> bool:
        call_id = self._legs.pop(leg, None)
        cb = self._calls.get(call_id or "")
        if cb is None:
            return False
        if leg == cb.citizen_leg:
            self._spawn(self._kill(cb.agent_leg, "NORMAL_CLEARING"))
            return True
        if leg == cb.agent_leg and cb.answered:
            cb.over = True
            self._forget(cb)
            if cb.citizen_leg:
                self._spawn(self._kill(cb.citizen_leg, "NORMAL_CLEARING"))
            self._emit(AgentLegEnded(self.node, cb.call_id, cb.agent_id, cb.ended_by))
            self._emit(CallbackDialed(self.node, cb.call_id, "ended"))
        # an agent leg that never answered: its originate's result reports it
        return True

    def _forget(self, cb: _Callback) -> None:
        if self._calls.get(cb.call_id) is cb:
            del self._calls[cb.call_id]

    # --- plumbing --------------------------------------------------------------------------

    async def _originate(self, what: str) -> str:
        try:
            return await self._client.bgapi(f"originate {what}", False)
        except EslError as exc:
            return f"-ERR LINK {exc}"

    async def _api(self, command: str) -> None:
        try:
            await self._client.api(command, check=False)
        except EslError as exc:
            log.warning("node %s: %s failed: %s", self.node, command.split()[0], exc)

    async def _kill(self, leg: str, cause: str) -> None:
        with contextlib.suppress(EslError):
            await self._client.api(f"uuid_kill {leg} {cause}", check=False)
