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


async def test_overflow_takes_the_callers_queue_target_to_the_dialplan() -> None:
    """A named queue's overflow target rides on the caller's channel (CC_OVERFLOW), which
    cc-overflow jumps to before [queue]'s own target."""
    d = driver()
    d._up = True
    sent: list[dict[str, Any]] = []

    async def send_action(action: dict[str, Any], **_: Any) -> list[Any]:
        sent.append(action)
        return [Ok()]

    d._manager.send_action = send_action
    join = next(m for m in recorded_messages() if m.get("UserEvent") == "CCJoin")
    d._manager.dispatch(join)
    await d.overflow(join["CallId"], "cc-legal,s,1", "overflow")
    assert [(a["Action"], a.get("Variable"), a.get("Value")) for a in sent] == [
        ("Setvar", "CC_OVERFLOW", "cc-legal,s,1"),
        ("Redirect", None, None),
    ]
    assert sent[1]["Context"] == "cc-overflow"


def test_cc_overflow_goes_to_the_queues_target_first() -> None:
    from callcenter.config import load_config
    from callcenter.pbx.asterisk.dialplan import RenderParams, render
    from tests.unit.fakes import SHIPPED_CONFIG
    from tests.unit.test_dialplan import with_secrets

    config = load_config(SHIPPED_CONFIG)
    ext = render(config, with_secrets(config, RenderParams()))["extensions.conf"]
    section = ext.split("[cc-overflow]", 1)[1].split("\n[", 1)[0]
    lines = [x for x in section.splitlines() if x.startswith(("exten", " same"))]
    assert lines[0] == 'exten => s,1,GotoIf($["${CC_OVERFLOW}" != ""]?${CC_OVERFLOW})'
    assert lines[1] == " same => n,Goto(cc-timeout,s,1)"
