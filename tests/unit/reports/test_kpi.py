"""KPI formulas against hand-computed values, including the division by zero cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from callcenter.reports import kpi


@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        (kpi.connection_rate, (95, 100), 0.95),
        (kpi.connection_rate, (0, 0), None),
        (kpi.connection_rate, (0, 7), 0.0),
        (kpi.answered_within_rate, (80, 100), 0.8),
        (kpi.answered_within_rate, (3, 0), None),
        (kpi.abandon_rate, (5, 100), 0.05),
        (kpi.abandon_rate, (1, 3), 1 / 3),
        (kpi.abandon_rate, (0, 0), None),
        (kpi.average_wait, (1200.0, 100), 12.0),
        (kpi.average_wait, (0.0, 0), None),
        (kpi.average_talk, (18000.0, 100), 180.0),
        (kpi.average_talk, (10.0, 0), None),
        (kpi.on_time_completion_rate, (45, 50), 0.9),
        (kpi.on_time_completion_rate, (0, 0), None),
        (kpi.resolution_rate, (30, 40), 0.75),
        (kpi.resolution_rate, (0, 0), None),
        (kpi.satisfaction_rate, (60, 20, 100), 0.8),
        (kpi.satisfaction_rate, (0, 0, 0), None),
        (kpi.satisfaction_rate, (1, 1, 3), 2 / 3),
        (kpi.callback_coverage, (40, 50), 0.8),
        (kpi.callback_coverage, (0, 0), None),
        (kpi.return_rate, (7, 200), 0.035),
        (kpi.return_rate, (7, 0), None),
        (kpi.redispatch_rate, (4, 200), 0.02),
        (kpi.redispatch_rate, (0, 0), None),
        (kpi.ratio, (1, -1), None),
    ],
)
def test_rates(
    func: Callable[..., float | None], args: tuple[float, ...], expected: float | None
) -> None:
    result = func(*args)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize(
    ("current", "previous", "change", "relative"),
    [
        (0.9, 0.8, 0.1, 0.125),
        (100.0, 80.0, 20.0, 0.25),
        (50.0, 100.0, -50.0, -0.5),
        (None, 0.8, None, None),
        (0.9, None, None, None),
        (3.0, 0.0, 3.0, None),
    ],
)
def test_comparisons(
    current: float | None, previous: float | None, change: float | None, relative: float | None
) -> None:
    got_change = kpi.delta(current, previous)
    got_relative = kpi.relative_change(current, previous)
    assert (got_change is None) == (change is None)
    assert (got_relative is None) == (relative is None)
    if change is not None:
        assert got_change == pytest.approx(change)
    if relative is not None:
        assert got_relative == pytest.approx(relative)


@pytest.mark.parametrize(
    ("value", "rate", "seconds", "count"),
    [
        (None, "—", "—", "—"),
        (0.975, "97.5%", "1.0 秒", "0.97"),
        (0.0, "0.0%", "0.0 秒", "0"),
        (1234.0, "123400.0%", "1234.0 秒", "1,234"),
    ],
)
def test_formatting(value: float | None, rate: str, seconds: str, count: str) -> None:
    assert kpi.format_rate(value) == rate
    assert kpi.format_seconds(value) == seconds
    assert kpi.format_count(value) == count
