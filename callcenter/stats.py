"""Live queue statistics from the domain events: what the demo prints and the console shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from callcenter import domain
from callcenter.bus import Subscription

SERVICE_LEVEL_SECONDS = 15.0  # 12345 centers answer within 15 s


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass
class LiveStats:
    joined: int = 0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    timeouts: int = 0
    overflows: int = 0
    fallbacks: int = 0
    no_agents: int = 0
    rejected: int = 0
    finished: int = 0
    waits: list[float] = field(default_factory=list)
    waiting: set[str] = field(default_factory=set)
    skill_of: dict[str, str] = field(default_factory=dict)
    by_skill: dict[str, Counter[str]] = field(default_factory=dict)
    by_agent: dict[str, Counter[str]] = field(default_factory=dict)
    talk: Counter[str] = field(default_factory=Counter)
    agent_state: dict[str, str] = field(default_factory=dict)

    def apply(self, e: domain.DomainEvent) -> None:
        if isinstance(e, domain.CallerJoined):
            if e.call_id in self.skill_of:
                return  # replayed after a reconnect
            self.joined += 1
            self.waiting.add(e.call_id)
            self.skill_of[e.call_id] = e.skill
            self._skill(e.skill)["joined"] += 1
        elif isinstance(e, domain.OfferMade):
            self.offered += 1
            for agent_id in e.agent_ids:
                self._agent(agent_id)["offered"] += 1
        elif isinstance(e, domain.OfferRejected):
            self.rejected += 1
            self._agent(e.agent_id)["not_answered"] += 1
        elif isinstance(e, domain.CallConnected):
            self._agent(e.agent_id)["answered"] += 1
        elif isinstance(e, domain.CallerLeft):
            self.waiting.discard(e.call_id)
            skill = self._skill(self.skill_of.get(e.call_id, "?"))
            skill[e.reason] += 1
            if e.reason == "answered":
                self.answered += 1
                self.waits.append(e.waited)
                if e.waited <= SERVICE_LEVEL_SECONDS:
                    skill["within_15s"] += 1
            elif e.reason == "abandoned":
                self.abandoned += 1
            elif e.reason == "timeout":
                self.timeouts += 1
            elif e.reason == "overflow":
                self.overflows += 1
            elif e.reason == "fallback":
                self.fallbacks += 1
            elif e.reason == "no_agents":
                self.no_agents += 1
        elif isinstance(e, domain.CallFinished):
            self.finished += 1
            self.talk[e.agent_id] += int(e.talk_seconds)
        elif isinstance(e, domain.AgentStateChanged):
            self.agent_state[e.agent_id] = f"{e.status}/{e.state}" + (
                f"({e.reason})" if e.reason else ""
            )

    async def run(self, subscription: Subscription) -> None:
        async for e in subscription:
            self.apply(e)

    def _skill(self, skill: str) -> Counter[str]:
        return self.by_skill.setdefault(skill, Counter())

    def _agent(self, agent_id: str) -> Counter[str]:
        return self.by_agent.setdefault(agent_id, Counter())

    def service_level(self) -> float:
        """Share of answered callers answered within 15 s."""
        if not self.answered:
            return 0.0
        return sum(1 for w in self.waits if w <= SERVICE_LEVEL_SECONDS) / self.answered

    def summary_line(self) -> str:
        return (
            f"waiting {len(self.waiting):3d}  offered {self.offered:4d}  "
            f"answered {self.answered:4d}  abandoned {self.abandoned:3d}  "
            f"wait p50 {percentile(self.waits, 50):5.1f}s p95 {percentile(self.waits, 95):5.1f}s  "
            f"SL15 {100 * self.service_level():5.1f}%"
        )

    def detail_lines(self) -> list[str]:
        """Per-skill answered/joined and per-agent state and answered, for the live view."""
        skills = "  ".join(
            f"{skill} {c['answered']}/{c['joined']}" for skill, c in sorted(self.by_skill.items())
        )
        agents = "  ".join(
            f"{agent_id} {self.agent_state.get(agent_id, '?')} {c['answered']}"
            for agent_id, c in sorted(self.by_agent.items())
        )
        return [f"  per skill (answered/joined): {skills or '-'}", f"  per agent: {agents or '-'}"]

    def report(self) -> str:
        lines = [
            "=== final report ===",
            f"callers joined      {self.joined}",
            f"answered            {self.answered}",
            f"abandoned           {self.abandoned}",
            f"timed out           {self.timeouts}",
            f"overflowed          {self.overflows}",
            f"fell back           {self.fallbacks}",
            f"left (no agents)    {self.no_agents}",
            f"still waiting       {len(self.waiting)}",
            f"offers              {self.offered} ({self.rejected} not answered)",
            f"wait p50 / p95      {percentile(self.waits, 50):.1f} s / "
            f"{percentile(self.waits, 95):.1f} s",
            f"answered within 15s {100 * self.service_level():.1f} %",
            "",
            f"{'skill':<14}{'joined':>8}{'answered':>10}{'abandoned':>11}{'<=15s':>7}",
        ]
        for skill in sorted(self.by_skill):
            c = self.by_skill[skill]
            lines.append(
                f"{skill:<14}{c['joined']:>8}{c['answered']:>10}{c['abandoned']:>11}"
                f"{c['within_15s']:>7}"
            )
        lines += ["", f"{'agent':<8}{'offered':>9}{'answered':>10}{'no answer':>11}{'talk s':>8}"]
        for agent_id in sorted(self.by_agent):
            c = self.by_agent[agent_id]
            lines.append(
                f"{agent_id:<8}{c['offered']:>9}{c['answered']:>10}{c['not_answered']:>11}"
                f"{self.talk[agent_id]:>8}"
            )
        return "\n".join(lines)
