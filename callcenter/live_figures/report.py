"""The live figures as text: the demo's running line, its per-skill and per-agent lines and
its final report (since the engine started)."""

from __future__ import annotations

from collections import Counter

from callcenter.live_figures.model import SERVICE_LEVEL_SECONDS, LiveFigures


def by_skill(f: LiveFigures) -> dict[str, Counter[str]]:
    """Per skill ("?": callers who left without a join this engine saw): joined, each leave
    reason, and answered within 15 s."""
    rows: dict[str, Counter[str]] = {}
    for skill, n in f.joined_by_skill.counts.items():
        rows.setdefault(skill or "?", Counter())["joined"] += int(n)
    for (skill, reason), n in f.left.counts.items():
        rows.setdefault(skill or "?", Counter())[reason] += int(n)
    for (skill, level), n in f.within.items():
        if level == SERVICE_LEVEL_SECONDS:
            rows.setdefault(skill or "?", Counter())["within_15s"] += n
    return rows


def by_agent(f: LiveFigures) -> dict[str, Counter[str]]:
    """Per agent: offers rung, not answered, calls connected."""
    rows: dict[str, Counter[str]] = {}
    for key, counts in (
        ("offered", f.offered_to),
        ("not_answered", f.not_answered_by),
        ("answered", f.answered_by),
    ):
        for agent_id, n in counts.items():
            rows.setdefault(agent_id, Counter())[key] += n
    return rows


def summary_line(f: LiveFigures) -> str:
    return (
        f"waiting {len(f.waiting):3d}  offered {f.offered:4d}  "
        f"answered {f.answered:4d}  abandoned {f.abandoned:3d}  "
        f"wait p50 {f.wait(50):5.1f}s p95 {f.wait(95):5.1f}s  "
        f"SL15 {100 * f.service_level():5.1f}%"
    )


def detail_lines(f: LiveFigures) -> list[str]:
    """Per-skill answered/joined and per-agent state and answered, for the live view."""
    skills = "  ".join(
        f"{skill} {c['answered']}/{c['joined']}" for skill, c in sorted(by_skill(f).items())
    )
    agents = "  ".join(
        f"{agent_id} {f.agent_state.get(agent_id, '?')} {c['answered']}"
        for agent_id, c in sorted(by_agent(f).items())
    )
    return [f"  per skill (answered/joined): {skills or '-'}", f"  per agent: {agents or '-'}"]


def report(f: LiveFigures) -> str:
    lines = [
        "=== final report ===",
        f"callers joined      {f.joined}",
        f"answered            {f.answered}",
        f"abandoned           {f.abandoned}",
        f"timed out           {f.timeouts}",
        f"overflowed          {f.overflows}",
        f"fell back           {f.fallbacks}",
        f"left (no agents)    {f.no_agents}",
        f"still waiting       {len(f.waiting)}",
        f"offers              {f.offered} ({f.rejected} not answered)",
        f"wait p50 / p95      {f.wait(50):.1f} s / {f.wait(95):.1f} s",
        f"answered within 15s {100 * f.service_level():.1f} %",
        "",
        f"{'skill':<14}{'joined':>8}{'answered':>10}{'abandoned':>11}{'<=15s':>7}",
    ]
    skills = by_skill(f)
    for skill in sorted(skills):
        c = skills[skill]
        lines.append(
            f"{skill:<14}{c['joined']:>8}{c['answered']:>10}{c['abandoned']:>11}"
            f"{c['within_15s']:>7}"
        )
    lines += ["", f"{'agent':<8}{'offered':>9}{'answered':>10}{'no answer':>11}{'talk s':>8}"]
    agents = by_agent(f)
    for agent_id in sorted(agents):
        c = agents[agent_id]
        lines.append(
            f"{agent_id:<8}{c['offered']:>9}{c['answered']:>10}{c['not_answered']:>11}"
            f"{f.talk_by[agent_id]:>8}"
        )
    return "\n".join(lines)
