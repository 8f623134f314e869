"""Volume surges (话务量激增) against the usual level for that hour and day type.

Method. Counts are kept per local clock hour for each *cell*: the whole center, a district, a
topic, and a district x topic. For a moment t the detector counts the cell's arrivals in the
sliding window (t - window, t] and compares the count n with the expected count

    lambda = max(floor, share(cell) x base(day type, hour)) x window / 1 h

- base(d, h) = level(d) x profile(d, h), from the whole center's counts in the previous
  `weeks` weeks: level(d) is the mean daily total of the days of the same day type as d (the
  weekday; a public holiday counts as a Sunday, a make-up workday as a Monday, so holidays
  neither inflate nor deflate ordinary days) without the largest one (`robust_mean`: one past
  surge does not raise it), or, when those weeks hold no day of that type (the first weeks;
  2026 starts with three holidays and a make-up Sunday), of the working days (or the days
  off, as d is); profile(d, h) is hour h's share of all arrivals on the working days (or on
  the days off, as d is) of those weeks: pooled over many days, so it is steady where a
  single weekday-hour has only a few counts. base is interpolated between hour h-1
  and h by the minute of t (the window straddles both);
- share(cell): the cell's part of all arrivals in those weeks (1 for the whole center);
  pooling the hourly profile over the center keeps the baseline stable where a cell has
  only a few tickets a week.

A surge is n >= min_count, n >= min_ratio x lambda and the upper tail P(X >= n) < p_value of a
negative binomial X with mean lambda and variance lambda + a x lambda² (`nb_tail`; a = 0 is
Poisson). The dispersion a is the relative variance of the cell's daily level beyond Poisson
in those weeks (`dispersion`, once a day): from each past day's count c and what the baseline
expects of it, e = share(cell) x level(that day's type), a = max(0, sum((c - e)² - e) / sum(e²))
without the day of the largest excess c - e. Real counts vary more than Poisson from day to
day (seasonal topics, weather, holidays): the larger the expected count, the more a relative
error of the baseline weighs against the Poisson spread, so a matters at high volume and
hardly at all for a cell with a few tickets a day.

Alarms of one cell within `cooldown` of each other are one event (the same key). Fewer than
`min_weeks` weeks of history: no check.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from callcenter.alerts.settings import SurgeRule

HOUR = 3600.0
DAY = 86400.0

Cell = tuple[str, str]  # (district, topic); "" = all


def poisson_tail(n: int, lam: float) -> float:
    """P(X >= n) for X ~ Poisson(lam)."""
    if n <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    term = math.exp(-lam)
    cdf = term
    for i in range(1, n):
        term *= lam / i
        cdf += term
    return max(0.0, 1.0 - cdf)


POISSON_BELOW = 1e-9  # a smaller dispersion is a Poisson count
_TINY = 1e-300
_EPS = 1e-15


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function (a, b > 0, 0 <= x <= 1)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        a * math.log(x) + b * math.log1p(-x) + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def nb_tail(n: int, mean: float, dispersion: float) -> float:
    """P(X >= n) for X negative binomial with this mean and variance mean + dispersion x mean²
    (a Poisson count whose rate is gamma distributed, with relative variance `dispersion`
    about its mean); below POISSON_BELOW the Poisson tail."""
    if n <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if dispersion < POISSON_BELOW:
        return poisson_tail(n, mean)
    size = 1.0 / dispersion
    return max(0.0, regularized_beta(n, size, mean / (mean + size)))


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


def day_type(day: date, holidays: frozenset[date], makeup: frozenset[date]) -> int:
    """0..6 as Monday..Sunday; a holiday is a Sunday (6), a make-up workday a Monday (0)."""
    if day in makeup:
        return 0
    if day in holidays:
        return 6
    return day.weekday()


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


@dataclass
class _CellState:
    window: deque[tuple[float, int]] = field(default_factory=deque)  # (at, ticket id)
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
        holidays: frozenset[date] = frozenset(),
        makeup: frozenset[date] = frozenset(),
    ) -> None:
        self.rule = rule
        self.offset = offset  # epoch -> seconds east of UTC of the local zone
        self.holidays = holidays
        self.makeup = makeup
        self.hours: dict[int, int] = {}  # local hour number -> the whole center's count
        self.cells: dict[Cell, _CellState] = {}
        self.first_day: int | None = None
        self._base: dict[tuple[int, int], float] = {}
        # day -> (level of each day type, day type of each day of the history) of its plan
        self._levels: dict[int, tuple[list[float], dict[int, int]]] = {}

    def _local(self, at: float) -> float:
        return at + self.offset(at)

    def add(self, at: float, ticket_id: int, district: str, topic: str) -> None:
        local = self._local(at)
        hour = int(local // HOUR)
        day = int(local // DAY)
        if self.first_day is None:
            self.first_day = day
        self.hours[hour] = self.hours.get(hour, 0) + 1
        horizon = at - self.rule.window_minutes * 60
        for cell in cells_of(district, topic):
            state = self.cells.get(cell)
            if state is None:
                state = self.cells[cell] = _CellState()
            state.window.append((at, ticket_id))
            while state.window and state.window[0][0] <= horizon:
                state.window.popleft()
            state.days[day] = state.days.get(day, 0) + 1
            state.hourly[hour] = state.hourly.get(hour, 0) + 1
            if len(state.hourly) > 96:
                state.hourly = {h: n for h, n in state.hourly.items() if h > hour - 48}

    def _day_type(self, day: int) -> int:
        return day_type(date(1970, 1, 1) + timedelta(days=day), self.holidays, self.makeup)

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
        for h in range(24):
            self._base[(day, h)] = level * profile[h] / whole if whole else 0.0

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

    def expected(self, cell: Cell, at: float) -> float | None:
        state = self.cells.get(cell)
        local = self._local(at)
        day = int(local // DAY)
        hour = int((local % DAY) // HOUR)
        now = self.base(day, hour)
        if now is None or state is None:
            return None
        before = self.base(day - 1, 23) if hour == 0 else self.base(day, hour - 1)
        minute = (local % HOUR) / HOUR
        rate = minute * now + (1 - minute) * (before if before is not None else now)
        per_hour = max(self.rule.floor_per_hour, self._share(cell, state, day) * rate)
        return per_hour * self.rule.window_minutes / 60

    def window(self, cell: Cell) -> list[tuple[float, int]]:
        state = self.cells.get(cell)
        return list(state.window) if state else []

    def check(self, cell: Cell, at: float) -> Check | None:
        """None before the baseline has enough history."""
        expected = self.expected(cell, at)
        if expected is None:
            return None
        count = len(self.cells[cell].window)
        if count < self.rule.min_count or count < self.rule.min_ratio * expected:
            return Check(cell, count, expected, 1.0, False, self.cells[cell].dispersion)
        alpha = self.cells[cell].dispersion
        p = nb_tail(count, expected, alpha)
        return Check(cell, count, expected, p, p < self.rule.p_value, alpha)

    def series(self, cell: Cell, at: float, hours: int = 24) -> list[tuple[float, int]]:
        """(hour start epoch, count) of the cell over the last `hours` hours (at most 48)."""
        local = self._local(at)
        last = int(local // HOUR)
        shift = at - local
        state = self.cells.get(cell)
        counts = state.hourly if state else {}
        return [(h * HOUR + shift, counts.get(h, 0)) for h in range(last - hours + 1, last + 1)]
