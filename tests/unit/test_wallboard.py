"""Today's wallboard figures from domain events (time comes with the events)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from callcenter import domain
from callcenter.live_figures.model import OVERALL, LiveFigures

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


def joined(call: str, skill: str, when: float) -> domain.CallerJoined:
    return domain.CallerJoined(call, "a", "12345", "12345", "", "138", skill, 0, when)


def test_service_level_answer_and_abandon_rates_per_skill_and_overall() -> None:
    w = LiveFigures()
    t = at("2026-11-25 09:00")
    events: list[domain.DomainEvent] = []
    for i, (skill, reason, waited) in enumerate(
        [
            ("general", "answered", 10.0),
            ("general", "answered", 18.0),
            ("general", "abandoned", 40.0),
            ("labor", "answered", 30.0),
            ("labor", "callback", 100.0),
        ]
    ):
        events += [joined(f"c{i}", skill, t), domain.CallerLeft(f"c{i}", reason, waited, 1, t + 60)]
    events.append(domain.CallFinished("c0", "1001", 100.0, t + 200))
    for e in events:
        w.apply(e)
    general = w.today["general"].view()
    assert general["service_level_15"] == 0.5 and general["service_level_20"] == 1.0
    assert round(general["answer_rate"], 3) == 0.667 and round(general["abandon_rate"], 3) == 0.333
    assert general["average_wait"] == 14.0 and general["handled"] == 1
    overall = w.today[OVERALL].view()
    assert (overall["joined"], overall["answered"], overall["callbacks"]) == (5, 3, 1)
    nine = 9 * 4  # the 09:00-09:15 slot
    assert w.series[nine] == {
        "joined": 5,
        "answered": 3,
        "abandoned": 1,
        "within_15": 1,
        "wait_total": 58.0,
    }
    assert w.series_of("labor")[nine] == {
        "joined": 2,
        "answered": 1,
        "abandoned": 0,
        "within_15": 0,
        "wait_total": 30.0,
    }
    assert w.series_of("legal")[nine]["joined"] == 0  # a skill nobody called today


def test_a_new_day_starts_from_zero() -> None:
    w = LiveFigures()
    w.apply(joined("late", "general", at("2026-11-25 23:59")))
    assert w.today[OVERALL].joined == 1
    w.apply(joined("early", "general", at("2026-11-26 00:01")))
    assert w.today[OVERALL].joined == 1 and w.day == "2026-11-26"
    assert sum(s["joined"] for s in w.series) == 1


def test_time_in_state_starts_at_the_last_change() -> None:
    w = LiveFigures()
    w.apply(domain.AgentStateChanged("1001", "available", "on_call", "", 123.0))
    assert w.agent_since == {"1001": 123.0}
