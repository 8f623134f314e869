"""Which periodic reports the schedule owes (config/reports.toml), as tables."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.reports.schedule import (
    Attempt,
    ReportSchedule,
    due_periods,
    load_schedule,
)
from callcenter.tomlreader import ConfigError

ZONE = ZoneInfo("Asia/Shanghai")
LONG_AGO = datetime(2025, 1, 1, tzinfo=ZONE).timestamp()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def due(
    now: str,
    attempts: tuple[Attempt, ...] = (),
    first: float | None = LONG_AGO,
    schedule: ReportSchedule | None = None,
) -> list[tuple[str, str, str]]:
    found = due_periods(schedule or ReportSchedule(), at(now), ZONE, attempts, first)
    return [(k, f"{a:%Y-%m-%d}", f"{b:%Y-%m-%d}") for k, a, b in found]


def done(kind: str, day: str, state: str = "done", started: str = "2026-03-01") -> Attempt:
    return Attempt(kind, at(day).timestamp(), state, at(started).timestamp())


ONLY_DAILY = ReportSchedule(kinds=("daily",), catch_up_days=0)


@pytest.mark.parametrize(
    ("now", "attempts", "expected"),
    [
        # before 01:00 yesterday is not closed yet: the day before it is the latest
        ("2026-03-11 00:30", (), [("daily", "2026-03-09", "2026-03-10")]),
        ("2026-03-11 01:00", (), [("daily", "2026-03-10", "2026-03-11")]),
        # made already: nothing owed
        ("2026-03-11 09:00", (done("daily", "2026-03-10"),), []),
        # failed an hour ago or more: again; failed just now: not yet
        (
            "2026-03-11 09:00",
            (done("daily", "2026-03-10", "failed", "2026-03-11 07:59"),),
            [("daily", "2026-03-10", "2026-03-11")],
        ),
        ("2026-03-11 09:00", (done("daily", "2026-03-10", "failed", "2026-03-11 08:30"),), []),
        # an older day never made, with no catch-up: only the latest is owed
        ("2026-03-11 09:00", (done("daily", "2026-03-10"),), []),
    ],
)
def test_daily(now: str, attempts: tuple[Attempt, ...], expected: list[tuple[str, ...]]) -> None:
    assert due(now, attempts, schedule=ONLY_DAILY) == expected


def test_catch_up_days_back_and_not_before_the_first_record() -> None:
    three = ReportSchedule(kinds=("daily",), catch_up_days=3)
    assert due("2026-03-11 09:00", schedule=three) == [
        ("daily", "2026-03-07", "2026-03-08"),
        ("daily", "2026-03-08", "2026-03-09"),
        ("daily", "2026-03-09", "2026-03-10"),
        ("daily", "2026-03-10", "2026-03-11"),
    ]
    first = at("2026-03-08 15:00").timestamp()
    assert due("2026-03-11 09:00", first=first, schedule=three) == [
        ("daily", "2026-03-08", "2026-03-09"),
        ("daily", "2026-03-09", "2026-03-10"),
        ("daily", "2026-03-10", "2026-03-11"),
    ]
    assert due("2026-03-11 09:00", first=None, schedule=three) == []  # an empty store
    assert due("2026-03-11 09:00", first=at("2026-03-11 08:00").timestamp()) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Wednesday 11 March: the week of 2-8 March is over, February too
        ("2026-03-11 09:00", [("weekly", "2026-03-02", "2026-03-09")]),
        # Monday 9 March before 01:00: Sunday 8 is not closed; the week before is the latest
        ("2026-03-09 00:59", [("weekly", "2026-02-23", "2026-03-02")]),
        ("2026-03-09 01:00", [("weekly", "2026-03-02", "2026-03-09")]),
    ],
)
def test_weekly(now: str, expected: list[tuple[str, ...]]) -> None:
    weekly = ReportSchedule(kinds=("weekly",), catch_up_days=0)
    assert due(now, schedule=weekly) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-03-01 00:59", [("monthly", "2026-01-01", "2026-02-01")]),
        ("2026-03-01 01:00", [("monthly", "2026-02-01", "2026-03-01")]),
        ("2026-03-20 12:00", [("monthly", "2026-02-01", "2026-03-01")]),  # owed until made
        ("2026-01-01 02:00", [("monthly", "2025-12-01", "2026-01-01")]),
    ],
)
def test_monthly(now: str, expected: list[tuple[str, ...]]) -> None:
    monthly = ReportSchedule(kinds=("monthly",), catch_up_days=0)
    assert due(now, schedule=monthly) == expected


def test_all_kinds_in_order_of_their_end_then_kind() -> None:
    schedule = ReportSchedule(catch_up_days=0)
    assert due("2026-03-02 08:00", schedule=schedule) == [
        ("monthly", "2026-02-01", "2026-03-01"),
        ("daily", "2026-03-01", "2026-03-02"),
        ("weekly", "2026-02-23", "2026-03-02"),
    ]
    made = tuple(
        done(kind, day)
        for kind, day in (
            ("monthly", "2026-02-01"),
            ("daily", "2026-03-01"),
            ("weekly", "2026-02-23"),
        )
    )
    assert due("2026-03-02 08:00", made, schedule=schedule) == []
    assert due("2026-03-02 08:00", schedule=ReportSchedule(enabled=False)) == []


def test_config_file(tmp_path: Path) -> None:
    assert load_schedule(tmp_path) == ReportSchedule()  # no file: the defaults
    (tmp_path / "reports.toml").write_text(
        '[schedule]\nat = "02:30"\nkinds = ["daily"]\nformats = ["xlsx"]\n'
        "retry_after_minutes = 5\n",
        encoding="utf-8",
    )
    loaded = load_schedule(tmp_path)
    assert (loaded.at, loaded.kinds, loaded.formats, loaded.retry_after) == (
        time(2, 30),
        ("daily",),
        ("xlsx",),
        300.0,
    )
    shipped = load_schedule(Path(__file__).resolve().parents[3] / "config")
    assert shipped.enabled and shipped.kinds == ("daily", "weekly", "monthly")


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('[schedule]\nat = "25:00"\n', "schedule.at"),
        ('[schedule]\nkinds = ["yearly"]\n', "schedule.kinds"),
        ('[schedule]\nformats = ["doc"]\n', "schedule.formats"),
        ("[schedule]\ncatch_up_days = -1\n", "schedule.catch_up_days"),
        ("[schedule]\nretry_after_minutes = 0\n", "schedule.retry_after_minutes"),
        ("[schedule]\nwhen = 1\n", "schedule.when"),
        ("[schedule]\nenabled = 1\n", "schedule.enabled"),
    ],
)
def test_config_mistakes_name_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    (tmp_path / "reports.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schedule(tmp_path)
    assert "reports.toml" in str(caught.value) and key in str(caught.value)
