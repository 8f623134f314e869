"""The engine on a real PBX, each call flow on both kinds (Asterisk and FreeSWITCH): real
SIP, real RTP, the engine as its own process.

One sandbox PBX of each kind and one set of agent softphones on each serve the whole session;
each test leaves the agents logged in and idle. A test that needs the PBX fails (never skips)
when it cannot start. Tests reach the PBX only through the center's kind-neutral helpers.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import wave
from functools import partial
from pathlib import Path

import pytest

from callcenter.asr.speech import CALLER_SENTENCES, build_leg
from callcenter.asr.transcriber import Transcriber
from callcenter.simulation import Softphone, dominant_frequency, write_tone
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import (
    Center,
    closed_wav,
    connected,
    joined_call_id,
    known_calls,
    prompt_heard,
    tone_levels,
    wait_until,
)
from tools.asr_cer import cer

pytestmark = pytest.mark.pbx

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


@on_both_kinds
def test_44190_6_2_1_call_to_12345_reaches_general_agent_with_audio_both_ways(
    cc: Center,
) -> None:
    before = known_calls(cc)
    # the agents' phones live for the whole session: this call's end is the first one after
    # the calls their history already holds (an earlier module's refused call has no audio)
    ended_before = {
        user: len(phone.seen(partial(_ended_call, user))) for user, phone in cc.phones.items()
    }
    caller = cc.caller("13800000001")
    caller.call("13800000001", "12345")
    call_id = joined_call_id(cc, "12345", before)
    agent = connected(cc, call_id)
    assert agent == "1001"  # general proficiency 5: the best general seat
    agent_phone = cc.phones[agent]
    wait_until(lambda: False or _talked(cc, call_id), 10, "three seconds of talk")
    caller.hangup("13800000001")
    ended = wait_until(
        lambda: agent_phone.seen(partial(_ended_call, agent))[ended_before[agent] :],
        20,
        "the agent's phone to end the call",
    )
    heard_by_agent = ended[0]
    heard_by_caller = caller.wait_for(lambda e: e.get("event") == "disconnected")
    freq_agent, level_agent = dominant_frequency(closed_wav(heard_by_agent["recording"]))
    freq_caller, level_caller = dominant_frequency(closed_wav(heard_by_caller["recording"]))
    assert abs(freq_agent - 440) < 15 and level_agent > 500, (freq_agent, level_agent)
    assert abs(freq_caller - 700) < 15 and level_caller > 500, (freq_caller, level_caller)
    row = wait_until(lambda: _finished(cc, call_id), 10, "the call record to complete")
    assert row.leave_reason == "answered"
    assert row.hotline.startswith("12345")
    assert row.skill == "general"


@on_both_kinds
def test_44190_6_1_2_2_answered_call_recorded_legs_apart_and_indexed(cc: Center) -> None:
    before = known_calls(cc)
    caller = cc.caller("13800000011")
    caller.call("13800000011", "12345")
    call_id = joined_call_id(cc, "12345", before)
    agent = connected(cc, call_id)
    # four seconds after the engine saw the answer: the recording (started by the bridge a
    # moment later, later still on a loaded machine) holds well over 2.5 s
    wait_until(lambda: _talked(cc, call_id, 4.0), 15, "four seconds of talk")
    caller.hangup("13800000011")
    rec = wait_until(
        lambda: (cc.rows("SELECT * FROM recordings WHERE call_id = :c", c=call_id) or [None])[0],
        40,
        "the recording to be indexed",
    )
    assert rec.agent_id == agent and rec.did == "12345"
    assert rec.path.endswith("/" + call_id) and rec.duration >= 2.5
    files = {
        r.leg: r for r in cc.rows("SELECT * FROM recording_files WHERE call_id = :c", c=call_id)
    }
    assert set(files) == {"mixed", "caller", "agent"}
    for leg, row in files.items():
        path = cc.recordings_root / row.file
        data = path.read_bytes()
        assert row.size == len(data) and row.sha256 == hashlib.sha256(data).hexdigest(), leg
    assert rec.sha256 == files["mixed"].sha256
    # the caller's phone plays 440 Hz, the agent's 700 Hz: each leg holds one voice
    caller_leg = dominant_frequency(cc.recordings_root / files["caller"].file)
    agent_leg = dominant_frequency(cc.recordings_root / files["agent"].file)
    mixed = dominant_frequency(cc.recordings_root / files["mixed"].file)
    assert abs(caller_leg[0] - 440) < 15 and caller_leg[1] > 500, caller_leg
    assert abs(agent_leg[0] - 700) < 15 and agent_leg[1] > 500, agent_leg
    assert mixed[1] > 500, mixed
    jobs = cc.rows("SELECT state FROM asr_jobs WHERE call_id = :c", c=call_id)
    assert len(jobs) == 1  # queued for transcription
    # access through the API is audited, metadata and audio alike
    meta = cc.engine.get(f"/api/recordings/{call_id}")
    assert meta["sha256"] == rec.sha256 and set(meta["legs"]) == {"mixed", "caller", "agent"}
    audio = cc.engine.raw(f"/api/recordings/{call_id}/audio?leg=caller")
    assert hashlib.sha256(audio).hexdigest() == files["caller"].sha256
    log = cc.engine.get(f"/api/recordings/{call_id}/access")["access"]
    assert [(a["action"], a["leg"]) for a in log] == [("metadata", "all"), ("download", "caller")]


# live transcription streams leg audio from Asterisk only: this one runs there
def test_44192_7_1_3_call_transcribed_by_vosk_onto_the_ticket_it_created(
    cc: Center, tmp_path: Path
) -> None:
    said = tmp_path / "said.wav"
    other = tmp_path / "other.wav"
    seconds = build_leg(CALLER_SENTENCES[:3], said, tmp_path / "say", 16000)
    build_leg(CALLER_SENTENCES[5:8], other, tmp_path / "say", 16000)
    before = known_calls(cc)
    caller = cc.caller("13800000021")
    caller.call("13800000021", "12345", play=str(said))
    call_id = joined_call_id(cc, "12345", before)
    agent = connected(cc, call_id)
    # live: while the call is up, the caller's words arrive as partials and final segments
    live = wait_until(
        lambda: _live_caller_segment(cc, call_id), seconds + 30, "a live transcript segment"
    )
    assert live["partials"] > 0 and not live["closed"]
    assert all(re.search("[\uac00-\ud7a3]", x["text"]) for x in live["segments"]), live
    wait_until(lambda: _talked(cc, call_id, seconds + 1), seconds + 20, "the caller to speak")
    caller.hangup("13800000021")
    ticket = wait_until(
        lambda: (cc.rows("SELECT * FROM tickets WHERE call_id = :c", c=call_id) or [None])[0],
        30,
        "the ticket of the call",
    )
    assert (ticket.channel, ticket.agent_id, ticket.did) == ("phone", agent, "12345")
    assert ticket.hotline.startswith("12345")
    # the number is stored sealed, found by its blind index
    cipher = cc.engine.cipher()
    assert ticket.caller_number != "13800000021"
    assert cipher.decrypt(ticket.caller_number) == "13800000021"
    assert ticket.caller_number_hash == cipher.phone_index("13800000021")
    job = wait_until(
        lambda: (
            cc.rows("SELECT * FROM asr_jobs WHERE call_id = :c AND state != 'pending'", c=call_id)
            or [None]
        )[0],
        180,
        "the transcription of the call",
    )
    assert job.state == "done", job.error
    segments = cc.rows(
        "SELECT * FROM transcript_segments WHERE call_id = :c ORDER BY seq", c=call_id
    )
    heard = " ".join(x.text for x in segments if x.speaker == "caller")
    assert re.search("[\uac00-\ud7a3]", heard), segments  # Hangul: Vosk decoded speech
    assert all(0 <= x.start <= x.end <= job.audio_seconds + 0.5 for x in segments)
    # what went through the call is recognized as what was said, not as other speech
    direct = Transcriber(cc.asr_model)
    same = direct.transcribe(said, "caller").text
    unrelated = direct.transcribe(other, "caller").text
    assert cer(same, heard) < cer(unrelated, heard), (heard, same, unrelated)
    ticket = cc.rows("SELECT * FROM tickets WHERE call_id = :c", c=call_id)[0]
    assert ticket.content == heard
    proposal = json.loads(ticket.proposal)
    assert proposal["request_type"] and proposal["department"]


@on_both_kinds
def test_44190_6_2_1_merged_number_12333_reaches_labor_specialist(cc: Center) -> None:
    before = known_calls(cc)
    caller = cc.caller("13900000002")
    caller.call("13900000002", "12333")
    call_id = joined_call_id(cc, "12333", before)
    assert connected(cc, call_id) == "1002"  # the only labor seat
    caller.wait_for(lambda e: e.get("event") == "confirmed")
    caller.hangup("13900000002")
    row = wait_until(lambda: _finished(cc, call_id), 10, "the call record to complete")
    assert row.skill == "labor"
    assert "12333" in row.hotline


@on_both_kinds
def test_higher_priority_caller_served_first(cc: Center) -> None:
    cc.set_all_agents("pause", reason="meeting")
    before = known_calls(cc)
    normal = cc.caller("13700000003")
    normal.call("13700000003", "12345")
    normal_id = joined_call_id(cc, "12345", before)
    elderly = cc.caller("13700000004")
    elderly.call("13700000004", "12349")  # 敬老服务专线: priority 5
    elderly_id = joined_call_id(cc, "12349", before)
    queue = cc.engine.queue()
    assert [c["call_id"] for c in queue] == [elderly_id, normal_id]
    cc.engine.post("/api/agents/1001/resume")
    assert connected(cc, elderly_id) == "1001"
    assert cc.call_row(normal_id).connected_at is None
    elderly.hangup("13700000004")
    normal.hangup("13700000003")
    wait_until(lambda: _finished(cc, normal_id), 10, "the waiting caller's record")


@on_both_kinds
def test_agent_who_does_not_answer_is_skipped_and_backs_off(cc: Center) -> None:
    cc.phones["1001"].answer_mode("1001", "ignore")
    before = known_calls(cc)
    caller = cc.caller("13600000005")
    caller.call("13600000005", "12345")
    call_id = joined_call_id(cc, "12345", before)
    agent = connected(cc, call_id)
    assert agent == "1002"  # next best general seat after 1001 did not answer
    events = cc.rows(
        "SELECT event, agent_id FROM queue_events WHERE call_id = :c ORDER BY id", c=call_id
    )
    assert ("RINGNOANSWER", "1001") in [(e.event, e.agent_id) for e in events]
    assert cc.engine.agents()["1001"]["no_answer_count"] == 1
    caller.hangup("13600000005")


@on_both_kinds
def test_transfer_to_the_labor_queue_reaches_the_specialist(cc: Center) -> None:
    """转专席 through the API: 1001 (general) takes the call and sends it to labor; 1002, the
    labor specialist, answers; the caller hears an agent again; both segments on record."""
    for agent in ("1002", "1003", "1004"):
        cc.engine.post(f"/api/agents/{agent}/pause", {"reason": "meeting"})
    before = known_calls(cc)
    caller = cc.caller("13000000051")
    caller.call("13000000051", "12345")
    call_id = joined_call_id(cc, "12345", before)
    assert connected(cc, call_id) == "1001"
    caller.wait_for(lambda e: e.get("event") == "confirmed")
    cc.engine.post("/api/agents/1002/resume")
    reply = cc.engine.post(f"/api/calls/{call_id}/transfer", {"skill": "labor"})
    assert reply.get("skill") == "labor", reply

    wait_until(
        lambda: (
            cc.transfer_segments(call_id)
            == [("CONNECT", "1001"), ("BLINDTRANSFER", "1001"), ("CONNECT", "1002")]
        ),
        40,
        "the transfer and 1002's answer on record",
    )
    wait_until(lambda: _talked_again(cc, call_id), 20, "three seconds with 1002")
    caller.hangup("13000000051")
    heard = caller.wait_for(lambda e: e.get("event") == "disconnected", 20)
    # the last seconds of the caller's recording: 1002's answer, not hold music
    (agent_700,) = tone_levels(closed_wav(heard["recording"]), (700.0,), -2.5, 0)
    assert agent_700 > 0.2, agent_700
    wait_until(
        lambda: cc.rows(
            "SELECT event FROM queue_events WHERE call_id = :c AND agent_id = '1002' "
            "AND event LIKE 'COMPLETE%'",
            c=call_id,
        ),
        20,
        "1002's segment completed",
    )
    assert cc.engine.agents()["1001"]["state"] in ("wrap_up", "idle")


SUPERVISOR_HZ = 1100.0  # the supervisor's voice: apart from the caller's 440 and the agent's 700


@on_both_kinds
@pytest.mark.parametrize(
    ("mode", "agent_hears", "caller_hears"),
    [("listen", False, False), ("whisper", True, False), ("barge", True, True)],
)
def test_supervisor_listens_whispers_and_barges_from_a_sip_phone(
    cc: Center, tmp_path: Path, mode: str, agent_hears: bool, caller_hears: bool
) -> None:
    """监听, 耳语 and 强插 through the API: the supervisor's phone rings, and once answered
    hears both the caller (440 Hz) and the agent (700 Hz) in every mode; what the supervisor
    says (1100 Hz) is heard by nobody when listening, by the agent only when whispering, by
    both when barging in. Each is audited."""
    phone = cc.supervisor_phone(tmp_path, write_tone(tmp_path / "supervisor.wav", SUPERVISOR_HZ))
    number = {"listen": "13000000061", "whisper": "13000000062", "barge": "13000000063"}[mode]
    agent_phone = cc.phones["1001"]
    ended_before = len(agent_phone.seen(partial(_ended_call, "1001")))
    try:
        for agent in ("1002", "1003", "1004"):
            cc.engine.post(f"/api/agents/{agent}/pause", {"reason": "meeting"})
        before = known_calls(cc)
        caller = cc.caller(number)
        caller.call(number, "12345")
        call_id = joined_call_id(cc, "12345", before)
        assert connected(cc, call_id) == "1001"
        caller.wait_for(lambda e: e.get("event") == "confirmed", 20)
        extension = cc.config.supervisors[0].extension
        reply = cc.engine.post(f"/api/calls/{call_id}/spy", {"mode": mode, "extension": extension})
        assert reply.get("mode") == mode, reply
        assert phone.wait_for(lambda e: e.get("event") == "confirmed", 30)
        wait_until(lambda: _heard_for(phone, 3.0), 20, f"three seconds of {mode}")
        caller.hangup(number)
        heard = phone.wait_for(lambda e: e.get("event") == "disconnected", 20)
        by_caller = caller.wait_for(lambda e: e.get("event") == "disconnected", 20)
        by_agent = wait_until(
            lambda: agent_phone.seen(partial(_ended_call, "1001"))[ended_before:],
            20,
            "the agent's phone to end the call",
        )[0]
    finally:
        phone.close()
    caller_440, agent_700 = tone_levels(closed_wav(heard["recording"]), (440.0, 700.0), 0.5, 0)
    assert caller_440 > 0.2 and agent_700 > 0.2, (caller_440, agent_700)
    # the last two seconds each phone heard: the supervisor had been on for three
    (in_agent,) = tone_levels(closed_wav(by_agent["recording"]), (SUPERVISOR_HZ,), -2.0, 0)
    (in_caller,) = tone_levels(closed_wav(by_caller["recording"]), (SUPERVISOR_HZ,), -2.0, 0)
    print(f"{cc.kind} {mode}: supervisor heard by the agent {in_agent:.3f}, caller {in_caller:.3f}")
    assert in_agent > 0.2 if agent_hears else in_agent < 0.05, ("agent", mode, in_agent)
    assert in_caller > 0.2 if caller_hears else in_caller < 0.05, ("caller", mode, in_caller)
    assert any(e["action"] == f"spy.{mode}" for e in cc.engine.get("/api/audit")["entries"])


@on_both_kinds
def test_caller_hanging_up_while_waiting_is_recorded_as_abandoned(cc: Center) -> None:
    cc.set_all_agents("pause", reason="training")
    before = known_calls(cc)
    caller = cc.caller("13500000006")
    caller.call("13500000006", "12320")
    call_id = joined_call_id(cc, "12320", before)
    wait_until(lambda: cc.engine.queue(), 10, "the caller in the queue")
    caller.hangup("13500000006")
    row = wait_until(lambda: _left(cc, call_id), 10, "the abandon to be recorded")
    assert row.leave_reason == "abandoned"
    assert row.agent_id is None
    assert not cc.engine.queue()


@on_both_kinds
def test_waiting_caller_hears_that_it_is_next(cc: Center) -> None:
    """The first announcement (center: 2 s after joining) tells a lone waiting caller it is
    next; then the hold music goes on."""
    cc.set_all_agents("pause", reason="meeting")
    before = known_calls(cc)
    caller = cc.caller("13000000041")
    caller.call("13000000041", "12345")
    call_id = joined_call_id(cc, "12345", before)
    with wave.open(str(cc.prompts / "queue_next.wav"), "rb") as w:
        prompt = w.getnframes() / w.getframerate()
    first = cc.config.outbound.announce.first_after
    # waited through the first announcement and the loop turn that plays it (at most 2 s)
    wait_until(
        lambda: _waited(cc, call_id) > first + prompt + 4, first + prompt + 30, "the announcement"
    )
    caller.hangup("13000000041")
    heard = closed_wav(caller.wait_for(lambda e: e.get("event") == "disconnected")["recording"])
    assert prompt_heard(heard, cc.prompts / "queue_next.wav") > 0.9
    row = wait_until(lambda: _left(cc, call_id), 10, "the abandon to be recorded")
    assert row.leave_reason == "abandoned"


@on_both_kinds
def test_wrap_up_is_respected_before_the_next_offer(cc: Center) -> None:
    for agent in ("1002", "1003", "1004"):
        cc.engine.post(f"/api/agents/{agent}/pause", {"reason": "lunch"})
    before = known_calls(cc)
    first = cc.caller("13400000007")
    first.call("13400000007", "12345")
    first_id = joined_call_id(cc, "12345", before)
    assert connected(cc, first_id) == "1001"
    first.hangup("13400000007")
    wait_until(lambda: cc.engine.agents()["1001"]["state"] == "wrap_up", 10, "wrap-up")
    second = cc.caller("13400000008")
    second.call("13400000008", "12345")
    second_id = joined_call_id(cc, "12345", before | {first_id})
    # while 1001 wraps up the caller waits, not offered
    states = {c["call_id"]: c["state"] for c in cc.engine.queue()}
    assert states.get(second_id) == "waiting"
    assert cc.engine.agents()["1001"]["state"] == "wrap_up"
    assert connected(cc, second_id) == "1001"  # once wrap-up is over
    second.hangup("13400000008")


@on_both_kinds
def test_engine_killed_and_restarted_every_waiting_caller_served_in_order(cc: Center) -> None:
    cc.set_all_agents("pause", reason="briefing")
    before = known_calls(cc)
    callers = []
    ids: list[str] = []
    for i in range(3):
        number = f"1330000001{i}"
        phone = cc.caller(number)
        phone.call(number, "12345")
        ids.append(joined_call_id(cc, "12345", before | set(ids)))
        callers.append((phone, number))
    cc.engine.kill()
    cc.engine.start()  # back within fallback_after (20 s): the callers stay in the engine's hold
    queue = wait_until(
        lambda: len(cc.engine.queue()) == len(ids) and cc.engine.queue(),
        30,
        "the restarted engine to restore the waiting callers",
    )
    assert [c["call_id"] for c in queue] == ids  # every caller restored, order kept
    assert cc.engine.agents()["1001"]["status"] == "on_break"  # statuses restored too
    cc.engine.post("/api/agents/1001/resume")
    order = []
    for call_id, (phone, number) in zip(ids, callers, strict=True):
        assert connected(cc, call_id) == "1001"
        order.append(call_id)
        phone.hangup(number)
        wait_until(partial(_finished, cc, call_id), 15, "the call to finish")
    assert order == ids


@on_both_kinds
def test_control_link_cut_and_restored_loses_no_caller(cc: Center) -> None:
    cc.set_all_agents("pause", reason="briefing")
    before = known_calls(cc)
    first = cc.caller("13200000021")
    first.call("13200000021", "12345")
    first_id = joined_call_id(cc, "12345", before)
    cc.cut_link()
    wait_until(lambda: not cc.engine.get("/health")["ok"], 15, "the engine to see the cut")
    second = cc.caller("13200000022")
    second.call("13200000022", "12345")  # arrives while the engine cannot see the PBX
    second.wait_for(lambda e: e.get("event") == "confirmed")
    cc.restore_link()
    wait_until(lambda: cc.engine.get("/health")["ok"], 20, "the engine to reconnect")
    queued = wait_until(lambda: len(cc.engine.queue()) == 2 and cc.engine.queue(), 15, "2 callers")
    assert queued[0]["call_id"] == first_id
    second_id = queued[1]["call_id"]
    cc.engine.post("/api/agents/1001/resume")
    assert connected(cc, first_id) == "1001"
    first.hangup("13200000021")
    assert connected(cc, second_id) == "1001"
    second.hangup("13200000022")
    wait_until(lambda: _finished(cc, second_id), 15, "the second call to finish")


@on_both_kinds
def test_fallback_route_takes_the_caller_when_the_engine_is_down(cc: Center) -> None:
    answered_before = len(cc.fallback_answers())  # earlier tests' fallback answers
    cc.engine.stop()
    caller = cc.caller("13100000031")
    caller.call("13100000031", "12345")
    # after fallback_after seconds without a heartbeat, the PBX's own queue rings the agents
    answered = wait_until(
        lambda: [
            user
            for user, phone in cc.phones.items()
            if phone.seen(partial(_confirmed, user))
            and user in cc.fallback_answers()[answered_before:]
        ],
        90,
        "an agent to get the caller through the fallback route",
    )
    assert answered
    heard = caller.wait_for(lambda e: e.get("event") == "confirmed")
    assert heard
    caller.hangup("13100000031")
    cc.engine.start()


def _ended_call(user: str, e: dict[str, object]) -> bool:
    return e.get("event") == "disconnected" and e.get("user") == user


def _live_caller_segment(cc: Center, call_id: str) -> dict[str, object] | None:
    view: dict[str, object] = cc.engine.get(f"/api/calls/{call_id}/live-transcript")
    segments = view.get("segments")
    if isinstance(segments, list) and any(s["speaker"] == "caller" for s in segments):
        return view
    return None


def _talked(cc: Center, call_id: str, seconds: float = 3.0) -> bool:
    row = cc.call_row(call_id)
    return (
        row is not None
        and row.connected_at is not None
        and time.time() - row.connected_at > seconds
    )


def _finished(cc: Center, call_id: str) -> object:
    row = cc.call_row(call_id)
    return (
        row
        if row is not None
        and row.left_at is not None
        and (row.agent_id is None or row.ended_at is not None)
        else None
    )


def _heard_for(phone: Softphone, seconds: float) -> bool:
    """The phone's last call has been up for `seconds` (its confirmed event's time)."""
    confirmed = phone.seen(lambda e: e.get("event") == "confirmed")
    return bool(confirmed) and time.time() - float(confirmed[-1].get("at", time.time())) > seconds


def _talked_again(cc: Center, call_id: str) -> bool:
    """Three seconds since the transferred call's second CONNECT."""
    rows = cc.rows(
        "SELECT at FROM queue_events WHERE call_id = :c AND event = 'CONNECT' ORDER BY id",
        c=call_id,
    )
    return len(rows) >= 2 and time.time() - rows[-1][0] > 3.0


def _waited(cc: Center, call_id: str) -> float:
    """How long the caller has been in the queue (0 when it is not there)."""
    row = cc.call_row(call_id)
    return time.time() - row.joined_at if row is not None and row.left_at is None else 0.0


def _left(cc: Center, call_id: str) -> object:
    row = cc.call_row(call_id)
    return row if row is not None and row.left_at is not None else None


def _confirmed(user: str, event: dict[str, object]) -> bool:
    return event.get("event") == "confirmed" and event.get("user") == user
