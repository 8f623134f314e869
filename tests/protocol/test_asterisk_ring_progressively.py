"""Ring-progressively on Asterisk, on recorded AMI text: a Dial cannot gain a target, so an
offer that adds an agent to the one ringing sends the caller to Dial again with the grown
set, and the replaced Dial's ringing leg is not reported as a no-answer."""

from __future__ import annotations

from typing import Any

from panoramisk.message import Message

from callcenter.pbx import base as pbx
from tests.protocol.test_asterisk_driver import driver, recorded_messages


class Ok:
    success = True


async def test_an_offer_adding_an_agent_dials_again_with_the_grown_set() -> None:
    d = driver()
    d._up = True
    sent: list[dict[str, Any]] = []

    async def send_action(action: dict[str, Any], **_: Any) -> list[Any]:
        sent.append(action)
        return [Ok()]

    d._manager.send_action = send_action
    messages: list[Message] = [m for m in recorded_messages() if m.get("event") != "Status"]
    call_id = next(m for m in messages if m.get("UserEvent") == "CCJoin")["CallId"]
    rest = iter(messages)
    for message in rest:  # up to 1002 ringing for the first caller
        d._manager.dispatch(message)
        if message.get("Event") == "DialBegin" and message.get("Linkedid") == call_id:
            break
    d._calls[call_id].where = "offer"  # the engine's own offer put it there
    await d.offer(call_id, ("1002", "1001"), 10.0)
    targets = [a["Value"] for a in sent if a.get("Variable") == "CC_TARGETS"]
    assert targets == ["PJSIP/1002&PJSIP/1001"]
    assert [a["Context"] for a in sent if a["Action"] == "Redirect"] == ["cc-offer"]
    # the replaced Dial ends: its ringing leg to 1002 is not a no-answer (it rings again)
    for message in rest:
        d._manager.dispatch(message)
        if message.get("Event") == "Hangup" and message.get("Linkedid") == call_id:
            break
    events = d.events_nowait()
    assert not [e for e in events if isinstance(e, pbx.AgentNotAnswered)], events


async def test_an_offer_to_other_agents_while_the_dial_ends_waits_for_hold() -> None:
    """The usual next offer (the agent ringing is not in it) is not a grown ring."""
    d = driver()
    d._up = True

    async def send_action(action: dict[str, Any], **_: Any) -> list[Any]:
        return [Ok()]

    d._manager.send_action = send_action
    messages = [m for m in recorded_messages() if m.get("event") != "Status"]
    call_id = next(m for m in messages if m.get("UserEvent") == "CCJoin")["CallId"]
    for message in messages:
        d._manager.dispatch(message)
        if message.get("Event") == "DialBegin" and message.get("Linkedid") == call_id:
            break
    d._calls[call_id].where = "offer"
    await d.offer(call_id, ("1001",), 10.0)
    assert d._calls[call_id].pending == (("1001",), 10.0)
    assert not d._calls[call_id].dropping
