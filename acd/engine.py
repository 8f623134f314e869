"""The routing core: `Acd.handle(event, now) -> list[Command]` is the only way in.

One unified queue ordered by priority, then arrival. Indexes keep decisions cheap:
- idle agents per (skill, proficiency), each sorted by the key of the strategy of the skill's
  queue (a named queue's, or [queue]'s);
- waiting callers per skill, sorted by (-priority, arrival, sequence);
- every queued caller in one list for positions.
Invariant after every event: no waiting caller could be offered to an idle agent.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from acd import commands as cmd
from acd import events as ev
from acd.errors import AgentUnavailable, InvalidTransition, UnknownAgent, UnknownCaller
from acd.model import MAX_PROFICIENCY, AgentId, AgentSpec, CallId, NamedQueue, QueuePolicy, SkillId
from acd.states import (
    AUTO_PAUSE_REASON,
    OUTCOME_OF,
    AgentState,
    AgentStatus,
    CallerState,
    LeaveReason,
    OfferOutcome,
)
from acd.states import Strategy as St
from acd.strategies import ACROSS_PROFICIENCY, DRAWS, KEYS, AgentStats, StrategyKey

QueueKey = tuple[int, float, int, CallId]
IdleEntry = tuple[StrategyKey, AgentId]

# Weight of the newest call in the average handle time behind expected-wait estimates.
HANDLE_SMOOTHING = 0.2

# The order a CallerNotOffered lists agents in: those a supervisor may think free come first.
_REASON_RANK = {
    "held": 0,
    "unreachable": 1,
    "backing_off": 2,
    "proficiency": 3,
    "wrap_up": 4,
    "ringing": 5,
    "on_call": 6,
    "on_break": 7,
    "no_skill": 8,
}

# Reasons an offer ended that say nothing about the agent (no back-off, no count).
# (the offer withdrawn, the caller gone, or the agent paused or logged out while it rang)
_BLAMELESS = frozenset({"cancelled", "caller_gone", "paused", "logged_out"})


@dataclass
class _Rules:
    """The rules in force for the callers of some skills: a named queue's, or [queue]'s."""

    name: str
    strategy: St
    key: Callable[[AgentStats, int], StrategyKey]
    offer_timeout: float
    wrapup: float
    max_wait: float | None
    overflow_target: str
    progressive_delay: float
    last_order: int = -1  # rrmemory: the configured order of the agent offered last

    @classmethod
    def of(cls, q: QueuePolicy | NamedQueue, name: str = "") -> _Rules:
        return cls(
            name=name,
            strategy=q.strategy,
            key=KEYS[q.strategy],
            offer_timeout=q.offer_timeout,
            wrapup=q.wrapup,
            max_wait=q.max_wait,
            overflow_target=q.overflow_target,
            progressive_delay=q.ring_progressively_delay,
        )


@dataclass
class _Agent:
    spec: AgentSpec
    order: int = 0  # place in the configured agent list
    status: AgentStatus = AgentStatus.LOGGED_OUT
    reason: str = ""
    in_wrapup: bool = False
    offered: CallId | None = None
    calls: set[CallId] = field(default_factory=set)
    idle_since: float = 0.0
    calls_taken: int = 0
    talk_seconds: float = 0.0
    last_offer_seq: int = 0
    no_answer_count: int = 0
    backing_off: bool = False
    reachable: bool = True  # until the PBX says otherwise
    gen: int = 0  # generation of the agent's wrap-up / back-off timers
    pause_gen: int = 0  # generation of the auto-pause expiry timer
    indexed: list[tuple[SortedList, IdleEntry]] | None = None
    noticed: tuple[str, str, str] = ("", "", "")

    @property
    def state(self) -> AgentState:
        if self.offered is not None:
            return AgentState.OFFERED
        if self.calls:
            return AgentState.ON_CALL
        if self.in_wrapup:
            return AgentState.WRAP_UP
        return AgentState.IDLE

    def eligible(self) -> bool:
        return (
            self.status is AgentStatus.AVAILABLE
            and self.offered is None
            and not self.in_wrapup
            and not self.backing_off
            and self.reachable
            and len(self.calls) < self.spec.max_concurrent
        )


@dataclass
class _Caller:
    call_id: CallId
    skill: SkillId
    priority: int
    arrived_at: float
    seq: int
    skills: set[SkillId]
    min_proficiency: int
    rules: _Rules
    state: CallerState = CallerState.WAITING
    widen_step: int = 0
    offered_to: tuple[AgentId, ...] = ()
    offer_gen: int = 0
    offered_at: float = 0.0
    agent_id: AgentId | None = None
    connected_at: float = 0.0
    callback: bool = False
    joined_position: int = 0  # 1-based position in the queue when it joined
    # ring-progressively: when each agent added to a ringing offer joined it
    joined: dict[AgentId, float] | None = None
    # when a transfer put it back in the queue (its place still counts from `arrived_at`)
    requeued_at: float | None = None
    # agents whose ring for this caller the engine stopped and whose end the PBX has not
    # reported yet: that report is about the old ring, never about a newer offer
    cancelled_rings: set[AgentId] = field(default_factory=set)

    @property
    def since(self) -> float:
        """When this stretch of waiting began: waits, widening and hold times count from it."""
        return self.arrived_at if self.requeued_at is None else self.requeued_at

    def ring_seconds(self, agent_id: AgentId, now: float) -> float:
        start = (
            self.offered_at if self.joined is None else self.joined.get(agent_id, self.offered_at)
        )
        return now - start

    @property
    def key(self) -> QueueKey:
        return (-self.priority, self.arrived_at, self.seq, self.call_id)


@dataclass(frozen=True)
class CallerView:
    call_id: CallId
    skill: SkillId
    skills: tuple[SkillId, ...]
    priority: int
    arrived_at: float
    state: str
    position: int
    agent_ids: tuple[AgentId, ...]
    callback: bool = False


@dataclass(frozen=True)
class AgentView:
    agent_id: AgentId
    name: str
    skills: tuple[tuple[SkillId, int], ...]
    status: str
    state: str
    reason: str
    calls: tuple[CallId, ...]
    offered: CallId | None
    calls_taken: int
    talk_seconds: float
    no_answer_count: int
    backing_off: bool
    reachable: bool = True


class Acd:
    # Decision facts for the decision log (OfferDecided, CallerNotOffered): off by default, so
    # routing pays nothing for them; each fact lists at most `explain_top` agents.
    explain: bool = False
    explain_top: int = 5
    _skill_agents: dict[SkillId, list[AgentId]] | None = None  # built when first explained

    def __init__(self, policy: QueuePolicy, agents: Iterable[AgentSpec] = ()) -> None:
        self.policy = policy
        self._default = _Rules.of(policy)
        self._rules: dict[SkillId, _Rules] = {}
        for q in policy.queues:
            rules = _Rules.of(q, q.name)
            for skill in q.skills:
                self._rules[skill] = rules
        every = [self._default, *self._rules.values()]
        self._draws = any(r.strategy in DRAWS for r in every)
        self._rotating = any(r.strategy is St.RR_MEMORY for r in every)
        # one key for every (skill, proficiency) index of an agent: no named queue, and a
        # strategy whose key does not look at the proficiency
        self._uniform = not self._rules and policy.strategy not in ACROSS_PROFICIENCY
        self._rng = random.Random(policy.random_seed)
        self._widening = tuple(sorted(policy.widening, key=lambda r: r.after))
        self._agents: dict[AgentId, _Agent] = {}
        self._callers: dict[CallId, _Caller] = {}
        self._idle: dict[SkillId, dict[int, SortedList]] = {}
        self._waiting: dict[SkillId, SortedList] = {}
        self._queue: SortedList = SortedList()
        self._logged_in: Counter[SkillId] = Counter()
        self._seq = 0
        self._offer_seq = 0
        self._handle_avg: float | None = None  # recent talk + wrap-up seconds (EWMA)
        self._dirty_callers: set[CallId] = set()
        self._dirty_agents: set[AgentId] = set()
        self._touched: set[AgentId] = set()
        self._held = False  # restoring: no offers until released
        self._handlers: dict[type, Callable[[Any, float, list[cmd.Command]], None]] = {}
        self._present: set[AgentId] = set()  # logged in (available or on break)
        self._auto_paused: set[AgentId] = set()
        self._alerting = False
        for spec in agents:
            self._agents[spec.id] = _Agent(spec, order=len(self._agents))

    # --- the way in ------------------------------------------------------------------------

    def handle(self, event: ev.Event, now: float) -> list[cmd.Command]:
        out: list[cmd.Command] = []
        kind = type(event)
        handler = self._handlers.get(kind)
        if handler is None:
            handler = self._handlers[kind] = getattr(self, "_on_" + kind.__name__)
        handler(event, now, out)
        if (self._dirty_callers or self._dirty_agents) and not self._held:
            self._dispatch(now, out)
        if self._touched:
            self._notice_agents(out)
        return out

    # --- views (read-only, for the console, metrics and tests) -----------------------------

    def queued(self) -> list[CallerView]:
        """Callers waiting or being offered, in queue order."""
        return [self._view(self._callers[key[3]], i + 1) for i, key in enumerate(self._queue)]

    def caller(self, call_id: CallId) -> CallerView | None:
        c = self._callers.get(call_id)
        return None if c is None else self._view(c, self._position(c))

    def agents(self) -> list[AgentView]:
        return [self.agent(a) for a in sorted(self._agents)]

    def agent(self, agent_id: AgentId) -> AgentView:
        a = self._agent(agent_id)
        return AgentView(
            agent_id=a.spec.id,
            name=a.spec.name,
            skills=tuple(sorted(a.spec.skills.items())),
            status=a.status.value,
            state=a.state.value,
            reason=a.reason,
            calls=tuple(sorted(a.calls)),
            offered=a.offered,
            calls_taken=a.calls_taken,
            talk_seconds=a.talk_seconds,
            no_answer_count=a.no_answer_count,
            backing_off=a.backing_off,
            reachable=a.reachable,
        )

    def auto_pause_alert(self) -> tuple[bool, int, int]:
        """(alerting, agents auto-paused, agents logged in)."""
        return self._alerting, len(self._auto_paused), len(self._present)

    def position(self, call_id: CallId) -> int:
        c = self._callers.get(call_id)
        return 0 if c is None else self._position(c)

    def join_position(self, call_id: CallId, priority: int, arrived_at: float) -> int:
        """The 1-based position a caller arriving now with this priority and arrival time
        takes (its position when already queued)."""
        c = self._callers.get(call_id)
        if c is not None:
            return self._position(c) or 1
        key = (-priority, arrived_at, self._seq + 1, call_id)
        return int(self._queue.bisect_left(key)) + 1

    def staffed(self, call_id: CallId) -> int:
        """Agents logged in and not on break who could take this caller now or later."""
        c = self._callers.get(call_id)
        if c is None:
            return 0
        return sum(
            1
            for a in self._agents.values()
            if a.status is AgentStatus.AVAILABLE
            and any(a.spec.skills.get(s, 0) >= c.min_proficiency for s in c.skills)
        )

    def expected_wait(self, call_id: CallId, assumed_handle: float) -> float | None:
        """Seconds this waiting caller may still wait: its position times the recent average
        handle time (talk + wrap-up; `assumed_handle` until a call has finished), shared by
        the agents staffed for it. None when nobody staffed could take it."""
        c = self._callers.get(call_id)
        if c is None or c.state is CallerState.CONNECTED:
            return None
        staffed = self.staffed(call_id)
        if staffed == 0:
            return None
        handle = assumed_handle if self._handle_avg is None else self._handle_avg
        return self._position(c) * handle / staffed

    # --- decision facts (for the decision log; routing never depends on them) ---------------

    def why_not(self, agent_id: AgentId, call_id: CallId) -> cmd.NotCandidate | None:
        """Why this agent cannot be offered this queued caller now (None: it could be)."""
        c = self._callers.get(call_id)
        if c is None:
            raise UnknownCaller(call_id)
        return self._why_not(self._agent(agent_id), c)

    def not_offered(self, call_id: CallId) -> cmd.CallerNotOffered:
        """Why no logged-in agent can be offered this queued caller now."""
        c = self._callers.get(call_id)
        if c is None:
            raise UnknownCaller(call_id)
        return self._not_offered(c)

    def _why_not(self, a: _Agent, c: _Caller) -> cmd.NotCandidate | None:
        aid = a.spec.id
        best = max((a.spec.skills.get(s, 0) for s in c.skills), default=0)
        if a.status is AgentStatus.LOGGED_OUT:
            return cmd.NotCandidate(aid, "logged_out")
        if best == 0:
            return cmd.NotCandidate(aid, "no_skill")
        if best < c.min_proficiency:
            return cmd.NotCandidate(aid, "proficiency", f"{best}<{c.min_proficiency}")
        if a.status is AgentStatus.ON_BREAK:
            expires = a.reason == AUTO_PAUSE_REASON and self.policy.auto_pause_expires is not None
            timer = ("autopause", aid, a.pause_gen) if expires else None
            return cmd.NotCandidate(aid, "on_break", a.reason, timer)
        if a.offered is not None and a.offered != c.call_id:
            return cmd.NotCandidate(aid, "ringing", a.offered)
        if len(a.calls) >= a.spec.max_concurrent:
            return cmd.NotCandidate(aid, "on_call", ",".join(sorted(a.calls)))
        if a.in_wrapup:
            return cmd.NotCandidate(aid, "wrap_up", "", ("wrapup", aid, a.gen))
        if a.backing_off:
            return cmd.NotCandidate(aid, "backing_off", "", ("backoff", aid, a.gen))
        if not a.reachable:
            return cmd.NotCandidate(aid, "unreachable")
        if self._held:
            return cmd.NotCandidate(aid, "held")
        return None

    def _not_offered(self, c: _Caller) -> cmd.CallerNotOffered:
        if self._skill_agents is None:
            by_skill: dict[SkillId, list[AgentId]] = {}
            for agent_id in sorted(self._agents):
                for skill in self._agents[agent_id].spec.skills:
                    by_skill.setdefault(skill, []).append(agent_id)
            self._skill_agents = by_skill
        seen: set[AgentId] = set()
        found: list[cmd.NotCandidate] = []
        for skill in sorted(c.skills):
            for agent_id in self._skill_agents.get(skill, ()):
                a = self._agents[agent_id]
                if agent_id in seen or a.status is AgentStatus.LOGGED_OUT:
                    continue
                seen.add(agent_id)
                why = self._why_not(a, c)
                if why is not None:
                    found.append(why)
        found.sort(key=lambda w: (_REASON_RANK.get(w.reason, 0), w.agent_id))
        # agents without any of the caller's skills are not listed (finding the idle ones
        # would scan every skill's index): the decision log's agent states tell them
        top = self.explain_top
        return cmd.CallerNotOffered(
            c.call_id,
            tuple(sorted(c.skills)),
            c.min_proficiency,
            tuple(found[:top]),
            max(0, len(found) - top),
        )

    def _decided(self, c: _Caller, chosen: list[_Agent]) -> cmd.OfferDecided:
        """The idle agents who could take the caller, best first (before the offer takes
        them out of the idle index)."""
        top = self.explain_top
        ranked: list[tuple[int, IdleEntry, SkillId]] = []
        considered: set[AgentId] = set()
        count = 0
        for prof in range(MAX_PROFICIENCY, c.min_proficiency - 1, -1):
            for skill in c.skills:
                entries = self._idle.get(skill, {}).get(prof)
                if not entries:
                    continue
                count += len(entries)
                if len(c.skills) > 1:
                    considered.update(agent_id for _, agent_id in entries)
                ranked.extend((-prof, entry, skill) for entry in entries.islice(0, top))
        ranked.sort()
        listed: list[cmd.Candidate] = []
        for neg_prof, (key, agent_id), skill in ranked:
            if len(listed) == top:
                break
            if all(x.agent_id != agent_id for x in listed):
                listed.append(cmd.Candidate(agent_id, skill, -neg_prof, key))
        return cmd.OfferDecided(
            c.call_id,
            tuple(a.spec.id for a in chosen),
            c.rules.strategy.value,  # the strategy of the caller's queue
            tuple(listed),
            len(considered) if len(c.skills) > 1 else count,
        )

    # --- caller events ---------------------------------------------------------------------

    def _on_CallerArrived(self, e: ev.CallerArrived, now: float, out: list[cmd.Command]) -> None:
        if e.call_id in self._callers:
            return  # a replayed arrival (e.g. a snapshot after reconnect): keep what we have
        arrived = now if e.arrived_at is None else e.arrived_at
        self._seq += 1
        c = _Caller(
            call_id=e.call_id,
            skill=e.skill,
            priority=e.priority,
            arrived_at=arrived,
            seq=self._seq,
            skills={e.skill},
            min_proficiency=self.policy.min_proficiency,
            rules=self._rules.get(e.skill, self._default),
            callback=e.callback,
        )
        self._callers[c.call_id] = c
        out.append(cmd.CallerQueued(c.call_id, c.skill, c.priority, arrived))
        if self.policy.leave_when_no_agents and not c.callback and not self._servable(c):
            c.joined_position = 1
            self._leave(c, LeaveReason.NO_AGENTS, now, out, position=1)
            return
        self._queue.add(c.key)
        c.joined_position = self._position(c)
        self._enqueue(c)
        # widening steps already due (a restored caller) apply at once
        while (
            c.widen_step < len(self._widening)
            and arrived + self._widening[c.widen_step].after <= now
        ):
            self._apply_widening(c)
        self._schedule_widening(c, out)
        if c.rules.max_wait and not c.callback:
            out.append(cmd.SetTimer(("max_wait", c.call_id, 0), arrived + c.rules.max_wait))

    def _on_CallerHungUp(self, e: ev.CallerHungUp, now: float, out: list[cmd.Command]) -> None:
        c = self._callers.get(e.call_id)
        if c is None:
            return
        if c.state is CallerState.CONNECTED:
            self._finish(c, now, out, ended_by="caller")
            return
        self._leave(c, LeaveReason.ABANDONED, now, out)

    def _on_CallerWithdrawn(
        self, e: ev.CallerWithdrawn, now: float, out: list[cmd.Command]
    ) -> None:
        c = self._callers.get(e.call_id)
        if c is None:
            return
        if c.state is CallerState.CONNECTED:
            self._finish(c, now, out)
            return
        self._leave(c, LeaveReason(e.reason), now, out, route=False)

    def _on_CallbackAccepted(
        self, e: ev.CallbackAccepted, now: float, out: list[cmd.Command]
    ) -> None:
        c = self._callers.get(e.call_id)
        if c is None or c.state is CallerState.CONNECTED:
            raise UnknownCaller(e.call_id)
        if c.callback:
            return
        c.callback = True
        if c.rules.max_wait:
            out.append(cmd.CancelTimer(("max_wait", c.call_id, 0)))
        if c.state is CallerState.OFFERED:
            # the live caller is leaving: ringing agents for it now would connect nobody
            out.append(cmd.CancelTimer(("offer", c.call_id, c.offer_gen)))
            self._cancel_rings(c, c.offered_to, out)
            self._rings_cancelled(c, c.offered_to, "callback", now, out)
            self._release(c.offered_to, c.call_id, now)
            c.offered_to = ()
            c.state = CallerState.WAITING
            self._enqueue(c)

    def _on_CallerPriorityChanged(
        self, e: ev.CallerPriorityChanged, now: float, out: list[cmd.Command]
    ) -> None:
        c = self._callers.get(e.call_id)
        if c is None or c.state is CallerState.CONNECTED:
            raise UnknownCaller(e.call_id)
        self._queue.remove(c.key)
        waiting = c.state is CallerState.WAITING
        if waiting:
            self._dequeue(c)
        c.priority = e.priority
        self._queue.add(c.key)
        if waiting:
            self._enqueue(c)

    def _on_CallerTransferred(
        self, e: ev.CallerTransferred, now: float, out: list[cmd.Command]
    ) -> None:
        c = self._callers.get(e.call_id)
        if c is None or c.state is not CallerState.CONNECTED or c.agent_id is None:
            raise UnknownCaller(e.call_id)
        if c.callback:
            raise InvalidTransition(f"call {e.call_id} is a callback: it cannot be transferred")
        target: _Agent | None = None
        if e.agent_id:
            target = self._agent(e.agent_id)
            if target.spec.skills.get(e.skill, 0) < 1:
                raise AgentUnavailable(e.agent_id, f"no skill {e.skill}")
            if target.spec.id == c.agent_id or not target.eligible():
                raise AgentUnavailable(e.agent_id, f"not idle ({target.state.value})")
        self._finish(c, now, out, transfer=(e.skill, e.agent_id))
        # back in the queue with the new skill: same priority, same arrival and sequence, so
        # it keeps its place ahead of that skill's callers who arrived after it
        n = _Caller(
            call_id=c.call_id,
            skill=e.skill,
            priority=c.priority,
            arrived_at=c.arrived_at,
            seq=c.seq,
            skills={e.skill},
            min_proficiency=self.policy.min_proficiency,
            rules=self._rules.get(e.skill, self._default),
            joined_position=c.joined_position,
            requeued_at=now,
        )
        self._callers[n.call_id] = n
        self._queue.add(n.key)
        self._enqueue(n)
        self._schedule_widening(n, out)
        if n.rules.max_wait:
            out.append(cmd.SetTimer(("max_wait", n.call_id, 0), now + n.rules.max_wait))
        if target is not None and not self._held:
            self._offer(n, [target], now, out)

    # --- offer results ---------------------------------------------------------------------

    def _on_OfferAnswered(self, e: ev.OfferAnswered, now: float, out: list[cmd.Command]) -> None:
        c = self._callers.get(e.call_id)
        a = self._agents.get(e.agent_id)
        if c is None or a is None or c.state is CallerState.CONNECTED:
            return
        # The PBX is the truth: even an answer that beat our own timeout connects the call.
        others = tuple(x for x in c.offered_to if x != a.spec.id)
        if c.state is CallerState.OFFERED:
            out.append(cmd.CancelTimer(("offer", c.call_id, c.offer_gen)))
            self._release(others, c.call_id, now)
            if others:
                self._cancel_rings(c, others, out)
                self._rings_cancelled(c, others, "answered_elsewhere", now, out)
        else:
            self._dequeue(c)
        if a.offered is not None and a.offered != c.call_id:
            # the agent was being offered another caller: that offer cannot be taken now
            other = self._callers.get(a.offered)
            if other is not None:
                self._offer_failed(other, a, "busy", now, out)
        position = self._position(c)
        self._queue.remove(c.key)
        c.state = CallerState.CONNECTED
        c.offered_to = ()
        c.agent_id = a.spec.id
        c.connected_at = now
        a.offered = None
        a.calls.add(c.call_id)
        a.no_answer_count = 0
        self._refresh(a)
        waited = now - c.since
        ring = c.ring_seconds(a.spec.id, now) if c.offer_gen else 0.0  # offered at least once
        out.append(cmd.CallConnected(c.call_id, a.spec.id, waited, ring))
        out.append(cmd.CallerLeft(c.call_id, LeaveReason.ANSWERED.value, waited, position))
        self._cancel_caller_timers(c, out)

    def _on_OfferFailed(self, e: ev.OfferFailed, now: float, out: list[cmd.Command]) -> None:
        c = self._callers.get(e.call_id)
        a = self._agents.get(e.agent_id)
        if c is None or a is None:
            return
        if e.agent_id in c.cancelled_rings:
            # the PBX's word on a ring the engine stopped (its echo of the cancel, or an
            # outcome that crossed it): the caller may already ring this agent again, e.g.
            # for the callback it took while the first ring ran, and that offer stands
            c.cancelled_rings.discard(e.agent_id)
            return
        if c.state is not CallerState.OFFERED:
            return
        if a.spec.id not in c.offered_to:
            return
        self._offer_failed(c, a, e.reason, now, out, e.cause)

    def _on_AgentReachability(
        self, e: ev.AgentReachability, now: float, out: list[cmd.Command]
    ) -> None:
        a = self._agent(e.agent_id)
        if a.reachable == e.reachable:
            return
        a.reachable = e.reachable
        if not e.reachable and a.offered is not None:
            # ringing a phone that is gone: the caller moves on now, not at the offer timeout
            c = self._callers.get(a.offered)
            if c is not None and c.state is CallerState.OFFERED and a.spec.id in c.offered_to:
                self._cancel_rings(c, (a.spec.id,), out)
                self._offer_failed(c, a, OfferOutcome.UNREACHABLE.value, now, out)
        self._refresh(a)

    def _on_CallEnded(self, e: ev.CallEnded, now: float, out: list[cmd.Command]) -> None:
        c = self._callers.get(e.call_id)
        if c is not None and c.state is CallerState.CONNECTED:
            self._finish(c, now, out, ended_by=e.by)

    def _on_CallRestored(self, e: ev.CallRestored, now: float, out: list[cmd.Command]) -> None:
        a = self._agent(e.agent_id)
        if e.call_id in self._callers:
            return
        self._seq += 1
        c = _Caller(
            call_id=e.call_id,
            skill=e.skill,
            priority=0,
            arrived_at=e.connected_at,
            seq=self._seq,
            skills={e.skill},
            min_proficiency=self.policy.min_proficiency,
            rules=self._rules.get(e.skill, self._default),
            state=CallerState.CONNECTED,
            agent_id=a.spec.id,
            connected_at=e.connected_at,
        )
        self._callers[c.call_id] = c
        if a.offered == c.call_id:
            a.offered = None
        a.calls.add(c.call_id)
        a.in_wrapup = False
        self._refresh(a)

    # --- agent events ----------------------------------------------------------------------

    def _on_AgentConfigured(
        self, e: ev.AgentConfigured, now: float, out: list[cmd.Command]
    ) -> None:
        self._skill_agents = None
        a = self._agents.get(e.spec.id)
        if a is None:
            self._agents[e.spec.id] = _Agent(e.spec, order=len(self._agents), idle_since=now)
            return
        self._unindex(a)
        if a.status is not AgentStatus.LOGGED_OUT:
            self._logged_in.subtract(a.spec.skills.keys())
            self._logged_in.update(e.spec.skills.keys())
        a.spec = e.spec
        self._refresh(a)

    def _on_AgentLoggedIn(self, e: ev.AgentLoggedIn, now: float, out: list[cmd.Command]) -> None:
        a = self._agent(e.agent_id)
        if a.status is AgentStatus.LOGGED_OUT:
            self._logged_in.update(a.spec.skills.keys())
            a.idle_since = now
            a.no_answer_count = 0
        a.status = AgentStatus.AVAILABLE if e.ready else AgentStatus.ON_BREAK
        a.reason = "" if e.ready else e.reason
        if not e.ready:
            self._stop_ring(a, "paused", now, out)
        self._refresh(a)

    def _on_AgentLoggedOut(self, e: ev.AgentLoggedOut, now: float, out: list[cmd.Command]) -> None:
        a = self._agent(e.agent_id)
        if a.status is AgentStatus.LOGGED_OUT:
            return
        a.status = AgentStatus.LOGGED_OUT
        a.reason = ""
        self._logged_in.subtract(a.spec.skills.keys())
        self._stop_ring(a, "logged_out", now, out)
        self._refresh(a)
        if self.policy.leave_when_no_agents:
            for key in list(self._queue):
                c = self._callers[key[3]]
                if c.state is CallerState.WAITING and not self._servable(c):
                    self._leave(c, LeaveReason.NO_AGENTS, now, out)

    def _on_AgentPaused(self, e: ev.AgentPaused, now: float, out: list[cmd.Command]) -> None:
        a = self._agent(e.agent_id)
        if a.status is AgentStatus.LOGGED_OUT:
            return
        a.status = AgentStatus.ON_BREAK
        a.reason = e.reason
        self._stop_ring(a, "paused", now, out)
        self._refresh(a)

    def _on_AgentResumed(self, e: ev.AgentResumed, now: float, out: list[cmd.Command]) -> None:
        a = self._agent(e.agent_id)
        if a.status is AgentStatus.LOGGED_OUT:
            return
        a.status = AgentStatus.AVAILABLE
        a.reason = ""
        a.no_answer_count = 0
        self._clear_backoff(a)
        self._refresh(a)

    def _on_AgentReady(self, e: ev.AgentReady, now: float, out: list[cmd.Command]) -> None:
        a = self._agent(e.agent_id)
        if a.in_wrapup:
            out.append(cmd.CancelTimer(("wrapup", a.spec.id, a.gen)))
            self._end_wrapup(a, now)

    # --- timers ----------------------------------------------------------------------------

    def _on_RoutingHeld(self, e: ev.RoutingHeld, now: float, out: list[cmd.Command]) -> None:
        self._held = True

    def _on_RoutingReleased(
        self, e: ev.RoutingReleased, now: float, out: list[cmd.Command]
    ) -> None:
        if not self._held:
            return
        self._held = False
        # every waiting caller, not only those restored: the dispatch takes them best first
        for c in self._callers.values():
            if c.state is CallerState.WAITING:
                self._dirty_callers.add(c.call_id)

    def _on_TimerFired(self, e: ev.TimerFired, now: float, out: list[cmd.Command]) -> None:
        kind, subject, gen = e.key
        if kind == "offer":
            c = self._callers.get(subject)
            if c is not None and c.state is CallerState.OFFERED and c.offer_gen == gen:
                agents = c.offered_to
                self._cancel_rings(c, agents, out)
                for agent_id in agents:
                    self._offer_failed(c, self._agents[agent_id], "no_answer", now, out)
        elif kind == "progress":
            c = self._callers.get(subject)
            if c is not None and c.state is CallerState.OFFERED and c.offer_gen == gen:
                more = self._best_agent_for(c)
                if more is not None:
                    self._offer(c, [more], now, out)
                else:  # nobody free now: try again at the next step
                    self._next_progressive_step(c, now, out)
        elif kind == "wrapup":
            a = self._agents.get(subject)
            if a is not None and a.in_wrapup and a.gen == gen:
                self._end_wrapup(a, now)
        elif kind == "autopause":
            a = self._agents.get(subject)
            if (
                a is not None
                and a.pause_gen == gen
                and a.status is AgentStatus.ON_BREAK
                and a.reason == AUTO_PAUSE_REASON
            ):
                a.status = AgentStatus.AVAILABLE
                a.reason = ""
                a.no_answer_count = 0
                self._clear_backoff(a)
                a.idle_since = now
                self._refresh(a)
        elif kind == "backoff":
            a = self._agents.get(subject)
            if a is not None and a.backing_off and a.gen == gen:
                a.backing_off = False
                self._refresh(a)
        elif kind == "widen":
            c = self._callers.get(subject)
            if c is not None and c.state is not CallerState.CONNECTED and c.widen_step == gen:
                self._apply_widening(c)
                self._schedule_widening(c, out)
        elif kind == "max_wait":
            c = self._callers.get(subject)
            if c is not None and c.state is not CallerState.CONNECTED and not c.callback:
                reason = LeaveReason.OVERFLOW if c.rules.overflow_target else LeaveReason.TIMEOUT
                self._leave(c, reason, now, out)

    # --- dispatch --------------------------------------------------------------------------

    def _dispatch(self, now: float, out: list[cmd.Command]) -> None:
        callers = sorted(
            (self._callers[i] for i in self._dirty_callers if i in self._callers),
            key=lambda c: c.key,
        )
        self._dirty_callers.clear()
        for c in callers:
            if c.state is not CallerState.WAITING:
                continue
            if c.rules.strategy is St.RING_ALL and not c.callback:
                agents = self._all_agents_for(c)
            else:
                best = self._best_agent_for(c)
                agents = [] if best is None else [best]
            if agents:
                self._offer(c, agents, now, out)
            elif self.explain:
                out.append(self._not_offered(c))
        agents_now = sorted(self._dirty_agents)
        self._dirty_agents.clear()
        for agent_id in agents_now:
            a = self._agents[agent_id]
            if not a.eligible():
                continue
            chosen = self._best_caller_for(a)
            if chosen is not None:
                self._offer(chosen, [a], now, out)

    def _best_agent_for(self, c: _Caller) -> _Agent | None:
        across = c.rules.strategy in ACROSS_PROFICIENCY
        best: IdleEntry | None = None
        for prof in range(MAX_PROFICIENCY, c.min_proficiency - 1, -1):
            for skill in c.skills:
                entries = self._idle.get(skill, {}).get(prof)
                if entries:
                    head: IdleEntry = (
                        self._next_in_turn(skill, entries) if self._rotating else entries[0]
                    )
                    if best is None or head < best:
                        best = head
            if best is not None and not across:
                break
        return None if best is None else self._agents[best[1]]

    def _next_in_turn(self, skill: SkillId, entries: SortedList) -> IdleEntry:
        """Round robin with memory: the first agent after the one offered last, in configured
        order, wrapping; ranked by how far after it comes."""
        rules = self._rules.get(skill, self._default)
        if rules.strategy is not St.RR_MEMORY:
            return entries[0]  # type: ignore[no-any-return]
        last = rules.last_order
        i = entries.bisect_left(((last + 0.5,),))
        entry: IdleEntry = entries[i] if i < len(entries) else entries[0]
        order = entry[0][0]
        ahead = order - last if order > last else order - last + len(self._agents)
        return ((ahead,), entry[1])

    def _all_agents_for(self, c: _Caller) -> list[_Agent]:
        found: dict[AgentId, _Agent] = {}
        for prof in range(MAX_PROFICIENCY, c.min_proficiency - 1, -1):
            for skill in sorted(c.skills):
                for _, agent_id in self._idle.get(skill, {}).get(prof, ()):
                    found.setdefault(agent_id, self._agents[agent_id])
        return list(found.values())

    def _best_caller_for(self, a: _Agent) -> _Caller | None:
        best: QueueKey | None = None
        for skill, prof in a.spec.skills.items():
            for key in self._waiting.get(skill, ()):
                if best is not None and key >= best:
                    break
                if self._callers[key[3]].min_proficiency <= prof:
                    best = key
                    break
        return None if best is None else self._callers[best[3]]

    def _offer(self, c: _Caller, agents: list[_Agent], now: float, out: list[cmd.Command]) -> None:
        """Ring these agents for the caller. A caller already ringing (ring-progressively)
        gets them added to its ring: the offer says the whole set, the offer timeout still
        counts from the first ring."""
        if self.explain:
            out.append(self._decided(c, agents))
        if c.state is CallerState.OFFERED:
            out.append(cmd.CancelTimer(("offer", c.call_id, c.offer_gen)))
            if c.joined is None:
                c.joined = {}
            for a in agents:
                c.joined[a.spec.id] = now
            c.offered_to += tuple(a.spec.id for a in agents)
        else:
            self._dequeue(c)
            c.state = CallerState.OFFERED
            c.offered_to = tuple(a.spec.id for a in agents)
            c.offered_at = now
            c.joined = None
        c.offer_gen += 1
        for a in agents:
            self._offer_seq += 1
            a.offered = c.call_id
            a.last_offer_seq = self._offer_seq
            self._refresh(a)
        if c.rules.strategy is St.RR_MEMORY:
            c.rules.last_order = agents[-1].order
        deadline = c.offered_at + c.rules.offer_timeout
        out.append(cmd.Offer(c.call_id, c.offered_to, deadline - now, c.callback))
        out.append(cmd.SetTimer(("offer", c.call_id, c.offer_gen), deadline))
        if c.rules.strategy is St.RING_PROGRESSIVELY and not c.callback:
            self._next_progressive_step(c, now, out)

    def _next_progressive_step(self, c: _Caller, now: float, out: list[cmd.Command]) -> None:
        at = now + c.rules.progressive_delay
        if at < c.offered_at + c.rules.offer_timeout:
            out.append(cmd.SetTimer(("progress", c.call_id, c.offer_gen), at))

    # --- helpers ---------------------------------------------------------------------------

    def _offer_failed(
        self,
        c: _Caller,
        a: _Agent,
        reason: str,
        now: float,
        out: list[cmd.Command],
        cause: int = 0,
    ) -> None:
        c.offered_to = tuple(x for x in c.offered_to if x != a.spec.id)
        a.offered = None
        if reason in _BLAMELESS:
            ring = c.ring_seconds(a.spec.id, now)
            out.append(cmd.OfferCancelled(c.call_id, a.spec.id, reason, ring))
        else:
            outcome = OUTCOME_OF.get(reason, OfferOutcome.FAILED)
            ring = c.ring_seconds(a.spec.id, now)
            out.append(cmd.OfferRejected(c.call_id, a.spec.id, outcome.value, ring, cause))
            a.gen += 1
            if outcome is OfferOutcome.NO_ANSWER:
                a.no_answer_count += 1
                backoff = self.policy.no_answer_backoff
                if self.policy.max_no_answer and a.no_answer_count >= self.policy.max_no_answer:
                    self._auto_pause(a, now, out)
                    backoff = 0.0
            else:
                # the phone said no at once: not a miss, but do not ring it again at once
                backoff = self.policy.refusal_backoff
            if backoff > 0:
                a.backing_off = True
                out.append(cmd.SetTimer(("backoff", a.spec.id, a.gen), now + backoff))
        self._refresh(a)
        if not c.offered_to:
            out.append(cmd.CancelTimer(("offer", c.call_id, c.offer_gen)))
            c.state = CallerState.WAITING
            self._enqueue(c)

    def _stop_ring(self, a: _Agent, cause: str, now: float, out: list[cmd.Command]) -> None:
        """The agent may no longer take the offer ringing its phone (paused, on break, logged
        out): stop the ring now, charge no miss, and let the caller go to the next agent."""
        if a.offered is None:
            return
        c = self._callers.get(a.offered)
        if c is None or c.state is not CallerState.OFFERED or a.spec.id not in c.offered_to:
            return
        self._cancel_rings(c, (a.spec.id,), out)
        self._offer_failed(c, a, cause, now, out)  # a cancelled ring (cause), not a miss

    def _auto_pause(self, a: _Agent, now: float, out: list[cmd.Command]) -> None:
        a.status = AgentStatus.ON_BREAK
        a.reason = AUTO_PAUSE_REASON
        a.pause_gen += 1
        if self.policy.auto_pause_expires is not None:
            at = now + self.policy.auto_pause_expires
            out.append(cmd.SetTimer(("autopause", a.spec.id, a.pause_gen), at))

    def _release(self, agent_ids: Iterable[AgentId], call_id: CallId, now: float) -> None:
        for agent_id in agent_ids:
            a = self._agents[agent_id]
            if a.offered == call_id:
                a.offered = None
                self._refresh(a)

    def _leave(
        self,
        c: _Caller,
        reason: LeaveReason,
        now: float,
        out: list[cmd.Command],
        position: int | None = None,
        route: bool = True,
    ) -> None:
        """Remove the caller from the queue; `route` sends it out (Overflow) unless it
        abandoned or already left by another route."""
        pos = self._position(c) if position is None else position
        if c.state is CallerState.OFFERED:
            out.append(cmd.CancelTimer(("offer", c.call_id, c.offer_gen)))
            self._cancel_rings(c, c.offered_to, out)
            self._rings_cancelled(c, c.offered_to, reason.value, now, out)
            self._release(c.offered_to, c.call_id, now)
        elif c.state is CallerState.WAITING:
            self._dequeue(c)
        if c.key in self._queue:
            self._queue.remove(c.key)
        self._cancel_caller_timers(c, out)
        del self._callers[c.call_id]
        if route and reason is not LeaveReason.ABANDONED:
            out.append(cmd.Overflow(c.call_id, c.rules.overflow_target, reason.value))
        out.append(cmd.CallerLeft(c.call_id, reason.value, now - c.since, pos, c.joined_position))

    def _cancel_rings(
        self, c: _Caller, agent_ids: tuple[AgentId, ...], out: list[cmd.Command]
    ) -> None:
        """Stop these agents' rings for this caller on the PBX; the PBX's next report of each
        of those rings is then taken as about that ring (OfferFailed)."""
        out.append(cmd.CancelOffer(c.call_id, agent_ids))
        c.cancelled_rings.update(agent_ids)

    def _rings_cancelled(
        self,
        c: _Caller,
        agent_ids: Iterable[AgentId],
        reason: str,
        now: float,
        out: list[cmd.Command],
    ) -> None:
        """Each of these agents' rings for this caller ends unanswered, through no fault of
        the agent's phone (`reason`)."""
        for agent_id in agent_ids:
            out.append(
                cmd.OfferCancelled(c.call_id, agent_id, reason, c.ring_seconds(agent_id, now))
            )

    def _finish(
        self,
        c: _Caller,
        now: float,
        out: list[cmd.Command],
        ended_by: str = "",
        transfer: tuple[SkillId, AgentId] | None = None,
    ) -> None:
        """The agent's segment is over (the call ended, or `transfer`: (skill, agent) it was
        sent to); the agent goes to wrap-up."""
        del self._callers[c.call_id]
        if c.agent_id is None:
            return
        a = self._agents.get(c.agent_id)
        if a is None:
            return
        talk = max(0.0, now - c.connected_at)
        wrapup = c.rules.wrapup  # the rules of the call just finished
        handle = talk + wrapup
        avg = self._handle_avg
        self._handle_avg = handle if avg is None else avg + HANDLE_SMOOTHING * (handle - avg)
        a.calls.discard(c.call_id)
        a.calls_taken += 1
        a.talk_seconds += talk
        held = max(0.0, c.connected_at - c.since)
        if transfer is None:
            out.append(
                cmd.CallFinished(c.call_id, a.spec.id, talk, held, c.joined_position, ended_by)
            )
        else:
            skill, to_agent = transfer
            out.append(
                cmd.CallTransferred(
                    c.call_id, a.spec.id, skill, to_agent, talk, held, c.joined_position
                )
            )
        if not a.calls:
            a.gen += 1
            if wrapup > 0:
                a.in_wrapup = True
                out.append(cmd.SetTimer(("wrapup", a.spec.id, a.gen), now + wrapup))
            else:
                a.idle_since = now
        self._refresh(a)

    def _clear_backoff(self, a: _Agent) -> None:
        """The person says they are ready: no more back-off (its timer becomes stale)."""
        if a.backing_off:
            a.backing_off = False
            if not a.in_wrapup:
                a.gen += 1

    def _end_wrapup(self, a: _Agent, now: float) -> None:
        a.in_wrapup = False
        a.idle_since = now
        self._refresh(a)

    def _apply_widening(self, c: _Caller) -> None:
        rule = self._widening[c.widen_step]
        c.widen_step += 1
        waiting = c.state is CallerState.WAITING
        if waiting:
            self._dequeue(c)
        c.skills.update(rule.add_skills)
        if rule.min_proficiency is not None:
            c.min_proficiency = min(c.min_proficiency, rule.min_proficiency)
        if waiting:
            self._enqueue(c)

    def _schedule_widening(self, c: _Caller, out: list[cmd.Command]) -> None:
        if c.widen_step < len(self._widening):
            at = c.since + self._widening[c.widen_step].after
            out.append(cmd.SetTimer(("widen", c.call_id, c.widen_step), at))

    def _cancel_caller_timers(self, c: _Caller, out: list[cmd.Command]) -> None:
        if c.widen_step < len(self._widening):
            out.append(cmd.CancelTimer(("widen", c.call_id, c.widen_step)))
        if c.rules.max_wait and not c.callback:
            out.append(cmd.CancelTimer(("max_wait", c.call_id, 0)))

    def _servable(self, c: _Caller) -> bool:
        reachable = set(c.skills)
        for rule in self._widening[c.widen_step :]:
            reachable.update(rule.add_skills)
        return any(self._logged_in[s] > 0 for s in reachable)

    def _enqueue(self, c: _Caller) -> None:
        key = c.key
        for skill in c.skills:
            self._waiting.setdefault(skill, SortedList()).add(key)
        self._dirty_callers.add(c.call_id)

    def _dequeue(self, c: _Caller) -> None:
        key = c.key
        for skill in c.skills:
            entries = self._waiting.get(skill)
            if entries is not None and key in entries:
                entries.remove(key)

    def _position(self, c: _Caller) -> int:
        key = c.key
        if key not in self._queue:
            return 0
        return int(self._queue.index(key)) + 1

    def _refresh(self, a: _Agent) -> None:
        """Keep the idle index in step with the agent's eligibility."""
        self._touched.add(a.spec.id)
        if a.eligible():
            if a.indexed is None:
                self._index(a)
                self._dirty_agents.add(a.spec.id)
        elif a.indexed is not None:
            self._unindex(a)

    def _index(self, a: _Agent) -> None:
        stats = AgentStats(
            idle_since=a.idle_since,
            calls_taken=a.calls_taken,
            talk_seconds=a.talk_seconds,
            last_offer_seq=a.last_offer_seq,
            random_draw=self._rng.random() if self._draws else 0.0,
            order=a.order,
        )
        indexed: list[tuple[SortedList, IdleEntry]] = []
        entry: IdleEntry = (self._default.key(stats, 0), a.spec.id) if self._uniform else ((), "")
        for skill, prof in a.spec.skills.items():
            if not self._uniform:
                entry = (self._rules.get(skill, self._default).key(stats, prof), a.spec.id)
            entries = self._idle.setdefault(skill, {}).setdefault(prof, SortedList())
            entries.add(entry)
            indexed.append((entries, entry))
        a.indexed = indexed

    def _unindex(self, a: _Agent) -> None:
        if a.indexed is None:
            return
        for entries, entry in a.indexed:
            entries.remove(entry)
        a.indexed = None

    def _notice_agents(self, out: list[cmd.Command]) -> None:
        for agent_id in sorted(self._touched):
            a = self._agents[agent_id]
            now_seen = (a.status.value, a.state.value, a.reason)
            if now_seen != a.noticed:
                a.noticed = now_seen
                out.append(cmd.AgentStateChanged(agent_id, *now_seen))
            if a.status is AgentStatus.LOGGED_OUT:
                self._present.discard(agent_id)
            else:
                self._present.add(agent_id)
            if a.status is AgentStatus.ON_BREAK and a.reason == AUTO_PAUSE_REASON:
                self._auto_paused.add(agent_id)
            else:
                self._auto_paused.discard(agent_id)
        self._touched.clear()
        share = self.policy.auto_pause_share_alert
        if share is not None:
            paused, present = len(self._auto_paused), len(self._present)
            alerting = paused > 0 and paused > share * present
            if alerting != self._alerting:
                self._alerting = alerting
                out.append(cmd.AutoPauseAlert(alerting, paused, present))

    def _agent(self, agent_id: AgentId) -> _Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(agent_id)
        return a

    def _view(self, c: _Caller, position: int) -> CallerView:
        return CallerView(
            call_id=c.call_id,
            skill=c.skill,
            skills=tuple(sorted(c.skills)),
            priority=c.priority,
            arrived_at=c.arrived_at,
            state=c.state.value,
            position=position,
            agent_ids=c.offered_to if c.agent_id is None else (c.agent_id,),
            callback=c.callback,
        )
