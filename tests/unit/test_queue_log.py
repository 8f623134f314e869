"""Queue events in Asterisk's queue_log format, field by field what app_queue writes:
epoch|callid|queue|agent|EVENT|data...  (apps/app_queue.c's ast_queue_log calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter import domain
from callcenter.queue_log import (
    Member,
    QueueLogWriter,
    agent_status_lines,
    format_line,
    queue_log_lines,
    queue_start_line,
)

AT = 1_700_000_000.75  # written as whole seconds
MEMBERS = {"1001": Member("PJSIP/1001", "张敏"), "1002": Member("PJSIP/1002", "PJSIP/1002")}


def test_format_line_fields() -> None:
    line = format_line(AT, "c1", "张敏", "CONNECT", 12, "a-leg", 0)
    assert line == "1700000000|c1|12345|张敏|CONNECT|12|a-leg|0"


@pytest.mark.parametrize(
    ("call_id", "agent", "queue", "expected"),
    [
        ("c1", "NONE", "12345", "1700000000|c1|12345|NONE|X"),
        ("c1", "", "12345", "1700000000|c1|12345|NONE|X"),
        ("", "PJSIP/1002", "other", "1700000000|NONE|other|PJSIP/1002|X"),
    ],
)
def test_format_line_none_fields(call_id: str, agent: str, queue: str, expected: str) -> None:
    assert format_line(AT, call_id, agent, "X", queue=queue) == expected


CALLER = "13812345678"

EVENTS: list[tuple[domain.DomainEvent, list[str]]] = [
    (  # ENTERQUEUE url|callerid|position: the caller's real position at joining
        domain.CallerJoined(
            "c1", "a", "12345", "12345热线", "市本级", CALLER, "general", 0, AT, position=3
        ),
        ["1700000000|c1|12345|NONE|ENTERQUEUE||138****5678|3"],
    ),
    (  # RINGNOANSWER ms, the member's name in the agent field
        domain.OfferRejected("c1", "1001", "no_answer", 15.25, AT),
        ["1700000000|c1|12345|张敏|RINGNOANSWER|15250"],
    ),
    (  # a refusing (busy) phone: app_queue's own word for it is RINGNOANSWER too
        domain.OfferRejected("c1", "1001", "refused", 0.04, AT, 486),
        ["1700000000|c1|12345|张敏|RINGNOANSWER|40"],
    ),
    (  # a failure at once (congestion): RINGNOANSWER
        domain.OfferRejected("c1", "1002", "failed", 0.5, AT, 503),
        ["1700000000|c1|12345|PJSIP/1002|RINGNOANSWER|500"],
    ),
    # no reachable contact: it never rang, app_queue logs nothing either
    (domain.OfferRejected("c1", "1001", "unreachable", 0.0, AT), []),
    (  # the caller hung up while it rang
        domain.OfferCancelled("c1", "1001", "abandoned", 3.2, AT),
        ["1700000000|c1|12345|张敏|RINGCANCELED|3200"],
    ),
    (  # another agent of a ring-all answered
        domain.OfferCancelled("c1", "1002", "answered_elsewhere", 1.5, AT),
        ["1700000000|c1|12345|PJSIP/1002|RINGCANCELED|1500"],
    ),
    (  # CONNECT holdtime|agent channel uniqueid|ringtime (whole seconds, truncated)
        domain.CallConnected("c1", "1001", 7.9, AT, 2.6, "1700000000.42"),
        ["1700000000|c1|12345|张敏|CONNECT|8|1700000000.42|2"],
    ),
    (  # COMPLETEAGENT holdtime|calltime|origposition: the agent hung up first
        domain.CallFinished("c1", "1001", 95.6, AT, 7.9, 2, "agent"),
        ["1700000000|c1|12345|张敏|COMPLETEAGENT|8|95|2"],
    ),
    (  # COMPLETECALLER: the caller hung up first
        domain.CallFinished("c1", "1001", 95.6, AT, 7.9, 2, "caller"),
        ["1700000000|c1|12345|张敏|COMPLETECALLER|8|95|2"],
    ),
    (  # who hung up not known: COMPLETEAGENT, original position 1
        domain.CallFinished("c1", "1001", 30.0, AT),
        ["1700000000|c1|12345|张敏|COMPLETEAGENT|0|30|1"],
    ),
    (  # ABANDON position|origposition|waittime
        domain.CallerLeft("c2", "abandoned", 42.2, 3, AT, 5),
        ["1700000000|c2|12345|NONE|ABANDON|3|5|42"],
    ),
    (
        domain.CallerLeft("c2", "timeout", 600.0, 1, AT, 4),
        ["1700000000|c2|12345|NONE|EXITWITHTIMEOUT|1|4|600"],
    ),
    (
        domain.CallerLeft("c2", "overflow", 30.0, 2, AT, 2),
        ["1700000000|c2|12345|NONE|EXITWITHTIMEOUT|2|2|30"],
    ),
    (
        domain.CallerLeft("c2", "fallback", 21.0, 1, AT, 1),
        ["1700000000|c2|12345|NONE|EXITWITHTIMEOUT|1|1|21"],
    ),
    (
        domain.CallerLeft("c2", "no_agents", 0.0, 1, AT, 1),
        ["1700000000|c2|12345|NONE|EXITEMPTY|1|1|0"],
    ),
    (  # EXITWITHKEY key|position|origposition|waittime: 1 takes the callback offer
        domain.CallerLeft("c2", "callback", 35.0, 2, AT, 3),
        ["1700000000|c2|12345|NONE|EXITWITHKEY|1|2|3|35"],
    ),
    # answered callers are logged by CONNECT, not by their leaving
    (domain.CallerLeft("c1", "answered", 7.9, 0, AT, 1), []),
    (domain.OfferMade("c1", ("1001",), AT), []),
    (domain.AgentStateChanged("1001", "available", "idle", "", AT), []),
    (domain.PbxConnection("a", True, AT), []),
]


@pytest.mark.parametrize(("event", "lines"), EVENTS)
def test_queue_log_lines(event: domain.DomainEvent, lines: list[str]) -> None:
    assert queue_log_lines(event, MEMBERS) == lines


def test_seconds_are_counted_as_app_queue_counts_them() -> None:
    """time(NULL) - start: the difference of the whole epoch seconds, not a rounded float."""
    joined, answered = 1_700_000_000.9, 1_700_000_002.1  # 1.2 s apart, across two seconds
    e = domain.CallConnected("c1", "1001", answered - joined, answered, 0.0, "x")
    assert queue_log_lines(e, MEMBERS)[0].split("|")[5] == "2"


def test_an_agent_without_a_member_entry_is_named_by_its_id() -> None:
    e = domain.OfferRejected("c1", "2001", "no_answer", 15.0, AT)
    assert queue_log_lines(e) == ["1700000000|c1|12345|2001|RINGNOANSWER|15000"]


@pytest.mark.parametrize(
    ("before", "after", "reason", "lines"),
    [
        # QueueAdd over AMI: callid MANAGER, the interface, PAUSED when added paused
        ("logged_out", "available", "", ["1700000000|MANAGER|12345|PJSIP/1001|ADDMEMBER|"]),
        (
            "logged_out",
            "on_break",
            "lunch",
            ["1700000000|MANAGER|12345|PJSIP/1001|ADDMEMBER|PAUSED"],
        ),
        # QueuePause: callid NONE, the member's name, the reason
        ("available", "on_break", "lunch", ["1700000000|NONE|12345|张敏|PAUSE|lunch"]),
        ("on_break", "available", "", ["1700000000|NONE|12345|张敏|UNPAUSE|"]),
        ("on_break", "logged_out", "", ["1700000000|MANAGER|12345|PJSIP/1001|REMOVEMEMBER|"]),
        ("available", "logged_out", "", ["1700000000|MANAGER|12345|PJSIP/1001|REMOVEMEMBER|"]),
        ("available", "available", "", []),
    ],
)
def test_agent_status_lines(before: str, after: str, reason: str, lines: list[str]) -> None:
    assert agent_status_lines(AT, "1001", before, after, reason, MEMBERS) == lines


def test_queue_start_line() -> None:
    assert queue_start_line(AT) == "1700000000|NONE|NONE|NONE|QUEUESTART|"


@pytest.mark.parametrize("number", ["13812345678", "01062345678", "62345678"])
def test_caller_number_is_masked(number: str) -> None:
    e = domain.CallerJoined("c1", "a", "12345", "l", "r", number, "general", 0, AT)
    (line,) = queue_log_lines(e)
    assert number not in line
    assert "*" in line.split("|")[6]


def test_writer_appends_lines(tmp_path: Path) -> None:
    path = tmp_path / "var" / "queue_log"
    writer = QueueLogWriter(path)
    writer.write("a|b")
    writer.write("c|d")
    writer.close()
    writer = QueueLogWriter(path)
    writer.write("e|f")
    writer.flush()
    assert path.read_text(encoding="utf-8") == "a|b\nc|d\ne|f\n"
    writer.close()
