"""Ring-progressively on Asterisk, on recorded AMI text: each agent's leg is its own
Originate, so an offer that adds an agent to the one ringing originates the added agent's leg
only; the leg ringing already rings on, untouched."""

from __future__ import annotations

import asyncio
from typing import Any

from panoramisk.message import Message

from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.driver import leg_of_uniqueid
from tests.protocol.test_asterisk_driver import driver, recorded_messages


class Ok:
    success = True


def ringing(sent: list[dict[str, Any]]) -> tuple[Any, str, list[Message]]:
    """A driver whose replay stopped at 1001's leg ringing for the first caller."""
    d = driver()
    d._up = True

    async def send_action(action: dict[str, Any], **_: Any) -> list[Any]:
        sent.append(action)
        return [Ok()]

    d._manager.send_action = send_action
    messages: list[Message] = [m for m in recorded_messages() if m.get("event") != "Status"]
    call_id = next(m for m in messages if m.get("UserEvent") == "CCJoin")["CallId"]
    rest = iter(messages)
    for message in rest:
        d._manager.dispatch(message)
        if message.get("Event") == "DialBegin" and message["DestUniqueid"] != call_id:
            break
    d._calls[call_id].where = "offer"  # the engine's own offer put it there
    return d, call_id, list(rest)


async def test_an_offer_adding_an_agent_originates_only_the_added_leg() -> None:
    sent: list[dict[str, Any]] = []
    d, call_id, _ = ringing(sent)
    await d.offer(call_id, ("1001", "1002"), 10.0)
    assert [(a["Action"], a["Channel"]) for a in sent] == [("Originate", "PJSIP/1002")]
    assert not [a for a in sent if a["Action"] in ("Redirect", "Hangup")]
    # 1001's ring goes on: no miss
    assert not [e for e in d.events_nowait() if isinstance(e, pbx.AgentNotAnswered)]


async def test_an_offer_to_other_agents_while_a_leg_rings_waits_for_it() -> None:
    """The usual next offer (the agent ringing is not in it) is not a grown ring: it goes
    out once the ringing leg has ended."""
    sent: list[dict[str, Any]] = []
    d, call_id, rest = ringing(sent)
    await d.offer(call_id, ("1002",), 10.0)
    assert d._calls[call_id].pending == (("1002",), 10.0) and sent == []
    d._calls[call_id].cancelled.add("1001")  # the engine cancelled 1001's ring
    for message in rest:  # up to 1001's leg hanging up
        d._manager.dispatch(message)
        if message.get("Event") == "Hangup" and leg_of_uniqueid(message["Uniqueid"]) == (
            call_id,
            "1001",
        ):
            break
    assert pbx.AgentNotAnswered("it", call_id, "1001", "cancelled") in d.events_nowait()
    await asyncio.gather(*d._tasks)  # the pending offer, sent now
    assert [(a["Action"], a["Channel"]) for a in sent] == [("Originate", "PJSIP/1002")]


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
