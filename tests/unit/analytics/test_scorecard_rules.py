"""Pure parts of the analytics: the weighted score, the scorecard config (every mistake names
the file and key), day/week buckets, bottlenecks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callcenter.analytics.scorecard import DEFAULT, load_scorecard, weighted_score
from callcenter.analytics.service_quality import StageStats, bottlenecks
from callcenter.analytics.sql import Period, bucket_start
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[3]
W4 = {"response": 0.2, "on_time": 0.3, "resolution": 0.2, "satisfaction": 0.3}


@pytest.mark.parametrize(
    ("rates", "weights", "expected"),
    [
        ({"response": 1.0, "on_time": 1.0, "resolution": 1.0, "satisfaction": 1.0}, W4, 100.0),
        ({"response": 0.5, "on_time": 1.0, "resolution": 1.0, "satisfaction": 0.0}, W4, 60.0),
        ({"response": 0.5, "on_time": None, "resolution": None, "satisfaction": None}, W4, 50.0),
        ({"response": 1.0, "on_time": 0.0, "resolution": None, "satisfaction": None}, W4, 40.0),
        ({"response": None, "on_time": None, "resolution": None, "satisfaction": None}, W4, None),
        ({"response": 0.9, "on_time": 0.1}, {"response": 0.0, "on_time": 2.0}, 10.0),
        ({"response": 0.9, "on_time": None}, {"response": 0.0, "on_time": 2.0}, None),
        ({"satisfaction": 0.8}, {"satisfaction": 5.0}, 80.0),
    ],
)
def test_weighted_score(
    rates: dict[str, float | None], weights: dict[str, float], expected: float | None
) -> None:
    got = weighted_score(rates, weights)
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_shipped_scorecard_config_loads() -> None:
    config = load_scorecard(REPO / "config")
    assert config.weights == W4
    assert config.accept_within_hours == 24.0
    # error-severity governance rules void a ticket's credit; warnings do not
    assert {"department.unknown", "date.order", "code.channel"} <= config.invalid_rules
    assert not {"duplicate.entry", "timeliness.late_entry"} & config.invalid_rules


@pytest.mark.parametrize(
    ("exclude", "expected"),
    [
        ('["warning"]', {"duplicate.entry", "timeliness.late_entry"}),
        ("[]", set()),
    ],
)
def test_governance_exclude_picks_rules_by_severity(
    tmp_path: Path, exclude: str, expected: set[str]
) -> None:
    (tmp_path / "quality.toml").write_text(
        (REPO / "config" / "quality.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "tickets.toml").write_text(
        (REPO / "config" / "tickets.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "scorecard.toml").write_text(f"[governance]\nexclude = {exclude}\n")
    assert load_scorecard(tmp_path).invalid_rules == expected


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_scorecard(tmp_path) == DEFAULT


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[weights]\nresponse = -1\n", "weights.response", "0 or more"),
        ("[weights]\nspeed = 1\n", "weights.speed", "unknown key"),
        ("[weights]\non_time = 'a'\n", "weights.on_time", "a number"),
        ("[governance]\nexclude = ['fatal']\n", "governance.exclude", "severities"),
        ("[governance]\nexclude = 'error'\n", "governance.exclude", "an array"),
        ("[governance]\nskip = 1\n", "governance.skip", "unknown key"),
        (
            "[weights]\nresponse = 0\non_time = 0\nresolution = 0\nsatisfaction = 0\n",
            "weights",
            "above 0",
        ),
        ("[response]\naccept_within_hours = 0\n", "response.accept_within_hours", "above 0"),
        ("[extra]\n", "extra", "unknown key"),
    ],
)
def test_config_mistakes_name_file_and_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    (tmp_path / "scorecard.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        load_scorecard(tmp_path)
    error = caught.value.errors[0]
    assert error.file.endswith("scorecard.toml")
    assert error.key == key
    assert words in error.message


def test_weights_are_read(tmp_path: Path) -> None:
    (tmp_path / "scorecard.toml").write_text(
        "[weights]\nresponse = 0\non_time = 1\nresolution = 0\nsatisfaction = 3\n"
        "[response]\naccept_within_hours = 8\n",
        encoding="utf-8",
    )
    config = load_scorecard(tmp_path)
    assert dict(config.weights) == {
        "response": 0.0,
        "on_time": 1.0,
        "resolution": 0.0,
        "satisfaction": 3.0,
    }
    assert config.accept_within_hours == 8.0


@pytest.mark.parametrize(
    ("index", "days", "local"),
    [
        (20454, 1, "2026-01-01 00:00"),  # a Thursday
        (2922, 7, "2025-12-29 00:00"),  # the Monday of that week
        (2923, 7, "2026-01-05 00:00"),
    ],
)
def test_bucket_start_is_local_midnight(index: int, days: int, local: str) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    at = bucket_start(index, days, 8 * 3600.0)
    assert datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d %H:%M") == local
    if days == 7:
        assert datetime.fromtimestamp(at, zone).weekday() == 0


def test_previous_period_and_empty_period() -> None:
    assert Period(100.0, 160.0).previous == Period(40.0, 100.0)
    with pytest.raises(ValueError):
        Period(5.0, 5.0)


def test_bottleneck_is_the_longest_median_per_key() -> None:
    stats = [
        StageStats("dispatch", "water", 5, 10.0, 10.0, 20.0),
        StageStats("handle", "water", 5, 90.0, 80.0, 100.0),
        StageStats("close", "water", 5, 50.0, 50.0, 900.0),
        StageStats("sign", "power", 2, 5.0, 5.0, 5.0),
    ]
    assert bottlenecks(stats) == {"water": "handle", "power": "sign"}


def test_several_mistakes_are_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "scorecard.toml").write_text(
        "[weights]\nresponse = -1\nspeed = 2\n"
        "[response]\naccept_within_hours = 0\n"
        "[governance]\nexclude = ['fatal']\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigErrors) as caught:
        load_scorecard(tmp_path)
    file = str(tmp_path / "scorecard.toml")
    assert [(e.file, e.key) for e in caught.value.errors] == [
        (file, "weights.response"),
        (file, "weights.speed"),
        (file, "response.accept_within_hours"),
        (file, "governance.exclude"),
    ]
    assert "allowed: response, on_time, resolution, satisfaction" in str(caught.value)
