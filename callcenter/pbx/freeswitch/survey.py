"""回访 survey calls on FreeSWITCH (the driver's `survey_call`): originate the citizen over the
node's outbound dial string with the hotline's caller id; once answered it runs `survey XML
cc-survey` (dialplans/freeswitch/cc-survey.xml.j2), whose CUSTOM cc::survey events are
SurveyProgress ("answered", the digit, "none"). The attempt's end is OutboundEnded:
"answered" when the answered call hangs up, else why it was not answered."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from callcenter.pbx.base import OutboundCall, OutboundEnded, PbxEvent, SurveyProgress
from callcenter.pbx.freeswitch.callbacks import cause_reason
from callcenter.pbx.freeswitch.esl import EslClient, EslError, EslEvent

log = logging.getLogger(__name__)

SUBCLASSES = ("cc::survey",)


@dataclass
class _Attempt:
    survey_id: str
    answered: bool = False  # the originate said +OK
    ended: bool = False  # the leg hung up


class Surveys:
    def __init__(
        self,
        node: str,
        client: EslClient,
        emit: Callable[[PbxEvent], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        outbound_dial: str,
    ) -> None:
        self.node = node
        self._client = client
        self._emit = emit
        self._spawn = spawn
        self._outbound_dial = outbound_dial
        self._attempts: dict[str, _Attempt] = {}  # leg uuid -> its attempt

    def on_event(self, e: EslEvent) -> bool:
        if e.name == "CUSTOM" and e.get("Event-Subclass") == "cc::survey":
            self._emit(SurveyProgress(self.node, e.get("CC-Survey"), e.get("CC-Result")))
            return True
        if e.name == "CHANNEL_HANGUP_COMPLETE":
            attempt = self._attempts.get(e.uuid)
            if attempt is None:
                return False
            attempt.ended = True
            if attempt.answered:  # else the originate's result says how it went
                del self._attempts[e.uuid]
                self._emit(OutboundEnded(self.node, attempt.survey_id, "answered"))
            return True
        return False

    async def call(self, call: OutboundCall, input_timeout: float, retries: int) -> None:
        leg = str(uuid.uuid4())
        variables = ",".join(
            [
                f"origination_uuid={leg}",
                f"originate_timeout={int(call.timeout + 0.5)}",
                f"origination_caller_id_number={call.caller_id}",
                f"origination_caller_id_name={call.caller_id}",
                f"cc_survey_id={call.ref}",
                f"cc_input_timeout_ms={int(input_timeout * 1000)}",
                f"cc_input_retries={retries}",
                "ignore_early_media=true",
            ]
        )
        number = self._outbound_dial.format(number=call.number)
        self._attempts[leg] = _Attempt(call.ref)
        self._spawn(self._originate(leg, call.ref, f"{{{variables}}}{number} survey XML cc-survey"))

    async def _originate(self, leg: str, survey_id: str, what: str) -> None:
        try:
            result = await self._client.bgapi(f"originate {what}", False)
        except EslError as exc:
            result = f"-ERR LINK {exc}"
        attempt = self._attempts.get(leg)
        if attempt is None:
            return
        if not result.startswith("+OK"):
            del self._attempts[leg]
            self._emit(OutboundEnded(self.node, survey_id, cause_reason(result)))
        elif attempt.ended:  # answered and over before the result came
            del self._attempts[leg]
            self._emit(OutboundEnded(self.node, survey_id, "answered"))
        else:
            attempt.answered = True
