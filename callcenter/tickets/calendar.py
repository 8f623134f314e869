"""Working-day calendar, deadlines per request type and the warning status (预警).

Times in: aware datetimes (any zone) or naive ones taken as UTC. Times out: aware datetimes in
the calendar's zone. A working day is a weekday that is not a public holiday, or a make-up
working day (调休上班) even if it falls on a weekend. Working time is the day's periods
(e.g. 09:00-12:00 and 13:30-17:30).

- `add_working_hours(at, h)`: `h` hours counted only inside working periods; counting starts at
  the next working moment if `at` is outside working time.
- `add_working_days(at, n)`: the close of business of the n-th working day after the local
  date of `at` (the day of acceptance is not counted, as in "自受理次日起 n 个工作日").
- `deadline(...)`: working days or working hours per request type; an urgent request uses the
  type's `urgent_hours`, counted on the clock (7×24), since urgent matters do not wait.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.tickets.errors import UnknownRequestType
from ivr.workdays import DayCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_SCAN_DAYS = 3660  # a calendar with no working day at all stops here


@dataclass(frozen=True)
class WorkingCalendar:
    """Working time: the days that are worked (`days`, the engine's one day calendar) and the
    working periods of such a day, in the calendar's zone."""

    zone: tzinfo = SHANGHAI
    periods: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13, 30), time(17, 30)))
    days: DayCalendar = DayCalendar()

    def local(self, at: datetime) -> datetime:
        aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        return aware.astimezone(self.zone)

    def is_working_day(self, day: date) -> bool:
        return self.days.is_working_day(day)

    def _period_bounds(self, day: date) -> list[tuple[datetime, datetime]]:
        return [
            (datetime.combine(day, s, self.zone), datetime.combine(day, e, self.zone))
            for s, e in self.periods
        ]

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for i in range(1, MAX_SCAN_DAYS):
            candidate = day + timedelta(days=i)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {MAX_SCAN_DAYS} days after {day}")

    def close_of_business(self, day: date) -> datetime:
        return datetime.combine(day, self.periods[-1][1], self.zone)

    def add_working_days(self, at: datetime, days: int) -> datetime:
        if days < 0:
            raise ValueError("days must be zero or more")
        day = self.local(at).date()
        if days == 0:
            day_end = self.close_of_business(day)
            if self.is_working_day(day) and self.local(at) < day_end:
                return day_end
            return self.close_of_business(self.next_working_day(day))
        for _ in range(days):
            day = self.next_working_day(day)
        return self.close_of_business(day)

    def add_working_hours(self, at: datetime, hours: float) -> datetime:
        if hours < 0:
            raise ValueError("hours must be zero or more")
        remaining = timedelta(hours=hours)
        cursor = self.local(at)
        day = cursor.date()
        for _ in range(MAX_SCAN_DAYS):
            if self.is_working_day(day):
                for start, end in self._period_bounds(day):
                    if cursor >= end:
                        continue
                    begin = max(cursor, start)
                    available = end - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
                    cursor = end
            day += timedelta(days=1)
        raise ValueError(f"no working time within {MAX_SCAN_DAYS} days after {at}")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours in [start, end); zero when end is not after start."""
        a, b = self.local(start), self.local(end)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                for s, e in self._period_bounds(day):
                    lo, hi = max(a, s), min(b, e)
                    if hi > lo:
                        total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 3600


@dataclass(frozen=True)
class DeadlineRule:
    """How long one request type may take: exactly one of working_days / working_hours."""

    request_type: str
    working_days: int | None = None
    working_hours: float | None = None
    urgent_hours: float | None = None  # clock hours when the request is urgent


@dataclass(frozen=True)
class DeadlinePolicy:
    rules: Mapping[str, DeadlineRule] = field(default_factory=dict)
    due_soon_share: float = 0.2  # due soon in the last 20 % of the allowed time …
    due_soon_hours: float = 0.0  # … or in the last N clock hours, whichever is longer


class DueStatus(StrEnum):
    NORMAL = "normal"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"

    @property
    def label(self) -> str:
        return {"normal": "正常", "due_soon": "临期预警", "overdue": "超期"}[self.value]


def deadline(
    calendar: WorkingCalendar,
    policy: DeadlinePolicy,
    request_type: str,
    created_at: datetime,
    urgent: bool = False,
) -> datetime:
    """When a request of this type taken in at `created_at` must be answered."""
    rule = policy.rules.get(request_type)
    if rule is None:
        known = ", ".join(policy.rules)
        raise UnknownRequestType(f"no deadline for request type {request_type!r} (known: {known})")
    if urgent and rule.urgent_hours is not None:
        return calendar.local(created_at) + timedelta(hours=rule.urgent_hours)
    if rule.working_hours is not None:
        return calendar.add_working_hours(created_at, rule.working_hours)
    return calendar.add_working_days(created_at, rule.working_days or 0)


def warning(policy: DeadlinePolicy, created_at: datetime, due: datetime, at: datetime) -> DueStatus:
    """The warning status at `at` of a ticket created at `created_at` and due at `due`."""
    c, d, now = (x.replace(tzinfo=UTC) if x.tzinfo is None else x for x in (created_at, due, at))
    remaining = d - now
    if remaining < timedelta():
        return DueStatus.OVERDUE
    threshold = max((d - c) * policy.due_soon_share, timedelta(hours=policy.due_soon_hours))
    return DueStatus.DUE_SOON if remaining <= threshold else DueStatus.NORMAL
