"""The call history the forecast needs, read from the store: calls per local half hour and
day, handle times per slot, and the callers' patience (GB/T 44190 6.1.1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import Engine, select

from callcenter.staffing.forecast import SLOTS
from callcenter.storage.schema import CallRecord, RefHoliday
from ivr.workdays import DayCalendar


@dataclass
class History:
    calls: dict[date, list[float]] = field(default_factory=dict)  # day -> calls per slot
    talk: dict[date, list[float]] = field(default_factory=dict)  # day -> talk seconds per slot
    answered: dict[date, list[int]] = field(default_factory=dict)
    abandoned: int = 0
    waited: float = 0.0  # seconds waited by every call that has a wait (answered or not)

    def aht(self, days: list[date], slot: int) -> tuple[float, int]:
        """(mean talk seconds, answered calls) in a slot over some days."""
        talk = sum(self.talk[d][slot] for d in days if d in self.talk)
        n = sum(self.answered[d][slot] for d in days if d in self.answered)
        return (talk / n if n else 0.0), n

    def patience(self) -> float | None:
        """Mean patience by the censored-exponential estimate: total time waited by all
        callers / number who abandoned (answered callers' waits are censored patience)."""
        return self.waited / self.abandoned if self.abandoned else None


def load_history(engine: Engine, zone: tzinfo, first: date, until: date) -> History:
    """Calls that joined from `first` up to (not including) `until`, local days of `zone`."""
    start = datetime.combine(first, time(0), zone).timestamp()
    end = datetime.combine(until, time(0), zone).timestamp()
    h = History()
    query = select(
        CallRecord.joined_at, CallRecord.leave_reason, CallRecord.waited, CallRecord.talk_seconds
    ).where(CallRecord.joined_at >= start, CallRecord.joined_at < end)
    with engine.connect() as conn:
        for joined, reason, waited, talk in conn.execute(query):
            moment = datetime.fromtimestamp(joined, zone)
            day, slot = moment.date(), moment.hour * 2 + moment.minute // 30
            if day not in h.calls:
                h.calls[day] = [0.0] * SLOTS
                h.talk[day] = [0.0] * SLOTS
                h.answered[day] = [0] * SLOTS
            h.calls[day][slot] += 1
            if talk is not None and talk > 0:
                h.talk[day][slot] += talk
                h.answered[day][slot] += 1
            if waited is not None:
                h.waited += waited
            if reason == "abandoned":
                h.abandoned += 1
    day = first
    while day < until:  # a day without calls is a day with zero calls, once history began
        if h.calls and min(h.calls) <= day <= max(h.calls) and day not in h.calls:
            h.calls[day] = [0.0] * SLOTS
        day += timedelta(days=1)
    return h


def load_calendar(engine: Engine, base: DayCalendar) -> DayCalendar:
    """The ticket calendar's holidays and make-up workdays, overridden by the imported
    ref_holidays (a date imported as a holiday is no make-up day, and the other way round; an
    imported holiday's name, when it has one, is its festival)."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    names: dict[date, str] = {}
    query = select(RefHoliday.day, RefHoliday.kind, RefHoliday.name)
    with engine.connect() as conn:
        for day, kind, name in conn.execute(query):
            try:
                d = date.fromisoformat(day)
            except ValueError:
                continue
            if kind == "holiday":
                holidays.add(d)
                workdays.discard(d)
                if name:
                    names[d] = name
            elif kind == "workday":
                workdays.add(d)
                holidays.discard(d)
    return base.overridden_by(frozenset(holidays), frozenset(workdays), names)
