"""Rules of outbound calls, pure (time passed in): calling hours, retries, campaign pacing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.model import TimeRange

ALL_DAY = (TimeRange(0, 24 * 60),)


@dataclass(frozen=True)
class CallingHours:
    """When citizens may be called: the same local ranges every day, in `timezone`."""

    ranges: tuple[TimeRange, ...] = ALL_DAY
    timezone: str = "Asia/Shanghai"

    def is_open(self, at: float) -> bool:
        local = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        minute = local.hour * 60 + local.minute
        return any(r.contains(minute) for r in self.ranges)

    def next_open(self, at: float) -> float:
        """`at` itself when calls may be made then, else the start of the next range."""
        if self.is_open(at):
            return at
        zone = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(at, zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for day in range(8):
            base = (midnight + timedelta(days=day)).replace(tzinfo=None)
            for r in sorted(self.ranges, key=lambda x: x.start):
                start = (base + timedelta(minutes=r.start)).replace(tzinfo=zone).timestamp()
                if start > at:
                    return start
        raise ValueError("calling hours are empty")

    def closes_at(self, at: float) -> float | None:
        """When the range `at` is in ends (None when closed at `at`)."""
        zone = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(at, zone)
        minute = local.hour * 60 + local.minute
        for r in self.ranges:
            if r.contains(minute):
                midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
                end = midnight.replace(tzinfo=None) + timedelta(minutes=r.end)
                return end.replace(tzinfo=zone).timestamp()
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` in all; the wait before attempt n+1 is `intervals[n-1]` (the last
    interval repeats), moved into calling hours."""

    max_attempts: int = 3
    intervals: tuple[float, ...] = (300.0,)

    def next_attempt_at(self, attempts: int, now: float, hours: CallingHours) -> float | None:
        """When to try again after `attempts` failed ones; None: give up (hand to a person)."""
        if attempts >= self.max_attempts:
            return None
        wait = self.intervals[min(attempts, len(self.intervals)) - 1] if attempts else 0.0
        return hours.next_open(now + wait)


@dataclass(frozen=True)
class Pacing:
    """A campaign's limits: calls up at once, and calls started in any 60 s."""

    max_concurrent: int = 2
    per_minute: int = 10

    def next_start(self, now: float, active: int, started: Sequence[float]) -> float | None:
        """`now` if one more call may start now; the time a slot frees up when only the
        per-minute limit holds it back; None when the concurrent limit does (wait for a
        call to end)."""
        if active >= self.max_concurrent:
            return None
        recent = sorted(t for t in started if t > now - 60.0)
        if len(recent) < self.per_minute:
            return now
        return recent[len(recent) - self.per_minute] + 60.0
