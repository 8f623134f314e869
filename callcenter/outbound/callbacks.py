"""Queued callback (keep your place), run inside the runtime's owner task.

A caller who takes the offer hangs up but stays in the ACD's queue with its first arrival
time. When its place comes up the ACD offers it to one agent; the desk rings that agent
(the reservation) and, once the agent answers, calls the citizen and bridges. An attempt
the citizen does not answer is retried per `[callback]` within calling hours, keeping the
place; after the last attempt the callback is closed as unreached (handed to a person).
Every stage is a domain event, stored by the recorder; a restarted engine gets the pending
callbacks back from storage (`PendingCallback`) and queues them again.

The desk is driven like the Acd: the runtime's owner task hands it what happened (the
caller's choice, the ACD's offers and notices, the PBX's dial results, its timers) and gets
back a list of commands to carry out in order (`Command`): events for the ACD, timers, the
ring of an agent, domain events to publish, calls whose metadata may go. It reads the ACD's
view of a caller and never touches the ACD, the bus or a PBX itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from acd import commands as cmd
from acd import events as ev
from acd.engine import CallerView
from callcenter import domain
from callcenter.masking import mask_phone
from callcenter.outbound.settings import OutboundSettings
from callcenter.pbx import base as pbx

log = logging.getLogger(__name__)

DIALABLE = re.compile(r"^\+?[0-9]{3,20}$")
TIMER_KINDS = frozenset({"cb-retry", "cb-close"})
MISSED_PREFIX = "missed-"


def dialable(number: str) -> bool:
    """Whether a caller's number can be called back (not anonymous, nothing but digits)."""
    return bool(DIALABLE.match(number))


@dataclass(frozen=True)
class PendingCallback:
    """A callback not yet closed, as storage holds it (read at start)."""

    call_id: str
    node: str
    number: str
    skill: str
    priority: int
    arrived_at: float
    attempts: int
    due_at: float  # 0: due now
    kind: str = "queued"  # or "missed" (漏接回拨)


@dataclass
class Callback:
    call_id: str
    node: str
    number: str
    skill: str
    priority: int
    arrived_at: float
    attempts: int = 0  # times the citizen was dialled
    kind: str = "queued"  # or "missed"
    rings: int = 0  # reservations made (agents rung), for unique channel ids
    state: str = "waiting"  # waiting, ringing, calling, talking, scheduled
    agent_id: str = ""
    reached_at: float = 0.0
    gen: int = 0  # generation of its calling-hours timer


# --- the desk's commands, carried out in order by the runtime's owner task ---------------


@dataclass(frozen=True)
class ToAcd:
    """Apply this event to the ACD now (and carry out its commands at once)."""

    event: ev.Event


@dataclass(frozen=True)
class RingAgent:
    """Reserve the agent: ring it on the callback's node (else the first node), then call
    the citizen once it answers (the PBX's `callback`)."""

    node: str
    call: pbx.OutboundCall
    agent_id: str
    timeout: float


@dataclass(frozen=True)
class Publish:
    event: domain.DomainEvent


@dataclass(frozen=True)
class Forget:
    """The call is over: the runtime may drop its metadata."""

    call_id: str


Command = ToAcd | cmd.SetTimer | RingAgent | Publish | Forget
View = Callable[[str], CallerView | None]


class CallbackDesk:
    def __init__(
        self,
        settings: OutboundSettings,
        view: View,
        key: Callable[[str], str] = lambda number: number,
        missed_since: Iterable[tuple[str, float]] = (),
    ) -> None:
        """`view` gives the ACD's view of a caller (`Acd.caller`); `key` a number's key
        (its blind index); `missed_since` the (key, made at) of recent missed-call tasks."""
        self.settings = settings
        self._view = view
        self.callbacks: dict[str, Callback] = {}
        # 漏接回拨: a number's key (its blind index) -> the local day it last got a
        # missed-call task (storage gives today's at start)
        self._key = key
        self._zone = ZoneInfo(settings.hours.timezone)
        self._missed_on: dict[str, str] = {}
        for number_key, at in missed_since:  # (key, made at) of recent tasks, oldest first
            self._missed_on[number_key] = self._day(at)

    def __contains__(self, call_id: str) -> bool:
        return call_id in self.callbacks

    # --- from the caller -------------------------------------------------------------------

    def accepted(self, e: pbx.CallbackRequested, skill: str, now: float) -> list[Command]:
        """The caller pressed 1 after the offer; no commands when there is nothing to keep."""
        view = self._view(e.call_id)
        if view is None or view.state == "connected" or e.call_id in self.callbacks:
            return []
        if not dialable(e.number):
            log.warning("call %s: callback asked from an undialable number", e.call_id)
            return []
        out: list[Command] = []
        merged = self._close_missed(self._key(e.number), "merged", now, out)
        cb = Callback(e.call_id, e.node, e.number, skill, view.priority, view.arrived_at)
        self.callbacks[e.call_id] = cb
        out.append(ToAcd(ev.CallbackAccepted(e.call_id)))
        out.append(
            Publish(
                domain.CallbackRequested(
                    e.call_id, e.node, e.number, skill, view.priority, view.arrived_at, now
                )
            )
        )
        out.append(
            Publish(
                domain.CallerLeft(e.call_id, "callback", now - view.arrived_at, view.position, now)
            )
        )
        log.info(
            "call %s: callback for %s, place %d kept",
            e.call_id,
            mask_phone(e.number),
            view.position,
        )
        if not self.settings.hours.is_open(now):
            self._defer(cb, self.settings.hours.next_open(now), now, out, withdraw=True)
        else:
            self._watch_hours(cb, now, out)
        if merged is not None:  # the missed-call task the queued callback replaced
            out.append(Forget(merged))
        return out

    def missed(
        self,
        call_id: str,
        node: str,
        number: str,
        skill: str,
        reason: str,
        waited: float,
        now: float,
    ) -> list[Command]:
        """A caller left the queue for `reason` after `waited` s: make it a callback task
        (`MISSED_PREFIX` + call id) if it was missed (see the module's doc). The outcome is
        published (domain.MissedCall)."""
        rules = self.settings.missed
        out: list[Command] = []
        if not rules.qualifies(reason, waited):
            if reason == "abandoned" and rules.enabled and reason in rules.reasons:
                self._missed_outcome(call_id, reason, waited, "misdial", "", now, out)
            return out
        task_id = MISSED_PREFIX + call_id
        if not dialable(number):
            self._missed_outcome(call_id, reason, waited, "undialable", "", now, out)
            return out
        key = self._key(number)
        day = self._day(now)
        if self._pending_for(key) is not None:
            self._missed_outcome(call_id, reason, waited, "merged", "", now, out)
            return out
        if self._missed_on.get(key) == day or task_id in self.callbacks:
            self._missed_outcome(call_id, reason, waited, "repeat", "", now, out)
            return out
        self._missed_on[key] = day
        cb = Callback(task_id, node, number, skill, rules.priority, now, kind="missed")
        self.callbacks[task_id] = cb
        out.append(
            Publish(
                domain.CallbackRequested(
                    task_id,
                    node,
                    number,
                    skill,
                    rules.priority,
                    now,
                    now,
                    "missed",
                    call_id,
                    reason,
                )
            )
        )
        self._missed_outcome(call_id, reason, waited, "task", task_id, now, out)
        log.info(
            "call %s: missed (%s after %.0f s), callback task %s for %s",
            call_id,
            reason,
            waited,
            task_id,
            mask_phone(number),
        )
        if self.settings.hours.is_open(now):
            self._queue(cb, now, out)
        else:
            self._defer(cb, self.settings.hours.next_open(now), now, out, withdraw=False)
        return out

    def answered_again(self, number: str, now: float) -> list[Command]:
        """The citizen called in again and an agent answered: its pending missed-call task is
        closed "returned" (nobody calls it back)."""
        out: list[Command] = []
        closed = self._close_missed(self._key(number), "returned", now, out)
        if closed is not None:
            out.append(Forget(closed))
        return out

    def _close_missed(self, key: str, outcome: str, now: float, out: list[Command]) -> str | None:
        """Close the number's missed-call task unless it is on the line now; its id."""
        cb = self._pending_for(key, kind="missed")
        if cb is None or cb.state not in ("waiting", "scheduled"):
            return None
        view = self._view(cb.call_id)
        if view is not None and view.state != "connected":
            out.append(ToAcd(ev.CallerWithdrawn(cb.call_id, "callback")))
        del self.callbacks[cb.call_id]
        cb.gen += 1
        out.append(Publish(domain.CallbackClosed(cb.call_id, outcome, cb.attempts, now)))
        out.append(Publish(domain.CallClosed(cb.call_id, cb.node, now)))
        log.info("callback %s closed: %s", cb.call_id, outcome)
        return cb.call_id

    def _pending_for(self, key: str, kind: str = "") -> Callback | None:
        for cb in self.callbacks.values():
            if (not kind or cb.kind == kind) and self._key(cb.number) == key:
                return cb
        return None

    def _missed_outcome(
        self,
        call_id: str,
        reason: str,
        waited: float,
        outcome: str,
        task_id: str,
        now: float,
        out: list[Command],
    ) -> None:
        out.append(Publish(domain.MissedCall(call_id, reason, waited, outcome, task_id, now)))
        if outcome not in ("task", "misdial"):
            log.info("call %s: missed (%s), no callback task: %s", call_id, reason, outcome)

    def _day(self, at: float) -> str:
        return datetime.fromtimestamp(at, self._zone).strftime("%Y-%m-%d")

    # --- the ACD's commands ----------------------------------------------------------------

    def offer(self, c: cmd.Offer, now: float) -> list[Command]:
        """The callback's place came up: reserve the agent by ringing it."""
        cb = self.callbacks.get(c.call_id)
        if cb is None:
            return []
        cb.rings += 1
        # A callback deferred in the step that offers it (accepted out of calling hours while
        # an agent rang for it: the ACD offers it again as a callback) stays scheduled: the
        # withdrawal the desk asked for next cancels this ring.
        if cb.state != "scheduled":
            cb.state = "ringing"
        cb.agent_id = c.agent_ids[0]
        call = pbx.OutboundCall(
            ref=cb.call_id,
            attempt=cb.rings,
            number=cb.number.lstrip("+"),
            timeout=self.settings.ring_timeout,
            caller_id=self.settings.caller_id,
            skill=cb.skill,
        )
        return [
            RingAgent(cb.node, call, cb.agent_id, c.timeout),
            Publish(domain.OfferMade(c.call_id, c.agent_ids, now)),
        ]

    def notice(self, c: cmd.Notice, now: float) -> list[Command] | None:
        """Translate the ACD's notices about a callback; None when the notice is not the
        desk's (the runtime handles it as for any call)."""
        cb = self.callbacks.get(getattr(c, "call_id", ""))
        if cb is None:
            # the ACD's leave of a missed-call task the desk closed and withdrew in this step
            # (only the desk withdraws callers for a callback): not a real leave either
            if isinstance(c, cmd.CallerLeft) and c.reason == "callback":
                return []
            return None
        if isinstance(c, cmd.CallConnected):
            # the reserved agent answered: now the citizen is called
            cb.state = "calling"
            cb.attempts += 1
            return [
                Publish(domain.CallbackAttempt(cb.call_id, cb.attempts, c.agent_id, "agent", now))
            ]
        if isinstance(c, cmd.CallerLeft):
            return []  # left the queue for an attempt or for the night: not a real leave
        if isinstance(c, cmd.CallFinished):
            if cb.reached_at:
                talk = max(0.0, now - cb.reached_at)
                return [Publish(domain.CallFinished(c.call_id, c.agent_id, talk, now))]
            return []
        return None

    # --- from the PBX ----------------------------------------------------------------------

    def dialed(self, e: pbx.CallbackDialed, now: float) -> list[Command]:
        """The citizen answered, did not, or the answered call ended."""
        cb = self.callbacks.get(e.call_id)
        if cb is None:
            return []
        if e.status == "answered":
            cb.state = "talking"
            cb.reached_at = now
            return [
                Publish(
                    domain.CallbackAttempt(cb.call_id, cb.attempts, cb.agent_id, "answered", now)
                ),
                Publish(domain.CallConnected(cb.call_id, cb.agent_id, now - cb.arrived_at, now)),
            ]
        if e.status != "ended":
            return [
                Publish(domain.CallbackAttempt(cb.call_id, cb.attempts, cb.agent_id, e.status, now))
            ]
        # the agent's leg is gone: the ACD has finished the call (AgentLegEnded came first)
        if cb.reached_at:
            del self.callbacks[cb.call_id]
            return [
                Publish(domain.CallbackClosed(cb.call_id, "completed", cb.attempts, now)),
                Publish(domain.CallClosed(cb.call_id, cb.node, now)),
                Forget(cb.call_id),
            ]
        due = self.settings.callback.retry.next_attempt_at(cb.attempts, now, self.settings.hours)
        if due is None:
            del self.callbacks[cb.call_id]
            log.info("call %s: callback unreached after %d attempts", cb.call_id, cb.attempts)
            return [
                Publish(domain.CallbackClosed(cb.call_id, "unreached", cb.attempts, now)),
                Publish(domain.CallClosed(cb.call_id, cb.node, now)),  # nobody talked
                Forget(cb.call_id),
            ]
        out: list[Command] = []
        self._defer(cb, due, now, out, withdraw=False)
        return out

    def restored_in_progress(self, call_id: str, agent_id: str, now: float) -> None:
        """After a restart the snapshot found this callback on the line with its agent."""
        cb = self.callbacks.get(call_id)
        if cb is not None:
            cb.state, cb.agent_id = "talking", agent_id
            cb.reached_at = cb.reached_at or now

    # --- time --------------------------------------------------------------------------------

    def on_timer(self, key: ev.TimerKey, now: float) -> list[Command]:
        kind, call_id, gen = key
        cb = self.callbacks.get(call_id)
        out: list[Command] = []
        if cb is None or gen != cb.gen:
            return out
        if kind == "cb-retry" and cb.state == "scheduled":
            if not self.settings.hours.is_open(now):
                self._defer(cb, self.settings.hours.next_open(now), now, out, withdraw=False)
            else:
                self._queue(cb, now, out)
        elif kind == "cb-close" and cb.state == "waiting":
            # calling hours are over: off the queue until they open again (place kept)
            self._defer(cb, self.settings.hours.next_open(now), now, out, withdraw=True)
        return out

    def restore(self, pending: Iterable[PendingCallback], now: float) -> list[Command]:
        """Queue again the callbacks storage holds (after a restart)."""
        out: list[Command] = []
        for p in pending:
            if p.call_id in self.callbacks:
                continue
            cb = Callback(
                p.call_id,
                p.node,
                p.number,
                p.skill,
                p.priority,
                p.arrived_at,
                p.attempts,
                kind=p.kind,
            )
            self.callbacks[p.call_id] = cb
            view = self._view(p.call_id)
            if view is not None and view.state == "connected":
                self.restored_in_progress(p.call_id, view.agent_ids[0], now)
            elif p.due_at > now or not self.settings.hours.is_open(now):
                due = self.settings.hours.next_open(max(now, p.due_at))
                self._defer(cb, due, now, out, withdraw=False)
            else:
                self._queue(cb, now, out)
        return out

    def _queue(self, cb: Callback, now: float, out: list[Command]) -> None:
        cb.state = "waiting"
        out.append(
            ToAcd(ev.CallerArrived(cb.call_id, cb.skill, cb.priority, cb.arrived_at, callback=True))
        )
        self._watch_hours(cb, now, out)

    def _watch_hours(self, cb: Callback, now: float, out: list[Command]) -> None:
        closes = self.settings.hours.closes_at(now)
        if closes is not None and not self.settings.hours.is_open(closes):
            cb.gen += 1
            out.append(cmd.SetTimer(("cb-close", cb.call_id, cb.gen), closes))

    def _defer(
        self, cb: Callback, due: float, now: float, out: list[Command], withdraw: bool
    ) -> None:
        if withdraw:
            out.append(ToAcd(ev.CallerWithdrawn(cb.call_id, "callback")))
        cb.state = "scheduled"
        cb.gen += 1
        out.append(cmd.SetTimer(("cb-retry", cb.call_id, cb.gen), due))
        out.append(Publish(domain.CallbackScheduled(cb.call_id, cb.attempts, due, now)))
