"""The score of a call from the shipped rules (config/inspection.toml), the config's errors
(file and dotted key), and which review step may follow which."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from callcenter.inspection.config import load_inspection, parse_inspection
from callcenter.inspection.rules import CallFacts, Finding, Segment, Severity
from callcenter.inspection.score import ReviewRefused, next_state, score_call, total
from callcenter.tomlreader import ConfigErrors

CONFIG = Path(__file__).resolve().parents[3] / "config"
RULES = load_inspection(CONFIG)


def raw() -> dict[str, Any]:
    with (CONFIG / "inspection.toml").open("rb") as f:
        return tomllib.load(f)


GOOD = (
    Segment("agent", 0.4, 3.0, "您好，12345，请讲"),
    Segment("caller", 3.2, 12.0, "我家门口的路灯坏了好几天了"),
    Segment("agent", 12.5, 16.0, "您的地址是幸福路8号对吗"),
    Segment("caller", 16.2, 17.0, "对"),
    Segment("agent", 17.5, 20.0, "您的电话是尾号5678的这个吗"),
    Segment("caller", 20.2, 21.0, "是的"),
    Segment("agent", 21.5, 25.0, "好的已经记录，请问还有其他问题吗"),
    Segment("caller", 25.2, 26.0, "没有了"),
    Segment("agent", 26.2, 28.0, "感谢您的来电，再见"),
)


@pytest.mark.parametrize(
    ("segments", "ticket", "transfers", "score", "failed"),
    [
        (GOOD, True, (), 100.0, []),
        (GOOD[1:], True, (), 95.0, ["greeting"]),
        (GOOD[:2] + GOOD[6:], True, (), 90.0, ["confirm_address", "confirm_phone"]),
        (GOOD[:2] + GOOD[6:], False, (), 100.0, []),
        (
            GOOD[:1]
            + (Segment("agent", 5.0, 8.0, "这个不归我们管，烦不烦"),)
            + (Segment("caller", 30.0, 31.0, "喂？"),)
            + GOOD[8:],
            False,
            (),
            77.0,  # 2 forbidden words (-20), one silence of 22 s (-3)
            ["forbidden_words", "forbidden_words", "long_silence"],
        ),
        (
            GOOD[:1] + (Segment("caller", 3, 20, "救命，有人受伤了"),) + GOOD[8:],
            False,
            (),
            0.0,
            ["emergency_transfer"],
        ),
        (
            GOOD[:1] + (Segment("caller", 3, 20, "救命，有人受伤了"),) + GOOD[8:],
            False,
            (("120", "requested"),),
            100.0,
            [],
        ),
    ],
)
def test_score_call(
    segments: tuple[Segment, ...],
    ticket: bool,
    transfers: tuple[tuple[str, str], ...],
    score: float,
    failed: list[str],
) -> None:
    scored = score_call(RULES, CallFacts(segments, ticket, transfers))
    assert scored.score == score
    assert scored.max_score == 100.0
    assert [f.rule for f in scored.findings if not f.passed] == failed


def test_every_rule_reports_once_when_clean() -> None:
    scored = score_call(RULES, CallFacts(GOOD, True))
    assert [f.rule for f in scored.findings] == [
        "greeting",
        "closing",
        "forbidden_words",
        "interruption",
        "long_silence",
        "confirm_address",
        "confirm_phone",
        "emergency_transfer",
    ]


@pytest.mark.parametrize(
    ("points", "severities", "expected"),
    [
        ([], [], 100.0),
        ([-5.0, -2.5], [Severity.MINOR, Severity.MAJOR], 92.5),
        ([-60.0, -60.0], [Severity.MAJOR, Severity.MAJOR], 0.0),  # never below 0
        ([-1.0], [Severity.FATAL], 0.0),
    ],
)
def test_total(points: list[float], severities: list[Severity], expected: float) -> None:
    findings = [Finding("r", False, p, s) for p, s in zip(points, severities, strict=True)]
    assert total(100.0, findings) == expected


def test_a_passed_fatal_rule_does_not_zero() -> None:
    assert total(100.0, [Finding("emergency_transfer", True, 0.0, Severity.FATAL)]) == 100.0


def test_disabled_rule_is_not_run() -> None:
    data = raw()
    data["greeting"]["enabled"] = False
    rules = parse_inspection(data, "config/inspection.toml")
    scored = score_call(rules, CallFacts(GOOD[1:], True))
    assert "greeting" not in [f.rule for f in scored.findings]
    assert scored.score == 100.0


def test_any_edit_changes_the_rules_version() -> None:
    data = raw()
    same = parse_inspection(raw(), "x")
    data["long_silence"]["seconds"] = 11
    assert parse_inspection(data, "x").version != same.version == RULES.version
    assert RULES.version.startswith("2026.1-")


@pytest.mark.parametrize(
    ("edit", "messages"),
    [
        (
            lambda d: d["greeting"].update(points="five"),
            ["x.toml: greeting.points: must be a number"],
        ),
        (
            lambda d: d["closing"].update(severity="grave"),
            ["x.toml: closing.severity: 'grave' is not one of"],
        ),
        (
            lambda d: d.pop("interruption"),
            [
                "x.toml: interruption: is required",
                "x.toml: interruption.points: is required",
                "x.toml: interruption.min_overlap: is required",
            ],
        ),
        (
            lambda d: d["long_silence"].update(seconds=0),
            ["x.toml: long_silence.seconds: must be greater than 0"],
        ),
        (
            lambda d: d["forbidden_words"].update(words=[]),
            ["x.toml: forbidden_words.words: must not be empty"],
        ),
        (
            lambda d: d["forbidden_words"].update(words=["ok", 3]),
            ["x.toml: forbidden_words.words: must be an array of non-empty strings"],
        ),
        (
            lambda d: d["emergency_transfer"].update(lines=["119", "911"]),
            ["x.toml: emergency_transfer.lines: '911' is not one of"],
        ),
        (
            lambda d: d["confirmation"].update(phrase=["x"]),
            ["x.toml: confirmation.phrase: unknown key"],
        ),
        (lambda d: d.update(extra=1), ["x.toml: extra: unknown key"]),
    ],
)
def test_config_errors(edit: Any, messages: list[str]) -> None:
    data = raw()
    edit(data)
    with pytest.raises(ConfigErrors) as caught:
        parse_inspection(data, "x.toml")
    errors = [str(e) for e in caught.value.errors]
    assert len(errors) == len(messages), errors
    for error, message in zip(errors, messages, strict=True):
        assert error.startswith(message), errors


@pytest.mark.parametrize(
    ("state", "action", "role", "actor", "new", "note", "expected"),
    [
        ("scored", "review", "supervisor", "班长", None, "", "reviewed"),
        ("scored", "review", "supervisor", "班长", 90.0, "", "reviewed"),
        ("scored", "review", "agent", "1001", None, "", "inspection.forbidden"),
        ("reviewed", "review", "supervisor", "班长", None, "", "inspection.state"),
        ("scored", "dispute", "agent", "1001", None, "我说了开头语", "disputed"),
        ("reviewed", "dispute", "agent", "1001", None, "我说了开头语", "disputed"),
        ("scored", "dispute", "agent", "1002", None, "不是我的", "inspection.forbidden"),
        ("scored", "dispute", "supervisor", "班长", None, "x", "inspection.forbidden"),
        ("scored", "dispute", "agent", "1001", None, " ", "inspection.note"),
        ("scored", "dispute", "agent", "1001", 100.0, "x", "inspection.score"),
        ("disputed", "dispute", "agent", "1001", None, "again", "inspection.state"),
        ("overridden", "dispute", "agent", "1001", None, "again", "inspection.state"),
        ("disputed", "resolve", "supervisor", "班长", 95.0, "属实", "reviewed"),
        ("disputed", "resolve", "supervisor", "班长", None, "", "reviewed"),
        ("scored", "resolve", "supervisor", "班长", None, "", "inspection.state"),
        ("disputed", "resolve", "agent", "1001", None, "", "inspection.forbidden"),
        ("disputed", "override", "supervisor", "班长", 80.0, "改判", "overridden"),
        ("overridden", "override", "admin", "管理员", 85.0, "再改", "overridden"),
        ("scored", "override", "supervisor", "班长", None, "改判", "inspection.score"),
        ("scored", "override", "supervisor", "班长", 101.0, "改判", "inspection.score"),
        ("scored", "override", "supervisor", "班长", -1.0, "改判", "inspection.score"),
        ("scored", "override", "supervisor", "班长", 80.0, "", "inspection.note"),
        ("scored", "override", "auditor", "审计员", 80.0, "x", "inspection.forbidden"),
        ("scored", "delete", "admin", "管理员", None, "", "inspection.action"),
    ],
)
def test_next_state(
    state: str, action: str, role: str, actor: str, new: float | None, note: str, expected: str
) -> None:
    try:
        got = next_state(state, action, role, actor, "1001", new, 100.0, note)
    except ReviewRefused as exc:
        got = exc.error_id
    assert got == expected


@pytest.mark.parametrize(
    ("rule", "severity"),
    [
        ("greeting", Severity.MINOR),
        ("confirm_phone", Severity.MAJOR),
        ("emergency_transfer", Severity.FATAL),
        ("retired_rule", None),
    ],
)
def test_severity_of(rule: str, severity: Severity | None) -> None:
    assert RULES.severity_of(rule) is severity


def test_several_mistakes_are_reported_at_once() -> None:
    data = raw()
    data["greeting"]["points"] = -1
    data["closing"]["severity"] = "grave"
    data["emergency_transfer"]["lines"] = ["911", "119", "999"]
    data["long_silence"]["second"] = 10
    del data["version"]
    with pytest.raises(ConfigErrors) as caught:
        parse_inspection(data, "config/inspection.toml")
    said = {(e.file, e.key): e.message for e in caught.value.errors}
    assert said == {
        ("config/inspection.toml", "version"): "is required",
        ("config/inspection.toml", "greeting.points"): "must not be negative",
        ("config/inspection.toml", "closing.severity"): "'grave' is not one of minor, major, fatal",
        ("config/inspection.toml", "long_silence.second"): (
            "unknown key (allowed: enabled, points, severity, max_points, seconds)"
        ),
        ("config/inspection.toml", "emergency_transfer.lines"): (
            "'911', '999' are not one of 110, 119, 120, 122"
        ),
    }
