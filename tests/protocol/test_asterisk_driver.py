"""The Asterisk driver on recorded AMI text (captured from the sandbox Asterisk 22 by
`python tools/record_ami.py calls`).

The recording holds two calls: a caller to 12345 whose offer to agent 1001 (the agent's own
leg, originated) the engine cancelled when 1001 paused, then offered to 1002, the caller
hanging up while 1002's phone rang; then a caller to 12333 answered by agent 1002
(cc-agent-up's CCAnswered), a Status snapshot while they talk, and the agent hanging up
(here Asterisk reported the caller's channel gone before the agent's leg).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.driver import AsteriskDriver, leg_of_uniqueid, leg_uniqueid

RECORDED = Path(__file__).parent / "recorded" / "ami-call-flows.txt"


def recorded_messages() -> list[Message]:
    text = RECORDED.read_bytes().decode("utf-8")
    out = []
    for chunk in text.split("\r\n\r\n"):
        message = Message.from_line(chunk.strip())
        if message is not None:
            out.append(message)
    return out


def driver() -> AsteriskDriver:
    return AsteriskDriver(
        "it", "127.0.0.1", 1, "callcenter", "unused", {"1001": "PJSIP/1001", "1002": "PJSIP/1002"}
    )


async def replay(d: AsteriskDriver) -> list[pbx.PbxEvent]:
    for message in recorded_messages():
        if "event" in message and message["event"] not in ("Status", "StatusComplete"):
            d._manager.dispatch(message)
    return d.events_nowait()


async def test_replayed_call_flows_translate_to_our_vocabulary() -> None:
    events = await replay(driver())
    # the answered call's ends come in teardown order, which varies from run to run: here
    # Asterisk reported the caller's channel gone first, which ends the call on its own (a
    # later leg's Hangup ends nothing more); the agent leg's HangupRequest, first of the two,
    # says the agent hung up
    leg_ends = [e for e in events if isinstance(e, pbx.AgentLegEnded)]
    events = [e for e in events if not isinstance(e, pbx.AgentLegEnded)]
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "CallerEntered",
        "AgentNotAnswered",
        "CallerGone",
        "CallerEntered",
        "AgentAnswered",
        "RecordingStarted",
        "CallerGone",
    ]
    first, not_answered, first_gone, second, answered, recording, gone = events
    assert isinstance(not_answered, pbx.AgentNotAnswered)
    # the engine hung up the ringing leg; Asterisk reports it as NOANSWER (a replay knows
    # nothing of the engine's cancel: see the next test)
    assert (not_answered.agent_id, not_answered.reason) == ("1001", "no_answer")
    assert isinstance(first, pbx.CallerEntered) and isinstance(second, pbx.CallerEntered)
    # the caller hung up while 1002 rang: no miss of 1002
    assert first_gone == pbx.CallerGone("it", first.call_id, "")
    assert (first.did, first.skill, first.caller_number) == ("12345", "general", "13800000001")
    assert (second.did, second.skill) == ("12333", "labor")
    assert first.priority == 0  # the dialplan priority header must not leak in
    assert first.arrived_at > 1.7e9 and second.arrived_at > first.arrived_at
    # the agent leg's uniqueid (the driver's own, naming call and agent), for the queue_log
    assert isinstance(answered, pbx.AgentAnswered)
    assert (answered.call_id, answered.agent_id) == (second.call_id, "1002")
    assert leg_of_uniqueid(answered.agent_leg) == (second.call_id, "1002")
    assert re.match(r"^[\w-]*?\d+\.\d+$", answered.agent_leg)  # shaped like Asterisk's own
    assert isinstance(recording, pbx.RecordingStarted)
    assert recording.path.endswith(f"/{second.call_id}")  # recorded once bridged (cc-connect)
    # the agent hung up: COMPLETEAGENT
    assert gone == pbx.CallerGone("it", second.call_id, "agent")
    assert leg_ends in ([], [pbx.AgentLegEnded("it", second.call_id, "1002", "agent")])


async def test_a_ringing_agent_hung_up_by_cancel_offer_is_reported_cancelled() -> None:
    d = driver()
    messages = [m for m in recorded_messages() if m.get("event") not in (None, "Status")]
    first_join = next(m for m in messages if m.get("UserEvent") == "CCJoin")
    call_id = first_join["CallId"]
    for message in messages:
        if message.get("Event") == "DialBegin" and message["DestUniqueid"] != call_id:
            # the engine cancelled this offer before the agent answered
            d._calls[call_id].cancelled.add("1001")
        d._manager.dispatch(message)
        if message.get("Event") == "Hangup" and leg_of_uniqueid(message["Uniqueid"]) == (
            call_id,
            "1001",
        ):
            break
    events = d.events_nowait()
    assert pbx.AgentNotAnswered("it", call_id, "1001", "cancelled") in events


async def test_snapshot_rebuilds_a_call_in_progress_from_status_variables() -> None:
    d = driver()
    d._up = True
    status = [m for m in recorded_messages() if m.get("event") in ("Status", "StatusComplete")]

    async def send_action(action: dict[str, Any], **_: Any) -> list[Message]:
        assert action["Action"] == "Status"
        assert "CC_ARRIVED" in action["Variables"]
        return status

    d._manager.send_action = send_action
    found = await d.snapshot()
    assert len(found) == 1
    call = found[0]
    assert isinstance(call, pbx.CallInProgress)
    assert (call.agent_id, call.skill) == ("1002", "labor")
    # the agent's channel is mapped (by its uniqueid), so its hangup ends the call
    assert any(agent == "1002" for _, agent in d._legs.values())


async def test_offer_to_a_caller_not_yet_in_hold_rings_at_once() -> None:
    """The agent's leg rings while the caller is still on its way to cc-hold: the offer does
    not touch the caller's channel."""
    d = driver()
    d._up = True
    sent: list[dict[str, Any]] = []

    async def send_action(action: dict[str, Any], **_: Any) -> Message:
        sent.append(action)
        return Message({"Response": "Success"})

    d._manager.send_action = send_action
    join = next(m for m in recorded_messages() if m.get("UserEvent") == "CCJoin")
    d._manager.dispatch(join)
    call_id = join["CallId"]
    await d.offer(call_id, ("1001",), 5.0)
    assert [a["Action"] for a in sent] == ["Originate"]
    assert d._calls[call_id].pending is None and d._calls[call_id].where == "offer"


async def test_offer_originates_every_agents_leg_in_one_round_trip() -> None:
    """One Originate per agent, written back to back before any reply: the join->ring path
    pays one AMI round trip; the caller's channel is only named (the answer brings it)."""
    d = driver()
    d._up = True
    written: list[dict[str, Any]] = []
    replies: list[asyncio.Future[Message]] = []

    def send_action(action: dict[str, Any], **_: Any) -> asyncio.Future[Message]:
        written.append(action)
        replies.append(asyncio.get_running_loop().create_future())
        return replies[-1]

    d._manager.send_action = send_action
    for kind in ("CCJoin", "CCWait"):
        d._manager.dispatch(next(m for m in recorded_messages() if m.get("UserEvent") == kind))
    call_id = next(iter(d._calls))
    channel = d._calls[call_id].channel
    assert [type(e) for e in d.events_nowait()] == [pbx.CallerEntered]
    offer = asyncio.create_task(d.offer(call_id, ("1001", "1002"), 15.0))
    await asyncio.sleep(0)
    assert [(a["Action"], a["Channel"], a["Context"]) for a in written] == [
        ("Originate", "PJSIP/1001", "cc-agent-up"),
        ("Originate", "PJSIP/1002", "cc-agent-up"),
    ]
    for action, agent in zip(written, ("1001", "1002"), strict=True):
        assert action["ChannelId"] == action["ActionID"]
        assert leg_of_uniqueid(action["ChannelId"]) == (call_id, agent)
        assert action["Timeout"] == "20000"  # the offer's 15 s and a grace: the engine cancels
        assert f"CC_CALLER_CHAN={channel}" in action["Variable"]
        assert action["PreDialGoSub"] == "cc-predial,s,1"
    for reply in replies:
        reply.set_result(Message({"Response": "Success"}))
    await offer
    assert d.events_nowait() == [] and d._calls[call_id].where == "offer"


async def test_offer_whose_originates_are_refused_fails_and_the_caller_stays_in_hold() -> None:
    d = driver()
    d._up = True

    async def send_action(action: dict[str, Any], **_: Any) -> Message:
        return Message({"Response": "Error" if action["Action"] == "Originate" else "Success"})

    d._manager.send_action = send_action
    for kind in ("CCJoin", "CCWait"):
        d._manager.dispatch(next(m for m in recorded_messages() if m.get("UserEvent") == kind))
    call_id = next(iter(d._calls))
    assert [type(e) for e in d.events_nowait()] == [pbx.CallerEntered]
    await d.offer(call_id, ("1001",), 15.0)
    assert d.events_nowait() == [
        pbx.CommandFailed("it", call_id, "offer", ("1001",), "originate refused")
    ]
    assert d._calls[call_id].where == "hold" and not d._originated


async def test_offer_to_an_unknown_caller_fails_as_caller_gone() -> None:
    d = driver()
    await d.offer("nobody", ("1001",), 5.0)
    assert d.events_nowait() == [
        pbx.CommandFailed("it", "nobody", "offer", ("1001",), "caller_gone")
    ]


CALLBACK_AND_SURVEY = Path(__file__).parent / "recorded" / "ami-callback-survey.txt"


async def test_replayed_callback_and_survey_translate_to_our_vocabulary() -> None:
    """Recorded from the sandbox: a caller to 12345 takes the callback offer and hangs up;
    agent 1001 is reserved and answers, the citizen answers the callback, talks and hangs up;
    then a survey call answered with 1 (满意)."""
    d = driver()

    async def accepted(action: dict[str, str | list[str]]) -> bool:
        return True

    d._action = accepted  # type: ignore[method-assign]  # no PBX: the Originate is accepted
    call_id = "it-1795630102.0"
    call = pbx.OutboundCall(call_id, 1, "13800000071", 30.0, "12345", "general")
    text = CALLBACK_AND_SURVEY.read_bytes().decode("utf-8")
    messages = [m for c in text.split("\r\n\r\n") if (m := Message.from_line(c.strip()))]
    events: list[pbx.PbxEvent] = []
    for message in messages:
        if message.get("Event") == "DialBegin" and not d._callbacks and not events[3:]:
            await d.callback(call, "1001", 15.0)  # the engine reserved 1001 just before
        d._manager.dispatch(message)
        events += d.events_nowait()
    assert events == [
        pbx.CallerEntered(
            "it", call_id, "PJSIP/carrier-00000000", "12345", "general", 0,
            1795630102.360, "13800000071",
        ),
        pbx.CallbackRequested("it", call_id, "13800000071"),
        pbx.CallerGone("it", call_id),  # the caller hung up after the confirmation
        pbx.AgentAnswered("it", call_id, "1001"),  # the reservation answered
        pbx.CallbackDialed("it", call_id, "answered"),  # the citizen picked up
        pbx.RecordingStarted("it", call_id, events[5].path),  # type: ignore[union-attr]
        pbx.AgentLegEnded("it", call_id, "1001"),
        pbx.CallbackDialed("it", call_id, "ended"),
        pbx.SurveyProgress("it", "1", "answered"),
        pbx.SurveyProgress("it", "1", "1"),
        pbx.OutboundEnded("it", "1", "answered"),
    ]  # fmt: skip
    assert events[5].path.endswith(f"/{call_id}")  # type: ignore[union-attr]


def ami(**fields: str) -> Message:
    message = Message.from_line("\r\n".join(f"{k}: {v}" for k, v in fields.items()))
    assert message is not None
    return message


CALLER = "PJSIP/carrier-00000007"
LEG = "PJSIP/1001-00000008"
LEG_UID = leg_uniqueid("u.7", "1001", 1)


def ringing_call(d: AsteriskDriver) -> None:
    """A caller in cc-hold offered to 1001, whose originated leg rings (AMI as Asterisk 22
    sends it: Originate dials alone, so DialBegin names no caller)."""
    for m in (
        ami(Event="UserEvent", UserEvent="CCJoin", CallId="u.7", Channel=CALLER, Did="12345"),
        ami(Event="UserEvent", UserEvent="CCWait", CallId="u.7", Channel=CALLER),
        ami(Event="DialBegin", DestChannel=LEG, DestUniqueid=LEG_UID, DialString="1001"),
    ):
        d._manager.dispatch(m)
    d._calls["u.7"].where = "offer"


def quiet(d: AsteriskDriver) -> list[str]:
    """No PBX: actions accepted, hangups kept (the channel or uniqueid each names)."""
    hung: list[str] = []

    async def hangup(channel: str) -> None:
        hung.append(channel)

    async def accepted(actions: list[dict[str, str | list[str]]]) -> list[bool]:
        return [True] * len(actions)

    d._hangup_channel = hangup  # type: ignore[method-assign]
    d._actions = accepted  # type: ignore[method-assign]
    return hung


async def test_caller_hanging_up_while_it_rings_is_no_miss_of_the_agent() -> None:
    d = driver()
    ringing_call(d)
    hung = quiet(d)
    for m in (
        ami(Event="HangupRequest", Channel=CALLER, Linkedid="u.7", Uniqueid="u.7"),
        ami(Event="Hangup", Channel=CALLER, Linkedid="u.7", Uniqueid="u.7", Cause="16"),
    ):
        d._manager.dispatch(m)
    await asyncio.sleep(0)
    assert hung == [LEG_UID]  # the ringing leg ends with its caller (Dial used to do this)
    for m in (
        ami(Event="DialEnd", DestChannel=LEG, DestUniqueid=LEG_UID, DialStatus="NOANSWER"),
        ami(Event="Hangup", Channel=LEG, Linkedid=LEG_UID, Uniqueid=LEG_UID, Cause="0"),
    ):
        d._manager.dispatch(m)
    events = d.events_nowait()
    assert not [e for e in events if isinstance(e, pbx.AgentNotAnswered)]
    assert events[-1] == pbx.CallerGone("it", "u.7", "")


async def test_the_first_answer_wins_and_the_other_legs_are_cancelled() -> None:
    d = driver()
    ringing_call(d)
    other, other_uid = "PJSIP/1002-00000009", leg_uniqueid("u.7", "1002", 2)
    d._manager.dispatch(
        ami(Event="DialBegin", DestChannel=other, DestUniqueid=other_uid, DialString="1002")
    )
    hung = quiet(d)
    d._manager.dispatch(
        ami(Event="UserEvent", UserEvent="CCAnswered", CallId="u.7", Channel=other,
            Uniqueid=other_uid)
    )  # fmt: skip
    await asyncio.sleep(0)
    assert hung == [LEG_UID]
    d._manager.dispatch(ami(Event="Hangup", Channel=LEG, Uniqueid=LEG_UID, Cause="16"))
    events = d.events_nowait()
    assert events[1:] == [
        pbx.AgentAnswered("it", "u.7", "1002", other_uid),
        pbx.AgentNotAnswered("it", "u.7", "1001", "cancelled"),
    ]


async def test_an_unanswered_leg_is_told_by_its_sip_response_without_a_dial_end() -> None:
    d = driver()
    ringing_call(d)
    quiet(d)
    d._manager.dispatch(
        ami(Event="Hangup", Channel=LEG, Uniqueid=LEG_UID, Cause="21", TechCause="603")
    )
    events = d.events_nowait()
    assert events[-1] == pbx.AgentNotAnswered("it", "u.7", "1001", "refused", 603)
    assert d._calls["u.7"].where == "hold"  # nothing rings: the caller may be offered again


async def test_who_hung_up_first_is_whose_hangup_request_came_first() -> None:
    for first, by in ((LEG, "agent"), (CALLER, "caller")):
        d = driver()
        ringing_call(d)
        quiet(d)
        d._manager.dispatch(
            ami(Event="UserEvent", UserEvent="CCAnswered", CallId="u.7", Channel=LEG,
                Uniqueid=LEG_UID)
        )  # fmt: skip
        for channel in (first, LEG if first == CALLER else CALLER):
            d._manager.dispatch(ami(Event="HangupRequest", Channel=channel, Linkedid="u.7"))
        d._manager.dispatch(ami(Event="Hangup", Channel=LEG, Linkedid="u.7", Uniqueid=LEG_UID))
        events = d.events_nowait()
        assert pbx.AgentAnswered("it", "u.7", "1001", LEG_UID) in events
        assert events[-1] == pbx.AgentLegEnded("it", "u.7", "1001", by)


def test_a_legs_uniqueid_names_call_and_agent_in_asterisks_shape() -> None:
    for call_id in ("it-1796653479.0", "bench-17.3", "node_a-1.22", "1796.5"):
        uid = leg_uniqueid(call_id, "1001", 6653416706)
        assert re.match(r"^[\w-]*?\d+\.\d+$", uid) and uid != call_id
        assert leg_of_uniqueid(uid) == (call_id, "1001")
        assert leg_of_uniqueid(uid + ";2") is None  # a Local channel's other half
    assert leg_of_uniqueid("it-1796653479.0") is None  # a caller's own
