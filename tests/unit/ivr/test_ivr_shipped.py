"""The shipped config/ivr.toml loads without errors or warnings and walks as documented."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.ivr_file import parse_menus
from ivr.flow import Hangup, RouteToQueue
from ivr.model import IvrConfig, MenuNode
from ivr.walk import walk
from tests.unit.ivr.ivrdata import at

REPO = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO / "config"
OPEN = at(2026, 3, 3, 10)  # a Tuesday


def raw() -> dict[str, Any]:
    return tomllib.loads((CONFIG_DIR / "ivr.toml").read_text(encoding="utf-8"))


def skills() -> set[str]:
    data = tomllib.loads((CONFIG_DIR / "skills.toml").read_text(encoding="utf-8"))
    return {s["id"] for s in data["skill"]}


def numbers() -> dict[str, str]:
    data = tomllib.loads((CONFIG_DIR / "numbers.toml").read_text(encoding="utf-8"))
    return {n["did"]: n["skill"] for n in data["number"]}


def shipped(menu_on: bool = False) -> IvrConfig:
    data = raw()
    if menu_on:
        data["entries"]["12345"] = "main_menu"
    return parse_menus(data, "config/ivr.toml", skills())


def test_shipped_config_loads_clean() -> None:
    config = shipped()
    assert config.warnings == ()
    assert config.timezone == "Asia/Shanghai"
    assert config.entries["12345"] == "direct"  # no menu on the main line by default
    assert config.entries["default"] == "direct"
    assert {"12315", "12333"} <= set(config.entries)
    for prompt in config.prompts.values():
        assert prompt.text.strip() and not prompt.file
    main = config.flows["main_menu"].nodes["main"]
    assert isinstance(main, MenuNode)
    assert (main.retries, main.timeout) == (2, 5.0)
    assert [(o.digits, o.label) for o in main.options] == [
        ("1", "咨询"),
        ("2", "投诉举报"),
        ("3", "求助"),
        ("4", "意见建议"),
    ]
    assert config.flows["main_menu"].operator_digit == "0"
    assert config.prompt_text("welcome") == "您好，欢迎致电12345政务服务便民热线。"


@pytest.mark.parametrize("did", ["12345", "12369", "12320", "12319", "12358", "12348", "99999"])
def test_main_line_and_unlisted_numbers_go_straight_to_their_queue(did: str) -> None:
    config = shipped()
    skill = numbers().get(did, "general")
    w = walk(config, did, "", OPEN, number_skill=skill)
    assert w.prompts == ("welcome",)
    assert w.outcome == RouteToQueue(skill, 0, "direct", ())


MAIN = [
    # (id, digits, at, path, outcome)
    ("consult", "1", OPEN, ("main", "1"), RouteToQueue("general", 0, "consult")),
    (
        "complaint",
        "21",
        OPEN,
        ("main", "2", "complaint", "1"),
        RouteToQueue("general", 0, "complaint/complaint"),
    ),
    (
        "report",
        "22",
        OPEN,
        ("main", "2", "complaint", "2"),
        RouteToQueue("general", 0, "complaint/report"),
    ),
    ("help", "3", OPEN, ("main", "3"), RouteToQueue("general", 2, "help")),
    ("suggestion", "4", OPEN, ("main", "4"), RouteToQueue("general", 0, "suggestion")),
    ("operator", "0", OPEN, ("main", "0"), RouteToQueue("general", 0, "agent")),
    (
        "operator in submenu",
        "20",
        OPEN,
        ("main", "2", "complaint", "0"),
        RouteToQueue("general", 0, "agent"),
    ),
    ("invalid then valid", "81", OPEN, ("main", "1"), RouteToQueue("general", 0, "consult")),
    ("silent caller", "ttt", OPEN, ("main",), RouteToQueue("general", 0, "agent")),
    ("spring festival", "1", at(2026, 2, 16, 10), (), RouteToQueue("general", 0, "after_hours")),
    ("spring festival 2", "1", at(2026, 2, 17, 19), (), RouteToQueue("general", 0, "after_hours")),
    ("day after", "1", at(2026, 2, 18, 10), ("main", "1"), RouteToQueue("general", 0, "consult")),
    ("night", "1", at(2026, 3, 3, 20), (), RouteToQueue("general", 0, "after_hours")),
    ("early", "1", at(2026, 3, 3, 7, 59), (), RouteToQueue("general", 0, "after_hours")),
    ("sunday", "1", at(2026, 3, 8, 8), ("main", "1"), RouteToQueue("general", 0, "consult")),
]


@pytest.mark.parametrize(
    ("digits", "when", "path", "outcome"), [m[1:] for m in MAIN], ids=[m[0] for m in MAIN]
)
def test_main_menu_switched_on(
    digits: str, when: datetime, path: tuple[str, ...], outcome: RouteToQueue
) -> None:
    w = walk(shipped(menu_on=True), "12345", digits, when)
    assert w.path == path
    assert w.outcome == RouteToQueue(outcome.skill, outcome.priority, outcome.path, path)


def test_main_menu_prompts() -> None:
    w = walk(shipped(menu_on=True), "12345", "81", OPEN)
    assert w.prompts == ("welcome", "main_menu", "invalid", "main_menu", "transfer")
    closed = walk(shipped(menu_on=True), "12345", "", at(2026, 2, 16, 10))
    assert closed.prompts == ("welcome", "closed")


MARKET = [
    ("complaint", "1", ("menu", "1"), RouteToQueue("market", 1, "12315/complaint")),
    ("consult", "2", ("menu", "2"), RouteToQueue("market", 0, "12315/consult")),
    ("operator", "0", ("menu", "0"), RouteToQueue("market", 0, "12315/agent")),
    ("retry", "t2", ("menu", "2"), RouteToQueue("market", 0, "12315/consult")),
    ("silent caller hangs up", "ttt", ("menu",), Hangup("no_input")),
    ("wrong keys hang up", "999", ("menu",), Hangup("no_input")),
]


@pytest.mark.parametrize(
    ("digits", "path", "outcome"), [m[1:] for m in MARKET], ids=[m[0] for m in MARKET]
)
def test_12315_menu(digits: str, path: tuple[str, ...], outcome: RouteToQueue | Hangup) -> None:
    w = walk(shipped(), "12315", digits, OPEN)
    assert w.path == path
    if isinstance(outcome, Hangup):
        assert w.outcome == Hangup(outcome.reason, path)
        assert w.prompts[-1] == "goodbye"
    else:
        assert w.outcome == RouteToQueue(outcome.skill, outcome.priority, outcome.path, path)
    assert w.prompts[:2] == ("market_welcome", "market_menu")


def test_12333_greets_then_labor_queue() -> None:
    w = walk(shipped(), "12333", "", at(2026, 2, 16, 23))
    assert w.prompts == ("labor_welcome",)
    assert w.outcome == RouteToQueue("labor", 0, "12333", ())


def test_route_skills_are_real_skills_and_match_the_numbers() -> None:
    config = shipped()
    known = skills()
    used = {getattr(n, "skill", "") for f in config.flows.values() for n in f.nodes.values()} - {""}
    assert used <= known
    assert numbers()["12315"] == "market" and numbers()["12333"] == "labor"
