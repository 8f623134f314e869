"""Calls per half hour, forecast from the call history (GB/T 44190 6.1.1.1: seats follow the
daily call volume).

Method, for a day D with history up to a cut-off day (D itself or earlier):

* Ordinary day: the seasonal average of the same weekday's 48 half-hour slots over the last
  `weeks` weeks before the cut-off (holidays and make-up workdays left out of the average),
  times a trend factor g^k: g is the weekly growth, (calls of the last `weeks` weeks / calls
  of the `weeks` weeks before)^(1/`weeks`), both as the sum of their weekdays' mean days,
  kept within ±5 % a week; k is the weeks between the average's sample days and D (on
  average).
* Make-up workday (调休): forecast as a Monday.
* Holiday: a holiday profile. Holidays are not one kind: the Spring Festival (春节) empties
  the city for a week and its days are quieter than a National Day's, so a holiday is
  forecast from the closest past holidays the history has, the first of these groups that
  is not empty (the festival of each holiday is the calendar's, `DayCalendar.festival`):
  1. a Spring Festival day: the past Spring Festival days at the same day of the holiday
     (the 3rd day from the 3rd days, counted from each run's first day off);
  2. the past days of the same festival (any Spring Festival day; National Day from
     National Days, Labour Day from Labour Days, ...);
  3. the generic holiday profile: every past holiday but the Spring Festival's (for a
     Spring Festival day without a past one: every other past holiday).
  The profile's level is the mean, over the group's days, of (that day's calls / mean daily
  calls of the ordinary days in the `weeks` weeks before it), applied to the recent mean
  daily calls carried by the trend; its shape over the day is the group's mean shape.
  Without any past holiday: the Sunday forecast.

`holdout` measures the method: the last days of a history are forecast from the rest and
compared, as the MAPE of daily totals and the WAPE (Σ|error| / Σ actual) of half-hour slots
(slot MAPE is undefined where a slot had no calls).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from ivr.workdays import SPRING_FESTIVAL, DayCalendar

SLOTS = 48
MAX_WEEKLY_GROWTH = 0.05

Counts = Sequence[float]


@dataclass(frozen=True)
class Forecast:
    day: date
    kind: str  # ordinary, workday, holiday
    calls: tuple[float, ...]  # per half hour, slot 0 = 00:00-00:30 local time
    basis: str  # how it was made, for the report


def _ordinary(
    history: Mapping[date, Counts], cal: DayCalendar, cutoff: date, weeks: int
) -> list[date]:
    start = cutoff - timedelta(days=7 * weeks)
    return sorted(d for d in history if start <= d < cutoff and cal.kind(d) == "ordinary")


def _mean_daily(history: Mapping[date, Counts], days: Sequence[date]) -> float | None:
    if not days:
        return None
    return sum(sum(history[d]) for d in days) / len(days)


def _weekday_means(history: Mapping[date, Counts], days: Sequence[date]) -> dict[int, float]:
    sums: dict[int, list[float]] = {}
    for d in days:
        sums.setdefault(d.weekday(), []).append(sum(history[d]))
    return {w: sum(v) / len(v) for w, v in sums.items()}


def weekly_growth(
    history: Mapping[date, Counts], cal: DayCalendar, cutoff: date, weeks: int
) -> float:
    """g with g^weeks = the recent window's calls / the window before's, compared weekday by
    weekday (a window missing a Friday to a holiday is not a slower window)."""
    recent = _weekday_means(history, _ordinary(history, cal, cutoff, weeks))
    before = _weekday_means(
        history, _ordinary(history, cal, cutoff - timedelta(weeks=weeks), weeks)
    )
    both = [w for w in recent if w in before]
    now, then = sum(recent[w] for w in both), sum(before[w] for w in both)
    if not both or now <= 0 or then <= 0:
        return 1.0
    g = float((now / then) ** (1 / weeks))
    return min(1 + MAX_WEEKLY_GROWTH, max(1 - MAX_WEEKLY_GROWTH, g))


def forecast_day(
    history: Mapping[date, Counts], cal: DayCalendar, day: date, weeks: int = 6
) -> Forecast:
    """The forecast for `day` from the days of `history` before it (see the module doc)."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    known = [d for d in history if d < day]
    if not known:
        return Forecast(day, cal.kind(day), (0.0,) * SLOTS, "无历史数据")
    cutoff = max(known) + timedelta(days=1)
    g = weekly_growth(history, cal, cutoff, weeks)
    kind = cal.kind(day)
    if kind == "holiday":
        found = _holiday(history, cal, cutoff, weeks, day, g)
        if found is not None:
            return found
    weekday = cal.day_type(day)
    same = [d for d in _ordinary(history, cal, cutoff, weeks) if d.weekday() == weekday]
    if not same:
        return Forecast(day, kind, (0.0,) * SLOTS, "近期无同类日数据")
    ahead = sum((day - d).days for d in same) / len(same) / 7
    factor = g**ahead
    calls = tuple(factor * sum(history[d][s] for d in same) / len(same) for s in range(SLOTS))
    basis = f"近{weeks}周同星期均值（{len(same)}天）×趋势{factor:.3f}"
    return Forecast(day, kind, calls, basis)


def _festival_start(cal: DayCalendar, day: date) -> date:
    """The first day of the run of consecutive holidays of `day`'s festival that holds `day`."""
    festival = cal.festival(day)
    while cal.festival(day - timedelta(days=1)) == festival:
        day -= timedelta(days=1)
    return day


def _holiday_groups(
    cal: DayCalendar, past: Sequence[date], day: date
) -> list[tuple[str, list[date]]]:
    """The past holidays a holiday may be forecast from, the closest kind first."""
    festival = cal.festival(day)
    groups: list[tuple[str, list[date]]] = []
    if festival:
        same = [h for h in past if cal.festival(h) == festival]
        if festival == SPRING_FESTIVAL:
            offset = (day - _festival_start(cal, day)).days
            at = [h for h in same if (h - _festival_start(cal, h)).days == offset]
            groups.append((f"往年{festival}第{offset + 1}天", at))
        groups.append((f"历史{festival}", same))
    if festival != SPRING_FESTIVAL:
        groups.append(("节假日", [h for h in past if cal.festival(h) != SPRING_FESTIVAL]))
    else:  # no Spring Festival known: the other holidays are closer than a Sunday
        groups.append(("其他节假日", [h for h in past if cal.festival(h) != festival]))
    return groups


def _holiday(
    history: Mapping[date, Counts], cal: DayCalendar, cutoff: date, weeks: int, day: date, g: float
) -> Forecast | None:
    recent_days = _ordinary(history, cal, cutoff, weeks)
    recent = _mean_daily(history, recent_days)
    if not recent:
        return None
    past = sorted(d for d in history if d < cutoff and cal.kind(d) == "holiday")
    for label, days in _holiday_groups(cal, past, day):
        ratios: list[float] = []
        shape = [0.0] * SLOTS
        for h in days:
            base = _mean_daily(history, _ordinary(history, cal, h, weeks))
            total = sum(history[h])
            if not base or total <= 0:
                continue
            ratios.append(total / base)
            for s in range(SLOTS):
                shape[s] += history[h][s] / total
        if not ratios:
            continue
        ahead = sum((day - d).days for d in recent_days) / len(recent_days) / 7
        ratio = sum(ratios) / len(ratios)
        level = recent * ratio * g**ahead
        calls = tuple(level * shape[s] / len(ratios) for s in range(SLOTS))
        basis = f"{label}画像（{len(ratios)}天，水平{ratio:.2f}）"
        return Forecast(day, "holiday", calls, basis)
    return None


@dataclass(frozen=True)
class Holdout:
    days: int
    daily_mape: float  # mean |forecast - actual| / actual of daily totals
    slot_wape: float  # Σ |error| / Σ actual over half-hour slots
    naive_daily_mape: float  # the same for "every day is the recent mean day"


def holdout(
    history: Mapping[date, Counts], cal: DayCalendar, last_days: int = 7, weeks: int = 6
) -> Holdout:
    """Forecast the last `last_days` days of `history` from the days before them."""
    days = sorted(history)
    if len(days) <= last_days:
        raise ValueError("the history is shorter than the hold-out")
    test = days[-last_days:]
    train = {d: history[d] for d in days[:-last_days]}
    naive = _mean_daily(train, _ordinary(train, cal, test[0], weeks)) or 0.0
    ape: list[float] = []
    naive_ape: list[float] = []
    abs_err = actual_sum = 0.0
    for d in test:
        f = forecast_day(train, cal, d, weeks)
        actual = history[d]
        total = sum(actual)
        if total > 0:
            ape.append(abs(sum(f.calls) - total) / total)
            naive_ape.append(abs(naive - total) / total)
        abs_err += sum(abs(f.calls[s] - actual[s]) for s in range(SLOTS))
        actual_sum += total
    return Holdout(
        days=last_days,
        daily_mape=sum(ape) / len(ape) if ape else 0.0,
        slot_wape=abs_err / actual_sum if actual_sum else 0.0,
        naive_daily_mape=sum(naive_ape) / len(naive_ape) if naive_ape else 0.0,
    )
