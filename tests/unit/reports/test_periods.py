"""Report periods: the fixed periods of daily, weekly and monthly reports, the previous period
of the same length, the same period last year (29 February included), the default titles."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from callcenter.reports.build import (
    SHANGHAI,
    dates_period,
    default_title,
    last_year_period,
    period_for,
    previous_period,
)


def at(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("kind", "day", "start", "end"),
    [
        ("daily", date(2026, 3, 2), at(2026, 3, 2), at(2026, 3, 3)),
        ("daily", date(2026, 12, 31), at(2026, 12, 31), at(2027, 1, 1)),
        ("weekly", date(2026, 3, 4), at(2026, 3, 2), at(2026, 3, 9)),  # Wednesday -> Mon..Sun
        ("weekly", date(2026, 3, 2), at(2026, 3, 2), at(2026, 3, 9)),
        ("monthly", date(2026, 3, 17), at(2026, 3, 1), at(2026, 4, 1)),
        ("monthly", date(2026, 12, 5), at(2026, 12, 1), at(2027, 1, 1)),
        ("monthly", date(2028, 2, 29), at(2028, 2, 1), at(2028, 3, 1)),
    ],
)
def test_fixed_periods(kind: str, day: date, start: datetime, end: datetime) -> None:
    assert period_for(kind, day) == (start, end)


def test_special_has_no_fixed_period() -> None:
    with pytest.raises(ValueError):
        period_for("special", date(2026, 3, 2))


@pytest.mark.parametrize(
    ("start", "end", "previous", "last_year"),
    [
        (at(2026, 3, 2), at(2026, 3, 3), (at(2026, 3, 1), at(2026, 3, 2)),
         (at(2025, 3, 2), at(2025, 3, 3))),
        (at(2026, 3, 1), at(2026, 4, 1), (at(2026, 1, 29), at(2026, 3, 1)),
         (at(2025, 3, 1), at(2025, 4, 1))),
        (at(2028, 2, 29), at(2028, 3, 1), (at(2028, 2, 28), at(2028, 2, 29)),
         (at(2027, 2, 28), at(2027, 3, 1))),
        (at(2026, 5, 1, 8), at(2026, 5, 1, 20), (at(2026, 4, 30, 20), at(2026, 5, 1, 8)),
         (at(2025, 5, 1, 8), at(2025, 5, 1, 20))),
    ],
)  # fmt: skip
def test_comparison_periods(
    start: datetime,
    end: datetime,
    previous: tuple[datetime, datetime],
    last_year: tuple[datetime, datetime],
) -> None:
    assert previous_period(start, end) == previous
    assert last_year_period(start, end) == last_year


@pytest.mark.parametrize(
    ("kind", "start", "end", "title"),
    [
        ("daily", at(2026, 3, 2), at(2026, 3, 3), "12345热线日报（2026年03月02日）"),
        ("monthly", at(2026, 3, 1), at(2026, 4, 1), "12345热线月报（2026年03月）"),
        (
            "weekly",
            at(2026, 3, 2),
            at(2026, 3, 9),
            "12345热线周报（2026年03月02日至2026年03月08日）",
        ),
        (
            "special",
            at(2026, 3, 2),
            at(2026, 3, 5),
            "12345热线专报（2026年03月02日至2026年03月04日）",
        ),
    ],
)
def test_default_titles(kind: str, start: datetime, end: datetime, title: str) -> None:
    assert default_title(kind, start, end) == title


@pytest.mark.parametrize(
    ("first", "last", "start", "end"),
    [
        (date(2026, 3, 2), date(2026, 3, 2), at(2026, 3, 2), at(2026, 3, 3)),
        (date(2026, 2, 1), date(2026, 2, 28), at(2026, 2, 1), at(2026, 3, 1)),
        (date(2026, 12, 30), date(2026, 12, 31), at(2026, 12, 30), at(2027, 1, 1)),
    ],
)
def test_dates_period_includes_both_days(
    first: date, last: date, start: datetime, end: datetime
) -> None:
    assert dates_period(first, last) == (start, end)


def test_dates_period_refuses_a_reversed_range() -> None:
    with pytest.raises(ValueError):
        dates_period(date(2026, 3, 2), date(2026, 3, 1))
