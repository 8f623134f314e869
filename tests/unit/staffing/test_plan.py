"""staffing.toml (every mistake named by file and key) and the day curve built from a
hand-made history: handle times and patience from the history or fixed, seats after
shrinkage."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from callcenter.staffing.erlang import Target, agents_erlang_a, agents_erlang_c
from callcenter.staffing.forecast import SLOTS
from callcenter.staffing.history import History
from callcenter.staffing.plan import plan_days, slot_plan
from callcenter.staffing.settings import StaffingSettings, load_staffing, parse_staffing
from callcenter.tomlreader import ConfigErrors
from ivr.workdays import DayCalendar

REPO = Path(__file__).resolve().parents[3]


def test_shipped_config_loads() -> None:
    s = load_staffing(REPO / "config")
    assert s.target.service_level == 0.8 and s.target.within == 15
    assert s.target.max_asa is None  # 0 leaves the cap out
    assert s.aht == "history" and s.patience == "history"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"service_level": 1.2}, "staffing.service_level"),
        ({"service_level": 0}, "staffing.service_level"),
        ({"answer_within": -1}, "staffing.answer_within"),
        ({"shrinkage": 1.0}, "staffing.shrinkage"),
        ({"aht": "guess"}, "staffing.aht"),
        ({"patience_seconds": 0}, "staffing.patience_seconds"),
        ({"history_weeks": 0}, "staffing.history_weeks"),
        ({"max_occupancy": "high"}, "staffing.max_occupancy"),
        ({"colour": 1}, "staffing.colour"),
    ],
)
def test_mistakes_are_named(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        parse_staffing({"staffing": table}, "config/staffing.toml")
    assert [e.key for e in info.value.errors] == [key]
    assert str(info.value).startswith("config/staffing.toml: " + key)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="required file is missing"):
        load_staffing(tmp_path)


SETTINGS = StaffingSettings(
    target=Target(0.8, 20, max_occupancy=0.9), shrinkage=0.25, wrapup_seconds=10
)


def test_slot_plan_uses_both_models_and_shrinkage() -> None:
    s = slot_plan("10:00", 100.0, 180.0, 120.0, SETTINGS)
    c = agents_erlang_c(100 / 1800, 180, SETTINGS.target)
    a = agents_erlang_a(100 / 1800, 180, 120, SETTINGS.target)
    assert (s.agents_c, s.agents_a) == (c.agents, a.agents) == (14, 12)
    assert s.seats == math.ceil(12 / 0.75) == 16
    assert s.sl_c == pytest.approx(c.service_level) and s.abandon_a == pytest.approx(a.p_abandon)
    empty = slot_plan("03:00", 0.0, 180.0, 120.0, SETTINGS)
    assert (empty.agents_c, empty.agents_a, empty.seats, empty.sl_c) == (0, 0, 0, 1.0)


def make_history(weeks: int) -> History:
    h = History()
    first = date(2026, 1, 5)
    for i in range(weeks * 7):
        d = first + timedelta(days=i)
        h.calls[d] = [0.0] * SLOTS
        h.talk[d] = [0.0] * SLOTS
        h.answered[d] = [0] * SLOTS
        h.calls[d][20] = 90.0  # 10:00-10:30
        h.answered[d][20] = 90
        h.talk[d][20] = 90 * 200.0
        h.calls[d][21] = 2.0  # answered only on the first day: too few for its own AHT
        if i == 0:
            h.answered[d][21] = 2
            h.talk[d][21] = 2 * 50.0
    h.abandoned, h.waited = 100, 9000.0
    return h


def test_day_curve_from_history() -> None:
    day = date(2026, 1, 5) + timedelta(weeks=8)
    (p,) = plan_days(make_history(8), DayCalendar(), day, 1, SETTINGS)
    assert p.patience == 90.0  # 9000 s waited / 100 abandoned
    busy = p.slots[20]
    assert busy.start == "10:00" and busy.calls == pytest.approx(90.0)
    assert busy.aht == pytest.approx(210.0)  # 200 s talk + 10 s wrapup
    assert busy.agents_c == agents_erlang_c(90 / 1800, 210, SETTINGS.target).agents
    assert busy.agents_a == agents_erlang_a(90 / 1800, 210, 90, SETTINGS.target).agents
    assert p.slots[21].aht == pytest.approx(250.0)  # aht_seconds 240 + 10
    assert p.calls == pytest.approx(92.0)
    assert p.seat_hours == sum(s.seats for s in p.slots) / 2
    assert p.peak_seats == busy.seats


def test_fixed_handle_time_and_patience() -> None:
    fixed = StaffingSettings(
        target=SETTINGS.target, aht="fixed", aht_seconds=300, patience="fixed", patience_seconds=60
    )
    (p,) = plan_days(make_history(8), DayCalendar(), date(2026, 3, 2), 1, fixed)
    assert p.patience == 60.0 and p.slots[20].aht == pytest.approx(315.0)
