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


# --- holidays are not one kind: the festival of each holiday -----------------------------

QUIET = [0.0] * 16 + [1.0] * 20 + [0.0] * 12  # a holiday's own shape


def festival_history() -> tuple[dict[date, list[float]], dict[date, str]]:
    """30 weeks of regular days, with a 3-day Spring Festival in week 8 (its days at 30, 40
    and 50 % of the mean day), a 2-day National Day in week 14 (80 %) and a 1-day Labour
    Day in week 20 (70 %)."""
    h = history(30, LEVELS)
    mean_day = sum(sum(day_counts(v)) for v in LEVELS.values()) / 7
    names: dict[date, str] = {}
    runs = [(8, "春节", (0.3, 0.4, 0.5)), (14, "国庆节", (0.8, 0.8)), (20, "劳动节", (0.7,))]
    for week, name, levels in runs:
        for i, level in enumerate(levels):
            d = MONDAY + timedelta(weeks=week, days=i + 1)
            h[d] = [level * mean_day / 20 * v for v in QUIET]
            names[d] = name
    return h, names


def festival_forecast(day: date, name: str, earlier: dict[date, float] | None = None) -> float:
    """The level forecast for a holiday `day` of festival `name`, after `earlier` Spring
    Festival days of the same run at their levels. Each past holiday's level is taken against
    the ordinary days before it, a window that may miss another holiday's weekdays: the levels
    are checked to 1 %, well apart from the other groups' levels."""
    h, names = festival_history()
    mean_day = sum(sum(day_counts(v)) for v in LEVELS.values()) / 7
    for d, level in (earlier or {}).items():
        h[d] = [level * mean_day / 20 * v for v in QUIET]
        names[d] = "春节"
    names[day] = name
    cal = DayCalendar(holidays=frozenset(names), festivals=names)
    f = forecast_day(h, cal, day, weeks=6)
    assert f.kind == "holiday" and f.calls[:16] == (0.0,) * 16  # a holiday's shape
    return sum(f.calls) / mean_day  # the level, the recent days being regular


def test_a_spring_festival_day_follows_the_same_day_of_earlier_spring_festivals() -> None:
    first = MONDAY + timedelta(weeks=26, days=1)
    second, third = first + timedelta(days=1), first + timedelta(days=2)
    # each day of a Spring Festival from the same day of the earlier one (30, 40, 50 %), not
    # from the mean of its days or the other holidays (about 77 %)
    assert festival_forecast(first, "春节") == pytest.approx(0.3, rel=0.01)
    assert festival_forecast(second, "春节", {first: 0.3}) == pytest.approx(0.4, rel=0.01)
    assert festival_forecast(third, "春节", {first: 0.3, second: 0.4}) == pytest.approx(
        0.5, rel=0.01
    )


def test_a_spring_festival_day_beyond_the_earlier_ones_takes_their_mean() -> None:
    start = MONDAY + timedelta(weeks=26, days=1)
    run = {start + timedelta(days=i): level for i, level in enumerate((0.3, 0.4, 0.5))}
    # the 4th day: the earlier Spring Festival had 3; all 6 Spring Festival days known
    level = festival_forecast(start + timedelta(days=3), "春节", run)
    assert level == pytest.approx(0.4, rel=0.01)


def test_other_holidays_follow_their_festival_then_the_generic_profile() -> None:
    day = MONDAY + timedelta(weeks=26, days=1)
    assert festival_forecast(day, "国庆节") == pytest.approx(0.8, rel=0.01)
    assert festival_forecast(day, "劳动节") == pytest.approx(0.7, rel=0.01)
    # a festival the history has not seen, or an unnamed holiday: every past holiday but the
    # Spring Festival's (National Day's two days and Labour Day's one)
    generic = (0.8 + 0.8 + 0.7) / 3
    assert festival_forecast(day, "端午节") == pytest.approx(generic, rel=0.01)
    assert festival_forecast(day, "") == pytest.approx(generic, rel=0.01)


def test_a_first_spring_festival_takes_the_other_holidays() -> None:
    h, names = festival_history()
    names = {d: n for d, n in names.items() if n != "春节"}
    for d in h:
        if d.weekday() in (1, 2, 3) and MONDAY + timedelta(weeks=8) <= d < MONDAY + timedelta(
            weeks=9
        ):
            h[d] = day_counts(LEVELS[d.weekday()])  # no Spring Festival in this history
    day = MONDAY + timedelta(weeks=26, days=1)
    names[day] = "春节"
    f = forecast_day(h, DayCalendar(frozenset(names), festivals=names), day, weeks=6)
    mean_day = sum(sum(day_counts(v)) for v in LEVELS.values()) / 7
    assert sum(f.calls) / mean_day == pytest.approx((0.8 + 0.8 + 0.7) / 3, rel=0.01)
