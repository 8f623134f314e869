"""Agents' phones on recorded AMI text (captured from the sandbox Asterisk 22 by
`python tools/record_ami.py phones`).

The recording: PJSIPShowContacts with four agents registered and reachable; a caller to
12345 offered to 1001, whose phone answers 488 (Not Acceptable Here), then to 1002, whose
phone answers 603 (Decline), then answered by 1004; then the softphone process of 1001 and
1002 is killed (SIGKILL) and qualify turns both contacts Unreachable; PJSIPShowContacts again;
then a second caller, and an offer to 1001 (the driver's Originate) that Asterisk cannot dial
at all (OriginateResponse Failure, no DialBegin). Asterisk says DialStatus NOANSWER for both
refusals: only the Hangup's TechCause tells them from a phone that rang on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from panoramisk.message import Message

from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.driver import AsteriskDriver, agent_leg_outcome, leg_uniqueid

RECORDED = Path(__file__).parent / "recorded" / "ami-agent-phones.txt"
AGENTS = {a: f"PJSIP/{a}" for a in ("1001", "1002", "1003", "1004")}


def recorded() -> list[Message]:
    text = RECORDED.read_bytes().decode("utf-8")
    return [m for chunk in text.split("\r\n\r\n") if (m := Message.from_line(chunk.strip()))]


def driver() -> AsteriskDriver:
    return AsteriskDriver("it", "127.0.0.1", 1, "callcenter", "unused", AGENTS)


def replay(d: AsteriskDriver, messages: list[Message]) -> list[pbx.PbxEvent]:
    for message in messages:
        if "event" in message and message["event"] not in ("ContactList", "ContactListComplete"):
            d._manager.dispatch(message)
    return d.events_nowait()


def contact_lists() -> list[list[Message]]:
    """The two recorded PJSIPShowContacts replies, each as its list of events."""
    replies: list[list[Message]] = []
    for m in recorded():
        if m.get("Event") == "ContactList":
            if not replies or replies[-1][-1].get("Event") == "ContactListComplete":
                replies.append([])
            replies[-1].append(m)
        elif m.get("Event") == "ContactListComplete":
            replies[-1].append(m)
    return replies


async def test_refusals_are_told_from_no_answer_by_the_sip_response() -> None:
    events = replay(driver(), recorded())
    first = next(e.call_id for e in events if isinstance(e, pbx.CallerEntered))
    offers = [
        (e.agent_id, e.reason, e.cause)
        for e in events
        if isinstance(e, pbx.AgentNotAnswered) and e.call_id == first
    ]
    assert offers == [("1001", "refused", 488), ("1002", "refused", 603)]
    answered = [e.agent_id for e in events if isinstance(e, pbx.AgentAnswered)]
    assert answered[0] == "1004"


async def test_contact_status_reports_a_killed_phone_unreachable() -> None:
    events = replay(driver(), recorded())
    contacts = [
        (e.agent_id, e.reachable, e.status) for e in events if isinstance(e, pbx.AgentContact)
    ]
    # the first two: registered phones qualified at start (1001/1002 share a process)
    # in the order qualify found them
    assert sorted(contacts[-2:]) == [("1001", False, "unreachable"), ("1002", False, "unreachable")]
    assert all(reachable for _, reachable, _ in contacts[:-2])


async def test_agent_contacts_asks_asterisk_which_phones_are_reachable() -> None:
    before, after = contact_lists()
    for reply, expected in (
        (before, {"1001": True, "1002": True, "1003": True, "1004": True}),
        (after, {"1001": False, "1002": False, "1003": True, "1004": True}),
    ):
        d = driver()

        async def send_action(action: dict[str, Any], **_: Any) -> list[Message]:
            assert action["Action"] == "PJSIPShowContacts"
            return reply  # noqa: B023

        d._manager.send_action = send_action
        found = await d.agent_contacts()
        assert {e.agent_id: e.reachable for e in found if isinstance(e, pbx.AgentContact)} == (
            expected
        )


async def test_an_agent_with_no_contact_is_unregistered() -> None:
    d = AsteriskDriver("it", "127.0.0.1", 1, "callcenter", "unused", {"1009": "PJSIP/1009"})

    async def send_action(action: dict[str, Any], **_: Any) -> list[Message]:
        return contact_lists()[0]

    d._manager.send_action = send_action
    assert await d.agent_contacts() == [pbx.AgentContact("it", "1009", False, "unregistered")]


async def test_an_agent_dialled_through_a_local_channel_or_a_proxy_is_not_judged() -> None:
    """A Local channel (or a proxy's address) has no contact on this node: the agent is not
    reported unregistered (it would never be offered a call), only PJSIP AOR agents are."""
    dials = {"1009": "PJSIP/1009", "2001": "Local/2001@bench-agent/n", "3001": "PJSIP/3001@kam"}
    d = AsteriskDriver("it", "127.0.0.1", 1, "callcenter", "unused", dials)

    async def send_action(action: dict[str, Any], **_: Any) -> list[Message]:
        return contact_lists()[0]

    d._manager.send_action = send_action
    assert await d.agent_contacts() == [pbx.AgentContact("it", "1009", False, "unregistered")]
    d._manager.dispatch(
        Message({"Event": "ContactStatus", "AOR": "2001@bench-agent/n", "URI": "x"})
    )
    assert d.events_nowait() == []


async def test_an_offer_asterisk_could_not_dial_ends_unreachable_at_once() -> None:
    """An originate to an agent with no reachable contact rings nothing (no DialBegin;
    Asterisk fails the channel request at once): OriginateResponse Failure ends that offer
    then, not at the offer timeout, and the caller (still in cc-hold) may be offered again."""
    d = driver()
    messages = recorded()
    joins = [m for m in messages if m.get("UserEvent") == "CCJoin"]
    call_id = joins[-1]["CallId"]
    uid = leg_uniqueid(call_id, "1001", 1)
    assert not [m for m in messages if m.get("DestUniqueid") == uid]  # it never rang
    failed = next(
        m for m in messages if m.get("Event") == "OriginateResponse" and m["ActionID"] == uid
    )
    assert failed["Response"] == "Failure"
    d._manager.dispatch(joins[-1])
    d._calls[call_id].where = "offer"
    d._originated[uid] = (call_id, "1001")
    d._calls[call_id].dialling.add("1001")
    d._manager.dispatch(failed)
    events = d.events_nowait()
    assert pbx.AgentNotAnswered("it", call_id, "1001", "unreachable") in events
    assert d._calls[call_id].where == "hold" and not d._originated


def test_leg_outcomes() -> None:
    assert [agent_leg_outcome("NOANSWER", c) for c in (486, 488, 603, 480)] == ["refused"] * 4
    assert agent_leg_outcome("NOANSWER", 0) == "no_answer"
    assert agent_leg_outcome("NOANSWER", 408) == "failed"
    assert agent_leg_outcome("CONGESTION", 503) == "failed"
    assert agent_leg_outcome("CHANUNAVAIL", 0) == "unreachable"
    assert agent_leg_outcome("BUSY", 0) == "refused"
