"""Finished calls as the dialplan's hangup handler (cc-done) keeps them in AstDB, read back as
FinishedCall. The values are copied from the sandbox Asterisk 22's AstDB after the restore
tests (slot 1): an engine-route answer, a caller who hung up waiting, a caller app_queue
served after the fallback, and an entry the driver cannot read."""

from __future__ import annotations

from typing import Any

import pytest
from panoramisk.message import Message

from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.driver import FINISHED_FAMILY, AsteriskDriver

AGENTS = {a: f"PJSIP/{a}" for a in ("1001", "1002", "1003", "1004")}
KEPT = {
    "it1-1796606142.0": "v1|1796606142.040|1796606149.497|offer|12345|general|0|13300000101|1001"
    "|1796606142.382||PJSIP/1001-00000001|1796606142.376",
    "it1-1796606194.44": "v1|1796606194.382|1796606194.568|hold|12345|general|0|13100000301|||||",
    "it1-1796606194.45": "v1|1796606194.526|1796606217.916|fallback|12349|general|5|13100000302"
    "|||1796606215.543|PJSIP/1003-00000018|1796606215.860",
    "it1-1796606199.1": "v0|garbage",
}


def reply() -> list[Message]:
    lines = ["Response: Success", "EventList: start", "Message: Result will follow"]
    messages = [Message.from_line("\r\n".join(lines))]
    for key, value in KEPT.items():
        text = (
            f"Event: DBGetTreeResponse\r\nFamily: {FINISHED_FAMILY}\r\nKey: {key}\r\nVal: {value}"
        )
        messages.append(Message.from_line(text))
    messages.append(Message.from_line("Event: DBGetTreeComplete\r\nEventList: Complete"))
    return [m for m in messages if m]


async def test_finished_calls_read_from_astdb(monkeypatch: pytest.MonkeyPatch) -> None:
    d = AsteriskDriver("it", "127.0.0.1", 1, "callcenter", "unused", AGENTS)
    asked: list[dict[str, str]] = []

    async def send_action(action: dict[str, str], **_: Any) -> list[Message]:
        asked.append(action)
        return reply()

    monkeypatch.setattr(d._manager, "send_action", send_action)
    found = await d.finished_calls()
    assert asked == [{"Action": "DBGetTree", "Family": "cc-done"}]
    assert found == [
        pbx.FinishedCall(
            "it", "it1-1796606142.0", "12345", "general", 0, "13300000101",
            1796606142.040, 1796606149.497, "engine", "1001", 1796606142.376, 0.0,
        ),
        pbx.FinishedCall(
            "it", "it1-1796606194.44", "12345", "general", 0, "13100000301",
            1796606194.382, 1796606194.568, "engine", "", 0.0, 0.0,
        ),
        pbx.FinishedCall(
            "it", "it1-1796606194.45", "12349", "general", 5, "13100000302",
            1796606194.526, 1796606217.916, "fallback", "1003", 1796606215.860, 1796606215.543,
        ),
    ]  # fmt: skip


async def test_an_agent_rung_through_the_proxy_is_read_from_the_engine_s_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Agents dialled through the SIP proxy (PJSIP/1001@kamailio) answer on a channel named
    after the proxy, not the agent: the agent the engine marked on the caller (CC_AGENT) is
    kept. Value copied from a node's AstDB after tests/integration/test_nodes_on_kamailio.py."""
    proxied = {a: f"PJSIP/{a}@kamailio" for a in ("1001", "1002")}
    d = AsteriskDriver("ka4", "127.0.0.1", 1, "callcenter", "unused", proxied)
    value = (
        "v1|1796642261.457|1796642269.293|offer|12345|general|0|13300000412|1001"
        "|1796642269.203||PJSIP/kamailio-00000003|1796642269.201"
    )
    text = f"Event: DBGetTreeResponse\r\nFamily: {FINISHED_FAMILY}\r\nKey: ka4-1.0\r\nVal: {value}"

    async def send_action(action: dict[str, str], **_: Any) -> list[Message]:
        return [Message.from_line(text)]

    monkeypatch.setattr(d._manager, "send_action", send_action)
    [found] = await d.finished_calls()
    assert (found.agent_id, found.connected_at) == ("1001", 1796642269.201)
    # cc-answered names the answering channel by what was dialled: the agent is known even
    # when the engine was away and marked nobody (CC_AGENT empty)
    value = (
        "v1|1796642321.171|1796642328.913|offer|12345|general|0|13300000412|"
        "|||PJSIP/1001@kamailio-00000003|1796642328.818"
    )
    text = f"Event: DBGetTreeResponse\r\nFamily: {FINISHED_FAMILY}\r\nKey: ka4-2.0\r\nVal: {value}"
    [found] = await d.finished_calls()
    assert (found.agent_id, found.connected_at) == ("1001", 1796642328.818)
