"""The one percentile every figure uses: nearest rank (the live figures, the analytics in
Python and in SQL, the alerts' evaluation, the benches)."""

from __future__ import annotations

import pytest

from callcenter.live_figures.model import LiveFigures
from callcenter.percentile import percentile


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([], 50, None),
        ([], 95, None),
        ([7.0], 0, 7.0),
        ([7.0], 50, 7.0),
        ([7.0], 100, 7.0),
        ([3.0, 1.0, 2.0], 50, 2.0),  # unsorted input
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),  # nearest rank: ceil(0.5 * 4) = 2
        ([1.0, 2.0, 3.0, 4.0], 51, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 90, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([float(i) for i in range(1, 11)], 50, 5.0),  # the 5th of 10, not the 6th
        ([float(i) for i in range(1, 11)], 90, 9.0),
        ([float(i) for i in range(1, 11)], 91, 10.0),
        ([float(i) for i in range(1, 101)], 95, 95.0),
        ([float(i) for i in range(1, 21)], 95, 19.0),
        ([float(i) for i in range(1, 21)], 90, 18.0),
        ([float(i) for i in range(1, 21)], 2.5, 1.0),  # a share given as a float
    ],
)
def test_nearest_rank(values: list[float], pct: float, expected: float | None) -> None:
    assert percentile(values, pct) == expected


def test_the_input_is_not_reordered() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 50)
    assert values == [3.0, 1.0, 2.0]


def test_the_live_waits_read_0_before_the_first_answer() -> None:
    figures = LiveFigures()
    assert (figures.wait(50), figures.wait(95)) == (0.0, 0.0)
    figures.waits.extend([4.0, 1.0, 3.0, 2.0])
    assert (figures.wait(50), figures.wait(95)) == (2.0, 4.0)
