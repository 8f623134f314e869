"""漏接回拨 on the real sandbox over real SIP and RTP: a citizen calls 12345 over the carrier
trunk while every agent is away, waits past [missed].min_wait and hangs up; the engine makes
a callback task, and once an agent is free it rings the agent, then calls the citizen's
number back over the carrier trunk (the citizen's phone answers at that number), records the
call and closes the task completed; the wallboard and /metrics count it."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from callcenter.masking import mask_phone
from tests.integration.harness import Center, closed_wav, engine_with_file, tone_levels, wait_until
from tests.integration.test_agent_phones_on_pbx import metric, wallboard
from tests.integration.test_callbacks_on_pbx import (
    _callbacks,
    _called_back,
    _disconnected,
    _incoming,
    _paused,
    _queued_call,
    _recording_base,
)

pytestmark = pytest.mark.pbx

MIN_WAIT = 4


def missed_on(cc: Center) -> contextlib.AbstractContextManager[None]:
    """The engine restarted with [missed] on (min_wait MIN_WAIT s); the session's file after."""
    return engine_with_file(
        cc,
        "outbound.toml",
        lambda text: text.replace(
            "[missed]\nenabled = false\nmin_wait = 3",
            f"[missed]\nenabled = true\nmin_wait = {MIN_WAIT}",
        ),
    )


def _task_of(cc: Center, call_id: str) -> dict[str, Any] | None:
    return next((c for c in _callbacks(cc).values() if c.get("missed_call_id") == call_id), None)


def test_caller_who_gave_up_is_called_back_when_an_agent_is_free(cc: Center) -> None:
    number = "13800000071"
    with missed_on(cc):
        _paused(cc)
        phone = cc.citizens(number)
        phone.call(number, "12345")
        call_id = _queued_call(cc, number)
        wait_until(
            lambda: any(
                c["call_id"] == call_id and c["waiting_seconds"] > MIN_WAIT + 1
                for c in cc.engine.queue()
            ),
            60,
            f"the caller waiting past {MIN_WAIT} s",
        )
        phone.hangup(number)
        _disconnected(phone, number)

        task = wait_until(lambda: _task_of(cc, call_id), 60, "a callback task for the missed call")
        assert (task["kind"], task["missed_reason"], task["number"]) == (
            "missed",
            "abandoned",
            mask_phone(number),
        )
        task_id = task["call_id"]
        assert task_id != call_id and task["attempts"] == 0
        queued = {c["call_id"]: c for c in cc.engine.queue()}
        assert queued[task_id]["callback"] and queued[task_id]["priority"] == -100
        assert cc.call_row(call_id).leave_reason == "abandoned"

        # an agent comes back: it is rung first, then the citizen's number is called
        cc.engine.post("/api/agents/1001/resume")
        _called_back(phone, number, timeout=90)
        time.sleep(3)  # the citizen and the agent talk (440 Hz and 700 Hz)
        phone.hangup(number)
        assert _incoming(phone) == [number]

        done = wait_until(
            lambda: (t := _task_of(cc, call_id)) and t["state"] == "completed" and t,
            60,
            "the missed-call callback completed",
        )
        assert done["agent_id"] == "1001" and done["attempts"] == 1
        assert [h["outcome"] for h in done["history"]] == ["agent", "answered"]
        assert done["first_dialed_at"] >= done["requested_at"]
        # recorded like every callback, under the task's own id
        base = _recording_base(cc, task_id)
        citizen = closed_wav(f"{base}-caller.wav", 30)
        agent = closed_wav(f"{base}-agent.wav", 30)
        assert tone_levels(citizen, (440.0,), 0.5, -0.5)[0] > 0.5
        assert tone_levels(agent, (700.0,), 0.5, -0.5)[0] > 0.5

        # counted: the wallboard (since this engine started) and /metrics
        board = wait_until(
            lambda: (b := wallboard(cc))["missed_callbacks"]["called_back"] == 1 and b,
            60,
            "the wallboard's missed-call figures",
        )
        figures = board["missed_callbacks"]
        assert (figures["missed"], figures["rate"], figures["reached"]) == (1, 1.0, 1)
        assert figures["p50"] == figures["p90"] and figures["p50"] > 0
        assert metric(cc, "callcenter_missed_callback_seconds_count") == 1.0
        wait_until(  # read from storage every 15 s: today's rate survives a restart
            lambda: metric(cc, "callcenter_missed_callback_rate") == 1.0,
            60,
            "the missed-call callback rate in /metrics",
        )
