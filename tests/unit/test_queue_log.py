"""Queue events in Asterisk's queue_log format: epoch|callid|queue|agent|EVENT|data..."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter import domain
from callcenter.queue_log import QueueLogWriter, format_line, queue_log_lines

AT = 1_700_000_000.75  # written as whole seconds


def test_format_line_fields() -> None:
    line = format_line(AT, "c1", "1001", "CONNECT", 12, "c1", 0)
    assert line == "1700000000|c1|12345|PJSIP/1001|CONNECT|12|c1|0"
    assert line.split("|")[:5] == ["1700000000", "c1", "12345", "PJSIP/1001", "CONNECT"]


@pytest.mark.parametrize(
    ("call_id", "agent", "queue", "expected"),
    [
        ("c1", "NONE", "12345", "1700000000|c1|12345|NONE|X"),
        ("c1", "", "12345", "1700000000|c1|12345|NONE|X"),
        ("c1", "1002", "other", "1700000000|c1|other|PJSIP/1002|X"),
    ],
)
def test_format_line_none_fields(call_id: str, agent: str, queue: str, expected: str) -> None:
    assert format_line(AT, call_id, agent, "X", queue=queue) == expected


@pytest.mark.parametrize("event", ["ADDMEMBER", "PAUSE"])
def test_member_events_keep_the_queue_name(event: str) -> None:
    line = format_line(AT, "NONE", "1001", event, "")
    assert line == f"1700000000|NONE|12345|PJSIP/1001|{event}|"


CALLER = "13812345678"

EVENTS: list[tuple[domain.DomainEvent, list[str]]] = [
    (
        domain.CallerJoined("c1", "a", "12345", "12345热线", "市本级", CALLER, "general", 0, AT),
        ["1700000000|c1|12345|NONE|ENTERQUEUE||138****5678|1"],
    ),
    (
        domain.OfferRejected("c1", "1001", "no_answer", 15.25, AT),
        ["1700000000|c1|12345|PJSIP/1001|RINGNOANSWER|15250"],
    ),
    (  # a refusal is not a no-answer: its own word, with the SIP response
        domain.OfferRejected("c1", "1001", "refused", 0.04, AT, 488),
        ["1700000000|c1|12345|PJSIP/1001|RINGREFUSED|40|488|refused"],
    ),
    (
        domain.OfferRejected("c1", "1001", "failed", 0.5, AT, 503),
        ["1700000000|c1|12345|PJSIP/1001|RINGFAILED|500|503|failed"],
    ),
    (
        domain.OfferRejected("c1", "1001", "unreachable", 0.0, AT),
        ["1700000000|c1|12345|PJSIP/1001|RINGFAILED|0|0|unreachable"],
    ),
    (
        domain.CallConnected("c1", "1001", 7.9, AT),
        ["1700000000|c1|12345|PJSIP/1001|CONNECT|7|c1|0"],
    ),
    (  # app_queue's third CONNECT field: seconds the agent's phone rang
        domain.CallConnected("c1", "1001", 7.9, AT, 2.6),
        ["1700000000|c1|12345|PJSIP/1001|CONNECT|7|c1|3"],
    ),
    (
        domain.CallFinished("c1", "1001", 95.6, AT),
        ["1700000000|c1|12345|PJSIP/1001|COMPLETEAGENT|0|95|1"],
    ),
    (
        domain.CallerLeft("c2", "abandoned", 42.2, 3, AT),
        ["1700000000|c2|12345|NONE|ABANDON|3|1|42"],
    ),
    (
        domain.CallerLeft("c2", "timeout", 600.0, 1, AT),
        ["1700000000|c2|12345|NONE|EXITWITHTIMEOUT|1|1|600"],
    ),
    (
        domain.CallerLeft("c2", "overflow", 30.0, 2, AT),
        ["1700000000|c2|12345|NONE|EXITWITHTIMEOUT|2|1|30"],
    ),
    (
        domain.CallerLeft("c2", "fallback", 21.0, 1, AT),
        ["1700000000|c2|12345|NONE|EXITWITHTIMEOUT|1|1|21"],
    ),
    (
        domain.CallerLeft("c2", "no_agents", 0.0, 1, AT),
        ["1700000000|c2|12345|NONE|EXITEMPTY|1|1|0"],
    ),
    # answered callers are logged by CONNECT, not by their leaving
    (domain.CallerLeft("c1", "answered", 7.9, 0, AT), []),
    (domain.OfferMade("c1", ("1001",), AT), []),
    (domain.AgentStateChanged("1001", "available", "idle", "", AT), []),
    (domain.PbxConnection("a", True, AT), []),
]


@pytest.mark.parametrize(("event", "lines"), EVENTS)
def test_queue_log_lines(event: domain.DomainEvent, lines: list[str]) -> None:
    assert queue_log_lines(event) == lines


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
