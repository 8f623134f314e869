"""The Asterisk driver on recorded AMI text (captured from the sandbox Asterisk 22).

The recording holds two calls: a caller to 12345 offered to agent 1002, the offer cancelled
by the engine and the caller hanging up while waiting; then a caller to 12333 answered by
agent 1001, a Status snapshot while they talk, and the agent hanging up (here Asterisk
reported the caller's channel gone first, which ends the call on its own; the agent leg's
HangupRequest, first of the two, says the agent hung up).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from panoramisk.message import Message

from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.driver import AsteriskDriver

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
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "CallerEntered",
        "AgentNotAnswered",
        "CallerGone",
        "CallerEntered",
        "AgentAnswered",
        "CallerGone",
    ]
    first, not_answered, _, second, answered, gone = events
    assert isinstance(not_answered, pbx.AgentNotAnswered)
    # the engine hung up the ringing leg; Asterisk reports it as NOANSWER
    assert (not_answered.agent_id, not_answered.reason) == ("1002", "no_answer")
    assert isinstance(first, pbx.CallerEntered) and isinstance(second, pbx.CallerEntered)
    assert (first.did, first.skill, first.caller_number) == ("12345", "general", "13800000001")
    assert (second.did, second.skill) == ("12333", "labor")
    assert first.priority == 0  # the dialplan priority header must not leak in
    assert first.arrived_at > 1.7e9 and second.arrived_at > first.arrived_at
    # the agent channel's uniqueid (DialBegin's DestUniqueid), for the queue_log's CONNECT
    assert answered == pbx.AgentAnswered("it", second.call_id, "1001", "it-1795493834.3")
    # the agent's leg asked to hang up first: COMPLETEAGENT, though the caller's Hangup came
    # first
    assert gone == pbx.CallerGone("it", second.call_id, "agent")


async def test_a_ringing_agent_hung_up_by_cancel_offer_is_reported_cancelled() -> None:
    d = driver()
    messages = [m for m in recorded_messages() if m.get("event") not in (None, "Status")]
    first_join = next(m for m in messages if m.get("UserEvent") == "CCJoin")
    call_id = first_join["CallId"]
    for message in messages:
        if message.get("Event") == "DialBegin" and message.get("Linkedid") == call_id:
            # the engine cancelled this offer before the agent answered
            d._calls[call_id].cancelled.add("1002")
        d._manager.dispatch(message)
        if message.get("Event") == "DialEnd" and message.get("Linkedid") == call_id:
            break
    events = d.events_nowait()
    assert pbx.AgentNotAnswered("it", call_id, "1002", "cancelled") in events


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
    assert (call.agent_id, call.skill) == ("1001", "labor")
    # the agent's channel is mapped, so its hangup ends the call
    assert any(agent == "1001" for _, agent in d._legs.values())


async def test_offer_to_a_caller_not_yet_in_hold_waits_for_ccwait() -> None:
    d = driver()
    join = next(m for m in recorded_messages() if m.get("UserEvent") == "CCJoin")
    d._manager.dispatch(join)
    call_id = join["CallId"]
    await d.offer(call_id, ("1001",), 5.0)
    assert d._calls[call_id].pending == (("1001",), 5.0)


async def test_offer_sends_its_variables_and_the_redirect_in_one_round_trip() -> None:
    """The two Setvars and the Redirect are written back to back, before any reply: Asterisk
    runs them in order, so the join->ring path pays one AMI round trip, not three."""
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
    assert [type(e) for e in d.events_nowait()] == [pbx.CallerEntered]
    offer = asyncio.create_task(d.offer(call_id, ("1001", "1002"), 15.0))
    await asyncio.sleep(0)
    assert [(a["Action"], a.get("Variable"), a.get("Value")) for a in written] == [
        ("Setvar", "CC_TARGETS", "PJSIP/1001&PJSIP/1002"),
        ("Setvar", "CC_RING_TIMEOUT", "15"),
        ("Redirect", None, None),
    ]
    assert written[-1]["Context"] == "cc-offer"
    for reply in replies:
        reply.set_result(Message({"Response": "Success"}))
    await offer
    assert d.events_nowait() == [] and d._calls[call_id].where == "offer"


async def test_offer_whose_redirect_is_refused_fails_and_the_caller_stays_in_hold() -> None:
    d = driver()
    d._up = True

    async def send_action(action: dict[str, Any], **_: Any) -> Message:
        response = "Error" if action["Action"] == "Redirect" else "Success"
        return Message({"Response": response})

    d._manager.send_action = send_action
    for kind in ("CCJoin", "CCWait"):
        d._manager.dispatch(next(m for m in recorded_messages() if m.get("UserEvent") == kind))
    call_id = next(iter(d._calls))
    assert [type(e) for e in d.events_nowait()] == [pbx.CallerEntered]
    await d.offer(call_id, ("1001",), 15.0)
    assert d.events_nowait() == [
        pbx.CommandFailed("it", call_id, "offer", ("1001",), "redirect refused")
    ]
    assert d._calls[call_id].where == "hold"


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


def ringing_call(d: AsteriskDriver) -> None:
    """A caller in cc-hold offered to 1001, whose phone rings (AMI as Asterisk 22 sends it)."""
    for m in (
        ami(Event="UserEvent", UserEvent="CCJoin", CallId="u.7", Channel=CALLER, Did="12345"),
        ami(Event="UserEvent", UserEvent="CCWait", CallId="u.7", Channel=CALLER),
        ami(
            Event="DialBegin",
            Channel=CALLER,
            Linkedid="u.7",
            DestChannel=LEG,
            DestUniqueid="u.8",
            DialString="1001",
        ),
    ):
        d._manager.dispatch(m)
    d._calls["u.7"].where = "offer"


async def test_caller_hanging_up_while_it_rings_is_no_miss_of_the_agent() -> None:
    d = driver()
    ringing_call(d)
    for m in (
        ami(Event="HangupRequest", Channel=CALLER, Linkedid="u.7", Uniqueid="u.7"),
        ami(Event="DialEnd", Channel=CALLER, Linkedid="u.7", DestChannel=LEG, DialStatus="CANCEL"),
        ami(Event="Hangup", Channel=LEG, Linkedid="u.7", Uniqueid="u.8", Cause="0"),
        ami(Event="Hangup", Channel=CALLER, Linkedid="u.7", Uniqueid="u.7", Cause="16"),
    ):
        d._manager.dispatch(m)
    events = d.events_nowait()
    assert not [e for e in events if isinstance(e, pbx.AgentNotAnswered)]
    assert events[-1] == pbx.CallerGone("it", "u.7", "")


async def test_who_hung_up_first_is_whose_hangup_request_came_first() -> None:
    for first, by in ((LEG, "agent"), (CALLER, "caller")):
        d = driver()
        ringing_call(d)
        d._manager.dispatch(
            ami(
                Event="DialEnd",
                Channel=CALLER,
                Linkedid="u.7",
                DestChannel=LEG,
                DialStatus="ANSWER",
            )
        )
        for channel in (first, LEG if first == CALLER else CALLER):
            d._manager.dispatch(ami(Event="HangupRequest", Channel=channel, Linkedid="u.7"))
        d._manager.dispatch(ami(Event="Hangup", Channel=LEG, Linkedid="u.7", Uniqueid="u.8"))
        events = d.events_nowait()
        assert pbx.AgentAnswered("it", "u.7", "1001", "u.8") in events
        assert events[-1] == pbx.AgentLegEnded("it", "u.7", "1001", by)
