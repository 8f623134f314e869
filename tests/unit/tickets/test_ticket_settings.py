"""load_ticket_settings on copies of the shipped config: what loads, and each mistake."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from callcenter.config import ConfigErrors
from callcenter.tickets.settings import load_ticket_settings
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
    assert len(s.calendar.holidays) == 33 and len(s.calendar.makeup_workdays) == 6
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
