"""ACD behaviour a queue engineer expects from app_queue / mod_callcenter (issue 18), over real
SIP and RTP on the sandbox Asterisk:

- an agent put on break while its phone rings: the ring stops at once (the phone sees the
  INVITE cancelled), the caller is offered to the next agent, who answers long before the
  offer timeout; the agent is charged no miss, and the ring is a RINGCANCELED line;
- a caller who takes the callback while an agent's phone rings: the ring stops the same way;
- several queue policies in one center: a named queue's wrap-up holds after its calls while
  [queue]'s holds after the others.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from callcenter.paths import REPO
from callcenter.simulation import Softphone
from tests.integration.harness import (
    Center,
    connected,
    engine_with_queue,
    joined_call_id,
    known_calls,
    wait_until,
)

pytestmark = pytest.mark.pbx

OFFER_TIMEOUT = 60  # long: a caller reaching the second agent did not wait for it
ANSWER_AFTER = 15.0  # an agent's phone that answers late, but inside the offer timeout


def ring_events(cc: Center, call_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = cc.rows(
        "SELECT event, agent_id, data FROM queue_events WHERE call_id = :c ORDER BY id", c=call_id
    )
    return [(r.event, r.agent_id, json.loads(r.data)) for r in rows if r.event.startswith("RING")]


def phone_events(phone: Softphone, user: str, kind: str) -> int:
    return len(phone.seen(lambda e: e.get("event") == kind and e.get("user") == user))


def queue_log_lines(cc: Center, call_id: str) -> list[str]:
    path = Path(cc.config.storage.queue_log)
    text = (path if path.is_absolute() else REPO / path).read_text(encoding="utf-8")
    return [x for x in text.splitlines() if f"|{call_id}|" in x]


def hang_up(cc: Center, phone: Softphone, number: str, call_id: str) -> None:
    phone.hangup(number)
    wait_until(
        lambda: (row := cc.call_row(call_id)) is not None and row.ended_at, 60, "the call ended"
    )


def test_an_agent_put_on_break_while_ringing_passes_the_caller_on_at_once(cc: Center) -> None:
    with engine_with_queue(cc, {"offer_timeout": OFFER_TIMEOUT, "max_no_answer": 1}):
        first = cc.phones["1001"]  # general 5: offered first
        first.answer_mode("1001", "ignore")  # it rings on
        rang = phone_events(first, "1001", "incoming")
        ended = phone_events(first, "1001", "disconnected")
        answered = phone_events(first, "1001", "confirmed")
        before = known_calls(cc)
        number = "13900000061"
        caller = cc.caller(number)
        caller.call(number, "12345")
        call_id = joined_call_id(cc, "12345", before)
        wait_until(lambda: phone_events(first, "1001", "incoming") > rang, 60, "1001 ringing")
        assert cc.engine.agents()["1001"]["state"] == "offered"

        # the supervisor forces a break from the console (the same API the console calls)
        reply = cc.engine.post("/api/agents/1001/pause", {"reason": "班长强制小休"})
        assert (reply["status"], reply["reason"]) == ("on_break", "班长强制小休")

        # the ring stops over SIP (the INVITE is cancelled), and 1002 (general 4) answers
        wait_until(
            lambda: phone_events(first, "1001", "disconnected") > ended, 60, "1001's ring stopped"
        )
        assert phone_events(first, "1001", "confirmed") == answered  # it never answered
        assert connected(cc, call_id) == "1002"

        tried = ring_events(cc, call_id)
        assert [(e[0], e[1], e[2]["reason"]) for e in tried] == [("RINGCANCELED", "1001", "paused")]
        # the caller reached 1002 before the first ring's offer timeout could have ended it
        row = cc.call_row(call_id)
        cancelled_at = cc.rows(
            "SELECT at FROM queue_events WHERE call_id = :c AND event = 'RINGCANCELED'",
            c=call_id,
        )[0][0]
        rang_at = cancelled_at - tried[0][2]["ring_ms"] / 1000
        assert row.connected_at < rang_at + OFFER_TIMEOUT

        # no miss: no no-answer count, still on the supervisor's break (with
        # max_no_answer = 1 a miss would have auto-paused it with reason no_answer)
        agent = cc.engine.agents()["1001"]
        assert agent["no_answer_count"] == 0
        assert (agent["status"], agent["reason"]) == ("on_break", "班长强制小休")

        # the engine's queue_log has app_queue's line for that ring
        lines = queue_log_lines(cc, call_id)
        canceled = [x.split("|") for x in lines if "|RINGCANCELED|" in x]
        # the member as queues.conf names it (the agent's name), as app_queue writes it
        name = next(a.name for a in cc.config.agents if a.id == "1001")
        assert [(x[3], x[4]) for x in canceled] == [(name, "RINGCANCELED")]
        assert int(canceled[0][5]) == tried[0][2]["ring_ms"]
        assert not [x for x in lines if "|RINGNOANSWER|" in x]
        hang_up(cc, caller, number, call_id)


LABOR_QUEUE = """
[[queue.queues]]
name = "labor"      # 人社专席: a long wrap-up
skills = ["labor"]
wrapup = 600
"""


def test_a_named_queues_wrapup_holds_after_its_calls_only(cc: Center) -> None:
    """[queue] wrap-up is the session's 3 s; the labor queue's is 600 s. 1002 finishing a
    labor call stays in wrap-up while 1001, finishing a general call after it, is idle again."""
    with engine_with_queue(cc, {}, LABOR_QUEUE):
        before = known_calls(cc)
        labor = cc.caller("13900000062")
        labor.call("13900000062", "12333")  # 人社 12333: skill labor
        labor_id = joined_call_id(cc, "12333", before)
        assert connected(cc, labor_id) == "1002"  # the labor seat
        hang_up(cc, labor, "13900000062", labor_id)
        wait_until(lambda: cc.engine.agents()["1002"]["state"] == "wrap_up", 60, "1002 wrap-up")

        before = known_calls(cc)
        general = cc.caller("13900000063")
        general.call("13900000063", "12345")
        general_id = joined_call_id(cc, "12345", before)
        assert connected(cc, general_id) == "1001"
        hang_up(cc, general, "13900000063", general_id)
        # 1001's general call: [queue]'s short wrap-up ends, 1001 is idle again
        wait_until(lambda: cc.engine.agents()["1001"]["state"] == "idle", 90, "1001 idle again")
        # 1002, whose labor call ended first, is still in the labor queue's wrap-up
        assert cc.engine.agents()["1002"]["state"] == "wrap_up"
        cc.engine.post("/api/agents/1002/ready")
        wait_until(lambda: cc.engine.agents()["1002"]["state"] == "idle", 30, "1002 ready")


def test_ring_progressively_rings_one_agent_then_adds_the_next(cc: Center) -> None:
    """mod_callcenter's ring-progressively over real SIP: 1001 (general 5) rings alone; after
    the delay 1002 (general 4) joins the ring (its own leg, originated beside 1001's) and
    1001 rings on untouched; 1002 answers, 1001 is charged no miss."""
    settings: dict[str, Any] = {
        "strategy": '"ring_progressively"',
        "offer_timeout": OFFER_TIMEOUT,
        "ring_progressively_delay": 8,
    }
    with engine_with_queue(cc, settings):
        phone = cc.phones["1001"]
        assert cc.phones["1002"] is phone  # one softphone process: one ordered history
        phone.answer_mode("1001", "ignore")
        start = len(phone.history)
        before = known_calls(cc)
        number = "13900000064"
        caller = cc.caller(number)
        caller.call(number, "12345")
        call_id = joined_call_id(cc, "12345", before)
        assert connected(cc, call_id) == "1002"

        rings = [
            e["user"]
            for e in phone.history[start:]
            if e.get("event") == "incoming" and e.get("user") in ("1001", "1002")
        ]
        # 1001 alone first, then 1002 joined once and answered; 1001 rang on: one INVITE
        assert rings == ["1001", "1002"]
        assert not [e for e in ring_events(cc, call_id) if e[0] == "RINGNOANSWER"]
        assert cc.engine.agents()["1001"]["no_answer_count"] == 0
        connect = cc.rows(
            "SELECT data FROM queue_events WHERE call_id = :c AND event = 'CONNECT'", c=call_id
        )
        assert len(connect) == 1
        hang_up(cc, caller, number, call_id)


def _callback_offered(cc: Center, number: str) -> bool:
    """Whether the waiting caller `number` has heard the callback offer (its channel's
    CC_CALLBACK, which makes its key 1 take the callback)."""
    for line in cc.instance.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) > 7 and fields[7] == number:
            shown = cc.instance.cli(f"core show channel {fields[0]}", check=False)
            return "CC_CALLBACK=offered" in shown
    return False


def _press_1_until_taken(cc: Center, phone: Softphone, number: str, call_id: str) -> None:
    """The caller presses 1 (again each 1.5 s: a key during a prompt's start may be lost)
    until the engine has its callback."""
    deadline = time.monotonic() + 60
    while not any(c["call_id"] == call_id for c in cc.engine.get("/api/callbacks")["callbacks"]):
        assert time.monotonic() < deadline, "the callback was never taken"
        phone.dtmf(number, "1")
        time.sleep(1.5)


def test_a_caller_taking_the_callback_while_an_agent_rings_stops_the_ring(cc: Center) -> None:
    """The citizen heard the callback offer; an agent comes back and its phone rings; the
    citizen presses 1. The ring stops at once over SIP (a RINGCANCELED with reason callback,
    no miss), the caller keeps the place as a callback, and the callback then reaches that
    agent and the citizen."""
    with engine_with_queue(cc, {"offer_timeout": OFFER_TIMEOUT, "max_no_answer": 1}):
        desk = {a.id for a in cc.config.agents if not a.browser_phone}
        cc.set_all_agents("pause", reason="meeting")
        wait_until(
            lambda: all(
                a["status"] == "on_break"
                for a in cc.engine.agents().values()
                if a["agent_id"] in desk
            ),
            20,
            "all agents on a break",
        )
        agent = cc.phones["1001"]
        # it rings on long enough for the citizen's key (the engine takes it in well under a
        # second), and answers what rings it after that: the callback
        agent.answer_mode("1001", "answer", delay=ANSWER_AFTER)
        rang = phone_events(agent, "1001", "incoming")
        ended = phone_events(agent, "1001", "disconnected")
        answered = phone_events(agent, "1001", "confirmed")
        number = "13900000071"
        citizen = cc.citizens(number)  # the carrier trunk's side: it answers the callback
        before = known_calls(cc)
        citizen.call(number, "12345")
        call_id = joined_call_id(cc, "12345", before)
        wait_until(lambda: _callback_offered(cc, number), 60, "the callback offered")

        cc.engine.post("/api/agents/1001/resume")
        wait_until(lambda: phone_events(agent, "1001", "incoming") > rang, 60, "1001 ringing")
        _press_1_until_taken(cc, citizen, number, call_id)

        # the ring stops over SIP long before the offer timeout, and it was no miss
        wait_until(
            lambda: phone_events(agent, "1001", "disconnected") > ended, 60, "1001's ring stopped"
        )
        assert phone_events(agent, "1001", "confirmed") == answered  # it never answered
        tried = ring_events(cc, call_id)
        assert [(e[0], e[1], e[2]["reason"]) for e in tried] == [
            ("RINGCANCELED", "1001", "callback")
        ]
        assert tried[0][2]["ring_ms"] < OFFER_TIMEOUT * 1000
        assert cc.engine.agents()["1001"]["no_answer_count"] == 0
        assert [(c["call_id"], c["callback"]) for c in cc.engine.queue()] == [(call_id, True)]
        assert cc.call_row(call_id).leave_reason == "callback"

        # the callback goes on: 1001 is rung for it and answers, then the citizen
        wait_until(lambda: phone_events(agent, "1001", "confirmed") > answered, 90, "1001 answered")
        wait_until(
            lambda: (
                len(
                    [
                        e
                        for e in citizen.seen(lambda e: e.get("event") == "confirmed")
                        if e.get("user") == number
                    ]
                )
                > 1
            ),
            90,
            "the callback to the citizen answered",
        )
        citizen.hangup(number)
        wait_until(
            lambda: any(
                c["call_id"] == call_id and c["state"] == "completed"
                for c in cc.engine.get("/api/callbacks")["callbacks"]
            ),
            60,
            "the callback completed",
        )
