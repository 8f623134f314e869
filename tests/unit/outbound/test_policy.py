"""Outbound rules: calling hours, retry schedule, campaign pacing (time passed in)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.outbound.policy import CallingHours, Pacing, RetryPolicy
from ivr.model import TimeRange

TZ = ZoneInfo("Asia/Shanghai")
DAY = CallingHours((TimeRange(8 * 60, 21 * 60),), "Asia/Shanghai")
SPLIT = CallingHours((TimeRange(13 * 60, 18 * 60), TimeRange(8 * 60, 12 * 60)), "Asia/Shanghai")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


@pytest.mark.parametrize(
    ("hours", "now", "expected"),
    [
        (DAY, "2026-11-25 10:00", "2026-11-25 10:00"),  # open: at once
        (DAY, "2026-11-25 07:59", "2026-11-25 08:00"),
        (DAY, "2026-11-25 21:00", "2026-11-26 08:00"),  # the end is excluded
        (DAY, "2026-11-25 23:30", "2026-11-26 08:00"),
        (SPLIT, "2026-11-25 12:30", "2026-11-25 13:00"),  # lunch break
        (SPLIT, "2026-11-25 18:30", "2026-11-26 08:00"),
    ],
)
def test_calls_wait_for_calling_hours(hours: CallingHours, now: str, expected: str) -> None:
    assert hours.next_open(at(now)) == at(expected)


def test_closing_time_of_the_current_range() -> None:
    assert DAY.closes_at(at("2026-11-25 10:00")) == at("2026-11-25 21:00")
    assert DAY.closes_at(at("2026-11-25 22:00")) is None


@pytest.mark.parametrize(
    ("attempts", "now", "expected"),
    [
        (0, "2026-11-25 10:00", "2026-11-25 10:00"),
        (1, "2026-11-25 10:00", "2026-11-25 10:05"),  # first interval
        (2, "2026-11-25 10:00", "2026-11-25 10:15"),  # second interval
        (3, "2026-11-25 10:00", "2026-11-25 10:15"),  # the last interval repeats
        (1, "2026-11-25 20:58", "2026-11-26 08:00"),  # moved into calling hours
        (4, "2026-11-25 10:00", None),  # attempts used up: hand to a person
    ],
)
def test_retry_schedule(attempts: int, now: str, expected: str | None) -> None:
    policy = RetryPolicy(4, (300.0, 900.0))
    found = policy.next_attempt_at(attempts, at(now), DAY)
    assert found == (None if expected is None else at(expected))


@pytest.mark.parametrize(
    ("active", "started", "expected"),
    [
        (0, [], 100.0),
        (2, [], None),  # the concurrent limit: wait for a call to end
        (1, [50.0, 60.0], 110.0),  # two started in the last minute: the older frees a slot
        (1, [30.0, 60.0], 100.0),  # 30.0 is more than a minute ago
    ],
)
def test_pacing_limits_concurrent_calls_and_starts_per_minute(
    active: int, started: list[float], expected: float | None
) -> None:
    assert Pacing(max_concurrent=2, per_minute=2).next_start(100.0, active, started) == expected
