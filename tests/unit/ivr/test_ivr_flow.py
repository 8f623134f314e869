"""IVR rules, each as a table of (DID, digits, time) walks and the path and outcome expected,
plus the session's exact actions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.flow import (
    LOOP_REASON,
    Choice,
    Collect,
    Digits,
    Hangup,
    IvrSession,
    Play,
    PromptDone,
    RouteToQueue,
    Timeout,
    Waiting,
)
from ivr.model import DTMF_DIGITS, AnnounceNode, Flow, Node, RouteNode
from ivr.walk import walk
from tests.unit.ivr.ivrdata import OPEN, TZ, at, load

CONFIG = load()
MAIN = ("hi", "menu")  # prompts heard before the first key


def route(skill: str, path: str, priority: int = 0) -> tuple[str, str, int]:
    return (skill, path, priority)


WALKS: list[tuple[str, str, str, datetime, tuple[str, ...], object]] = [
    # (id, did, digits, at, path, outcome: (skill, ivr_path, priority) or hangup reason)
    ("consult", "12345", "1", OPEN, ("main", "1"), route("general", "consult")),
    (
        "submenu complaint",
        "12345",
        "21",
        OPEN,
        ("main", "2", "sub", "1"),
        route("general", "complaint"),
    ),
    (
        "submenu report",
        "12345",
        "22",
        OPEN,
        ("main", "2", "sub", "2"),
        route("environment", "report"),
    ),
    ("help with priority", "12345", "3", OPEN, ("main", "3"), route("health", "help", 3)),
    (
        "two-digit code",
        "12345",
        "411",
        OPEN,
        ("main", "4", "code", "11"),
        route("general", "consult"),
    ),
    (
        "two-digit code 05",
        "12345",
        "405",
        OPEN,
        ("main", "4", "code", "05"),
        route("environment", "report"),
    ),
    ("invalid then valid", "12345", "91", OPEN, ("main", "1"), route("general", "consult")),
    (
        "star and hash are invalid here",
        "12345",
        "*#1",
        OPEN,
        ("main", "1"),
        route("general", "consult"),
    ),
    ("timeout then valid", "12345", "t1", OPEN, ("main", "1"), route("general", "consult")),
    (
        "two timeouts then valid",
        "12345",
        "tt2t2",
        OPEN,
        ("main", "2", "sub", "2"),
        route("environment", "report"),
    ),
    ("timeouts exhausted -> queue", "12345", "ttt", OPEN, ("main",), route("general", "agent")),
    ("mixed failures exhausted", "12345", "9t9", OPEN, ("main",), route("general", "agent")),
    ("submenu exhausted -> hangup", "12345", "2t9", OPEN, ("main", "2", "sub"), "no_input"),
    ("0 on the main menu", "12345", "0", OPEN, ("main", "0"), route("general", "agent")),
    ("0 in the submenu", "12345", "20", OPEN, ("main", "2", "sub", "0"), route("general", "agent")),
    ("0 after a failure", "12345", "90", OPEN, ("main", "0"), route("general", "agent")),
    ("no operator where switched off", "12345", "400", OPEN, ("main", "4", "code"), "no_input"),
    ("short entry ended by timeout", "12345", "41t", OPEN, ("main", "4", "code"), "no_input"),
    ("closed in the evening", "12345", "1", at(2026, 3, 2, 20), (), "closed"),
    ("open at 08:00", "12345", "1", at(2026, 3, 2, 8), ("main", "1"), route("general", "consult")),
    ("closed at 07:59", "12345", "1", at(2026, 3, 2, 7, 59), (), "closed"),
    ("closed on Saturday", "12345", "1", at(2026, 3, 7, 10), (), "closed"),
    ("holiday closed", "12345", "1", at(2026, 2, 16, 10), (), "closed"),
    (
        "make-up Saturday open",
        "12345",
        "1",
        at(2026, 2, 14, 10),
        ("main", "1"),
        route("general", "consult"),
    ),
    (
        "UTC time in Beijing hours",
        "12345",
        "1",
        datetime(2026, 3, 2, 2, tzinfo=UTC),
        ("main", "1"),
        route("general", "consult"),
    ),
    ("UTC evening is closed", "12345", "1", datetime(2026, 3, 2, 12, 30, tzinfo=UTC), (), "closed"),
    ("per-DID entry", "12333", "", OPEN, (), route("labor", "12333")),
    ("per-DID entry ignores keys", "12333", "5", OPEN, (), route("labor", "12333")),
    ("default entry, number skill", "99999", "", OPEN, (), route("market", "queue")),
]


@pytest.mark.parametrize(
    ("did", "digits", "when", "path", "outcome"), [w[1:] for w in WALKS], ids=[w[0] for w in WALKS]
)
def test_walk(
    did: str, digits: str, when: datetime, path: tuple[str, ...], outcome: object
) -> None:
    w = walk(CONFIG, did, digits, when, number_skill="market")
    assert w.path == path
    if isinstance(outcome, str):
        assert w.outcome == Hangup(outcome, path)
    else:
        assert isinstance(outcome, tuple)
        skill, ivr_path, priority = outcome
        assert w.outcome == RouteToQueue(skill, priority, ivr_path, path)


def test_prompts_heard_in_order_with_retries() -> None:
    w = walk(CONFIG, "12345", "9t1", OPEN)
    assert w.prompts == (*MAIN, "bad", "menu", "none", "menu")
    assert w.choices == (
        Choice("hours", "open", "", "main"),
        Choice("main", "invalid", "9", "main"),
        Choice("main", "timeout", "", "main"),
        Choice("main", "option", "1", "consult"),
    )


def test_exhaustion_does_not_replay_the_failure_prompt() -> None:
    w = walk(CONFIG, "12345", "2tt", OPEN)
    assert w.prompts == (*MAIN, "sub", "sub", "bye")  # sub has no timeout prompt
    assert w.choices[-1] == Choice("sub", "timeout", "", "bye")


def test_closed_hours_play_the_closed_prompt() -> None:
    w = walk(CONFIG, "12345", "", at(2026, 2, 16, 9))
    assert w.prompts == ("hi", "closed")
    assert w.choices == (Choice("hours", "closed", "", "closed_bye"),)
    assert w.visited == ("hi", "hours", "closed_bye")


@pytest.mark.parametrize(
    ("digits", "waiting_at", "unused"),
    [("", "main", ""), ("2", "sub", ""), ("2t", "sub", ""), ("1999", "", "999"), ("0 1", "", "1")],
)
def test_walk_stops_when_keys_run_out_or_call_ends(
    digits: str, waiting_at: str, unused: str
) -> None:
    w = walk(CONFIG, "12345", digits, OPEN)
    assert (w.waiting_at, w.unused) == (waiting_at, unused)
    assert (w.outcome is None) == bool(waiting_at)


def test_walk_refuses_bad_keys_and_naive_time() -> None:
    with pytest.raises(ValueError, match="0-9"):
        walk(CONFIG, "12345", "1x", OPEN)
    with pytest.raises(ValueError, match="aware"):
        walk(CONFIG, "12345", "1", datetime(2026, 3, 2, 10))


def test_walk_lines_name_prompts_path_and_outcome() -> None:
    text = "\n".join(walk(CONFIG, "12345", "21", OPEN).lines(CONFIG))
    assert "DID 12345 -> entry 12345 -> flow menu" in text
    assert "play sub: 投诉请按1，举报请按2" in text
    assert "path: main > 2 > sub > 1" in text
    assert "outcome: queue skill=general priority=+0 ivr_path=complaint" in text
    waiting = "\n".join(walk(CONFIG, "12345", "", OPEN).lines(CONFIG))
    assert "still waiting for input at main" in waiting


# --- the session's actions --------------------------------------------------------------------


def test_session_actions_step_by_step() -> None:
    s = IvrSession(CONFIG.flow_for("12345"), OPEN)
    assert s.start(OPEN) == [Play(("hi",), interruptible=False)]
    assert s.waiting is Waiting.PROMPT
    assert s.handle(Digits("1"), OPEN) == []  # the greeting is not interruptible
    assert s.handle(Timeout(), OPEN) == []
    assert s.handle(PromptDone(), OPEN) == [
        Play(("menu",), interruptible=True),
        Collect(1, 5.0, DTMF_DIGITS),
    ]
    assert s.handle(PromptDone(), OPEN) == []  # a menu waits for keys, not for the prompt
    assert s.handle(Digits("7"), OPEN) == [
        Play(("bad",), interruptible=True),
        Play(("menu",), interruptible=True),
        Collect(1, 5.0, DTMF_DIGITS),
    ]
    assert s.handle(Digits("2"), OPEN) == [
        Play(("sub",), interruptible=True),
        Collect(1, 4.0, DTMF_DIGITS),
    ]
    assert s.handle(Digits(""), OPEN) == [  # an empty entry is no input
        Play(("sub",), interruptible=True),
        Collect(1, 4.0, DTMF_DIGITS),
    ]
    assert s.handle(Timeout(), OPEN) == [
        Play(("bye",), interruptible=False),
        Hangup("no_input", ("main", "2", "sub")),
    ]
    assert s.done
    assert s.handle(Digits("1"), OPEN) == []


def test_retries_count_per_menu() -> None:
    # two failures on main, then the submenu starts with its own full allowance
    w = walk(CONFIG, "12345", "tt2t1", OPEN)
    assert w.outcome == RouteToQueue("general", 0, "complaint", ("main", "2", "sub", "1"))


def test_collect_allowed_digits_and_code_menu() -> None:
    s = IvrSession(CONFIG.flow_for("12345"), OPEN)
    s.start(OPEN)
    s.handle(PromptDone(), OPEN)
    assert s.handle(Digits("4"), OPEN) == [
        Play(("code",), interruptible=True),
        Collect(2, 5.0, "0123456789"),
    ]
    assert s.handle(Digits("1*"), OPEN) == [
        Play(("bye",), interruptible=False),
        Hangup("no_input", ("main", "4", "code")),
    ]


def test_hours_use_the_time_the_node_is_reached() -> None:
    s = IvrSession(CONFIG.flow_for("12345"), at(2026, 3, 2, 19, 59, 58))
    s.start(at(2026, 3, 2, 19, 59, 58))
    out = s.handle(PromptDone(), at(2026, 3, 2, 20, 0, 3))
    assert out == [Play(("closed",), interruptible=False), Hangup("closed", ())]


def test_session_refuses_naive_time_and_second_start() -> None:
    flow = CONFIG.flow_for("12345")
    with pytest.raises(ValueError):
        IvrSession(flow, datetime(2026, 3, 2, 10))
    s = IvrSession(flow, OPEN)
    s.start(OPEN)
    with pytest.raises(RuntimeError):
        s.start(OPEN)


def test_route_without_skill_uses_the_number_skill() -> None:
    s = IvrSession(CONFIG.flow_for("12369"), OPEN, number_skill="environment")
    assert s.start(OPEN) == [RouteToQueue("environment", 0, "queue", ())]


def test_hand_built_loop_hangs_up_instead_of_spinning() -> None:
    nodes: dict[str, Node] = {
        "a": AnnounceNode("a", (), "b"),
        "b": AnnounceNode("b", (), "a"),
        "r": RouteNode("r", "general"),
    }
    s = IvrSession(Flow("loop", "a", nodes, TZ), OPEN)
    assert s.start(OPEN) == [Hangup(LOOP_REASON, ())]
