"""The supervisor's wallboard: today's figures per skill and overall, series over the day in
15-minute slots (overall and per skill: calls, waits, service level), how long each agent has
been in its state, and today's 漏接回拨 (missed callers, how many were called back, 回拨率,
time to callback p50/p90), all read from the live figures (`model.LiveFigures`); `snapshot`
joins them with the runtime's live queue and agents. The day starts at local midnight in the
center's time zone, and every time the consoles show is in that zone."""

from __future__ import annotations

from typing import Any

from callcenter.live_figures.model import LiveFigures, MissedTask
from callcenter.masking import mask_phone
from callcenter.percentile import percentile
from callcenter.runtime import Runtime


def nearest_rank(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile of a share (0..1, as the reports compute it); None when
    empty."""
    return percentile(values, round(share * 100))


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


def snapshot(figures: LiveFigures, runtime: Runtime, now: float) -> dict[str, Any]:
    """Everything the wallboard shows (phone numbers masked)."""
    figures.roll(now)
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
            "since": figures.agent_since.get(a.agent_id),
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
        "day": figures.day,
        "timezone": figures.timezone,
        "waiting": waiting,
        "agents": agents,
        "longest_wait": longest,
        "skills": {skill: f.view() for skill, f in sorted(figures.today.items())},
        "missed_callbacks": missed_view(figures.missed),
        "pbx": dict(runtime.link_up),
        "role": runtime.role,
        "auto_pause": {"alert": alerting, "paused": paused, "logged_in": logged_in},
        "skill_names": {sk.id: sk.name for sk in runtime.config.skills},
        "supervisors": [
            {"id": x.id, "name": x.name, "extension": x.extension}
            for x in runtime.config.supervisors
        ],
    }
