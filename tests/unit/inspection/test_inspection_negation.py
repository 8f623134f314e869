"""Negation of the caller's emergency wording, table-tested: what a cue excuses, what it does
not (a cue too far back, another clause, two cues, an A-not-A question, the words that hold a
cue without negating), the rules it does not touch, and its settings in inspection.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from callcenter.inspection.config import load_inspection, parse_inspection
from callcenter.inspection.rules import (
    DEFAULT_NEGATION,
    CallFacts,
    Common,
    Emergency,
    ForbiddenWords,
    Negation,
    Segment,
    Severity,
    affirmed,
    check_emergency,
    check_forbidden,
    clauses,
    phrase_pattern,
)
from callcenter.tomlreader import ConfigErrors

CONFIG = Path(__file__).resolve().parents[3] / "config"
RULES = load_inspection(CONFIG)
WORDS = RULES.emergency_transfer.words  # the shipped emergency wording


def raw() -> dict[str, Any]:
    with (CONFIG / "inspection.toml").open("rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("没有着火", ("没有着火", (0,))),
        ("没有，着火了！", ("没有着火了", (0, 2))),
        ("“着火”了", ("着火了", (0, 2))),  # a quote opening the text starts no second clause
        ("没有 着火", ("没有着火", (0,))),  # a space does not end a clause
        ("", ("", (0,))),
    ],
)
def test_clauses(text: str, expected: tuple[str, tuple[int, ...]]) -> None:
    assert clauses(text) == expected


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        # said plainly
        ("我家楼下着火了", True),
        ("救命啊", True),
        ("有人受伤了", True),
        # negated: the cue right before the word, or one character between
        ("没有着火", False),
        ("没着火", False),
        ("没有人着火", False),  # 人 between
        ("没有人着火？", False),  # asked, still negated (a documented limit)
        ("没有人受伤", False),  # 有人受伤 inside 没有人受伤: 没 right before it
        ("不是着火，是冒烟", False),
        ("并非着火", False),
        ("未起火", False),
        ("家里没有煤气泄漏", False),
        ("他没打人", False),
        ("不会着火吧", False),  # 会 between
        ("没 有 着 火", False),  # spaces are not punctuation
        # a cue further back than the window (1) does not negate: counted
        ("没有看到着火", True),
        ("不是我家着火", True),
        ("没想到着火了", True),
        ("不好了着火了", True),
        # two cues cancel; a cue repeated is one
        ("不是没有着火", True),
        ("不是没有着火？", True),
        ("并非没有人受伤", True),
        ("没有没有着火", False),
        ("不是不是着火", False),
        # an A-not-A question is not a negation
        ("有没有人受伤", True),
        ("是不是着火了", True),
        ("会不会着火", True),
        # words that hold a cue without negating
        ("他一直不停打人", True),
        ("他不断打人", True),
        ("不少人受伤了", True),
        ("不好着火了", True),
        # another clause: punctuation ends the negation's reach
        ("没有，着火了", True),
        ("没有。救命！", True),
        ("不，有人受伤了", True),
        # any occurrence not negated counts
        ("不是我家着火是对门着火了", True),
        ("没有着火，但是有人受伤了", True),
        ("没有着火，也没有人受伤", False),
        # nothing to negate
        ("路灯坏了", False),
        ("没有", False),
    ],
)
def test_emergency_wording_with_negation(text: str, counted: bool) -> None:
    assert affirmed(text, phrase_pattern(WORDS), RULES.emergency_transfer.negation) is counted


@pytest.mark.parametrize(
    ("negation", "text", "counted"),
    [
        (Negation((), 1), "没有着火", True),  # no cues: negation handling off
        (Negation(("没有",), 0), "没有人着火", True),  # window 0: the cue right before only
        (Negation(("没有",), 0), "没有着火", False),
        (Negation(("没有",), 2), "没有看到着火", False),
        (Negation(("没有",), 2), "没有，看到着火", True),  # the window stops at the clause
        (Negation(("不",), 1, ()), "不停着火", False),  # without exceptions 不停 negates
        (Negation(("不",), 1, ("不停",)), "不停着火", True),
        (Negation(("沒有",), 1), "沒有着火", False),  # cues are normalized like the text
        (Negation(("ＮＯ",), 1), "no着火", False),
    ],
)
def test_negation_settings(negation: Negation, text: str, counted: bool) -> None:
    assert affirmed(text, phrase_pattern(("着火",)), negation) is counted


def test_no_pattern_is_never_affirmed() -> None:
    assert affirmed("着火", phrase_pattern(()), DEFAULT_NEGATION) is False


FATAL = Common(True, 100.0, Severity.FATAL, 100.0)


def caller(text: str, start: float = 3.0) -> Segment:
    return Segment("caller", start, start + 4, text)


@pytest.mark.parametrize(
    ("segments", "passed", "evidence"),
    [
        ((caller("没有着火，就是有烟味"),), True, None),
        ((caller("没有着火"), caller("现在着火了！", 9.0)), False, "现在着火了！"),
        ((caller("不是没有着火"),), False, "不是没有着火"),
        ((caller("没有人受伤"), caller("救命", 9.0)), False, "救命"),
    ],
)
def test_check_emergency_skips_negated_segments(
    segments: tuple[Segment, ...], passed: bool, evidence: str | None
) -> None:
    rule = Emergency(FATAL, ("着火", "救命", "有人受伤"), ("119",), ("requested",))
    [found] = check_emergency(rule, CallFacts(segments))
    assert found.passed is passed
    assert (found.evidence.text if found.evidence else None) == evidence


def test_emergency_negation_can_be_turned_off() -> None:
    rule = Emergency(FATAL, ("着火",), ("119",), ("requested",), Negation((), 1))
    [found] = check_emergency(rule, CallFacts((caller("没有着火"),)))
    assert not found.passed


@pytest.mark.parametrize(
    "text", ["我没说烦不烦", "不是不归我们管", "并非不归我们管", "没有，不归我们管"]
)
def test_forbidden_words_are_not_excused_by_a_negation(text: str) -> None:
    rule = ForbiddenWords(Common(True, 10.0, Severity.MAJOR, 30.0), ("不归我们管", "烦不烦"))
    found = check_forbidden(rule, CallFacts((Segment("agent", 0, 3, text),)))
    assert [f.passed for f in found] == [False]


def test_the_shipped_settings_are_the_defaults() -> None:
    assert RULES.emergency_transfer.negation == DEFAULT_NEGATION
    data = raw()
    for key in ("negations", "negation_window", "not_negations"):
        del data["emergency_transfer"][key]
    assert parse_inspection(data, "x").version == RULES.version  # the defaults, same version


@pytest.mark.parametrize(
    ("key", "value"),
    [("negations", ["没有"]), ("negation_window", 2), ("not_negations", [])],
)
def test_a_negation_setting_changes_the_rules_version(key: str, value: object) -> None:
    data = raw()
    data["emergency_transfer"][key] = value
    assert parse_inspection(data, "x").version != RULES.version


def test_no_cues_turn_negation_off() -> None:
    data = raw()
    data["emergency_transfer"]["negations"] = []
    rules = parse_inspection(data, "x")
    assert rules.emergency_transfer.negation.cues == ()
    assert affirmed("没有着火", phrase_pattern(WORDS), rules.emergency_transfer.negation)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("negations", ["没有", ""], "emergency_transfer.negations: must be an array of non-empty"),
        ("negations", "没有", "emergency_transfer.negations: must be an array"),
        ("negation_window", -1, "emergency_transfer.negation_window: must be from 0 to 10"),
        ("negation_window", 11, "emergency_transfer.negation_window: must be from 0 to 10"),
        ("negation_window", 1.5, "emergency_transfer.negation_window: must be an integer"),
        ("not_negations", [3], "emergency_transfer.not_negations: must be an array of non-empty"),
    ],
)
def test_negation_setting_errors(key: str, value: object, message: str) -> None:
    data = raw()
    data["emergency_transfer"][key] = value
    with pytest.raises(ConfigErrors) as caught:
        parse_inspection(data, "x.toml")
    errors = [str(e) for e in caught.value.errors]
    assert len(errors) == 1 and errors[0].startswith(f"x.toml: {message}"), errors


@pytest.mark.parametrize("rule", ["forbidden_words", "greeting", "closing", "confirmation"])
def test_only_the_emergency_rule_takes_negation_settings(rule: str) -> None:
    data = raw()
    data[rule]["negations"] = ["没有"]
    with pytest.raises(ConfigErrors, match=f"{rule}.negations: unknown key"):
        parse_inspection(data, "x.toml")
