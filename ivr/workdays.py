"""Which days are worked: the one day calendar of the engine (public holidays, make-up working
days 调休上班, the weekend), pure and independent of `callcenter`. It lives in `ivr/`, the pure
package whose schedules use it, and the engine's tickets, staffing forecast and surge alerts
share it.

- `DayCalendar`: the days; a date listed both as a holiday and as a make-up working day
  counts as a holiday (the loaders refuse such a list). It also keeps the festival of each
  holiday it knows (春节, 国庆节, ...: `festival`), which the staffing forecast needs: a Spring
  Festival day is not an ordinary holiday.
- `official_china()`: the State Council General Office's holidays and make-up working days
  (国务院办公厅关于节假日安排的通知) as published in the `chinesecalendar` package, every year
  it covers (2004 to its latest release's year), each holiday with its festival as the notice
  names it; the configuration adds to and overrides it (`DayCalendar.overridden_by`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import chinese_calendar

HOLIDAY = "holiday"
MAKEUP = "workday"  # a make-up working day (调休上班)
ORDINARY = "ordinary"
SPRING_FESTIVAL = "春节"

# The package's festival names (its Holiday values) as the State Council's notice writes them.
_NOTICE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": SPRING_FESTIVAL,
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
}


@dataclass(frozen=True)
class DayCalendar:
    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})  # date.weekday(): Saturday, Sunday
    # holiday -> its festival (春节, 国庆节, ...), where known; not part of the hash
    festivals: Mapping[date, str] = field(default_factory=dict, hash=False)

    def festival(self, day: date) -> str:
        """The festival a holiday belongs to ("" for an unnamed holiday or any other day)."""
        return self.festivals.get(day, "") if day in self.holidays else ""

    def kind(self, day: date) -> str:
        """ "holiday", "workday" (a make-up working day) or "ordinary"."""
        if day in self.holidays:
            return HOLIDAY
        if day in self.makeup_workdays:
            return MAKEUP
        return ORDINARY

    def is_working_day(self, day: date) -> bool:
        """A weekday that is not a holiday, or a make-up working day even on the weekend."""
        kind = self.kind(day)
        if kind == ORDINARY:
            return day.weekday() not in self.weekend
        return kind == MAKEUP

    def weekday(self, day: date) -> int:
        """The weekday whose pattern a day follows, 0..6 as Monday..Sunday: a make-up working
        day works as a Monday; any other day (a holiday too) is its own weekday."""
        return 0 if self.kind(day) == MAKEUP else day.weekday()

    def day_type(self, day: date) -> int:
        """Like `weekday`, and a holiday is a Sunday (6): a day's type for traffic baselines."""
        kind = self.kind(day)
        return 6 if kind == HOLIDAY else 0 if kind == MAKEUP else day.weekday()

    def overridden_by(
        self,
        holidays: frozenset[date],
        makeup_workdays: frozenset[date],
        festivals: Mapping[date, str] | None = None,
    ) -> DayCalendar:
        """These holidays and make-up working days added; a date in one list leaves the other.
        `festivals` names the added holidays (a name given wins; an added holiday without one
        keeps the name it had)."""
        names = {d: n for d, n in self.festivals.items() if d not in makeup_workdays}
        names.update((d, n) for d, n in (festivals or {}).items() if d in holidays and n)
        return DayCalendar(
            (self.holidays - makeup_workdays) | holidays,
            (self.makeup_workdays - holidays) | makeup_workdays,
            self.weekend,
            names,
        )

    def with_weekend(self, weekend: frozenset[int]) -> DayCalendar:
        """The same days with another weekend (date.weekday() numbers)."""
        return DayCalendar(self.holidays, self.makeup_workdays, weekend, self.festivals)


@cache
def official_china() -> DayCalendar:
    """Every holiday and make-up working day the `chinesecalendar` package holds."""
    holidays = frozenset(chinese_calendar.holidays)
    makeup = frozenset(d for d in chinese_calendar.workdays if d.weekday() >= 5)
    names = {d: _NOTICE_NAMES.get(n, n) for d, n in chinese_calendar.holidays.items()}
    return DayCalendar(holidays, makeup - holidays, festivals=names)


def official_years() -> tuple[int, int]:
    """The first and last year `official_china` covers."""
    days = official_china().holidays
    return min(days).year, max(days).year
