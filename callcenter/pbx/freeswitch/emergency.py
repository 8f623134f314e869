"""One-key emergency transfer on FreeSWITCH (GB/T 44190 6.3.1), the driver's
`emergency_transfer`, and the emergency lines' targets as FreeSWITCH dials them.

The lines live in the dialplan (dialplans/freeswitch/cc-emergency.xml.j2, context
cc-emergency), so they work without the engine too. The engine's transfer:
  blind       the caller leaves the agent for `<line> XML cc-emergency` (its recording goes
              on: a media bug stays with the channel); the agent's leg is hung up
  conference  caller and agent both go to a conference room of their own (cc-conference),
              and a loopback leg through cc-emergency brings the operator in
Every attempt's outcome, and the answer at once ("LINKED"), comes back as a CUSTOM
cc::emergency event: EmergencyStatus, with FreeSWITCH's cause as the dial status words
Asterisk uses (ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from callcenter.pbx.base import EmergencyStatus, PbxError, PbxEvent
from callcenter.pbx.freeswitch.esl import EslClient, EslError, EslEvent

log = logging.getLogger(__name__)

SUBCLASSES = ("cc::emergency",)
CONFERENCE_PROFILE = "cc"  # conference.conf's profile (cc-conference.conf.xml.j2)

# a target written for Asterisk in trunks.toml ("PJSIP/110@emergency"): number at endpoint
_CHANNEL_AT = re.compile(r"^[A-Za-z0-9]+/([^@/,\s]+)@([A-Za-z0-9_.-]+)$")
_STATUS = {
    "SUCCESS": "ANSWER",
    "USER_BUSY": "BUSY",
    "CALL_REJECTED": "BUSY",
    "NO_ANSWER": "NOANSWER",
    "ALLOTTED_TIMEOUT": "NOANSWER",
    "NO_USER_RESPONSE": "NOANSWER",
    "PROGRESS_TIMEOUT": "NOANSWER",
    "NORMAL_CIRCUIT_CONGESTION": "CONGESTION",
    "SWITCH_CONGESTION": "CONGESTION",
    "ORIGINATOR_CANCEL": "CANCEL",
}


class EmergencyTargetError(PbxError, ValueError):
    """A target FreeSWITCH cannot dial (a ValueError too: a bad target is a bad value)."""

    status = 500
    error_id = "pbx.emergency_target"


@dataclass(frozen=True)
class Target:
    name: str  # as trunks.toml writes it (what EmergencyStatus reports)
    dial: str  # as FreeSWITCH dials it
    gateway: str  # the SIP gateway it goes through ("" when the target is FreeSWITCH's own)


def target(text: str) -> Target:
    """A trunks.toml emergency target as FreeSWITCH dials it: `<number>@<trunk>` through the
    profile's gateway named after the trunk ("PJSIP/110@emergency" is number 110 on gateway
    "emergency"); a FreeSWITCH dial string ("sofia/...", "user/...") as it is."""
    if text.startswith(("sofia/", "user/", "loopback/")):
        gateway = text.split("/")[2] if text.startswith("sofia/gateway/") else ""
        return Target(text, text, gateway)
    m = _CHANNEL_AT.match(text)
    if m is None:
        raise EmergencyTargetError(
            f"{text!r}: write it as <number>@<trunk> behind a channel type (PJSIP/110@emergency)"
            " or as a FreeSWITCH dial string (sofia/gateway/<trunk>/<number>)"
        )
    number, trunk = m.groups()
    return Target(text, f"sofia/gateway/{trunk}/{number}", trunk)


def dial_status(cause: str) -> str:
    return _STATUS.get(cause, "CHANUNAVAIL")


class Emergency:
    """The emergency side of one node's driver. `connected(call_id)` is the agent's leg
    uuid and the call's recording path when the call is connected (else None)."""

    def __init__(
        self,
        node: str,
        client: EslClient,
        emit: Callable[[PbxEvent], None],
        connected: Callable[[str], tuple[str, str] | None],
        fail: Callable[[str, str], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self.node = node
        self._client = client
        self._emit = emit
        self._connected = connected
        self._fail = fail
        self._spawn = spawn

    def on_event(self, e: EslEvent) -> bool:
        if e.name != "CUSTOM" or e.get("Event-Subclass") != "cc::emergency":
            return False
        status = e.get("CC-Status")
        self._emit(
            EmergencyStatus(
                self.node,
                e.get("CC-Call"),
                e.get("CC-Line"),
                e.get("CC-Target"),
                status if status == "LINKED" else dial_status(status),
            )
        )
        return True

    async def transfer(self, call_id: str, line: str, mode: str) -> None:
        found = self._connected(call_id)
        if found is None:
            self._fail(call_id, "no connected call to transfer")
            return
        agent_leg, recording = found
        try:
            if mode == "blind":
                await self._client.api(f"uuid_transfer {call_id} {line} XML cc-emergency")
                await self._client.api(f"uuid_kill {agent_leg} NORMAL_CLEARING", check=False)
                return
            room = f"cc-{call_id}"
            for leg in (call_id, agent_leg):
                await self._client.api(f"uuid_setvar {leg} cc_conf {room}")
            await self._client.api(f"uuid_transfer {call_id} -both conference XML cc-conference")
            variables = ",".join(
                [
                    f"cc_call_id={call_id}",
                    f"cc_rec={recording}",
                    "origination_caller_id_number=12345",
                ]
            )
            self._spawn(self._bring_in(call_id, line, room, variables))
        except EslError as exc:
            log.warning("node %s: emergency %s of %s failed: %s", self.node, mode, call_id, exc)
            self._fail(call_id, f"the PBX refused the {mode} transfer: {exc}")

    async def _bring_in(self, call_id: str, line: str, room: str, variables: str) -> None:
        """The operator's leg: a loopback through cc-emergency (its failover and events)
        joining the room; how each attempt went comes as cc::emergency events."""
        try:
            result = await self._client.bgapi(
                f"originate {{{variables}}}loopback/{line}/cc-emergency "
                f"&conference({room}@{CONFERENCE_PROFILE})",
                check=False,
            )
        except EslError as exc:
            result = f"-ERR {exc}"
        if not result.startswith("+OK"):
            log.warning("node %s: emergency line %s for %s: %s", self.node, line, call_id, result)
