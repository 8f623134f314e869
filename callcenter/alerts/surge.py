"""Volume surges (话务量激增) against the usual level for that time and day type.

Method. Arrivals are counted for each *cell*: the whole center, a district, a topic, and a
district x topic. At each arrival the engine checks the arrival's cells, most specific first.
A check counts the cell's arrivals n in two sliding windows ending at the latest arrival t:
the short one (t - window_minutes, t] for sudden rises and the long one
(t - long_window_minutes, t] for rises spread over hours (0: none), and compares each n with
the expected count of that window

    lambda = max(floor_per_hour x W, lift(cell, t) x share(cell) x B(t - W, t))

(W the window's length in hours), where B(t - W, t) is the whole center's usual count in the
window: base(d, h) of each local clock hour the window covers, times the part of the hour it
covers.

- base(d, h) = level(d) x profile(d, h), from the whole center's counts in the `weeks` weeks
  before day d: level(d) is the mean daily total of the days of the same day type as d (the
  weekday; a public holiday counts as a Sunday, a make-up workday as a Monday, so holidays
  neither inflate nor deflate ordinary days) without the largest one (`robust_mean`: one past
  surge does not raise it), or, when those weeks hold no day of that type (the first weeks;
  2026 starts with three holidays and a make-up Sunday), of the working days (or the days
  off, as d is); profile(d, h) is hour h's share of all arrivals on the working days (or on
  the days off, as d is) of those weeks: pooled over many days, so it is steady where a
  single weekday-hour has only a few counts.
- share(cell): the cell's part of all arrivals in those weeks (1 for the whole center);
  pooling the hourly profile over the center keeps the baseline stable where a cell has
  only a few tickets a week.
- lift(cell, t) >= 1: a rise the wider cells share is not this cell's surge. For each cell
  one step wider (`wider`: a district x topic's topic and district; a district's or topic's
  whole center), the rest of it without this cell has n' arrivals since local midnight where
  its baseline expects e' = (share(wider) - share(cell)) x B(midnight, t); lift = max(1,
  max over the wider cells of (n' - z sqrt n') / e'), z = `lift_z` (0: no lift), a lower
  bound of the rest's rate ratio, so that chance seldom lifts. When a seasonal topic jumps
  city-wide (heating on 1 November; the share still says October), its districts are held to
  the topic's level of the day and the topic cell itself reports the rise; one district's
  surge leaves the rest of its topic and of its district at their usual level. The lift is
  computed only for a window that passes min_count and min_ratio without it.

A window surges when n >= min_count, n >= min_ratio x lambda and the upper tail P(X >= n) <
p_value of a negative binomial X with mean lambda and variance lambda + a x lambda²
(`nb_tail`; a = 0 is Poisson). The dispersion a is the relative variance of the cell's daily
level beyond Poisson in those weeks (`dispersion`, once a day): from each past day's count c
and what the baseline expects of it, e = share(cell) x level(that day's type),
a = max(0, sum((c - e)² - e) / sum(e²)) without the day of the largest excess c - e (one past
surge does not widen the tail). Counts vary more than Poisson from day to day (seasonal topics,
weather, holidays): the larger the expected count, the more a relative error of the baseline
weighs against the Poisson spread, so a matters at high volume and hardly at all for a cell
with a few tickets a day. The check reports the window with the smaller P (the short one on a
tie), and `window` then gives that window's arrivals.

p_value is per window and arrival: at every ticket about four cells in two windows are tested,
out of some 500 cells, so a small per-test level is needed for few false alarms a year; the
long window wins back the rises of a few tickets an hour over several hours that a strict test
of one hour misses.

Alarms of one cell within `cooldown` of each other are one event (the same key). Fewer than
`min_weeks` weeks of history: no check; no check of a window that reaches back before the
baseline's first day.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from scipy.special import betainc, pdtrc

from callcenter.alerts.settings import SurgeRule
from ivr.workdays import DayCalendar

HOUR = 3600.0
DAY = 86400.0

Cell = tuple[str, str]  # (district, topic); "" = all


def poisson_tail(n: int, lam: float) -> float:
    """P(X >= n) for X ~ Poisson(lam): scipy's complemented Poisson distribution (the upper
    tail computed as such, so a tail of 1e-20 stays 1e-20 instead of 1 - cdf rounding to 0)."""
    if n <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    return float(pdtrc(n - 1, lam))


POISSON_BELOW = 1e-9  # a smaller dispersion is a Poisson count


def nb_tail(n: int, mean: float, dispersion: float) -> float:
    """P(X >= n) for X negative binomial with this mean and variance mean + dispersion x mean²
    (a Poisson count whose rate is gamma distributed, with relative variance `dispersion`
    about its mean); below POISSON_BELOW the Poisson tail. With size s = 1 / dispersion the
    tail is the regularized incomplete beta I_x(n, s) at x = mean / (mean + s) (scipy's
    `betainc`, accurate in both tails)."""
    if n <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if dispersion < POISSON_BELOW:
        return poisson_tail(n, mean)
    size = 1.0 / dispersion
    return float(betainc(n, size, mean / (mean + size)))


def dispersion(counts: list[int], expected: list[float]) -> float:
    """The relative variance of a cell's daily level beyond Poisson, from past days' counts c
    and what the baseline expects of them e (method of moments for Var c = e + a x e²):
    a = max(0, sum((c - e)² - e) / sum(e²)), without the day of the largest excess c - e
    when there are three or more days (one past surge does not widen the tail)."""
    pairs = list(zip(counts, expected, strict=True))
    if len(pairs) >= 3:
        pairs.remove(max(pairs, key=lambda ce: ce[0] - ce[1]))
    spread = sum((c - e) ** 2 - e for c, e in pairs)
    scale = sum(e * e for _, e in pairs)
    return max(0.0, spread / scale) if scale > 0 else 0.0


def median(values: list[int]) -> float:
    ordered = sorted(values)
    k = len(ordered)
    if k == 0:
        return 0.0
    mid = k // 2
    return float(ordered[mid]) if k % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def robust_mean(values: list[int]) -> float:
    """The mean without the largest value (one past surge does not raise the baseline) when
    there are three or more; sparse hours (mostly 0) keep their small mean where a median
    would say 0."""
    if not values:
        return 0.0
    if len(values) >= 3:
        ordered = sorted(values)[:-1]
        return sum(ordered) / len(ordered)
    return sum(values) / len(values)


def wider(cell: Cell) -> tuple[Cell, ...]:
    """The cells one step wider: a district x topic's topic and district; the whole center
    of a district or a topic; none of the whole center."""
    district, topic = cell
    if district and topic:
        return (("", topic), (district, ""))
    return (("", ""),) if district or topic else ()


def cells_of(district: str, topic: str) -> tuple[Cell, ...]:
    """Most specific first, each once (an empty district or topic is the wider cell)."""
    return tuple(dict.fromkeys(((district, topic), (district, ""), ("", topic), ("", ""))))


@dataclass(frozen=True)
class Check:
    cell: Cell
    count: int
    expected: float
    p: float
    surge: bool
    dispersion: float = 0.0
    minutes: int = 0  # the window counted (the one with the smallest p)


@dataclass
class _CellState:
    window: deque[tuple[float, int]] = field(default_factory=deque)  # (at, ticket id)
    long: deque[tuple[float, int]] = field(default_factory=deque)  # the long window's
    minutes: int = 0  # the window of the latest check
    days: dict[int, int] = field(default_factory=dict)  # local day number -> count
    hourly: dict[int, int] = field(default_factory=dict)  # local hour number -> count (2 days)
    share_day: int = -1
    share: float = 0.0
    dispersion: float = 0.0


class SurgeDetector:
    """Fed arrivals in time order (`add`); `check` says whether a cell surges now."""

    def __init__(
        self,
        rule: SurgeRule,
        offset: Callable[[float], float],
        days: DayCalendar | None = None,
    ) -> None:
        self.rule = rule
        self.offset = offset  # epoch -> seconds east of UTC of the local zone
        self.days = days or DayCalendar()  # a holiday counts as a Sunday, a make-up day a Monday
        self.hours: dict[int, int] = {}  # local hour number -> the whole center's count
        self.cells: dict[Cell, _CellState] = {}
        self.first_day: int | None = None
        self._base: dict[tuple[int, int], float] = {}
        # (day, hour) -> the base of that day's hours before this one; (day, 24): the day's
        self._before: dict[tuple[int, int], float] = {}
        # day -> (level of each day type, day type of each day of the history) of its plan
        self._levels: dict[int, tuple[list[float], dict[int, int]]] = {}
        self._last: tuple[float, float] = (math.nan, 0.0)  # (at, local) of the latest moment
        # (local, since midnight, usual count of the center in each window) of the latest check
        self._usuals: tuple[float, tuple[int, float] | None, list[float | None]] = (
            math.nan,
            None,
            [],
        )

    def _local(self, at: float) -> float:
        if at != self._last[0]:  # add and the checks of one ticket share the moment
            self._last = (at, at + self.offset(at))
        return self._last[1]

    def add(self, at: float, ticket_id: int, district: str, topic: str) -> None:
        local = self._local(at)
        hour = int(local // HOUR)
        day = int(local // DAY)
        if self.first_day is None:
            self.first_day = day
        self.hours[hour] = self.hours.get(hour, 0) + 1
        horizon = at - self.rule.window_minutes * 60
        long_horizon = at - self.rule.long_window_minutes * 60
        for cell in cells_of(district, topic):
            state = self.cells.get(cell)
            if state is None:
                state = self.cells[cell] = _CellState()
            state.window.append((at, ticket_id))
            while state.window and state.window[0][0] <= horizon:
                state.window.popleft()
            if self.rule.long_window_minutes:
                state.long.append((at, ticket_id))
                while state.long[0][0] <= long_horizon:
                    state.long.popleft()
            state.days[day] = state.days.get(day, 0) + 1
            state.hourly[hour] = state.hourly.get(hour, 0) + 1
            if len(state.hourly) > 96:
                state.hourly = {h: n for h, n in state.hourly.items() if h > hour - 48}

    def _day_type(self, day: int) -> int:
        return self.days.day_type(date(1970, 1, 1) + timedelta(days=day))

    def base(self, day: int, hour_of_day: int) -> float | None:
        """The center's usual count in this clock hour of this day: level x profile (see the
        module docstring); None without `min_weeks` weeks of history."""
        if self.first_day is None or day - self.first_day < 7 * self.rule.min_weeks:
            return None
        found = self._base.get((day, -1))
        if found is None:
            self._plan(day)
        return self._base[(day, hour_of_day)]

    def _plan(self, day: int) -> None:
        assert self.first_day is not None
        kind = self._day_type(day)
        past = [d for d in range(day - 7 * self.rule.weeks, day) if d >= self.first_day]
        totals = {d: sum(self.hours.get(d * 24 + h, 0) for h in range(24)) for d in past}
        kinds = {d: self._day_type(d) for d in past}
        levels: list[float] = []
        for k in range(7):
            same = [totals[d] for d in past if kinds[d] == k]
            # no day of this type yet (the first weeks, after a long holiday): the working
            # days' (or the days off') level, not 0
            alike = [totals[d] for d in past if (kinds[d] >= 5) == (k >= 5)]
            levels.append(robust_mean(same or alike or list(totals.values())))
        self._levels[day] = (levels, kinds)
        level = levels[kind]
        off = kind >= 5
        alike = [d for d in past if (kinds[d] >= 5) == off] or past
        profile = [sum(self.hours.get(d * 24 + h, 0) for d in alike) for h in range(24)]
        whole = sum(profile)
        self._base[(day, -1)] = level
        so_far = 0.0
        for h in range(24):
            self._base[(day, h)] = level * profile[h] / whole if whole else 0.0
            self._before[(day, h)] = so_far
            so_far += self._base[(day, h)]
        self._before[(day, 24)] = so_far

    def _share(self, cell: Cell, state: _CellState, day: int) -> float:
        """The cell's share and (state.dispersion) its dispersion, once a day."""
        if state.share_day != day:
            total = self.cells[("", "")]
            first = day - 7 * self.rule.weeks
            if cell == ("", ""):
                state.share = 1.0
            else:
                mine = sum(n for d, n in state.days.items() if first <= d < day)
                every = sum(n for d, n in total.days.items() if first <= d < day)
                state.share = mine / every if every else 0.0
            state.share_day = day
            levels, kinds = self._levels[day]
            past = sorted(kinds)
            state.dispersion = dispersion(
                [state.days.get(d, 0) for d in past],
                [state.share * levels[kinds[d]] for d in past],
            )
            if len(state.days) > 9 * self.rule.weeks:  # forget days the baseline no longer uses
                state.days = {d: n for d, n in state.days.items() if d >= first}
        return state.share

    def _since_midnight(self, local: float) -> tuple[int, float] | None:
        """(local day, the center's usual count from that day's midnight to `local`): the
        hourly base summed, the current hour by the part gone; None before the baseline."""
        day = int(local // DAY)
        hour = int((local % DAY) // HOUR)
        rate = self.base(day, hour)
        if rate is None:
            return None
        return day, self._before[(day, hour)] + (local % HOUR) / HOUR * rate

    def _usual(self, end: tuple[int, float], start: float) -> float | None:
        """The center's usual count from local time `start` to the moment of `end`."""
        begin = self._since_midnight(start)
        if begin is None:  # the window reaches before the baseline's first day
            return None
        total = end[1] - begin[1]
        for day in range(begin[0], end[0]):  # the whole days from start's midnight on
            self.base(day, 0)  # planned
            total += self._before[(day, 24)]
        return total

    def _lift(self, cell: Cell, state: _CellState, end: tuple[int, float]) -> float:
        """How far above their usual level the wider cells are today without this cell:
        max(1, max over them of (n - z sqrt n) / e), n and e the rest's count and expected
        count since local midnight (see the module docstring)."""
        z = self.rule.lift_z
        day, so_far = end
        mine = state.days.get(day, 0)
        best = 1.0
        for parent in wider(cell) if z > 0 else ():
            wide = self.cells.get(parent)
            if wide is None:
                continue
            rest = wide.days.get(day, 0) - mine
            usual = (self._share(parent, wide, day) - state.share) * so_far
            if rest > 0 and usual > 0:
                best = max(best, (rest - z * math.sqrt(rest)) / usual)
        return best

    def expected(self, cell: Cell, at: float, minutes: int = 0, lift: bool = False) -> float | None:
        """The cell's usual count in the window of `minutes` (window_minutes) ending at `at`:
        share x the center's usual count in the window (x the lift, with `lift`), never
        below the floor. None without a baseline for the whole window."""
        state = self.cells.get(cell)
        local = self._local(at)
        end = self._since_midnight(local)
        if state is None or end is None:
            return None
        minutes = minutes or self.rule.window_minutes
        usual = self._usual(end, local - minutes * 60)
        if usual is None:
            return None
        share = self._share(cell, state, end[0])
        factor = self._lift(cell, state, end) if lift else 1.0
        return max(self.rule.floor_per_hour * minutes / 60, factor * share * usual)

    def window(self, cell: Cell) -> list[tuple[float, int]]:
        """The (at, ticket id) in the window of the cell's latest check."""
        state = self.cells.get(cell)
        if state is None:
            return []
        return list(state.long if state.minutes == self.rule.long_window_minutes else state.window)

    def _moment(self, at: float) -> tuple[tuple[int, float] | None, list[float | None]]:
        """Since midnight and the center's usual count in each window (short, long) at `at`,
        once for all the cells of a ticket."""
        local = self._local(at)
        if self._usuals[0] != local:
            end = self._since_midnight(local)
            minutes = [self.rule.window_minutes, self.rule.long_window_minutes]
            usual = [
                self._usual(end, local - m * 60) if end is not None and m else None for m in minutes
            ]
            self._usuals = (local, end, usual)
        return self._usuals[1], self._usuals[2]

    def check(self, cell: Cell, at: float) -> Check | None:
        """The cell's windows (short, long) tested; the one with the smaller p reported (the
        short one on a tie). None before the baseline covers a window."""
        state = self.cells.get(cell)
        end, usuals = self._moment(at)
        if state is None or end is None:
            return None
        rule = self.rule
        share = self._share(cell, state, end[0])
        lift = 0.0  # computed once, and only for a window that passes the plain thresholds
        found: Check | None = None
        windows = [
            (rule.window_minutes, state.window, usuals[0]),
            (rule.long_window_minutes, state.long, usuals[1]),
        ]
        for minutes, entries, usual in windows:
            if usual is None:  # no long window, or no baseline for all of it yet
                continue
            count = len(entries)
            floor = rule.floor_per_hour * minutes / 60
            expected = max(floor, share * usual)
            p = 1.0
            if count >= rule.min_count and count >= rule.min_ratio * expected:
                lift = lift or self._lift(cell, state, end)
                expected = max(floor, lift * share * usual)
                if count >= rule.min_ratio * expected:
                    p = nb_tail(count, expected, state.dispersion)
            if found is None or p < found.p:
                found = Check(cell, count, expected, p, p < rule.p_value, state.dispersion, minutes)
        if found is not None:
            state.minutes = found.minutes
        return found

    def series(self, cell: Cell, at: float, hours: int = 24) -> list[tuple[float, int]]:
        """(hour start epoch, count) of the cell over the last `hours` hours (at most 48)."""
        local = self._local(at)
        last = int(local // HOUR)
        shift = at - local
        state = self.cells.get(cell)
        counts = state.hourly if state else {}
        return [(h * HOUR + shift, counts.get(h, 0)) for h in range(last - hours + 1, last + 1)]
