"""The supervisor's wallboard: today's figures per skill and overall, series over the day in
15-minute slots (overall and per skill: calls, waits, service level), how long each agent has
been in its state, and today's 漏接回拨 (missed callers, how many were called back, 回拨率,
time to callback p50/p90). Fed by domain events (time comes with them); `snapshot` joins them
with the runtime's live queue and agents. The day starts at local midnight in the center's
time zone, and every time the consoles show is in that zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callcenter import domain
from callcenter.masking import mask_phone
from callcenter.runtime import Runtime

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


@dataclass
class Figures:
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


def nearest_rank(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (as the reports compute it); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, -(-int(share * 100) * len(ordered) // 100) - 1)
    return ordered[index]


def missed_view(tasks: dict[str, MissedTask]) -> dict[str, Any]:
    counted = [t for t in tasks.values() if t.counted]
    waits = [t.dialed_at - t.missed_at for t in counted if t.dialed_at is not None]
    return {
        "missed": len(counted),
        "called_back": len(waits),
        "reached": sum(1 for t in counted if t.reached),
        "rate": len(waits) / len(counted) if counted else None,
        "p50": nearest_rank(waits, 0.5),
        "p90": nearest_rank(waits, 0.9),
    }


@dataclass
class Wallboard:
    timezone: str = "Asia/Shanghai"
    day: str = ""
    figures: dict[str, Figures] = field(default_factory=dict)
    # per skill and overall ("*"): one slot per 15 minutes of today
    slots: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    agent_since: dict[str, float] = field(default_factory=dict)
    skill_of: dict[str, str] = field(default_factory=dict)
    missed: dict[str, MissedTask] = field(default_factory=dict)  # today's missed-call tasks
    version: int = 0  # bumps on every change: pushers send when it moved

    def _slot(self, at: float) -> int:
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        day = local.strftime("%Y-%m-%d")
        if day != self.day:  # a new day: today's figures start again
            self.day = day
            self.figures = {}
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

    def _both(self, skill: str) -> tuple[Figures, Figures]:
        return (
            self.figures.setdefault(skill, Figures()),
            self.figures.setdefault(OVERALL, Figures()),
        )

    def apply(self, e: domain.DomainEvent) -> None:
        if isinstance(e, domain.AgentStateChanged):
            self.agent_since[e.agent_id] = e.at
        elif isinstance(e, domain.CallerJoined):
            if e.call_id in self.skill_of:
                return
            self.skill_of[e.call_id] = e.skill
            slot = self._slot(e.at)
            for f in self._both(e.skill):
                f.joined += 1
            self._count(e.skill, slot, "joined")
        elif isinstance(e, domain.CallerLeft):
            slot = self._slot(e.at)
            skill = self.skill_of.get(e.call_id, "")
            for f in self._both(skill):
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
        elif isinstance(e, domain.CallFinished):
            self._slot(e.at)
            for f in self._both(self.skill_of.get(e.call_id, "")):
                f.handled += 1
        elif isinstance(e, domain.CallClosed):
            self.skill_of.pop(e.call_id, None)
            return
        elif isinstance(e, domain.CallbackRequested):
            if e.kind != "missed":
                return
            self._slot(e.at)
            self.missed[e.call_id] = MissedTask(e.at)
        elif isinstance(e, domain.CallbackAttempt):
            task = self.missed.get(e.call_id)
            if task is None:
                return
            if e.outcome == "agent" and task.dialed_at is None:
                task.dialed_at = e.at
            elif e.outcome == "answered":
                task.reached = True
        elif isinstance(e, domain.CallbackClosed):
            task = self.missed.get(e.call_id)
            if task is None:
                return
            task.counted = e.outcome not in ("merged", "returned")
        elif isinstance(e, domain.AutoPauseAlert):
            pass  # shown from the engine's state: the feed sends the new snapshot
        else:
            return
        self.version += 1

    def snapshot(self, runtime: Runtime, now: float) -> dict[str, Any]:
        """Everything the wallboard shows (phone numbers masked)."""
        self._slot(now)
        waiting: list[dict[str, Any]] = []
        longest = 0.0
        for view in runtime.acd.queued():
            if not view.callback:
                longest = max(longest, now - view.arrived_at)
            meta = runtime.calls.get(view.call_id)
            waiting.append(
                {
                    "call_id": view.call_id,
                    "position": view.position,
                    "state": view.state,
                    "callback": view.callback,
                    "missed": view.call_id in runtime.callbacks.callbacks
                    and runtime.callbacks.callbacks[view.call_id].kind == "missed",
                    "skill": view.skill,
                    "priority": view.priority,
                    "arrived_at": view.arrived_at,
                    "did": meta.did if meta else "",
                    "hotline": meta.hotline if meta else "",
                    "caller": mask_phone(meta.caller_number) if meta else "",
                }
            )
        agents = [
            {
                "agent_id": a.agent_id,
                "name": a.name,
                "status": a.status,
                "state": a.state,
                "reason": a.reason,
                "since": self.agent_since.get(a.agent_id),
                "calls": list(a.calls),
                "calls_taken": a.calls_taken,
                "skills": dict(a.skills),
                "reachable": a.reachable,
            }
            for a in runtime.acd.agents()
        ]
        alerting, paused, logged_in = runtime.acd.auto_pause_alert()
        return {
            "now": now,
            "day": self.day,
            "timezone": self.timezone,
            "waiting": waiting,
            "agents": agents,
            "longest_wait": longest,
            "skills": {skill: f.view() for skill, f in sorted(self.figures.items())},
            "missed_callbacks": missed_view(self.missed),
            "pbx": dict(runtime.link_up),
            "role": runtime.role,
            "auto_pause": {"alert": alerting, "paused": paused, "logged_in": logged_in},
            "skill_names": {sk.id: sk.name for sk in runtime.config.skills},
            "supervisors": [
                {"id": x.id, "name": x.name, "extension": x.extension}
                for x in runtime.config.supervisors
            ],
        }
