"""Queue events in Asterisk's queue_log format, so existing queue-report tools read them.

epoch|callid|queuename|agent|EVENT|data1|data2|data3|data4|data5
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from callcenter import domain
from callcenter.masking import mask_phone

QUEUE_NAME = "12345"


def format_line(
    at: float, call_id: str, agent: str, event: str, *data: object, queue: str = QUEUE_NAME
) -> str:
    member = f"PJSIP/{agent}" if agent and agent != "NONE" else "NONE"
    fields = [
        str(int(at)),
        call_id or "NONE",
        queue,
        member,
        event,
    ]
    fields += [str(d) for d in data]
    return "|".join(fields)


def queue_log_lines(e: domain.DomainEvent) -> list[str]:
    """The queue_log lines of one domain event (none for events it has no word for)."""
    if isinstance(e, domain.CallerJoined):
        return [
            format_line(e.at, e.call_id, "NONE", "ENTERQUEUE", "", mask_phone(e.caller_number), 1)
        ]
    if isinstance(e, domain.OfferRejected):
        ring_ms = int(e.ring_seconds * 1000)
        if e.reason == "no_answer":
            return [format_line(e.at, e.call_id, e.agent_id, "RINGNOANSWER", ring_ms)]
        # not app_queue's words: the phone refused (486/488/603/480) or the offer failed at
        # once, with the SIP response; report tools that count RINGNOANSWER do not count these
        event = "RINGREFUSED" if e.reason == "refused" else "RINGFAILED"
        return [format_line(e.at, e.call_id, e.agent_id, event, ring_ms, e.cause, e.reason)]
    if isinstance(e, domain.OfferCancelled):  # app_queue: RINGCANCELED|ring time in ms
        return [
            format_line(e.at, e.call_id, e.agent_id, "RINGCANCELED", int(e.ring_seconds * 1000))
        ]
    if isinstance(e, domain.CallConnected):
        ring = round(e.ring_seconds)  # app_queue's ringtime: whole seconds
        return [format_line(e.at, e.call_id, e.agent_id, "CONNECT", int(e.waited), e.call_id, ring)]
    if isinstance(e, domain.CallerLeft):
        wait = int(e.waited)
        if e.reason == "abandoned":
            return [format_line(e.at, e.call_id, "NONE", "ABANDON", e.position, 1, wait)]
        if e.reason in ("timeout", "overflow", "fallback"):
            return [format_line(e.at, e.call_id, "NONE", "EXITWITHTIMEOUT", e.position, 1, wait)]
        if e.reason == "no_agents":
            return [format_line(e.at, e.call_id, "NONE", "EXITEMPTY", e.position, 1, wait)]
        if e.reason == "callback":  # the caller pressed 1: keep my place and call me back
            return [format_line(e.at, e.call_id, "NONE", "EXITWITHKEY", "1", e.position, wait)]
        return []
    if isinstance(e, domain.CallFinished):
        return [
            format_line(e.at, e.call_id, e.agent_id, "COMPLETEAGENT", 0, int(e.talk_seconds), 1)
        ]
    return []  # agent status lines need the previous status: see the recorder


class QueueLogWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="utf-8")

    def write(self, line: str) -> None:
        self._file.write(line + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
