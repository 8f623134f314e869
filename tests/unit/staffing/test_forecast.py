"""The forecast's rules on hand-made histories: same-weekday average, trend, make-up
workdays as Mondays, the holiday profile, and the hold-out measure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from callcenter.staffing.forecast import SLOTS, forecast_day, holdout, weekly_growth
from ivr.workdays import DayCalendar

MONDAY = date(2026, 1, 5)
SHAPE = [0.0] * 16 + [2.0] * 20 + [1.0] * 12  # quiet nights, busy days, evenings


def day_counts(level: float) -> list[float]:
    return [level * v for v in SHAPE]


def history(weeks: int, level: dict[int, float], growth: float = 1.0) -> dict[date, list[float]]:
    out: dict[date, list[float]] = {}
    for i in range(weeks * 7):
        d = MONDAY + timedelta(days=i)
        out[d] = day_counts(level[d.weekday()] * growth ** (i // 7))
    return out


LEVELS = {0: 10.0, 1: 9.0, 2: 8.0, 3: 8.0, 4: 8.0, 5: 5.0, 6: 4.0}


@pytest.mark.parametrize(("offset", "level"), [(0, 10.0), (1, 9.0), (5, 5.0), (6, 4.0)])
def test_same_weekday_average_without_trend(offset: int, level: float) -> None:
    h = history(8, LEVELS)
    day = MONDAY + timedelta(weeks=8, days=offset)
    f = forecast_day(h, DayCalendar(), day, weeks=6)
    assert f.kind == "ordinary"
    assert f.calls == pytest.approx(day_counts(level))


def test_trend_is_carried_forward() -> None:
    h = history(12, LEVELS, growth=1.02)
    cal = DayCalendar()
    cutoff = MONDAY + timedelta(weeks=12)
    assert weekly_growth(h, cal, cutoff, 6) == pytest.approx(1.02)
    f = forecast_day(h, cal, cutoff, weeks=6)  # a Monday
    # the mean of the last 6 Mondays (weeks 6..11), carried 3.5 weeks on (their mean distance)
    mean = sum(1.02**k for k in range(6, 12)) / 6
    assert sum(f.calls) == pytest.approx(sum(day_counts(10.0)) * mean * 1.02**3.5, rel=1e-9)
    assert sum(f.calls) == pytest.approx(sum(day_counts(10.0)) * 1.02**12, rel=0.002)


def test_growth_is_capped() -> None:
    h = history(12, LEVELS, growth=1.3)
    assert weekly_growth(h, DayCalendar(), MONDAY + timedelta(weeks=12), 6) == pytest.approx(1.05)


def test_makeup_workday_is_forecast_as_a_monday() -> None:
    h = history(8, LEVELS)
    sunday = MONDAY + timedelta(weeks=8, days=6)
    f = forecast_day(h, DayCalendar(makeup_workdays=frozenset({sunday})), sunday, weeks=6)
    assert f.kind == "workday" and f.calls == pytest.approx(day_counts(10.0))


def test_holiday_profile() -> None:
    h = history(10, LEVELS)
    past = MONDAY + timedelta(weeks=8, days=2)  # a Wednesday holiday at 60 % of normal
    h[past] = [0.0] * 20 + [3.0] * 20 + [0.0] * 8
    cal = DayCalendar(holidays=frozenset({past, MONDAY + timedelta(weeks=10, days=3)}))
    f = forecast_day(h, cal, MONDAY + timedelta(weeks=10, days=3), weeks=6)
    assert f.kind == "holiday"
    # level: the past holiday's calls over the mean ordinary day of the 6 weeks before it
    mean_day = sum(sum(day_counts(v)) for v in LEVELS.values()) / 7
    ratio = 60.0 / mean_day
    # the past holiday's own day is left out of the recent mean
    recent = [d for d in h if d >= MONDAY + timedelta(weeks=4) and d != past]
    recent_mean = sum(sum(h[d]) for d in recent) / len(recent)
    assert sum(f.calls) == pytest.approx(ratio * recent_mean)
    assert f.calls[:20] == (0.0,) * 20 and f.calls[40:] == (0.0,) * 8  # the holiday's shape


def test_holiday_without_past_holidays_is_a_sunday() -> None:
    h = history(8, LEVELS)
    day = MONDAY + timedelta(weeks=8, days=1)
    f = forecast_day(h, DayCalendar(holidays=frozenset({day})), day, weeks=6)
    assert f.calls == pytest.approx(day_counts(4.0))


def test_no_history() -> None:
    f = forecast_day({}, DayCalendar(), MONDAY, weeks=6)
    assert f.calls == (0.0,) * SLOTS


def test_holdout_is_exact_on_a_regular_history() -> None:
    r = holdout(history(10, LEVELS), DayCalendar(), last_days=7, weeks=6)
    assert r.daily_mape == pytest.approx(0.0, abs=1e-12)
    assert r.slot_wape == pytest.approx(0.0, abs=1e-12)
    assert r.naive_daily_mape > 0.2  # a flat forecast misses the weekly rhythm


def test_holdout_needs_enough_history() -> None:
    with pytest.raises(ValueError):
        holdout(history(1, LEVELS), DayCalendar(), last_days=7)
