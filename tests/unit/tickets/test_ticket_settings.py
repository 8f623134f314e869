"""load_ticket_settings on copies of the shipped config: what loads, and each mistake."""

from __future__ import annotations

import shutil
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

from callcenter.config import ConfigErrors
from callcenter.tickets.settings import load_ticket_settings
from ivr.workdays import DayCalendar, official_china, official_years
from tests.unit.fakes import SHIPPED_CONFIG


def copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} has no {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_config_loads() -> None:
    s = load_ticket_settings(SHIPPED_CONFIG)
    assert set(s.deadlines.rules) == {"咨询", "求助", "投诉", "举报", "意见建议"}
    assert s.deadlines.rules["意见建议"].working_days == 10
    in_2026 = DayCalendar(
        frozenset(d for d in s.calendar.days.holidays if d.year == 2026),
        frozenset(d for d in s.calendar.days.makeup_workdays if d.year == 2026),
    )
    assert len(in_2026.holidays) == 33 and len(in_2026.makeup_workdays) == 6
    assert s.lifecycle.reopen_on_unsatisfied is True
    assert 0 < s.repeat.threshold <= 1 and s.repeat.window_days == 30
    assert len(s.knowledge.topics) >= 25 and s.knowledge.fallback_department == "center"
    assert "的" in s.repeat.stop_words
    assert (s.attachments.max_bytes, s.attachments.quota_bytes_per_user) == (20 * 2**20, 2**31)


BROKEN = [
    ("tickets.toml", "threshold = 0.45", "threshold = 1.5", "tickets.toml", "repeat.threshold"),
    ("tickets.toml", "window_days = 30", 'window_days = "x"', "tickets.toml", "repeat.window_days"),
    (
        "tickets.toml",
        "reopen_on_unsatisfied = true",
        "reopen_on_unsatisfied = 1",
        "tickets.toml",
        "lifecycle.reopen_on_unsatisfied",
    ),
    (
        "tickets.toml",
        "due_soon_share = 0.2",
        "due_soon_share = -1",
        "tickets.toml",
        "warning.due_soon_share",
    ),
    (
        "tickets.toml",
        "working_days = 1\n",
        "working_days = 1\nworking_hours = 4\n",
        "tickets.toml",
        "deadline[0]",
    ),
    (
        "tickets.toml",
        "working_days = 3",
        "working_days = 0",
        "tickets.toml",
        "deadline[1].working_days",
    ),
    ("tickets.toml", 'type = "意见建议"', 'type = "投诉"', "tickets.toml", "deadline[4].type"),
    ("tickets.toml", 'type = "意见建议"', 'type = "建议"', "tickets.toml", "deadline"),
    (
        "tickets.toml",
        'timezone = "Asia/Shanghai"',
        'timezone = "Mars/Olympus"',
        "tickets.toml",
        "calendar.timezone",
    ),
    (
        "tickets.toml",
        '["13:30", "17:30"]',
        '["11:30", "17:30"]',
        "tickets.toml",
        "calendar.working_hours[1]",
    ),
    (
        "tickets.toml",
        '["09:00", "12:00"]',
        '["9am", "12:00"]',
        "tickets.toml",
        "calendar.working_hours[0]",
    ),
    ("tickets.toml", "weekend = [6, 7]", "weekend = [0, 7]", "tickets.toml", "calendar.weekend"),
    (
        "tickets.toml",
        "2026-01-04, #",
        '"2026-01-04", #',
        "tickets.toml",
        "calendar.makeup_workdays[0]",
    ),
    ("tickets.toml", "2026-01-04, #", "2026-01-02, #", "tickets.toml", "calendar.makeup_workdays"),
    (
        "tickets.toml",
        "to = 2026-01-03",
        "to = 2025-12-03",
        "tickets.toml",
        "calendar.holiday[0].to",
    ),
    ("tickets.toml", "[repeat]", "[repeat]\nwindow = 3", "tickets.toml", "repeat.window"),
    ("tickets.toml", "[repeat]", "[[repeat", "tickets.toml", ""),
    (
        "tickets.toml",
        "max_bytes = 20971520",
        "max_bytes = 0",
        "tickets.toml",
        "attachments.max_bytes",
    ),
    (
        "tickets.toml",
        "quota_bytes_per_user = 2147483648",
        "quota_bytes_per_user = 1024",
        "tickets.toml",
        "attachments.quota_bytes_per_user",
    ),
    (
        "tickets.toml",
        "max_bytes = 20971520",
        'max_bytes = "20M"',
        "tickets.toml",
        "attachments.max_bytes",
    ),
    (
        "departments.toml",
        'fallback = "center"',
        'fallback = "nobody"',
        "departments.toml",
        "fallback",
    ),
    ("departments.toml", 'id = "water"', 'id = "center"', "departments.toml", "department[1].id"),
    (
        "departments.toml",
        'id = "water"',
        'id = "Water Dept"',
        "departments.toml",
        "department[1].id",
    ),
    (
        "knowledge.toml",
        'department = "water"',
        'department = "waterworks"',
        "knowledge.toml",
        "topic[0].department",
    ),
    (
        "knowledge.toml",
        'type_hint = "求助"',
        'type_hint = "求救"',
        "knowledge.toml",
        "topic[0].type_hint",
    ),
    ("knowledge.toml", 'name = "求助"', 'name = "求救"', "knowledge.toml", "type[1].name"),
    ("knowledge.toml", '"停水" = 3.0', '"停水" = -3.0', "knowledge.toml", "topic[0].weights.停水"),
    ("knowledge.toml", 'id = "gas"', 'id = "heating"', "knowledge.toml", "topic[4].id"),
    (
        "knowledge.toml",
        'default_type = "咨询"',
        'default_type = "闲聊"',
        "knowledge.toml",
        "classifier.default_type",
    ),
    (
        "knowledge.toml",
        'stop_words = [\n  "的"',
        'stop_words = [\n  ""',
        "knowledge.toml",
        "text.stop_words",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "file", "key"), BROKEN)
def test_broken_config_names_file_and_key(
    tmp_path: Path, name: str, old: str, new: str, file: str, key: str
) -> None:
    directory = copy_config(tmp_path)
    edit(directory, name, old, new)
    with pytest.raises(ConfigErrors) as info:
        load_ticket_settings(directory)
    found = [(e.file, e.key) for e in info.value.errors]
    assert (f"config/{file}", key) in found, str(info.value)
    assert info.value.error_id == "config.invalid"


def test_missing_files_are_all_reported(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    directory.mkdir()
    with pytest.raises(ConfigErrors) as info:
        load_ticket_settings(directory)
    missing = {e.file for e in info.value.errors if e.message == "required file is missing"}
    assert missing == {"config/tickets.toml", "config/knowledge.toml", "config/departments.toml"}


def test_several_mistakes_are_reported_at_once(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "tickets.toml", "threshold = 0.45", "threshold = 2")
    edit(directory, "departments.toml", 'fallback = "center"', 'fallback = "x"')
    with pytest.raises(ConfigErrors) as info:
        load_ticket_settings(directory)
    assert len(info.value.errors) == 2
    assert "tickets.toml: repeat.threshold" in str(info.value)


def _listed_days(config: Path) -> DayCalendar:
    """The holidays and make-up days written in tickets.toml itself."""
    with (config / "tickets.toml").open("rb") as f:
        calendar = tomllib.load(f)["calendar"]
    holidays = {
        h["from"] + timedelta(days=n)
        for h in calendar["holiday"]
        for n in range((h.get("to", h["from"]) - h["from"]).days + 1)
    }
    return DayCalendar(frozenset(holidays), frozenset(calendar["makeup_workdays"]))


def test_the_packaged_2026_days_equal_the_ones_written_in_tickets_toml() -> None:
    """chinesecalendar, the default, says for 2026 what the State Council's notice (written
    down in tickets.toml) says: the same 33 days off and the same 6 make-up working days."""
    listed = _listed_days(SHIPPED_CONFIG)
    official = official_china()
    assert {d.year for d in listed.holidays | listed.makeup_workdays} == {2026}
    assert frozenset(d for d in official.holidays if d.year == 2026) == listed.holidays
    assert frozenset(d for d in official.makeup_workdays if d.year == 2026) == (
        listed.makeup_workdays
    )
    assert official_years()[0] <= 2025 and official_years()[1] >= 2026


def test_the_packaged_days_are_the_default_and_the_toml_overrides_them(tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, config)
    shipped = load_ticket_settings(config).calendar.days
    edit(config, "tickets.toml", "official_days = true", "")  # the default is the shipped value
    days = load_ticket_settings(config).calendar.days
    assert days == shipped
    # 2025 is not written in tickets.toml: it comes from the package (国庆 8 days, 调休 28 Sep)
    assert days.kind(date(2025, 10, 8)) == "holiday" and days.is_working_day(date(2025, 9, 28))
    assert days.is_working_day(date(2025, 10, 9))
    # each holiday's festival as the notice names it; tickets.toml's names for its own days
    assert (
        days.festival(date(2025, 1, 29)) == "春节" and days.festival(date(2025, 5, 1)) == "劳动节"
    )
    assert days.festival(date(2026, 4, 5)) == "清明节" and days.festival(date(2026, 1, 2)) == "元旦"
    assert days.festival(date(2025, 9, 28)) == "" and days.festival(date(2025, 10, 9)) == ""
    edit(config, "tickets.toml", 'name = "清明节"', 'name = "清明"')
    assert load_ticket_settings(config).calendar.days.festival(date(2026, 4, 5)) == "清明"
    edit(config, "tickets.toml", "weekend = [6, 7]", "weekend = [6, 7]\nofficial_days = true")
    # a local holiday on a published make-up Saturday, and a make-up day on a published holiday
    edit(config, "tickets.toml", "2026-01-04, # 元旦: Sunday", "2025-10-08, # local")
    edit(
        config,
        "tickets.toml",
        "from = 2026-01-01\nto = 2026-01-03",
        "from = 2026-01-01\nto = 2026-01-04",
    )
    days = load_ticket_settings(config).calendar.days
    assert days.kind(date(2026, 1, 4)) == "holiday" and not days.is_working_day(date(2026, 1, 4))
    assert days.kind(date(2025, 10, 8)) == "workday" and days.is_working_day(date(2025, 10, 8))
    # official_days = false: only the listed days
    edit(config, "tickets.toml", "official_days = true", "official_days = false")  # shipped
    days = load_ticket_settings(config).calendar.days
    assert days.kind(date(2025, 10, 7)) == "ordinary" and not days.is_working_day(date(2025, 9, 28))
    assert days.kind(date(2026, 10, 1)) == "holiday"


def test_every_mistake_of_a_file_with_its_dotted_key(tmp_path: Path) -> None:
    directory = copy_config(tmp_path)
    edit(directory, "tickets.toml", "to = 2026-01-03", "to = 2026-01-03\nuntil = 2026-01-04")
    edit(directory, "tickets.toml", "weekend = [6, 7]", "weekend = [6, 8]")
    edit(directory, "tickets.toml", "threshold = 0.45", "threshold = 1.5")
    edit(directory, "knowledge.toml", 'default_type = "咨询"', 'default_type = "闲聊"')
    edit(directory, "departments.toml", 'skill = "general"', "skill = 3")
    with pytest.raises(ConfigErrors) as info:
        load_ticket_settings(directory)
    said = {(e.file, e.key): e.message for e in info.value.errors}
    assert said == {
        ("config/departments.toml", "department[0].skill"): "must be a string, got int 3",
        ("config/knowledge.toml", "classifier.default_type"): (
            "must be one of 咨询, 求助, 投诉, 举报, 意见建议, got '闲聊'"
        ),
        ("config/tickets.toml", "calendar.weekend"): (
            "must be days of the week 1 (Monday) to 7, got [6, 8]"
        ),
        ("config/tickets.toml", "calendar.holiday[0].until"): (
            "unknown key (allowed: name, from, to)"
        ),
        ("config/tickets.toml", "repeat.threshold"): "must be from 0 to 1, got 1.5",
    }
