"""The early-warning detectors as pure functions and small state machines: Poisson tail, day
types, the surge rule, similar-request groups, repeated callers, the lexicon."""

from __future__ import annotations

import math
from datetime import date

import pytest

from callcenter.alerts.cluster import Request, SimilarGroups, place_of, words_of
from callcenter.alerts.lexicon import chinese_number, people_count, scan
from callcenter.alerts.repeat import RepeatCallers
from callcenter.alerts.settings import Lexicon, SurgeRule
from callcenter.alerts.surge import (
    SurgeDetector,
    cells_of,
    dispersion,
    nb_tail,
    poisson_tail,
    robust_mean,
)
from ivr.workdays import DayCalendar

H = 3600.0
MONDAY = 1767571200.0  # 2026-01-05 00:00 UTC, a Monday


@pytest.mark.parametrize(
    ("n", "lam", "expected"),
    [
        (0, 1.0, 1.0),
        (1, 1.0, 1 - math.exp(-1)),
        (2, 0.5, 1 - math.exp(-0.5) * 1.5),
        (5, 0.0, 0.0),
        (3, 2.0, 1 - math.exp(-2) * (1 + 2 + 2)),
    ],
)
def test_poisson_tail(n: int, lam: float, expected: float) -> None:
    assert poisson_tail(n, lam) == pytest.approx(expected, abs=1e-12)


def _exact_poisson_tail(n: int, lam: float) -> float:
    """P(X >= n) summed term by term from n up (each term from logs, so nothing cancels): an
    oracle for tails far below the double's 1e-16 resolution of 1 - cdf."""
    terms = [math.exp(k * math.log(lam) - lam - math.lgamma(k + 1)) for k in range(n, n + 400)]
    return math.fsum(terms)


@pytest.mark.parametrize(("n", "lam"), [(34, 4.0), (60, 10.0), (12, 0.05)])
def test_poisson_tail_far_below_double_resolution(n: int, lam: float) -> None:
    exact = _exact_poisson_tail(n, lam)
    assert 1e-40 < exact < 1e-16
    assert poisson_tail(n, lam) == pytest.approx(exact, rel=1e-9, abs=0)


def _exact_nb_tail(n: int, mean: float, alpha: float) -> float:
    """P(X >= n) of the negative binomial summed term by term from n up (log pmf)."""
    size = 1 / alpha
    p = mean / (mean + size)  # the failure probability per trial

    def log_pmf(k: int) -> float:
        return (
            math.lgamma(k + size)
            - math.lgamma(size)
            - math.lgamma(k + 1)
            + size * math.log1p(-p)
            + k * math.log(p)
        )

    return math.fsum(math.exp(log_pmf(k)) for k in range(n, n + 2000))


@pytest.mark.parametrize(("n", "mean", "alpha"), [(85, 20.0, 0.01), (120, 30.0, 0.02)])
def test_negative_binomial_tail_far_below_double_resolution(
    n: int, mean: float, alpha: float
) -> None:
    exact = _exact_nb_tail(n, mean, alpha)
    assert 1e-40 < exact < 1e-16
    assert nb_tail(n, mean, alpha) == pytest.approx(exact, rel=1e-8, abs=0)


@pytest.mark.parametrize(
    ("n", "mean", "alpha"),
    [
        (5, 0.05, 0.3),
        (8, 0.5, 0.01),
        (12, 2.0, 0.1),
        (30, 10.0, 0.05),
        (25, 12.0, 1.0),
        (60, 20.0, 0.2),
        (400, 200.0, 0.01),
        (3, 1.0, 5.0),
        (40, 6.0, 1e-6),
    ],
)
def test_negative_binomial_tail_against_scipy(n: int, mean: float, alpha: float) -> None:
    from scipy.stats import nbinom

    size = 1 / alpha  # scipy's n; its p is the success probability size / (size + mean)
    expected = float(nbinom.sf(n - 1, size, size / (size + mean)))
    assert nb_tail(n, mean, alpha) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("n", "mean"), [(5, 0.05), (12, 2.0), (30, 10.0)])
def test_negative_binomial_tail_without_dispersion_is_poisson(n: int, mean: float) -> None:
    from scipy.stats import poisson

    assert nb_tail(n, mean, 0.0) == poisson_tail(n, mean)
    assert nb_tail(n, mean, 0.0) == pytest.approx(float(poisson.sf(n - 1, mean)), rel=1e-6)
    assert nb_tail(n, mean, 1e-3) > nb_tail(n, mean, 0.0)  # a wider tail
    assert (nb_tail(0, mean, 0.1), nb_tail(3, 0.0, 0.1)) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("counts", "expected", "alpha"),
    [
        ([], [], 0.0),
        ([4, 4], [4.0, 4.0], 0.0),  # less spread than Poisson: 0
        ([3, 5, 4], [4.0, 4.0, 4.0], 0.0),
        # 30 (a past surge) is left out: ((10-5)² - 5 + (2-5)² - 5 + (6-5)² - 5) / (3 x 25)
        ([10, 2, 6, 30], [5.0, 5.0, 5.0, 5.0], 20 / 75),
        # expectations differ by day (a Monday, a Sunday ...): weighted by e², 25 left out
        ([26, 0, 12, 25], [20.0, 4.0, 10.0, 10.0], (36 - 20 + 16 - 4 + 4 - 10) / 516),
        ([0, 0, 0], [0.0, 0.0, 0.0], 0.0),
    ],
)
def test_dispersion_table(counts: list[int], expected: list[float], alpha: float) -> None:
    assert dispersion(counts, expected) == pytest.approx(alpha)


def test_dispersion_recovers_a_gamma_poisson_level() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    means = np.array([40.0, 60.0] * 500)  # two kinds of day
    levels = rng.gamma(shape=1 / 0.15, scale=0.15, size=means.size)  # relative variance 0.15
    counts = rng.poisson(means * levels)
    assert dispersion([int(c) for c in counts], [float(e) for e in means]) == pytest.approx(
        0.15, abs=0.02
    )
    poisson_days = rng.poisson(means)
    assert dispersion([int(c) for c in poisson_days], [float(e) for e in means]) < 0.01


HOLIDAYS = frozenset({date(2026, 10, 1), date(2026, 10, 2)})
MAKEUP = frozenset({date(2026, 9, 27)})


@pytest.mark.parametrize(
    ("day", "kind"),
    [
        (date(2026, 9, 28), 0),  # Monday
        (date(2026, 10, 1), 6),  # Thursday, a holiday: a Sunday
        (date(2026, 9, 27), 0),  # Sunday, a make-up workday: a Monday
        (date(2026, 10, 3), 5),  # Saturday
    ],
)
def test_day_type(day: date, kind: int) -> None:
    assert DayCalendar(HOLIDAYS, MAKEUP).day_type(day) == kind


@pytest.mark.parametrize(
    ("values", "mean"),
    [([], 0.0), ([2], 2.0), ([1, 3], 2.0), ([0, 0, 9], 0.0), ([1, 2, 3, 40], 2.0)],
)
def test_robust_mean_drops_the_largest(values: list[int], mean: float) -> None:
    assert robust_mean(values) == mean


def test_cells_each_once() -> None:
    assert cells_of("", "water") == (("", "water"), ("", ""))
    assert cells_of("", "") == (("", ""),)


def test_cells_most_specific_first() -> None:
    assert cells_of("110105", "water") == (
        ("110105", "water"),
        ("110105", ""),
        ("", "water"),
        ("", ""),
    )


def _steady(detector: SurgeDetector, weeks: int) -> int:
    """Four tickets an hour from 8:00 to 18:00 every day, water and power in two districts."""
    tid = 0
    for day in range(7 * weeks):
        for hour in range(8, 18):
            for k in range(4):
                tid += 1
                district = "110105" if k % 2 else "110106"
                topic = "water" if k < 2 else "power"
                detector.add(MONDAY + day * 86400 + hour * H + k * 600, tid, district, topic)
    return tid


@pytest.mark.parametrize(
    ("extra", "surges"),
    [(0, False), (2, False), (8, True)],
)
def test_surge_against_the_same_hour_of_past_weeks(extra: int, surges: bool) -> None:
    rule = SurgeRule(weeks=4, min_count=5, min_ratio=2.0, p_value=1e-5)
    detector = SurgeDetector(rule, lambda at: 0.0)
    tid = _steady(detector, 4)
    now = MONDAY + 28 * 86400 + 10 * H
    for k in range(4):  # the usual hour
        tid += 1
        detector.add(
            now + k * 600, tid, "110105" if k % 2 else "110106", "water" if k < 2 else "power"
        )
    for k in range(extra):  # and the extra water requests in 110105
        tid += 1
        detector.add(now + 2400 + k * 60, tid, "110105", "water")
    at = now + 2400 + max(extra - 1, 0) * 60
    check = detector.check(("110105", "water"), at)
    assert check is not None
    assert check.expected == pytest.approx(1.0, rel=0.01)  # a quarter of 4 an hour
    assert check.surge is surges


def test_a_day_type_not_yet_seen_takes_the_level_of_its_kind_of_day() -> None:
    """2026 starts with a holiday (1-3 January, Thursday to Saturday) and a make-up Sunday:
    on Thursday 8 January no Thursday is in the history, so the working days set the level."""
    new_year = MONDAY - 4 * 86400  # 2026-01-01 00:00 UTC, a Thursday
    holidays = frozenset({date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)})
    detector = SurgeDetector(
        SurgeRule(), lambda at: 0.0, DayCalendar(holidays, frozenset({date(2026, 1, 4)}))
    )
    tid = 0
    for day in range(8):
        for hour in range(8, 18):
            for k in range(4 if day < 7 or hour < 10 else 5):
                tid += 1
                detector.add(new_year + day * 86400 + hour * H + k * 600, tid, "110105", "water")
    check = detector.check(("", ""), new_year + 7 * 86400 + 10 * H + 2400)
    assert check is not None
    assert check.expected == pytest.approx(4.0, rel=0.01)
    assert not check.surge


@pytest.mark.parametrize(("swing", "surges"), [(0, True), (3, False)])
def test_day_to_day_swings_in_the_history_widen_the_tail(swing: int, surges: bool) -> None:
    """4 an hour on average; days alternate 4 - swing and 4 + swing an hour. 16 in an hour
    is a surge against a steady history (P about 6e-6), not against one whose days swing that
    much."""
    detector = SurgeDetector(SurgeRule(p_value=1e-5), lambda at: 0.0)
    tid = 0
    for day in range(28):
        per_hour = 4 + (swing if day % 2 else -swing)
        for hour in range(8, 18):
            for k in range(per_hour):
                tid += 1
                detector.add(MONDAY + day * 86400 + hour * H + k * 3600 / per_hour, tid, "", "")
    now = MONDAY + 28 * 86400 + 10 * H
    for k in range(16):
        tid += 1
        detector.add(now + k * 200, tid, "", "")
    check = detector.check(("", ""), now + 15 * 200)
    assert check is not None and check.count == 16
    assert (check.dispersion > 0.2) is bool(swing)
    assert check.surge is surges


def test_the_expected_count_sums_the_hours_a_window_covers() -> None:
    """The usual rate is 4 an hour from 8:00 to 18:00 and 0 at night: a window is the sum of
    the hourly rates, each by the part of the hour it covers."""
    detector = SurgeDetector(SurgeRule(), lambda at: 0.0)
    _steady(detector, 4)
    day = MONDAY + 28 * 86400
    assert detector.expected(("", ""), day + 8.5 * H) == pytest.approx(2.0, rel=0.01)
    assert detector.expected(("", ""), day + 8.5 * H, 120) == pytest.approx(2.0, rel=0.01)
    assert detector.expected(("", ""), day + 9.5 * H, 120) == pytest.approx(6.0, rel=0.01)
    assert detector.expected(("110105", "water"), day + 9.5 * H, 120) == pytest.approx(
        1.5, rel=0.01
    )
    assert detector.expected(("110105", "water"), day + 3 * H, 120) == pytest.approx(0.1)  # floor


@pytest.mark.parametrize(("long_window", "surges"), [(0, False), (120, True)])
def test_a_rise_spread_over_two_hours_needs_the_long_window(long_window: int, surges: bool) -> None:
    """One an hour as a rule; 11 more in two hours (8:05 to 9:45). At 9:45, 7 in the last
    hour (P about 8e-5 against 1) and 13 in the last two (about 2e-7 against 1.75)."""
    detector = SurgeDetector(SurgeRule(long_window_minutes=long_window), lambda at: 0.0)
    tid = _steady(detector, 4)
    day = MONDAY + 28 * 86400
    arrivals = [(day + h * H + k * 600, k) for h in (8, 9) for k in range(4)]
    arrivals += [(day + 8 * H + 300 + i * 600, -1) for i in range(11)]
    for at, k in sorted(arrivals):
        tid += 1
        if k < 0:
            detector.add(at, tid, "110105", "water")
        else:
            detector.add(at, tid, "110105" if k % 2 else "110106", "water" if k < 2 else "power")
    cell = ("110105", "water")
    check = detector.check(cell, day + 9.75 * H)  # the moment of the latest arrival
    assert check is not None and check.surge is surges
    if surges:
        assert (check.minutes, check.count) == (120, 13)
        assert check.expected == pytest.approx(1.75, rel=0.01)
        assert len(detector.window(cell)) == 13
    else:
        assert (check.minutes, check.count) == (60, 7)


DISTRICTS = ("110101", "110102", "110105", "110106")


@pytest.mark.parametrize(("rising", "district_surges"), [(1, True), (4, False)])
def test_a_rise_of_the_whole_topic_is_not_each_district_s_surge(
    rising: int, district_surges: bool
) -> None:
    """Four districts, 2 water and 2 power requests an hour each, 8:00 to 18:00. Then water
    goes up fivefold from 8:00 in one district (its surge) or in all four (the whole topic
    rises, as heating does when the heating season starts): there each district is tested
    against the rest of the topic's level today (lifted), and the topic cell reports it."""
    arrivals: list[tuple[float, str, str]] = []
    for day in range(29):
        for hour in range(8, 18 if day < 28 else 10):
            for d, district in enumerate(DISTRICTS):
                water = 10 if day == 28 and d < rising else 2
                for topic, n in (("water", water), ("power", 2)):
                    for k in range(n):
                        at = MONDAY + day * 86400 + hour * H + (k + 0.1 * d) * 3600 / n
                        arrivals.append((at, district, topic))
    detector = SurgeDetector(SurgeRule(), lambda at: 0.0)
    for tid, (at, district, topic) in enumerate(sorted(arrivals)):
        detector.add(at, tid, district, topic)
    at = max(arrivals)[0]
    check = detector.check(("110101", "water"), at)  # at the latest arrival
    assert check is not None and check.surge is district_surges
    lifted = detector.expected(("110101", "water"), at, 120, lift=True)
    plain = detector.expected(("110101", "water"), at, 120)
    assert lifted is not None and plain is not None
    assert (lifted > 2 * plain) is not district_surges
    city_wide = detector.check(("", "water"), at)
    assert city_wide is not None and city_wide.surge is not district_surges


def test_no_surge_check_without_history() -> None:
    detector = SurgeDetector(SurgeRule(min_weeks=1), lambda at: 0.0)
    for k in range(20):
        detector.add(MONDAY + k, k, "110105", "water")
    assert detector.check(("110105", "water"), MONDAY + 20) is None


@pytest.mark.parametrize(
    ("grid", "scope", "place"),
    [
        ("110105003007", "grid", "110105003007"),
        ("110105003007", "street", "110105003"),
        ("110105003007", "district", "110105"),
    ],
)
def test_place_of(grid: str, scope: str, place: str) -> None:
    assert place_of(grid, scope) == place


TEXT = "朝阳区幸福家园小区3号楼停水两天了，一直没有人来修，希望尽快恢复供水"


def _request(
    tid: int, at: float, caller: str, grid: str = "110105003007", text: str = TEXT
) -> Request:
    return Request(tid, at, caller, grid, words_of(text))


def test_cluster_of_distinct_callers_about_one_place() -> None:
    groups = SimilarGroups(24 * H, 0.5, 3, distinct_callers=True)
    assert groups.add(_request(1, 0, "13800000001")) is None
    assert groups.add(_request(2, 60, "13800000001")) is None  # the same caller again
    assert groups.add(_request(3, 120, "13800000002", grid="110106001001")) is None  # elsewhere
    assert groups.add(_request(4, 180, "13800000003", text="咨询社保卡补办需要带什么材料")) is None
    assert groups.add(_request(5, 240, "13800000004")) is None  # two callers so far
    found = groups.add(_request(6, 300, "13800000005"))
    assert found is not None
    assert (found.label, sorted(found.ticket_ids), len(found.callers)) == (1, [1, 2, 5, 6], 3)


def test_cluster_window_forgets_old_requests() -> None:
    groups = SimilarGroups(2 * H, 0.5, 3, distinct_callers=True)
    groups.add(_request(1, 0, "a"))
    groups.add(_request(2, 60, "b"))
    assert groups.add(_request(3, 3 * H, "c")) is None  # 1 and 2 are out of the window
    assert groups.add(_request(4, 3 * H + 60, "d")) is None
    assert groups.add(_request(5, 3 * H + 120, "e")) is not None


def test_repeated_problem_counts_requests_not_callers() -> None:
    groups = SimilarGroups(7 * 86400, 0.8, 3, distinct_callers=False)
    assert groups.add(_request(1, 0, "a")) is None
    assert groups.add(_request(2, 86400, "a")) is None
    found = groups.add(_request(3, 2 * 86400, "a"))
    assert found is not None and found.ticket_ids == [1, 2, 3]


@pytest.mark.parametrize(
    ("times", "reported"),
    [
        ([0, 1, 2, 3], [False, False, False, False]),
        ([0, 1, 2, 3, 4], [False, False, False, False, True]),
        ([0, 1, 2, 3, 8, 9], [False, False, False, False, False, False]),  # 0..3 aged out
    ],
)
def test_repeat_callers(times: list[int], reported: list[bool]) -> None:
    callers = RepeatCallers(count=5, days=7)
    got = [callers.add("13800000001", day * 86400.0, i) is not None for i, day in enumerate(times)]
    assert got == reported


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30", 30),
        ("三十", 30),
        ("二十五", 25),
        ("上百", 100),
        ("几十", 10),
        ("两千", 2000),
        ("x", None),
    ],
)
def test_chinese_number(text: str, value: int | None) -> None:
    assert chinese_number(text) == value


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("小区30多名业主反映", 30),
        ("上百人聚集在门口", 100),
        ("几十户居民停水", 10),
        ("家里3个孩子", 0),
        ("1号楼2单元漏水", 0),
        ("供暖温度只有15度", 0),
    ],
)
def test_people_count(text: str, people: int) -> None:
    assert people_count(text) == people


LEXICON = Lexicon(
    sensitive=("自杀", "媒体曝光", "燃气泄漏"),
    severe=("自杀",),
    group=("集体", "上访", "多名业主"),
    group_people=10,
)


@pytest.mark.parametrize(
    ("text", "sensitive", "severe", "group"),
    [
        ("小区停水三天", (), False, ()),
        ("再不解决就去媒体曝光", ("媒体曝光",), False, ()),
        ("他说要自杀", ("自杀",), True, ()),
        ("多名业主准备集体上访", (), False, ("集体", "上访", "多名业主")),
        ("二十多位居民反映楼道燃气泄漏", ("燃气泄漏",), False, ("20人",)),
        ("３个人来过", (), False, ()),
    ],
)
def test_lexicon_scan(
    text: str, sensitive: tuple[str, ...], severe: bool, group: tuple[str, ...]
) -> None:
    hits = scan(text, LEXICON)
    assert (hits.sensitive, hits.severe, hits.group) == (sensitive, severe, group)
