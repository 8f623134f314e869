"""漏接回拨 counted from domain events: the wallboard's 回拨率 and time to callback p50/p90,
and the /metrics counters and time-to-callback histogram."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from prometheus_client import generate_latest

from callcenter import domain
from callcenter.live_figures.metrics import Metrics
from callcenter.live_figures.model import LiveFigures
from callcenter.live_figures.wallboard import missed_view, nearest_rank

T = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def events() -> list[domain.DomainEvent]:
    out: list[domain.DomainEvent] = []
    for n, (dial_after, closed) in enumerate(
        [(30.0, "completed"), (90.0, "unreached"), (600.0, ""), (None, ""), (None, "returned")]
    ):
        task = f"missed-c{n}"
        out.append(domain.MissedCall(f"c{n}", "abandoned", 20.0, "task", task, T))
        out.append(
            domain.CallbackRequested(
                task, "a", "13800000000", "labor", -100, T, T, "missed", f"c{n}", "abandoned"
            )
        )
        if dial_after is not None:
            out.append(domain.CallbackAttempt(task, 1, "1002", "agent", T + dial_after))
            if closed == "completed":
                out.append(domain.CallbackAttempt(task, 1, "1002", "answered", T + dial_after))
        if closed:
            out.append(domain.CallbackClosed(task, closed, 1, T + 900))
    out.append(domain.MissedCall("c9", "abandoned", 3.0, "misdial", "", T))
    out.append(domain.CallbackRequested("q1", "a", "13900000000", "labor", 0, T, T))  # pressed 1
    return out


def test_wallboard_shows_todays_missed_callback_rate_and_time_to_callback() -> None:
    w = LiveFigures()
    for e in events():
        w.apply(e)
    figures = missed_view(w.missed)
    # the returned citizen reached us itself: 4 missed, 3 called back, 1 reached
    assert figures == {
        "missed": 4,
        "called_back": 3,
        "reached": 1,
        "rate": 0.75,
        "p50": 90.0,
        "p90": 600.0,
    }
    w.apply(domain.CallerJoined("n", "a", "12345", "", "", "138", "general", 0, T + 86400))
    assert w.missed == {}  # a new day starts from zero


def test_nearest_rank_percentiles() -> None:
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([5.0], 0.9) == 5.0
    values = [float(x) for x in range(1, 11)]
    assert (nearest_rank(values, 0.5), nearest_rank(values, 0.9)) == (5.0, 9.0)


def test_metrics_count_missed_callers_and_time_to_callback() -> None:
    figures = LiveFigures()
    m = Metrics(figures, clock=lambda: T)
    for e in events():
        figures.apply(e)
    text = generate_latest(m.registry).decode()
    assert 'callcenter_missed_callers_total{outcome="task",reason="abandoned"} 5.0' in text
    assert 'callcenter_missed_callers_total{outcome="misdial",reason="abandoned"} 1.0' in text
    assert 'callcenter_callbacks_total{outcome="missed"} 5.0' in text
    assert 'callcenter_callbacks_total{outcome="requested"} 1.0' in text
    assert "callcenter_missed_callback_seconds_count 3.0" in text
    assert "callcenter_missed_callback_seconds_sum 720.0" in text
    assert 'callcenter_missed_callback_seconds_bucket{le="60.0"} 1.0' in text
