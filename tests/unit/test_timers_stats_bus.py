"""The timer wheel, live statistics and the domain-event bus."""

from __future__ import annotations

import asyncio

import pytest

from callcenter import domain
from callcenter.bus import Bus
from callcenter.live_figures.model import LiveFigures
from callcenter.live_figures.report import by_agent, by_skill, report, summary_line
from callcenter.timers import Timers

# --- timers ----------------------------------------------------------------------------------

K1 = ("offer", "c1", 1)
K2 = ("max_wait", "c1", 0)
K3 = ("backoff", "1001", 1)


def test_timers_fire_in_time_order() -> None:
    t = Timers()
    t.set(K1, 30.0)
    t.set(K2, 10.0)
    t.set(K3, 20.0)
    assert len(t) == 3
    assert t.next_at() == 10.0
    assert t.pop_due(5.0) == []
    assert t.pop_due(20.0) == [K2, K3]  # due exactly at `now` fires
    assert t.next_at() == 30.0
    assert t.pop_due(100.0) == [K1]
    assert t.next_at() is None
    assert len(t) == 0


def test_cancelled_timer_never_fires() -> None:
    t = Timers()
    t.set(K1, 10.0)
    t.set(K2, 20.0)
    t.cancel(K1)
    t.cancel(("unknown", "x", 0))  # cancelling what is not set is harmless
    assert len(t) == 1
    assert t.next_at() == 20.0
    assert t.pop_due(100.0) == [K2]


def test_reset_timer_fires_once_at_new_time() -> None:
    t = Timers()
    t.set(K1, 10.0)
    t.set(K1, 25.0)
    assert len(t) == 1
    assert t.next_at() == 25.0
    assert t.pop_due(15.0) == []
    assert t.pop_due(25.0) == [K1]
    assert t.pop_due(100.0) == []


def test_equal_times_fire_in_set_order() -> None:
    t = Timers()
    for key in (K3, K1, K2):
        t.set(key, 5.0)
    assert t.pop_due(5.0) == [K3, K1, K2]


# --- live stats ------------------------------------------------------------------------------


def joined(call_id: str, skill: str = "general") -> domain.CallerJoined:
    return domain.CallerJoined(call_id, "a", "12345", "l", "r", "13800000000", skill, 0, 0.0)


def left(call_id: str, reason: str, waited: float = 0.0) -> domain.CallerLeft:
    return domain.CallerLeft(call_id, reason, waited, 1, 0.0)


@pytest.mark.parametrize(
    ("reason", "counter"),
    [
        ("answered", "answered"),
        ("abandoned", "abandoned"),
        ("timeout", "timeouts"),
        ("overflow", "overflows"),
        ("fallback", "fallbacks"),
        ("no_agents", "no_agents"),
    ],
)
def test_leave_reason_counters(reason: str, counter: str) -> None:
    s = LiveFigures()
    s.apply(joined("c1", "labor"))
    assert s.waiting == {"c1"}
    s.apply(left("c1", reason, 3.0))
    assert s.waiting == set()
    assert getattr(s, counter) == 1
    others = {"answered", "abandoned", "timeouts", "overflows", "fallbacks", "no_agents"}
    assert all(getattr(s, name) == 0 for name in others - {counter})
    assert by_skill(s)["labor"][reason] == 1


def test_stats_of_a_call_flow() -> None:
    s = LiveFigures()
    flow: list[domain.DomainEvent] = [
        joined("c1"),
        joined("c2", "labor"),
        joined("c1"),  # replayed after a reconnect: not counted again
        domain.OfferMade("c1", ("1001", "1002"), 1.0),
        domain.OfferRejected("c1", "1001", "no_answer", 15.0, 16.0),
        domain.CallConnected("c1", "1002", 20.0, 20.0),
        left("c1", "answered", 20.0),
        domain.OfferMade("c2", ("1003",), 2.0),
        domain.CallConnected("c2", "1003", 4.0, 4.0),
        left("c2", "answered", 4.0),
        domain.CallFinished("c1", "1002", 60.9, 80.0),
        domain.AgentStateChanged("1001", "on_break", "idle", "no_answer", 16.0),
        domain.AgentStateChanged("1002", "available", "wrap_up", "", 80.0),
        domain.PbxConnection("a", False, 90.0),  # ignored
    ]
    for e in flow:
        s.apply(e)
    assert (s.joined, s.offered, s.rejected, s.answered, s.finished) == (2, 2, 1, 2, 1)
    assert s.waits == [20.0, 4.0]
    assert s.service_level() == 0.5  # 4 s is within 15 s, 20 s is not
    assert by_skill(s)["general"]["within_15s"] == 0
    assert by_skill(s)["labor"]["within_15s"] == 1
    assert by_skill(s)["general"]["joined"] == 1
    assert by_agent(s)["1001"] == {"offered": 1, "not_answered": 1}
    assert by_agent(s)["1002"] == {"offered": 1, "answered": 1}
    assert s.talk_by["1002"] == 60
    assert s.agent_state == {"1001": "on_break/idle(no_answer)", "1002": "available/wrap_up"}
    assert "answered    2" in summary_line(s)
    assert "SL15  50.0%" in summary_line(s)
    text = report(s)
    assert "callers joined      2" in text
    assert "offers              2 (1 not answered)" in text


def test_service_level_without_answers() -> None:
    s = LiveFigures()
    s.apply(joined("c1"))
    s.apply(left("c1", "abandoned", 50.0))
    assert s.service_level() == 0.0
    assert s.waits == []


def test_left_without_join_is_counted_under_unknown_skill() -> None:
    s = LiveFigures()
    s.apply(left("ghost", "abandoned"))
    assert s.abandoned == 1
    assert by_skill(s)["?"]["abandoned"] == 1


async def test_stats_run_consumes_the_bus_until_closed() -> None:
    bus = Bus()
    s = LiveFigures()
    task = asyncio.create_task(s.run(bus.subscribe("stats")))
    bus.publish(joined("c1"))
    bus.publish(left("c1", "abandoned"))
    bus.close()
    await asyncio.wait_for(task, 1.0)
    assert (s.joined, s.abandoned) == (1, 1)


# --- bus -------------------------------------------------------------------------------------


async def test_every_subscriber_gets_every_event_in_order() -> None:
    bus = Bus()
    a = bus.subscribe("storage")
    b = bus.subscribe("stats")
    events: list[domain.DomainEvent] = [joined("c1"), joined("c2"), left("c1", "abandoned")]
    for e in events:
        bus.publish(e)
    assert (a.backlog(), b.backlog()) == (3, 3)
    assert [await a.get() for _ in events] == events
    assert [b.get_nowait() for _ in events] == events
    assert (a.backlog(), b.backlog()) == (0, 0)
    with pytest.raises(asyncio.QueueEmpty):
        a.get_nowait()


async def test_late_subscriber_misses_earlier_events() -> None:
    bus = Bus()
    bus.publish(joined("c1"))
    late = bus.subscribe("late")
    bus.publish(joined("c2"))
    assert late.get_nowait() == joined("c2")
    assert late.backlog() == 0


async def test_close_ends_iteration_and_later_publishes_are_dropped() -> None:
    bus = Bus()
    sub = bus.subscribe("x")
    bus.publish(joined("c1"))
    bus.close()
    bus.close()  # twice is harmless
    bus.publish(joined("c2"))
    got = [e async for e in sub]
    assert got == [joined("c1")]
    assert sub.backlog() == 0  # the end marker was consumed, c2 never arrived


async def test_slow_subscriber_does_not_block_publish() -> None:
    bus = Bus()
    slow = bus.subscribe("slow")
    for i in range(10_000):
        bus.publish(joined(f"c{i}"))
    assert slow.backlog() == 10_000
    assert [s.name for s in bus.subscriptions()] == ["slow"]


def test_held_events_reach_subscribers_when_the_outermost_hold_ends_in_order() -> None:
    bus = Bus()
    sub = bus.subscribe("s")
    first = domain.PbxConnection("a", True, 1.0)
    second = domain.PbxConnection("a", False, 2.0)
    third = domain.PbxConnection("b", True, 3.0)
    with bus.held():
        bus.publish(first)
        with bus.held():
            bus.publish(second)
        assert sub.backlog() == 0  # the inner hold ending sends nothing yet
    assert sub.backlog() == 2
    bus.publish(third)
    assert [sub.get_nowait() for _ in range(3)] == [first, second, third]


def test_held_events_go_out_when_the_block_raises() -> None:
    bus = Bus()
    sub = bus.subscribe("s")
    event = domain.PbxConnection("a", True, 1.0)
    with pytest.raises(RuntimeError), bus.held():
        bus.publish(event)
        raise RuntimeError("refused")
    assert sub.get_nowait() == event
