"""The one model of the live figures: every figure the wallboard, `/api/stats`, the demo's
printout and Prometheus's `/metrics` show that is counted from domain events, counted once.

Two horizons, both fed by `apply` (time comes with the events):
- since the engine started: joins, offers, answers and leaves by skill and reason, waits and
  talk (with the Prometheus histograms' buckets), callbacks, surveys, PBX link changes;
- today, in the center's time zone (starting again at local midnight): the wallboard's figures
  per skill and overall, its 15-minute slots, and today's 漏接回拨 tasks.

Readers only read: `wallboard.snapshot` joins today's figures with the runtime's live queue,
`metrics.Metrics` exports the since-start counts, `report` prints them for the demo.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from callcenter import domain
from callcenter.bus import Subscription
from callcenter.percentile import percentile

SERVICE_LEVELS = (15.0, 20.0)  # seconds; 12345 centers answer within 15 s
SERVICE_LEVEL_SECONDS = SERVICE_LEVELS[0]
WAIT_BUCKETS = (1, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800)
TALK_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 1200, 3600)
CALLBACK_BUCKETS = (60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400)
SLOT_SECONDS = 15 * 60
SLOTS = 24 * 3600 // SLOT_SECONDS
OVERALL = "*"
EMPTY_SLOT: dict[str, float] = {
    "joined": 0,
    "answered": 0,
    "abandoned": 0,
    "within_15": 0,
    "wait_total": 0.0,
}
UNKNOWN_SKILL = ""  # a caller who left without a join this engine saw

CALLBACK_EVENTS = (domain.CallbackRequested, domain.CallbackAttempt, domain.CallbackClosed)

K = TypeVar("K", bound=Hashable)


class Tally(Generic[K]):
    """Counts by key (a label value or a tuple of them), and when each key was first counted
    (what Prometheus exports as a counter's `_created`)."""

    def __init__(self) -> None:
        self.counts: dict[K, float] = {}
        self.since: dict[K, float] = {}

    def add(self, key: K, amount: float = 1) -> None:
        if key not in self.counts:
            self.counts[key] = 0
            self.since[key] = time.time()
        self.counts[key] += amount

    def __getitem__(self, key: K) -> float:
        return self.counts.get(key, 0)

    def total(self) -> int:
        return int(sum(self.counts.values()))


class Distribution:
    """Observations counted into buckets (each bucket: observations <= its bound, not
    cumulative; the last one is +Inf), with their sum: a Prometheus histogram's content."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.since = time.time()

    def observe(self, value: float) -> None:
        self.sum += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1


@dataclass
class Figures:
    """Today's figures of one skill (or of all: OVERALL)."""

    joined: int = 0
    answered: int = 0
    within_15: int = 0
    within_20: int = 0
    abandoned: int = 0
    callbacks: int = 0
    other_left: int = 0  # timeout, overflow, no agents, fallback
    handled: int = 0  # calls finished by an agent
    wait_total: float = 0.0
    longest_answered: float = 0.0

    def view(self) -> dict[str, Any]:
        ended = self.answered + self.abandoned + self.other_left
        return {
            "joined": self.joined,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "callbacks": self.callbacks,
            "handled": self.handled,
            "service_level_15": self.within_15 / self.answered if self.answered else None,
            "service_level_20": self.within_20 / self.answered if self.answered else None,
            "answer_rate": self.answered / ended if ended else None,
            "abandon_rate": self.abandoned / ended if ended else None,
            "average_wait": self.wait_total / self.answered if self.answered else None,
            "longest_answered_wait": self.longest_answered,
        }


@dataclass
class MissedTask:
    """A missed caller's callback task, as the wallboard follows it today."""

    missed_at: float
    dialed_at: float | None = None
    reached: bool = False
    counted: bool = True  # False: the citizen reached us itself (merged, returned)


@dataclass
class LiveFigures:
    timezone: str = "Asia/Shanghai"
    started: float = field(default_factory=time.time)
    skill_of: dict[str, str] = field(default_factory=dict)  # open calls seen joining
    waiting: set[str] = field(default_factory=set)
    agent_state: dict[str, str] = field(default_factory=dict)  # "status/state(reason)"
    agent_since: dict[str, float] = field(default_factory=dict)  # in that state since
    # --- since start ---------------------------------------------------------------------------
    joined_by_skill: Tally[str] = field(default_factory=Tally)
    offered: int = 0  # offers made (one per ring, whatever the number of agents rung)
    offered_to: Counter[str] = field(default_factory=Counter)  # by agent
    not_answered: Tally[str] = field(default_factory=Tally)  # offers not taken, by outcome
    not_answered_by: Counter[str] = field(default_factory=Counter)  # by agent
    answered_by: Counter[str] = field(default_factory=Counter)  # calls connected, by agent
    left: Tally[tuple[str, str]] = field(default_factory=Tally)  # (skill, reason)
    within: Counter[tuple[str, float]] = field(default_factory=Counter)  # (skill, level)
    waits: list[float] = field(default_factory=list)  # answered callers' waits, in order
    wait_seconds: dict[str, Distribution] = field(default_factory=dict)  # answered, by skill
    abandon_seconds: dict[str, Distribution] = field(default_factory=dict)  # by skill
    finished: int = 0
    talk_seconds: Distribution = field(default_factory=lambda: Distribution(TALK_BUCKETS))
    talk_by: Counter[str] = field(default_factory=Counter)  # whole seconds, by agent
    link_changes: Tally[tuple[str, str]] = field(default_factory=Tally)  # (node, "1"/"0")
    callbacks: Tally[str] = field(default_factory=Tally)  # requested, missed, closing outcomes
    callback_attempts: Tally[str] = field(default_factory=Tally)
    missed_callers: Tally[tuple[str, str]] = field(default_factory=Tally)  # (reason, outcome)
    time_to_callback: Distribution = field(default_factory=lambda: Distribution(CALLBACK_BUCKETS))
    survey_calls: Tally[str] = field(default_factory=Tally)
    emergency: Tally[tuple[str, str]] = field(default_factory=Tally)  # (line, status)
    missed_at: dict[str, float] = field(default_factory=dict)  # open missed-call tasks
    # --- today ---------------------------------------------------------------------------------
    day: str = ""
    today: dict[str, Figures] = field(default_factory=dict)  # per skill and OVERALL
    slots: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # per 15 minutes
    missed: dict[str, MissedTask] = field(default_factory=dict)  # today's missed-call tasks

    # --- since start, as totals -----------------------------------------------------------------

    @property
    def joined(self) -> int:
        return self.joined_by_skill.total()

    @property
    def rejected(self) -> int:
        return self.not_answered.total()

    def left_for(self, reason: str) -> int:
        return int(sum(n for (_, r), n in self.left.counts.items() if r == reason))

    @property
    def answered(self) -> int:
        return self.left_for("answered")

    @property
    def abandoned(self) -> int:
        return self.left_for("abandoned")

    @property
    def timeouts(self) -> int:
        return self.left_for("timeout")

    @property
    def overflows(self) -> int:
        return self.left_for("overflow")

    @property
    def fallbacks(self) -> int:
        return self.left_for("fallback")

    @property
    def no_agents(self) -> int:
        return self.left_for("no_agents")

    def wait(self, pct: float) -> float:
        """The nearest-rank `pct`-th percentile (0..100) of the answered callers' waits
        (seconds; 0 before the first answer)."""
        found = percentile(self.waits, pct)
        return 0.0 if found is None else found

    def service_level(self) -> float:
        """Share of answered callers answered within 15 s (since start)."""
        if not self.waits:
            return 0.0
        return sum(1 for w in self.waits if w <= SERVICE_LEVEL_SECONDS) / len(self.waits)

    # --- events ----------------------------------------------------------------------------------

    async def run(self, subscription: Subscription) -> None:
        async for e in subscription:
            self.apply(e)

    def apply(self, e: domain.DomainEvent) -> None:
        if isinstance(e, domain.CallerJoined):
            if e.call_id in self.skill_of:
                return  # replayed after a reconnect
            self.skill_of[e.call_id] = e.skill
            self.waiting.add(e.call_id)
            self.joined_by_skill.add(e.skill)
            slot = self._slot(e.at)
            for f in self._today(e.skill):
                f.joined += 1
            self._count(e.skill, slot, "joined")
        elif isinstance(e, domain.OfferMade):
            self.offered += 1
            self.offered_to.update(e.agent_ids)
        elif isinstance(e, domain.OfferRejected):
            self.not_answered.add(e.reason)
            self.not_answered_by[e.agent_id] += 1
        elif isinstance(e, domain.CallConnected):
            self.answered_by[e.agent_id] += 1
        elif isinstance(e, domain.CallerLeft):
            self._left(e)
        elif isinstance(e, domain.CallFinished):
            self.finished += 1
            self.talk_seconds.observe(e.talk_seconds)
            self.talk_by[e.agent_id] += int(e.talk_seconds)
            self._slot(e.at)
            for f in self._today(self.skill_of.get(e.call_id, UNKNOWN_SKILL)):
                f.handled += 1
        elif isinstance(e, domain.CallClosed):
            self.skill_of.pop(e.call_id, None)
        elif isinstance(e, domain.AgentStateChanged):
            self.agent_state[e.agent_id] = f"{e.status}/{e.state}" + (
                f"({e.reason})" if e.reason else ""
            )
            self.agent_since[e.agent_id] = e.at
        elif isinstance(e, domain.PbxConnection):
            self.link_changes.add((e.node, "1" if e.up else "0"))
        elif isinstance(e, domain.MissedCall):
            self.missed_callers.add((e.reason, e.outcome))
        elif isinstance(e, domain.SurveyEvent):
            self.survey_calls.add(e.result)
        elif isinstance(e, domain.EmergencyLinked):
            self.emergency.add((e.line, e.status))
        elif isinstance(e, CALLBACK_EVENTS):
            self._callback(e)

    def _left(self, e: domain.CallerLeft) -> None:
        self.waiting.discard(e.call_id)
        skill = self.skill_of.get(e.call_id, UNKNOWN_SKILL)
        self.left.add((skill, e.reason))
        if e.reason == "answered":
            self.waits.append(e.waited)
            self._distribution(self.wait_seconds, skill).observe(e.waited)
            for level in SERVICE_LEVELS:
                if e.waited <= level:
                    self.within[(skill, level)] += 1
        elif e.reason == "abandoned":
            self._distribution(self.abandon_seconds, skill).observe(e.waited)
        slot = self._slot(e.at)
        for f in self._today(skill):
            if e.reason == "answered":
                f.answered += 1
                f.wait_total += e.waited
                f.longest_answered = max(f.longest_answered, e.waited)
                f.within_15 += e.waited <= 15.0
                f.within_20 += e.waited <= 20.0
            elif e.reason == "abandoned":
                f.abandoned += 1
            elif e.reason == "callback":
                f.callbacks += 1
            else:
                f.other_left += 1
        if e.reason in ("answered", "abandoned"):
            self._count(skill, slot, e.reason)
        if e.reason == "answered":
            self._count(skill, slot, "wait_total", e.waited)
            if e.waited <= 15.0:
                self._count(skill, slot, "within_15")

    def _callback(
        self, e: domain.CallbackRequested | domain.CallbackAttempt | domain.CallbackClosed
    ) -> None:
        if isinstance(e, domain.CallbackRequested):
            self.callbacks.add("requested" if e.kind == "queued" else "missed")
            if e.kind == "missed":
                self.missed_at[e.call_id] = e.at
                self._slot(e.at)
                self.missed[e.call_id] = MissedTask(e.at)
        elif isinstance(e, domain.CallbackAttempt):
            self.callback_attempts.add(e.outcome)
            missed_at = self.missed_at.get(e.call_id)
            if e.outcome == "agent" and e.attempt == 1 and missed_at is not None:
                self.time_to_callback.observe(max(0.0, e.at - missed_at))
            task = self.missed.get(e.call_id)
            if task is None:
                return
            if e.outcome == "agent" and task.dialed_at is None:
                task.dialed_at = e.at
            elif e.outcome == "answered":
                task.reached = True
        else:
            self.callbacks.add(e.outcome)
            self.missed_at.pop(e.call_id, None)
            task = self.missed.get(e.call_id)
            if task is not None:
                task.counted = e.outcome not in ("merged", "returned")

    def _distribution(self, by_skill: dict[str, Distribution], skill: str) -> Distribution:
        found = by_skill.get(skill)
        if found is None:
            found = by_skill[skill] = Distribution(WAIT_BUCKETS)
        return found

    # --- today -----------------------------------------------------------------------------------

    def _slot(self, at: float) -> int:
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        day = local.strftime("%Y-%m-%d")
        if day != self.day:  # a new day: today's figures start again
            self.day = day
            self.today = {}
            self.slots = {}
            self.missed = {}
        return (local.hour * 3600 + local.minute * 60 + local.second) // SLOT_SECONDS

    def roll(self, now: float) -> None:
        """Start a new day's figures if `now` is past local midnight."""
        self._slot(now)

    @property
    def series(self) -> list[dict[str, float]]:
        """Today's overall slots."""
        return self.series_of(OVERALL)

    def series_of(self, skill: str) -> list[dict[str, float]]:
        """Today's slots of one skill ("*": all): joined, answered, abandoned, answered within
        15 s, and the answered callers' total wait (for the average wait per slot)."""
        found = self.slots.get(skill)
        if found is None:
            return [dict(EMPTY_SLOT) for _ in range(SLOTS)]
        return found

    def _count(self, skill: str, slot: int, key: str, amount: float = 1) -> None:
        for name in (skill, OVERALL):
            series = self.slots.get(name)
            if series is None:
                series = self.slots[name] = [dict(EMPTY_SLOT) for _ in range(SLOTS)]
            series[slot][key] += amount

    def _today(self, skill: str) -> tuple[Figures, Figures]:
        return (
            self.today.setdefault(skill, Figures()),
            self.today.setdefault(OVERALL, Figures()),
        )
