"""Queue events in Asterisk's queue_log format, line for line what app_queue writes for the
same call, so existing queue-report tools (Asternic, QueueMetrics, home-grown scripts) read
the engine's file unchanged:

    epoch|callid|queuename|agent|EVENT|data1|data2|...

The verbs and their fields, as app_queue writes them (times in whole seconds, as app_queue
counts them: the difference of the two epoch seconds; ring times in milliseconds):

    ENTERQUEUE       url|callerid|position            (callerid masked: 138****5678)
    CONNECT          holdtime|agent channel uniqueid|ringtime
    COMPLETECALLER   holdtime|calltime|origposition   (the caller hung up first)
    COMPLETEAGENT    holdtime|calltime|origposition   (the agent hung up first)
    BLINDTRANSFER    exten|context|holdtime|calltime|origposition   (转专席: exten is the new
                                 skill, context the hold context; the caller then waits
                                 again and its next CONNECT is the next agent's segment)
    RINGNOANSWER     ring ms    (no answer, and a phone that refused or failed: app_queue
                                 logs a busy or congested member the same way)
    RINGCANCELED     ring ms    (any other ring that ended unanswered: the caller hung up,
                                 another agent answered a ring-all, the offer was withdrawn)
    ABANDON          position|origposition|waittime
    EXITWITHTIMEOUT  position|origposition|waittime   (max wait, overflow, fallback route)
    EXITEMPTY        position|origposition|waittime
    EXITWITHKEY      key|position|origposition|waittime   (1: the callback offer)
    ADDMEMBER        "" or PAUSED    (callid MANAGER, agent = the member's interface)
    REMOVEMEMBER     ""              (callid MANAGER, agent = the member's interface)
    PAUSE / UNPAUSE  reason          (callid NONE, agent = the member's name)
    QUEUESTART       ""              (queue and agent NONE, when the engine starts)

The agent field is the member name app_queue uses for that agent in the rendered
queues.conf (the agent's name, else its dial string), so one agent is one name in the
engine's lines and in app_queue's own lines of the fallback route. A ring the PBX could not
even start (no reachable contact) leaves no line, as in app_queue. The database's
queue_events table keeps more (the SIP response of a refusal, why a ring was cancelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from callcenter import domain
from callcenter.masking import mask_phone

QUEUE_NAME = "12345"


@dataclass(frozen=True)
class Member:
    """How app_queue names an agent: `interface` (its dial string) on ADDMEMBER and
    REMOVEMEMBER, `name` (queues.conf's membername) on every other line."""

    interface: str
    name: str


Members = Mapping[str, Member]

# Rings that ended because the agent's phone did not take the call: RINGNOANSWER
_NOT_TAKEN = frozenset({"no_answer", "refused", "failed"})

LEAVE_EVENT = {
    "abandoned": "ABANDON",
    "timeout": "EXITWITHTIMEOUT",
    "overflow": "EXITWITHTIMEOUT",
    "fallback": "EXITWITHTIMEOUT",
    "no_agents": "EXITEMPTY",
    "callback": "EXITWITHKEY",
    "node_lost": "ABANDON",  # the media node holding the caller died
}
TRANSFER_CONTEXT = "cc-hold"  # where a transferred caller waits again (BLINDTRANSFER's context)
CALLBACK_KEY = "1"  # the key a waiting caller presses to take the callback offer


def format_line(
    at: float, call_id: str, agent: str, event: str, *data: object, queue: str = QUEUE_NAME
) -> str:
    """One line; `agent` is written as given ("NONE" when empty)."""
    fields = [str(int(at)), call_id or "NONE", queue, agent or "NONE", event]
    fields += [str(d) for d in data]
    return "|".join(fields)


def member(members: Members | None, agent_id: str) -> Member:
    found = (members or {}).get(agent_id)
    return found if found is not None else Member(agent_id, agent_id)


def seconds(start: float, end: float) -> int:
    """Whole seconds from `start` to `end` as app_queue counts them (time(NULL) - start)."""
    return max(0, int(end) - int(start))


def queue_log_lines(e: domain.DomainEvent, members: Members | None = None) -> list[str]:
    """The queue_log lines of one domain event (none for events it has no word for)."""
    if isinstance(e, domain.CallerJoined):
        number = mask_phone(e.caller_number)
        return [format_line(e.at, e.call_id, "NONE", "ENTERQUEUE", "", number, e.position)]
    if isinstance(e, domain.OfferRejected):
        if e.reason not in _NOT_TAKEN:
            return []  # never rang (no reachable contact): app_queue does not ring it either
        name = member(members, e.agent_id).name
        return [format_line(e.at, e.call_id, name, "RINGNOANSWER", int(e.ring_seconds * 1000))]
    if isinstance(e, domain.OfferCancelled):
        name = member(members, e.agent_id).name
        return [format_line(e.at, e.call_id, name, "RINGCANCELED", int(e.ring_seconds * 1000))]
    if isinstance(e, domain.CallConnected):
        name = member(members, e.agent_id).name
        hold = seconds(e.at - e.waited, e.at)
        ring = int(e.ring_seconds)  # app_queue's ringtime: whole seconds, truncated
        return [format_line(e.at, e.call_id, name, "CONNECT", hold, e.agent_leg, ring)]
    if isinstance(e, domain.CallerLeft):
        event = LEAVE_EVENT.get(e.reason)
        if event is None:
            return []
        wait = seconds(e.at - e.waited, e.at)
        origin = e.original_position or max(e.position, 1)
        data: tuple[object, ...] = (e.position, origin, wait)
        if event == "EXITWITHKEY":
            data = (CALLBACK_KEY, *data)
        return [format_line(e.at, e.call_id, "NONE", event, *data)]
    if isinstance(e, domain.CallFinished):
        name = member(members, e.agent_id).name
        event = "COMPLETECALLER" if e.ended_by == "caller" else "COMPLETEAGENT"
        connected = e.at - e.talk_seconds
        hold = seconds(connected - e.held, connected)
        talk = seconds(connected, e.at)
        origin = e.original_position or 1
        return [format_line(e.at, e.call_id, name, event, hold, talk, origin)]
    if isinstance(e, domain.CallTransferred):
        name = member(members, e.agent_id).name
        connected = e.at - e.talk_seconds
        hold = seconds(connected - e.held, connected)
        talk = seconds(connected, e.at)
        origin = e.original_position or 1
        return [
            format_line(
                e.at,
                e.call_id,
                name,
                "BLINDTRANSFER",
                e.skill,
                TRANSFER_CONTEXT,
                hold,
                talk,
                origin,
            )
        ]
    return []  # agent status lines need the previous status: agent_status_lines


def agent_status_lines(
    at: float, agent_id: str, before: str, after: str, reason: str, members: Members | None
) -> list[str]:
    """The lines of an agent's status change (logged_out / available / on_break), as
    app_queue writes a member added or removed over AMI (QueueAdd, QueueRemove: callid
    MANAGER, the interface) and paused or unpaused (QueuePause: callid NONE, the name)."""
    if before == after:
        return []
    m = member(members, agent_id)
    if after == "logged_out":
        return [format_line(at, "MANAGER", m.interface, "REMOVEMEMBER", "")]
    if before == "logged_out":  # logged in ready, or straight on a break (added paused)
        paused = "PAUSED" if after == "on_break" else ""
        return [format_line(at, "MANAGER", m.interface, "ADDMEMBER", paused)]
    if after == "on_break":
        return [format_line(at, "NONE", m.name, "PAUSE", reason)]
    return [format_line(at, "NONE", m.name, "UNPAUSE", "")]


def queue_start_line(at: float) -> str:
    """The line Asterisk writes when its queue log opens; the engine writes it on start."""
    return format_line(at, "NONE", "NONE", "QUEUESTART", "", queue="NONE")


class QueueLogWriter:
    def __init__(self, path: str | Path, members: Members | None = None) -> None:
        self.path = Path(path)
        self.members: Members = dict(members or {})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", encoding="utf-8")

    def write(self, line: str) -> None:
        self._file.write(line + "\n")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
