"""One-key emergency transfer on the real sandbox (GB/T 44190 6.3.1): a softphone registered
as the 110 line hears the caller, blind and three-way, with the engine up and with it stopped
(the agent's phone transfers by SIP REFER), each on both PBX kinds; the linkage lands on the
call's ticket and the recording keeps going."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.simulation import Softphone, write_tone
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import Center, closed_wav, tone_levels, wait_until

pytestmark = pytest.mark.pbx
CALLER, AGENT, OPERATOR = 440.0, 700.0, 550.0

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind (Asterisk unmarked)


@pytest.fixture
def line110(cc: Center) -> Iterator[Softphone]:
    """The 110 operator's phone, where the emergency trunk points (no registration)."""
    phone = cc.emergency_operator("110", str(write_tone(cc.workdir / "operator550.wav", OPERATOR)))
    yield phone
    phone.close()


def _call(cc: Center, number: str) -> tuple[Softphone, str, str]:
    before = {r[0] for r in cc.rows("SELECT call_id FROM calls")}
    caller = cc.caller(number)
    caller.call(number, "12345")

    def connected() -> tuple[str, str] | None:
        for r in cc.rows("SELECT call_id, agent_id, connected_at FROM calls"):
            if r[0] not in before and r[2]:
                return r[0], r[1]
        return None

    call_id, agent = wait_until(connected, 30, "the call to reach an agent")
    return caller, call_id, agent


def _operator_call(line110: Softphone, seen: int) -> dict[str, object]:
    def confirmed() -> dict[str, object] | None:
        events = line110.seen(lambda e: e.get("event") == "confirmed")
        return events[seen] if len(events) > seen else None

    found: dict[str, object] = wait_until(confirmed, 40, "the 110 line to answer")
    return found


def _links(cc: Center, call_id: str) -> list[tuple[str, str, str]]:
    rows = cc.rows(
        "SELECT mode, status, target FROM emergency_links WHERE call_id = :c ORDER BY id",
        c=call_id,
    )
    return [(r[0], r[1], r[2]) for r in rows]


@on_both_kinds
def test_blind_transfer_to_110_operator_hears_caller_and_recording_continues(
    cc: Center, line110: Softphone
) -> None:
    answered_before = len(line110.seen(lambda e: e.get("event") == "confirmed"))
    caller, call_id, agent = _call(cc, "13800000031")
    time.sleep(4)  # talk to the agent first (the recording starts a moment after the answer)
    reply = cc.engine.post(f"/api/calls/{call_id}/emergency", {"line": "110", "mode": "blind"})
    assert reply == {"call_id": call_id, "line": "110", "mode": "blind"}, reply
    _operator_call(line110, answered_before)
    cc.phones[agent].wait_for(lambda e: e.get("event") == "disconnected" and e.get("user") == agent)
    time.sleep(4)  # the caller talks to the operator
    caller.hangup("13800000031")
    heard = line110.wait_for(
        lambda e: (
            e.get("event") == "disconnected"
            and len(line110.seen(lambda x: x.get("event") == "disconnected")) > answered_before
        )
    )
    caller_level, agent_level = tone_levels(
        closed_wav(str(heard["recording"])), (CALLER, AGENT), 0.5, 0
    )
    assert caller_level > 0.5 and agent_level < 0.2, (caller_level, agent_level)
    links = wait_until(
        lambda: [x for x in _links(cc, call_id) if x[1] == "LINKED"] and _links(cc, call_id),
        20,
        "the linkage records",
    )
    assert links[0][:2] == ("blind", "requested")
    assert ("", "LINKED", "PJSIP/110@emergency") in links
    # the caller hears the operator after the transfer (the caller's phone recorded it)
    mine = closed_wav(str(caller.wait_for(lambda e: e.get("event") == "disconnected")["recording"]))
    assert tone_levels(mine, (OPERATOR,), -2.0, 0)[0] > 0.5
    # and the call's recording followed the caller through the transfer to the end
    rec = wait_until(
        lambda: cc.rows(
            "SELECT file, duration FROM recording_files WHERE call_id = :c AND leg = 'caller'",
            c=call_id,
        ),
        40,
        "the recording to be indexed",
    )[0]
    assert rec.duration > 5.0, rec.duration  # about 4 s with the agent + 4 s with 110
    assert tone_levels(cc.recordings_root / rec.file, (CALLER,), -1.0, 0)[0] > 0.5
    # the emergency leg is recorded as well: the operator and the caller
    leg = _emergency_leg(cc, call_id)
    assert min(tone_levels(leg, (CALLER, OPERATOR), 0.5, 0)) > 0.3
    ticket = wait_until(
        lambda: cc.rows("SELECT id FROM tickets WHERE call_id = :c", c=call_id), 20, "the ticket"
    )[0]
    detail = cc.engine.get(f"/api/tickets/{ticket.id}")
    assert [x["status"] for x in detail["emergency"]][:2] == ["requested", "LINKED"]


@on_both_kinds
def test_three_way_conference_agent_stays_and_operator_hears_both(
    cc: Center, line110: Softphone
) -> None:
    answered_before = len(line110.seen(lambda e: e.get("event") == "confirmed"))
    caller, call_id, agent = _call(cc, "13800000032")
    time.sleep(2)
    agent_before = _count(cc.phones[agent], agent)
    body = {"line": "110", "mode": "conference"}
    assert cc.engine.post(f"/api/calls/{call_id}/emergency", body)["mode"] == "conference"
    _operator_call(line110, answered_before)
    time.sleep(4)
    assert _count(cc.phones[agent], agent) == agent_before  # the agent stayed on the line
    caller.hangup("13800000032")
    cc.phones[agent].hangup(agent)
    heard = line110.wait_for(  # the operator's leg ends with the caller and the agent gone
        lambda e: (
            e.get("event") == "disconnected"
            and len(line110.seen(lambda x: x.get("event") == "disconnected")) > answered_before
        )
    )
    caller_level, agent_level = tone_levels(
        closed_wav(str(heard["recording"])), (CALLER, AGENT), 0.5, 3.5
    )
    assert caller_level > 0.3 and agent_level > 0.3, (caller_level, agent_level)
    leg = _emergency_leg(cc, call_id)
    assert min(tone_levels(leg, (CALLER, AGENT, OPERATOR), 0.5, 3.5)) > 0.2
    statuses = wait_until(
        lambda: [x for x in _links(cc, call_id) if x[1] == "LINKED"] and _links(cc, call_id),
        20,
        "the linkage records",
    )
    assert statuses[0][:2] == ("conference", "requested")


@on_both_kinds
def test_agent_phone_transfers_to_110_with_the_engine_stopped(
    cc: Center, line110: Softphone
) -> None:
    answered_before = len(line110.seen(lambda e: e.get("event") == "confirmed"))
    cc.engine.kill()
    caller = cc.caller("13800000033")
    caller.call("13800000033", "12345")
    # the dialplan's fallback route (app_queue, mod_callcenter) rings the agents; the first to
    # answer transfers the caller to 110 from the phone itself (SIP REFER), no engine involved
    talking_before = {user: _count(phone, user) for user, phone in cc.phones.items()}

    def answered() -> str | None:
        for user, phone in cc.phones.items():
            confirmed, disconnected = _count(phone, user)
            if confirmed > talking_before[user][0] and disconnected == talking_before[user][1]:
                return user
        return None

    agent: str = wait_until(answered, 90, "an agent to answer via the fallback route")
    time.sleep(1)
    cc.phones[agent].transfer(agent, "110")
    _operator_call(line110, answered_before)
    time.sleep(3)
    caller.hangup("13800000033")
    heard = line110.wait_for(
        lambda e: (
            e.get("event") == "disconnected"
            and len(line110.seen(lambda x: x.get("event") == "disconnected")) > answered_before
        )
    )
    level = tone_levels(closed_wav(str(heard["recording"])), (CALLER,), 0.5, 0)[0]
    assert level > 0.5, level


def _emergency_leg(cc: Center, call_id: str) -> Path:
    row = wait_until(
        lambda: cc.rows(
            "SELECT file FROM recording_files WHERE call_id = :c AND leg = 'emergency'",
            c=call_id,
        ),
        40,
        "the emergency leg's recording to be indexed",
    )[0]
    return Path(cc.recordings_root / row.file)


def _count(phone: Softphone, user: str) -> tuple[int, int]:
    """(calls confirmed, calls disconnected) of one account so far."""
    mine = [e for e in phone.seen(lambda e: e.get("user") == user)]
    return (
        sum(1 for e in mine if e.get("event") == "confirmed"),
        sum(1 for e in mine if e.get("event") == "disconnected"),
    )
