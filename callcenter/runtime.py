"""The runtime: one asyncio task owns the Acd.

Everything that touches routing state goes through the owner's inbox: PBX events from every
node, API requests, fired timers. The owner translates them into ACD events, applies the
ACD's commands (PBX actions are queued per node and sent in order by that node's sender
task, so the owner never waits on the network) and publishes domain events on the bus.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

from acd import commands as cmd
from acd import events as ev
from acd.engine import Acd
from acd.errors import AcdError
from callcenter import domain, trace
from callcenter.bus import Bus
from callcenter.call_priority import Decision, caller_priority, decide, repeat_window
from callcenter.config import Config
from callcenter.decisions.log import DecisionLog
from callcenter.decisions.recorder import DecisionRecorder
from callcenter.masking import mask_phone
from callcenter.outbound import callbacks as desk
from callcenter.outbound.callbacks import (
    MISSED_PREFIX,
    CallbackDesk,
    PendingCallback,
    dialable,
)
from callcenter.outbound.callbacks import TIMER_KINDS as CALLBACK_TIMERS
from callcenter.pbx import base as pbx
from callcenter.timers import Timers
from ivr.announce import queue_announcement

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass
class CallMeta:
    node: str
    did: str
    hotline: str
    region: str
    caller_number: str
    skill: str
    # where the priority came from, as the join decided it (callcenter/call_priority.py)
    priority_source: str = ""


@dataclass(frozen=True)
class _Request:
    event: ev.Event
    future: asyncio.Future[list[cmd.Command]]


@dataclass(frozen=True)
class _Finished:
    """Finished calls read from a node in the background, for the owner to reconcile."""

    node: str
    calls: tuple[pbx.FinishedCall, ...]


_Item = pbx.PbxEvent | _Request | _Finished | None


class Runtime:
    def __init__(
        self,
        config: Config,
        drivers: Mapping[str, pbx.PbxDriver],
        bus: Bus,
        clock: Clock = time.time,
        agent_statuses: Mapping[str, tuple[str, str]] | None = None,
        recent_callers: Iterable[tuple[str, float]] = (),
        pending_callbacks: Iterable[PendingCallback] = (),
        caller_key: Callable[[str], str] | None = None,
        decisions: DecisionLog | None = None,
        missed_since: Iterable[tuple[str, float]] = (),
    ) -> None:
        self.config = config
        self.drivers = dict(drivers)
        self.bus = bus
        self.clock = clock
        self.acd = Acd(config.queue, [a.spec() for a in config.agents])
        self.calls: dict[str, CallMeta] = {}
        self.timers = Timers()
        # the decision log: the core explains each decision, the records go to a writer thread
        self.decisions: DecisionRecorder | None = None
        if decisions is not None:
            self.decisions = DecisionRecorder(decisions, config, self.acd, self.timers, self.calls)
            self.acd.explain, self.acd.explain_top = True, decisions.top
        self._inbox: asyncio.Queue[_Item] = asyncio.Queue()
        self._outbox: dict[str, asyncio.Queue[Callable[[], Awaitable[None]] | None]] = {
            node: asyncio.Queue() for node in self.drivers
        }
        self._tasks: list[asyncio.Task[None]] = []
        # repeat callers by key: the number's blind index when numbers are stored encrypted
        # (`recent_callers` then gives the stored index), else the number itself
        self._caller_key: Callable[[str], str] = caller_key or (lambda number: number)
        self._recent: dict[str, deque[float]] = {}
        for key, at in recent_callers:
            self._recent.setdefault(key, deque()).append(at)
        self._initial_statuses = dict(agent_statuses or {})
        self.link_up: dict[str, bool] = {node: False for node in self.drivers}
        # why a node's link is down, as its driver said (e.g. the PBX refused the login)
        self.link_down_reason: dict[str, str] = {}
        self.reconnects: dict[str, int] = {node: 0 for node in self.drivers}
        self.started = asyncio.Event()
        self.role = "single"  # "active" when it runs as the active one of a pair ([ha])
        # missed-call tasks made since then (number key, made at): one per number per day
        self.callbacks = CallbackDesk(
            config.outbound, self.acd.caller, key=self._caller_key, missed_since=missed_since
        )
        self._pending_callbacks: list[PendingCallback] | None = list(pending_callbacks)
        self.contacts: dict[str, dict[str, bool]] = {}  # agent -> node -> phone reachable
        self._restoring: set[str] = set()  # nodes whose snapshot routing waits for
        self._reconciled: set[str] = set()  # finished calls this process has reconciled
        self._agent_legs: dict[str, str] = {}  # call id -> the answering agent's channel id

    # --- life --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until `stop()`; every task started here is owned and awaited."""
        loop = asyncio.get_running_loop()
        self._hold(set(self.drivers), self.clock())  # no offer before the queue is restored
        for node, driver in self.drivers.items():
            self._tasks.append(loop.create_task(self._pump(driver), name=f"pump-{node}"))
            self._tasks.append(loop.create_task(self._sender(node), name=f"sender-{node}"))
            await driver.connect()
        self._tasks.append(loop.create_task(self._heartbeat(), name="heartbeat"))
        self._tasks.append(loop.create_task(self._reconciler(), name="reconciler"))
        self._restore_agents()
        self.started.set()
        try:
            await self._owner()
        finally:
            for task in self._tasks:
                task.cancel()
            results = await asyncio.gather(*self._tasks, return_exceptions=True)
            for task, result in zip(self._tasks, results, strict=True):
                if isinstance(result, Exception):
                    log.error("task %s failed", task.get_name(), exc_info=result)
            for driver in self.drivers.values():
                await driver.close()

    def stop(self) -> None:
        self._inbox.put_nowait(None)

    async def request(self, event: ev.Event) -> list[cmd.Command]:
        """Apply an event from the API (login, pause, priority...) in the owner task.
        Raises the ACD's typed error when it is refused."""
        future: asyncio.Future[list[cmd.Command]] = asyncio.get_running_loop().create_future()
        self._inbox.put_nowait(_Request(event, future))
        return await future

    def emergency_transfer(self, call_id: str, line: str, mode: str, actor: str) -> bool:
        """One-key transfer of a connected call to 110/119/120/122; False if not connected."""
        meta = self.calls.get(call_id)
        view = self.acd.caller(call_id)
        if meta is None or view is None or view.state != "connected":
            return False
        driver = self.drivers[meta.node]
        self.bus.publish(
            domain.EmergencyLinked(call_id, line, mode, actor, "", "requested", self.clock())
        )
        self._send(meta.node, partial(driver.emergency_transfer, call_id, line, mode))
        return True

    async def transfer(self, call_id: str, skill: str, agent_id: str = "") -> None:
        """转专席: send a connected caller to `skill`'s queue (to `agent_id` first when named).
        Raises the ACD's typed error when refused (no such connected call, agent not idle)."""
        await self.request(ev.CallerTransferred(call_id, skill, agent_id))

    def spy(self, call_id: str, extension: str, mode: str) -> bool:
        """Listen in on, whisper to or barge into a connected call from a supervisor's phone;
        False when the call is not connected to an agent."""
        meta = self.calls.get(call_id)
        view = self.acd.caller(call_id)
        if meta is None or view is None or view.state != "connected":
            return False
        driver = self.drivers[meta.node]
        self._send(meta.node, partial(driver.spy, call_id, extension, mode))
        return True

    def stream_audio(self, call_id: str, leg: str, address: str, stream_id: str) -> None:
        """Ask the call's PBX node to stream one leg's voice to the live-audio listener."""
        meta = self.calls.get(call_id)
        if meta is not None:
            driver = self.drivers[meta.node]
            self._send(meta.node, partial(driver.stream_audio, call_id, leg, address, stream_id))

    def survey_call(self, call: pbx.OutboundCall) -> bool:
        """Place one survey call on a node whose link is up; False when none is."""
        node = next((n for n, up in self.link_up.items() if up), None)
        if node is None:
            return False
        driver = self.drivers[node]
        survey = self.config.outbound.survey
        self._send(
            node, partial(driver.survey_call, call, survey.input_timeout, survey.input_retries)
        )
        return True

    async def set_priority_on_pbx(self, call_id: str, priority: int) -> None:
        """Keep a changed priority on the caller's channel, so a restart restores it."""
        meta = self.calls.get(call_id)
        if meta is not None:
            driver = self.drivers[meta.node]
            self._send(meta.node, lambda: driver.set_priority(call_id, priority))

    # --- owner -------------------------------------------------------------------------------

    async def _owner(self) -> None:
        while True:
            next_at = self.timers.next_at()
            timeout = None if next_at is None else max(0.0, next_at - self.clock())
            try:
                # asyncio.timeout, not wait_for: wait_for runs the get() in a task of its own,
                # two more loop passes between an event's arrival and its handling
                async with asyncio.timeout(timeout):
                    item = await self._inbox.get()
            except TimeoutError:
                item = _NOTHING
            now = self.clock()
            # the step's events reach the subscribers when it ends: its PBX commands (a ring)
            # are on their way first (bus.py); a link coming up awaits its snapshot, not held
            held: AbstractContextManager[None] = (
                nullcontext() if isinstance(item, pbx.LinkUp) else self.bus.held()
            )
            with held:
                for key in self.timers.pop_due(now):
                    if key[0] == "announce":
                        self._announce(key, now)
                    elif key == _RESTORE_DEADLINE:
                        self._restore_deadline(now)
                    elif key[0] == _NODE_DEAD:
                        self._node_dead(key[1], now)
                    elif key[0] in CALLBACK_TIMERS:
                        self._desk(self.callbacks.on_timer(key, now), now)
                    else:
                        self._apply(ev.TimerFired(key), now)
                if item is None:
                    return
                if item is _NOTHING:
                    continue
                if isinstance(item, _Request):
                    try:
                        item.future.set_result(self._apply(item.event, now))
                    except AcdError as exc:
                        item.future.set_exception(exc)
                    continue
                if isinstance(item, _Finished):
                    # only calls over a minute old: a call that just ended may still have its
                    # own events on the way, and they say it better
                    self._reconcile(item.node, item.calls, now, before=now - _SETTLED)
                    continue
                try:
                    await self._on_pbx(item, now)
                except Exception:
                    log.exception("failed to handle %r", item)

    def _apply(self, event: ev.Event, now: float) -> list[cmd.Command]:
        commands = self.acd.handle(event, now)
        for c in commands:
            self._execute(c, now)
        if self.decisions is not None:
            self.decisions.observe(event, commands, now)
        return commands

    async def _on_pbx(self, e: pbx.PbxEvent, now: float) -> None:
        if isinstance(e, pbx.CallerEntered):
            self._caller_entered(e, now)
        elif isinstance(e, pbx.CallInProgress):
            self.calls.setdefault(e.call_id, CallMeta(e.node, "", "", "", "", e.skill))
            if e.recording:
                self.bus.publish(domain.RecordingStarted(e.call_id, e.node, e.recording, now))
            try:
                self._apply(ev.CallRestored(e.call_id, e.agent_id, e.skill, e.connected_at), now)
            except AcdError as exc:
                log.warning("cannot restore call %s: %s", e.call_id, exc)
        elif isinstance(e, pbx.AgentAnswered):
            self._agent_legs[e.call_id] = e.agent_leg
            self._apply(ev.OfferAnswered(e.call_id, e.agent_id), now)
            self._agent_legs.pop(e.call_id, None)
        elif isinstance(e, pbx.AgentNotAnswered):
            if e.reason != "cancelled":
                cause = f" (SIP {e.cause})" if e.cause else ""
                log.info(
                    "agent %s did not take call %s: %s%s", e.agent_id, e.call_id, e.reason, cause
                )
            self._apply(ev.OfferFailed(e.call_id, e.agent_id, e.reason, e.cause), now)
        elif isinstance(e, pbx.AgentContact):
            self._agent_contact(e, now)
        elif isinstance(e, pbx.AgentLegEnded):
            self._apply(ev.CallEnded(e.call_id, e.by), now)
        elif isinstance(e, pbx.CallerGone):
            if e.call_id in self.callbacks:
                return  # the caller hung up after taking the callback: its place is kept
            if e.by:  # a connected call: the PBX knows who hung up first
                self._apply(ev.CallEnded(e.call_id, e.by), now)
            self._apply(ev.CallerHungUp(e.call_id), now)
            self.calls.pop(e.call_id, None)
            self.bus.publish(domain.CallClosed(e.call_id, e.node, now))
        elif isinstance(e, pbx.EmergencyStatus):
            self.bus.publish(
                domain.EmergencyLinked(e.call_id, e.line, "", "pbx", e.target, e.status, now)
            )
        elif isinstance(e, pbx.CallbackRequested):
            meta = self.calls.get(e.call_id)
            self._desk(self.callbacks.accepted(e, meta.skill if meta else "", now), now)
        elif isinstance(e, pbx.CallbackDialed):
            self._desk(self.callbacks.dialed(e, now), now)
        elif isinstance(e, pbx.SurveyProgress):
            self.bus.publish(domain.SurveyEvent(e.survey_id, e.result, now))
        elif isinstance(e, pbx.OutboundEnded):
            self.bus.publish(domain.SurveyEvent(e.survey_id, f"ended:{e.status}", now))
        elif isinstance(e, pbx.RecordingStarted):
            self.bus.publish(domain.RecordingStarted(e.call_id, e.node, e.path, now))
        elif isinstance(e, pbx.CallerFellBack):
            self._apply(ev.CallerWithdrawn(e.call_id, "fallback"), now)
        elif isinstance(e, pbx.CommandFailed):
            if e.command == "offer":
                reason = "caller_gone" if e.message == "caller_gone" else "error"
                for agent_id in e.agent_ids:
                    self._apply(ev.OfferFailed(e.call_id, agent_id, reason), now)
        elif isinstance(e, pbx.LinkUp):
            await self._link_up(e.node, now)
        elif isinstance(e, pbx.LinkDown):
            self._hold({e.node}, now)
            # only beside other nodes: a lone node's calls have nowhere else to go, and its
            # link coming back (snapshot) or the dialplan's fallback keeps their records right
            if len(self.drivers) > 1 and self.timers.due(_node_dead_key(e.node)) is None:
                self.timers.set(_node_dead_key(e.node), now + self.config.engine.node_dead_after)
            self.link_up[e.node] = False
            self.link_down_reason[e.node] = e.message
            log.warning("PBX node %s: link down (%s)", e.node, e.message)
            self.bus.publish(domain.PbxConnection(e.node, False, now))

    def _agent_contact(self, e: pbx.AgentContact, now: float) -> None:
        """An agent is reachable while its phone is reachable on some node."""
        nodes = self.contacts.setdefault(e.agent_id, {})
        was = any(nodes.values()) if nodes else None
        nodes[e.node] = e.reachable
        reachable = any(nodes.values())
        if was is not reachable:
            level = logging.INFO if reachable else logging.WARNING
            log.log(level, "agent %s phone %s on node %s", e.agent_id, e.status, e.node)
        try:
            self._apply(ev.AgentReachability(e.agent_id, reachable), now)
        except AcdError as exc:
            log.warning("agent contact of %s: %s", e.agent_id, exc)

    def _caller_entered(self, e: pbx.CallerEntered, now: float) -> None:
        trace.mark("owner", e.call_id)
        known = self.config.is_known_did(e.did)
        number = self.config.number_for(e.did)
        if not known:
            log.warning(
                "unknown DID %s from %s: default entry %s",
                e.did,
                mask_phone(e.caller_number),
                number.did,
            )
        skill = e.skill or number.skill
        priority = e.priority
        decision: Decision | None = None
        if not e.restored:
            history = self._recent.setdefault(self._caller_key(e.caller_number), deque())
            window = now - repeat_window(self.config.priority_rules)
            while history and history[0] < window:
                history.popleft()
            priority = caller_priority(
                number, e.caller_number, len(history), self.config.priority_rules, self.config.lists
            )
            history.append(now)
            decision = decide(
                priority,
                skill,
                e.requests,
                {s.id for s in self.config.skills},
                {t.name for t in self.config.trunks if t.trust_headers},
            )
            for problem in decision.problems:
                log.warning("call %s: %s", e.call_id, problem)
            if decision.skill != skill:
                self._send(
                    e.node, partial(self.drivers[e.node].set_skill, e.call_id, decision.skill)
                )
            priority, skill = decision.priority, decision.skill
            if e.requests:
                log.info(
                    "call %s: priority %d from %s, skill %s from %s",
                    e.call_id,
                    priority,
                    decision.priority_source,
                    skill,
                    decision.skill_source,
                )
            if priority != e.priority:
                self._send(e.node, partial(self.drivers[e.node].set_priority, e.call_id, priority))
        self.calls[e.call_id] = CallMeta(
            e.node,
            number.did,
            number.label,
            number.region,
            e.caller_number,
            skill,
            decision.priority_source if decision else "",
        )
        arrived = e.arrived_at or now
        position = self.acd.join_position(e.call_id, priority, arrived)
        self.bus.publish(
            domain.CallerJoined(
                call_id=e.call_id,
                node=e.node,
                did=e.did,
                hotline=number.label,
                region=number.region,
                caller_number=e.caller_number,
                skill=skill,
                priority=priority,
                at=arrived,
                ivr_path=e.ivr_path,
                priority_source=decision.priority_source if decision else "",
                skill_source=decision.skill_source if decision else "",
                position=position,
            )
        )
        self._apply(ev.CallerArrived(e.call_id, skill, priority, arrived), now)
        announce = self.config.outbound.announce
        named = self.config.named_queue(skill)
        if announce.enabled and (named is None or named.announce):
            self.timers.set(("announce", e.call_id, 1), max(now, arrived + announce.first_after))

    def _announce(self, key: ev.TimerKey, now: float) -> None:
        """Tell a waiting caller its position and expected wait; offer a callback when the
        wait is long (or nobody staffed could take the call)."""
        _, call_id, n = key
        view = self.acd.caller(call_id)
        meta = self.calls.get(call_id)
        if view is None or meta is None or view.callback or view.state == "connected":
            return
        settings = self.config.outbound
        self.timers.set(("announce", call_id, n + 1), now + settings.announce.every)
        if view.state != "waiting":
            return  # ringing an agent now: say nothing this round
        wait = self.acd.expected_wait(call_id, settings.announce.assumed_handle_time)
        offer = (
            settings.callback.enabled
            and dialable(meta.caller_number)
            and (wait is None or wait > settings.callback.offer_when_wait_over)
        )
        prompts = queue_announcement(
            view.position, wait if settings.announce.expected_wait else None, offer
        )
        driver = self.drivers[meta.node]
        self._send(meta.node, partial(driver.announce, call_id, tuple(prompts), offer))
        self.bus.publish(domain.Announced(call_id, view.position, wait, offer, now))

    async def _link_up(self, node: str, now: float) -> None:
        """Rebuild from the PBX: restore callers we did not know, forget those gone."""
        was_up_before = self.reconnects[node] > 0 or any(
            m.node == node for m in self.calls.values()
        )
        self.link_up[node] = True
        self.link_down_reason.pop(node, None)
        self.timers.cancel(_node_dead_key(node))
        self.reconnects[node] += 1
        self.bus.publish(domain.PbxConnection(node, True, now))
        self._hold({node}, now)
        try:
            await self._restore(node, was_up_before)
        finally:
            self._restored(node, self.clock())

    async def _restore(self, node: str, was_up_before: bool) -> None:
        try:
            # whose phones can be reached, before any caller is offered
            for contact in await self.drivers[node].agent_contacts():
                await self._on_pbx(contact, self.clock())
        except Exception:
            log.exception("reading the agents' contacts of node %s failed", node)
        try:
            found = await self.drivers[node].snapshot()
        except Exception:
            log.exception("snapshot of node %s failed", node)
            return
        finished = await self._finished_calls(node)
        now = self.clock()
        seen: set[str] = set()
        for e in found:
            seen.add(e.call_id if isinstance(e, pbx.CallerEntered | pbx.CallInProgress) else "")
            await self._on_pbx(e, now)
        if was_up_before:
            ended = {c.call_id: c for c in finished}
            for call_id, meta in list(self.calls.items()):
                if meta.node == node and call_id not in seen and call_id in self.callbacks:
                    self._callback_lost(node, call_id, now)
                elif meta.node == node and call_id not in seen:
                    # gone while the link was down: hung up, finished talking or fell back
                    self._gone(node, call_id, ended.get(call_id), now)
        self._reconcile(node, finished, now, before=now)
        # offers in flight when the link dropped never reached the PBX: offer again
        for view in self.acd.queued():
            held = self.calls.get(view.call_id)
            if held is not None and held.node == node and view.state == "offered":
                restored = next(
                    (
                        x
                        for x in found
                        if isinstance(x, pbx.CallerEntered) and x.call_id == view.call_id
                    ),
                    None,
                )
                if restored is not None:
                    for agent_id in view.agent_ids:
                        self._apply(ev.OfferFailed(view.call_id, agent_id, "cancelled"), now)
        log.info("PBX node %s: link up, %d channels restored", node, len(found))
        if self._pending_callbacks is not None:
            pending, self._pending_callbacks = self._pending_callbacks, None
            for cb in pending:
                self.calls.setdefault(
                    cb.call_id, CallMeta(cb.node, "", "", "", cb.number, cb.skill)
                )
            known, at = len(self.callbacks.callbacks), self.clock()
            commands = self.callbacks.restore(pending, at)
            requeued = len(self.callbacks.callbacks) - known
            self._desk(commands, at)
            if requeued:
                log.info("%d pending callbacks queued again", requeued)

    # --- reconciliation: what the PBX kept of calls that ended while we could not see --------

    async def _finished_calls(self, node: str) -> tuple[pbx.FinishedCall, ...]:
        try:
            return tuple(await self.drivers[node].finished_calls())
        except Exception:
            log.exception("reading the finished calls of node %s failed", node)
            return ()

    def _gone(self, node: str, call_id: str, done: pbx.FinishedCall | None, now: float) -> None:
        """A call we knew ended while the link was down: close it in the ACD at the time the
        PBX says it ended (or left for the fallback route), not at the time we found out."""
        view = self.acd.caller(call_id)
        if done is not None and done.fellback_at and view is not None:
            if view.state != "connected":
                self._apply(ev.CallerWithdrawn(call_id, "fallback"), min(done.fellback_at, now))
        else:
            at = min(done.ended_at, now) if done is not None and done.ended_at else now
            self._apply(ev.CallerHungUp(call_id), at)
        self.calls.pop(call_id, None)
        self.bus.publish(domain.CallClosed(call_id, node, now))

    def _reconcile(
        self, node: str, finished: Iterable[pbx.FinishedCall], now: float, before: float
    ) -> None:
        """Complete the records of calls that ended before `before` (the recorder fills only
        what is missing: twice changes nothing); let the PBX forget those over an hour old."""
        old: list[str] = []
        for c in finished:
            if c.ended_at < now - _KEEP_FINISHED:
                old.append(c.call_id)
                self._reconciled.discard(c.call_id)
            if c.ended_at > before or c.call_id in self.calls or c.call_id in self._reconciled:
                continue
            if c.route not in ("engine", "fallback"):
                continue  # callbacks keep their own records; other routes are not queued
            number = self.config.number_for(c.did)
            self._reconciled.add(c.call_id)
            self.bus.publish(
                domain.CallReconciled(
                    call_id=c.call_id,
                    node=c.node,
                    did=c.did,
                    hotline=number.label,
                    region=number.region,
                    caller_number=c.caller_number,
                    skill=c.skill or number.skill,
                    priority=c.priority,
                    joined_at=c.arrived_at,
                    ended_at=c.ended_at,
                    route=c.route,
                    agent_id=c.agent_id,
                    connected_at=c.connected_at,
                    fellback_at=c.fellback_at,
                )
            )
        if old:
            driver = self.drivers[node]
            self._send(node, partial(driver.forget_finished, old))

    async def _reconciler(self) -> None:
        """Every few minutes, read each linked node's finished calls off the owner task (a
        caller the fallback route served while the engine was linked is completed too)."""
        while True:
            await asyncio.sleep(_RECONCILE_EVERY)
            for node, driver in self.drivers.items():
                if self.link_up.get(node):
                    try:
                        calls = tuple(await driver.finished_calls())
                    except Exception:
                        log.exception("reading the finished calls of node %s failed", node)
                        continue
                    self._inbox.put_nowait(_Finished(node, calls))

    # --- the restore barrier: no offer until every node's queue is back -------------------

    def _hold(self, nodes: set[str], now: float) -> None:
        """Hold routing until these nodes' snapshots are applied, at most `restore_wait`."""
        if not self._restoring:
            self._apply(ev.RoutingHeld(), now)
            self.timers.set(_RESTORE_DEADLINE, now + self.config.engine.restore_wait)
        self._restoring |= nodes

    def _restored(self, node: str, now: float) -> None:
        if node not in self._restoring:
            return
        self._restoring.discard(node)
        if not self._restoring:
            self.timers.cancel(_RESTORE_DEADLINE)
            self._apply(ev.RoutingReleased(), now)

    def _restore_deadline(self, now: float) -> None:
        """A node did not come back in time: route what we know rather than stall; the
        node's callers join the queue (in their own order) when its link comes up."""
        if self._restoring:
            log.warning(
                "PBX nodes %s not restored within %.0f s: routing without them",
                ", ".join(sorted(self._restoring)),
                self.config.engine.restore_wait,
            )
            self._restoring.clear()
            self._apply(ev.RoutingReleased(), now)

    def _node_dead(self, node: str, now: float) -> None:
        """A node's link stayed down for engine.node_dead_after: the node is taken for dead
        (a SIP proxy in front has stopped sending it calls by now). Its calls end: a waiting
        caller leaves the queue with reason "node_lost", a connected call ends (its agent
        goes on to wrap-up), and routing of every other node's callers goes on at once."""
        lost = [call_id for call_id, meta in self.calls.items() if meta.node == node]
        log.warning(
            "PBX node %s: link down for %.0f s, taken for dead: ending its %d calls",
            node,
            self.config.engine.node_dead_after,
            len(lost),
        )
        for call_id in lost:
            if call_id in self.callbacks:
                self._callback_lost(node, call_id, now)
                continue
            view = self.acd.caller(call_id)
            try:
                if view is not None and view.state != "connected":
                    self._apply(ev.CallerWithdrawn(call_id, NODE_LOST), now)
                elif view is not None:
                    self._apply(ev.CallerHungUp(call_id), now)
            except AcdError as exc:
                log.warning("ending call %s of dead node %s: %s", call_id, node, exc)
            self.calls.pop(call_id, None)
            self.bus.publish(domain.CallClosed(call_id, node, now))
        self._restored(node, now)

    def _callback_lost(self, node: str, call_id: str, now: float) -> None:
        """A callback's call vanished while the link was down: end what was in progress."""
        view = self.acd.caller(call_id)
        if view is None:
            return  # waiting for its next attempt: nothing on the PBX to lose
        if view.state == "connected":
            self._apply(ev.CallEnded(call_id), now)
            self._desk(self.callbacks.dialed(pbx.CallbackDialed(node, call_id, "ended"), now), now)
        elif view.state == "offered":
            for agent_id in view.agent_ids:
                self._apply(ev.OfferFailed(call_id, agent_id, "cancelled"), now)

    def _restore_agents(self) -> None:
        now = self.clock()
        for agent in self.config.agents:
            status, reason = self._initial_statuses.get(agent.id, ("", ""))
            if status == "available" or (not status and agent.login_on_start):
                self._apply(ev.AgentLoggedIn(agent.id), now)
            elif status == "on_break":
                self._apply(ev.AgentLoggedIn(agent.id, ready=False, reason=reason), now)

    # --- commands ----------------------------------------------------------------------------

    def _execute(self, c: cmd.Command, now: float) -> None:
        if isinstance(c, cmd.SetTimer):
            self.timers.set(c.key, c.at)
        elif isinstance(c, cmd.CancelTimer):
            self.timers.cancel(c.key)
        elif isinstance(c, cmd.Offer | cmd.CancelOffer | cmd.Overflow):
            meta = self.calls.get(c.call_id)
            if meta is None:
                return
            driver = self.drivers[meta.node]
            if isinstance(c, cmd.Offer) and c.callback:
                self._desk(self.callbacks.offer(c, now), now)
            elif isinstance(c, cmd.Offer):
                self._send(meta.node, lambda: driver.offer(c.call_id, c.agent_ids, c.timeout))
                trace.mark("decided", c.call_id)
                self.bus.publish(domain.OfferMade(c.call_id, c.agent_ids, now))
            elif isinstance(c, cmd.CancelOffer):
                self._send(meta.node, lambda: driver.cancel_offer(c.call_id, c.agent_ids))
            else:
                self._send(meta.node, lambda: driver.overflow(c.call_id, c.target, c.reason))
        else:
            self._notice(c, now)

    def _notice(self, c: cmd.Notice, now: float) -> None:
        handled = self.callbacks.notice(c, now)
        if handled is not None:
            self._desk(handled, now)
            return
        if isinstance(c, cmd.OfferRejected):
            self.bus.publish(
                domain.OfferRejected(c.call_id, c.agent_id, c.reason, c.ring_seconds, now, c.cause)
            )
        elif isinstance(c, cmd.AutoPauseAlert):
            if c.active:
                log.warning("%d of %d logged-in agents are auto-paused", c.auto_paused, c.logged_in)
            self.bus.publish(domain.AutoPauseAlert(c.active, c.auto_paused, c.logged_in, now))
        elif isinstance(c, cmd.OfferCancelled):
            self.bus.publish(
                domain.OfferCancelled(c.call_id, c.agent_id, c.reason, c.ring_seconds, now)
            )
        elif isinstance(c, cmd.CallConnected):
            leg = self._agent_legs.get(c.call_id, "")
            self.bus.publish(
                domain.CallConnected(c.call_id, c.agent_id, c.waited, now, c.ring_seconds, leg)
            )
            meta = self.calls.get(c.call_id)
            if meta is not None and meta.caller_number:
                self._desk(self.callbacks.answered_again(meta.caller_number, now), now)
        elif isinstance(c, cmd.CallerLeft):
            self.bus.publish(
                domain.CallerLeft(
                    c.call_id, c.reason, c.waited, c.position, now, c.original_position
                )
            )
            self._missed(c, now)
        elif isinstance(c, cmd.CallFinished):
            self.bus.publish(
                domain.CallFinished(
                    c.call_id,
                    c.agent_id,
                    c.talk_seconds,
                    now,
                    c.held,
                    c.original_position,
                    c.ended_by,
                )
            )
        elif isinstance(c, cmd.CallTransferred):
            meta = self.calls.get(c.call_id)
            if meta is not None:
                meta.skill = c.skill
                driver = self.drivers[meta.node]
                # before any offer the same step makes: the caller must be back on hold first
                self._send(meta.node, partial(driver.transfer, c.call_id, c.skill))
            self._agent_legs.pop(c.call_id, None)
            self.bus.publish(
                domain.CallTransferred(
                    c.call_id,
                    c.agent_id,
                    c.skill,
                    c.to_agent,
                    c.talk_seconds,
                    c.held,
                    now,
                    c.original_position,
                )
            )
        elif isinstance(c, cmd.AgentStateChanged):
            self.bus.publish(domain.AgentStateChanged(c.agent_id, c.status, c.state, c.reason, now))

    def _missed(self, c: cmd.CallerLeft, now: float) -> None:
        """漏接回拨: a caller who left unanswered may become a callback task
        (outbound/callbacks.py)."""
        meta = self.calls.get(c.call_id)
        rules = self.config.outbound.missed
        if meta is None or not rules.enabled or c.reason not in rules.reasons:
            return
        commands = self.callbacks.missed(
            c.call_id, meta.node, meta.caller_number, meta.skill, c.reason, c.waited, now
        )
        task_id = MISSED_PREFIX + c.call_id
        if task_id in self.callbacks:
            # the task's metadata before its commands: queueing it may offer it at once
            self.calls.setdefault(
                task_id,
                CallMeta(
                    meta.node, meta.did, meta.hotline, meta.region, meta.caller_number, meta.skill
                ),
            )
        self._desk(commands, now)

    def _desk(self, commands: Iterable[desk.Command], now: float) -> None:
        """Carry out the callback desk's commands in order (outbound/callbacks.py)."""
        for c in commands:
            if isinstance(c, desk.ToAcd):
                self._apply(c.event, now)
            elif isinstance(c, cmd.SetTimer):
                self.timers.set(c.key, c.at)
            elif isinstance(c, desk.RingAgent):
                driver = self.drivers.get(c.node) or next(iter(self.drivers.values()))
                self._send(driver.node, partial(driver.callback, c.call, c.agent_id, c.timeout))
            elif isinstance(c, desk.Publish):
                self.bus.publish(c.event)
            else:
                self.calls.pop(c.call_id, None)

    def _send(self, node: str, action: Callable[[], Awaitable[None]]) -> None:
        self._outbox[node].put_nowait(action)

    async def _sender(self, node: str) -> None:
        """Send one node's PBX actions in order; a failure is logged, never fatal."""
        queue = self._outbox[node]
        while True:
            action = await queue.get()
            if action is None:
                return
            try:
                await action()
            except Exception:
                log.exception("PBX action on node %s failed", node)

    async def _pump(self, driver: pbx.PbxDriver) -> None:
        async for e in driver.events():
            self._inbox.put_nowait(e)

    async def _heartbeat(self) -> None:
        interval = self.config.engine.heartbeat_interval
        while True:
            now = self.clock()
            for node, driver in self.drivers.items():
                if self.link_up.get(node):
                    self._send(node, partial(driver.heartbeat, now))
            await asyncio.sleep(interval)


_NOTHING: Any = object()
_RESTORE_DEADLINE: ev.TimerKey = ("restore", "", 0)
_NODE_DEAD = "node-dead"
NODE_LOST = "node_lost"  # why a dead node's waiting callers left the queue


def _node_dead_key(node: str) -> ev.TimerKey:
    return (_NODE_DEAD, node, 0)


_RECONCILE_EVERY = 300.0  # seconds between background reconciliations
_SETTLED = 60.0  # a finished call is reconciled in the background once this old
_KEEP_FINISHED = 3600.0  # the PBX keeps a finished call's record this long (once linked)
