"""From the routing core's events and commands to decision records (in the owner task).

The runtime calls `observe(event, commands, now)` after every event it applied. This builds
small dicts of plain values and hands them to the log's queue; it never touches a file. The
core's decision facts (OfferDecided, CallerNotOffered) say why; the event that caused a batch
says why an offer was cancelled; the timer wheel says until when an agent is in wrap-up or
backing off. No phone number goes into a record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from acd import commands as cmd
from acd import events as ev
from acd.engine import Acd
from callcenter.config import Config
from callcenter.decisions.log import DecisionLog, Record
from callcenter.timers import Timers


class CallInfo(Protocol):
    """What the runtime knows of a call (its CallMeta)."""

    node: str
    did: str
    caller_number: str
    priority_source: str


# The event that ended an offer says why it was cancelled.
_CANCEL_CAUSE: dict[type, str] = {
    ev.CallerHungUp: "caller_hung_up",
    ev.CallerWithdrawn: "caller_withdrawn",
    ev.CallbackAccepted: "callback_accepted",
    ev.OfferAnswered: "answered_by_another_agent",
    ev.AgentReachability: "agent_unreachable",
    ev.AgentPaused: "agent_paused",
    ev.AgentLoggedOut: "agent_logged_out",
    ev.OfferFailed: "offer_failed",
}
_TIMER_CAUSE = {"offer": "no_answer", "max_wait": "max_wait"}
# Commands that say nothing the log keeps (their decision facts do).
_SILENT = frozenset({cmd.SetTimer, cmd.CancelTimer, cmd.Offer, cmd.AutoPauseAlert})


def cancel_cause(event: ev.Event) -> str:
    if isinstance(event, ev.TimerFired):
        return _TIMER_CAUSE.get(event.key[0], event.key[0])
    cause = _CANCEL_CAUSE.get(type(event))
    if cause is not None:
        return cause
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def priority_sources(
    config: Config, did: str, caller_number: str, priority: int, joined_from: str = ""
) -> list[tuple[str, int]]:
    """Where a caller's priority came from: the number's own, each rule that matched, and
    what the call itself brought (the dialplan, a trusted header, a restore, a supervisor) as
    the rest; `joined_from` is the join's own account (e.g. "number+header:proxy")."""
    number = config.number_for(did)
    sources: list[tuple[str, int]] = [(f"number {number.did}", number.priority)]
    rest = priority - number.priority
    repeat: list[tuple[str, int]] = []
    for rule in config.priority_rules:
        if rule.rule == "caller_list" and caller_number in config.lists.get(rule.list, ()):
            sources.append((f"caller list {rule.list}", rule.boost))
            rest -= rule.boost
        elif rule.rule == "did" and number.did == rule.did:
            sources.append((f"rule for number {rule.did}", rule.boost))
            rest -= rule.boost
        elif rule.rule == "repeat_caller":
            repeat.append((f"repeat caller within {rule.within_hours:g} h", rule.boost))
    for name, boost in repeat:  # the runtime's call history is not ours: read from the rest
        if boost and rest == boost:
            sources.append((name, boost))
            rest -= boost
    if rest:
        brought = joined_from.split("+", 1)[1] if "+" in joined_from else ""
        sources.append((f"set on the call ({brought})" if brought else "set on the call", rest))
    return sources


class DecisionRecorder:
    def __init__(
        self,
        log: DecisionLog,
        config: Config,
        acd: Acd,
        timers: Timers,
        calls: Mapping[str, CallInfo],
    ) -> None:
        self.log = log
        self.config = config
        self.acd = acd
        self.timers = timers
        self.calls = calls
        self._widening = tuple(sorted(config.queue.widening, key=lambda r: r.after))

    def observe(self, event: ev.Event, commands: list[cmd.Command], now: float) -> None:
        records: list[Record] = []
        self._observe(event, commands, round(now, 3), records)
        if records:
            self.log.put_all(records)

    def _observe(
        self, event: ev.Event, commands: list[cmd.Command], at: float, records: list[Record]
    ) -> None:
        put = records.append
        if isinstance(event, ev.RoutingHeld | ev.RoutingReleased):
            put({"at": at, "kind": "held" if isinstance(event, ev.RoutingHeld) else "released"})
        elif isinstance(event, ev.TimerFired) and event.key[0] == "widen":
            self._widened(event.key, at, records)
        elif isinstance(event, ev.CallerPriorityChanged):
            put({"at": at, "call": event.call_id, "kind": "priority", "priority": event.priority})
        elif isinstance(event, ev.AgentReachability):
            put({"at": at, "kind": "phone", "agent": event.agent_id, "reachable": event.reachable})
        elif isinstance(event, ev.OfferFailed) and event.reason in ("cancelled", "caller_gone"):
            put(
                {
                    "at": at,
                    "call": event.call_id,
                    "kind": "ring_ended",
                    "agent": event.agent_id,
                    "outcome": event.reason,
                }
            )
        if not commands:
            return
        ended: set[str] = set()  # callers whose offer ended in this batch
        if isinstance(event, ev.OfferFailed) and event.reason in ("cancelled", "caller_gone"):
            ended.add(event.call_id)
        for c in commands:
            kind = type(c)
            if kind in _SILENT:
                continue
            if kind is cmd.AgentStateChanged:
                assert isinstance(c, cmd.AgentStateChanged)
                put(
                    {
                        "at": at,
                        "kind": "agent",
                        "agent": c.agent_id,
                        "status": c.status,
                        "state": c.state,
                        "reason": c.reason,
                    }
                )
            elif isinstance(c, cmd.OfferDecided):
                self._requeued(c.call_id, ended, at, records)
                put(self._offer(c, at))
            elif isinstance(c, cmd.CallerNotOffered):
                self._requeued(c.call_id, ended, at, records)
                put(self._not_offered(c, at))
            elif isinstance(c, cmd.CallerQueued):
                put(self._arrival(c, event, at))
            elif isinstance(c, cmd.CancelOffer):
                ended.add(c.call_id)
                put(
                    {
                        "at": at,
                        "call": c.call_id,
                        "kind": "cancel",
                        "agents": list(c.agent_ids),
                        "cause": cancel_cause(event),
                    }
                )
            elif isinstance(c, cmd.OfferRejected):
                ended.add(c.call_id)
                record: Record = {
                    "at": at,
                    "call": c.call_id,
                    "kind": "ring_ended",
                    "agent": c.agent_id,
                    "outcome": c.reason,
                    "ring": round(c.ring_seconds, 3),
                }
                if c.cause:
                    record["sip"] = c.cause
                put(record)
            elif isinstance(c, cmd.CallConnected):
                ended.discard(c.call_id)
                put(
                    {
                        "at": at,
                        "call": c.call_id,
                        "kind": "connect",
                        "agent": c.agent_id,
                        "waited": round(c.waited, 3),
                        "ring": round(c.ring_seconds, 3),
                    }
                )
            elif isinstance(c, cmd.CallerLeft):
                ended.discard(c.call_id)
                put(
                    {
                        "at": at,
                        "call": c.call_id,
                        "kind": "leave",
                        "reason": c.reason,
                        "waited": round(c.waited, 3),
                        "position": c.position,
                    }
                )
            elif isinstance(c, cmd.CallTransferred):
                put(
                    {
                        "at": at,
                        "call": c.call_id,
                        "kind": "transfer",
                        "agent": c.agent_id,
                        "skill": c.skill,
                        "to_agent": c.to_agent,
                        "talk": round(c.talk_seconds, 3),
                    }
                )
            elif isinstance(c, cmd.CallFinished):
                put(
                    {
                        "at": at,
                        "call": c.call_id,
                        "kind": "finish",
                        "agent": c.agent_id,
                        "talk": round(c.talk_seconds, 3),
                    }
                )
            elif isinstance(c, cmd.Overflow):
                put(
                    {
                        "at": at,
                        "call": c.call_id,
                        "kind": "overflow",
                        "target": c.target,
                        "reason": c.reason,
                    }
                )
        for call_id in sorted(ended):
            self._requeued(call_id, ended, at, records)

    # --- records ---------------------------------------------------------------------------

    def _arrival(self, c: cmd.CallerQueued, event: ev.Event, at: float) -> Record:
        meta = self.calls.get(c.call_id)
        callback = isinstance(event, ev.CallerArrived) and event.callback
        record: Record = {
            "at": at,
            "call": c.call_id,
            "kind": "arrival",
            "skill": c.skill,
            "priority": c.priority,
            "arrived": round(c.arrived_at, 3),
        }
        if meta is not None:
            record["node"] = meta.node
            record["did"] = meta.did
            sources = priority_sources(
                self.config, meta.did, meta.caller_number, c.priority, meta.priority_source
            )
            # the number's own priority always, then whatever added to it
            record["priority_from"] = [
                [name, boost] for i, (name, boost) in enumerate(sources) if boost or i == 0
            ]
        if callback:
            record["callback"] = True
        return record

    def _offer(self, c: cmd.OfferDecided, at: float) -> Record:
        return {
            "at": at,
            "call": c.call_id,
            "kind": "offer",
            "agents": list(c.chosen),
            "strategy": c.strategy,
            "considered": c.considered,
            "candidates": [
                {
                    "agent": x.agent_id,
                    "skill": x.skill,
                    "prof": x.proficiency,
                    "key": [round(k, 3) for k in x.key],
                }
                for x in c.candidates
            ],
        }

    def _not_offered(self, c: cmd.CallerNotOffered, at: float) -> Record:
        agents: list[dict[str, Any]] = []
        for w in c.agents:
            item: dict[str, Any] = {"agent": w.agent_id, "why": w.reason}
            if w.detail:
                item["detail"] = w.detail
            if w.timer is not None:
                until = self.timers.due(w.timer)
                if until is not None:
                    item["until"] = round(until, 3)
            agents.append(item)
        record: Record = {
            "at": at,
            "call": c.call_id,
            "kind": "not_offered",
            "skills": list(c.skills),
            "min_prof": c.min_proficiency,
            "agents": agents,
        }
        if c.more:
            record["more"] = c.more
        return record

    def _widened(self, key: ev.TimerKey, at: float, records: list[Record]) -> None:
        _, call_id, step = key
        view = self.acd.caller(call_id)
        if view is None or view.state == "connected" or step >= len(self._widening):
            return
        rule = self._widening[step]
        record: Record = {
            "at": at,
            "call": call_id,
            "kind": "widen",
            "step": step + 1,
            "skills": list(view.skills),
        }
        if rule.min_proficiency is not None:
            record["min_prof"] = rule.min_proficiency
        records.append(record)

    def _requeued(self, call_id: str, ended: set[str], at: float, records: list[Record]) -> None:
        """A caller whose offer ended and who is still queued is back in the queue."""
        if call_id not in ended:
            return
        ended.discard(call_id)
        view = self.acd.caller(call_id)
        if view is not None and view.state != "connected":
            records.append(
                {"at": at, "call": call_id, "kind": "requeue", "position": view.position}
            )
