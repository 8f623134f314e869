"""Queued callback on the real sandbox, on both PBX kinds (GB/T 44190 6.2.1): waiting callers
hear their position and the callback offer, press 1, hang up, keep their place, and are called
back in order over the carrier trunk and bridged to an agent; unanswered callbacks are
retried and then handed to a person; a restart loses nothing. (回访 survey calls:
test_surveys_on_pbx.py.)"""

from __future__ import annotations

import time
import wave
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.masking import mask_phone
from callcenter.simulation import Softphone
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import Center, closed_wav, prompt_heard, tone_levels, wait_until

pytestmark = pytest.mark.pbx

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind


def _paused(cc: Center) -> None:
    desk = {a.id for a in cc.config.agents if not a.browser_phone}  # what set_all_agents sets
    cc.set_all_agents("pause", reason="meeting")
    wait_until(
        lambda: all(
            a["status"] == "on_break" for a in cc.engine.agents().values() if a["agent_id"] in desk
        ),
        20,
        "all agents on a break",
    )


def _queued_call(cc: Center, number: str) -> str:
    def found() -> str | None:
        return next(
            (c["call_id"] for c in cc.engine.queue() if c["caller"] == mask_phone(number)), None
        )

    call_id: str = wait_until(found, 30, f"{number} in the queue")
    return call_id


def _callbacks(cc: Center) -> dict[str, dict[str, Any]]:
    return {c["call_id"]: c for c in cc.engine.get("/api/callbacks")["callbacks"]}


def _seconds(cc: Center, *prompt_ids: str) -> float:
    total = 0.0
    for prompt_id in prompt_ids:
        with wave.open(str(cc.prompts / f"{prompt_id}.wav"), "rb") as w:
            total += w.getnframes() / w.getframerate()
    return total


def _accept_callback(
    cc: Center, phone: Softphone, number: str, call_id: str, listen: float = 0.0
) -> None:
    """Listen to the first announcement for `listen` seconds, then press 1 until the engine
    has the callback (the offer comes with that announcement, 2 s after joining)."""
    time.sleep(listen)
    deadline = time.monotonic() + 40
    while call_id not in _callbacks(cc):
        assert time.monotonic() < deadline, "the callback offer was never taken"
        phone.dtmf(number, "1")
        time.sleep(1.5)


def _disconnected(phone: Softphone, number: str, after: int = 0) -> dict[str, Any]:
    event: dict[str, Any] = phone.wait_for(
        lambda e: (
            e.get("event") == "disconnected"
            and e.get("user") == number
            and len(
                [
                    x
                    for x in phone.seen(lambda x: x.get("event") == "disconnected")
                    if x.get("user") == number
                ]
            )
            > after
        ),
        40,
    )
    return event


def _called_in_and_took_the_callback(cc: Center, number: str) -> tuple[Softphone, str]:
    """With every agent away: the citizen calls 12345, takes the callback and hangs up."""
    _paused(cc)
    phone = cc.citizens(number)
    phone.call(number, "12345")
    call_id = _queued_call(cc, number)
    _accept_callback(cc, phone, number, call_id)
    _disconnected(phone, number)
    return phone, call_id


def _called_back(phone: Softphone, number: str, timeout: float = 40) -> None:
    """Wait until the center's call to `number` is answered (after its own call in)."""
    phone.wait_for(lambda e: e.get("event") == "incoming" and e.get("user") == number, timeout)
    wait_until(
        lambda: (
            len(
                [
                    e
                    for e in phone.seen(lambda e: e.get("event") == "confirmed")
                    if e["user"] == number
                ]
            )
            > 1
        ),
        timeout,
        f"the callback to {number} answered",
    )


def _incoming(phone: Softphone) -> list[str]:
    return [str(e.get("user")) for e in phone.seen(lambda e: e.get("event") == "incoming")]


def _recording_base(cc: Center, call_id: str) -> Path:
    day = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y/%m/%d")
    return cc.recordings_root / day / call_id


@on_both_kinds
def test_44190_callback_keeps_the_place_and_calls_back_in_order(cc: Center) -> None:
    _paused(cc)
    first, second = "13800000051", "13800000052"
    phone = cc.citizens(first, second)
    phone.call(first, "12345")
    a = _queued_call(cc, first)
    phone.call(second, "12345")
    b = _queued_call(cc, second)
    # the first announcement: 2 s after joining, then the prompts (listened to in full)
    _accept_callback(cc, phone, first, a, 3.0 + _seconds(cc, "queue_next", "callback_offer"))
    offer_b = _seconds(cc, "queue_ahead", "digit_1", "queue_people", "callback_offer")
    _accept_callback(cc, phone, second, b, offer_b - _seconds(cc, "queue_next"))
    heard_a = closed_wav(_disconnected(phone, first)["recording"])
    heard_b = closed_wav(_disconnected(phone, second)["recording"])

    # the queue still holds both, as callbacks, in their first order
    queue = cc.engine.queue()
    assert [(c["call_id"], c["callback"]) for c in queue] == [(a, True), (b, True)]
    assert {c["state"] for c in _callbacks(cc).values() if c["call_id"] in (a, b)} == {"waiting"}
    rows = {r.call_id: r.leave_reason for r in cc.rows("SELECT * FROM calls")}
    assert rows[a] == rows[b] == "callback"
    # what they heard: the first is next in line, the second has one ahead; both got the
    # offer and the confirmation
    prompts = cc.prompts
    assert prompt_heard(heard_a, prompts / "queue_next.wav") > 0.9
    assert prompt_heard(heard_b, prompts / "queue_ahead.wav") > 0.9
    assert prompt_heard(heard_b, prompts / "queue_people.wav") > 0.9
    for heard in (heard_a, heard_b):
        assert prompt_heard(heard, prompts / "callback_offer.wav") > 0.9
        assert prompt_heard(heard, prompts / "callback_accepted.wav") > 0.9

    # one agent comes back: it is reserved for the first caller, then the second
    cc.engine.post("/api/agents/1001/resume")
    _called_back(phone, first)
    time.sleep(3)  # the citizen and the agent talk (440 Hz and 700 Hz)
    phone.hangup(first)
    _called_back(phone, second)
    time.sleep(1)
    phone.hangup(second)
    assert _incoming(phone) == [first, second]

    wait_until(
        lambda: (
            {c["state"] for c in _callbacks(cc).values() if c["call_id"] in (a, b)} == {"completed"}
        ),
        30,
        "both callbacks completed",
    )
    done = _callbacks(cc)[a]
    assert done["agent_id"] == "1001" and done["attempts"] == 1
    assert [h["outcome"] for h in done["history"]] == ["agent", "answered"]
    assert done["number"] == mask_phone(first)
    row = cc.call_row(a)
    assert row.agent_id == "1001" and row.connected_at and row.talk_seconds > 1
    base = _recording_base(cc, a)  # the answered callback, under the call's own id
    citizen = closed_wav(f"{base}-caller.wav")
    agent = closed_wav(f"{base}-agent.wav")
    caller_440, caller_700 = tone_levels(citizen, (440.0, 700.0), 0.5, -0.5)
    agent_440, agent_700 = tone_levels(agent, (440.0, 700.0), 0.5, -0.5)
    assert caller_440 > 0.5 > caller_700 and agent_700 > 0.5 > agent_440
    tickets = wait_until(
        lambda: cc.rows("SELECT agent_id FROM tickets WHERE call_id = :c", c=a), 30, "a ticket"
    )
    assert tickets[0][0] == "1001"


@on_both_kinds
def test_unanswered_callback_is_retried_then_handed_to_a_person(cc: Center) -> None:
    number = "13800000053"
    phone, call_id = _called_in_and_took_the_callback(cc, number)
    phone.answer_mode(number, "ignore")  # the citizen does not pick up any more
    cc.engine.post("/api/agents/1001/resume")
    wait_until(
        lambda: _callbacks(cc)[call_id]["state"] == "unreached", 90, "the callback to give up"
    )
    done = _callbacks(cc)[call_id]
    assert done["attempts"] == 2
    assert [h["outcome"] for h in done["history"]] == ["agent", "no_answer"] * 2
    assert _incoming(phone) == [number, number]
    assert not cc.engine.queue()
    assert not list(cc.recordings_root.glob(f"*/*/*/{call_id}*.wav"))  # only answers recorded


@on_both_kinds
def test_pending_callback_survives_an_engine_restart(cc: Center) -> None:
    number = "13800000054"
    phone, call_id = _called_in_and_took_the_callback(cc, number)
    time.sleep(1)  # the recorder has stored it
    cc.engine.kill()
    cc.engine.start()
    wait_until(
        lambda: [(c["call_id"], c["callback"]) for c in cc.engine.queue()] == [(call_id, True)],
        30,
        "the callback back in the queue",
    )
    cc.engine.post("/api/agents/1001/resume")
    phone.wait_for(
        lambda e: (
            e.get("event") == "confirmed"
            and e.get("user") == number
            and len(phone.seen(lambda x: x.get("event") == "confirmed")) > 1
        ),
        40,
    )
    time.sleep(1)
    phone.hangup(number)
    wait_until(lambda: _callbacks(cc)[call_id]["state"] == "completed", 30, "completed")
