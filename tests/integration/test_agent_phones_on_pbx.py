"""Agents' phones on a real PBX (issues 15 and 16): a caller never waits on a dead agent phone
(on both kinds), and a refusal is not a no-answer.

Real SIP and RTP: pjsua2 softphones register with the sandbox PBX, which checks their
contacts (Asterisk's qualify, FreeSWITCH's OPTIONS pings of every registration); a softphone
process is killed with SIGKILL; phones refuse with real SIP responses; the engine runs as its
own process and is read through its database, /metrics and the wallboard's websocket feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Any

import aiohttp
import pytest

from callcenter.simulation import Softphone
from tests.integration.conftest import center_of_kind, on_both_kinds
from tests.integration.harness import (
    Center,
    connected,
    engine_with_queue,
    joined_call_id,
    known_calls,
    wait_until,
)

pytestmark = pytest.mark.pbx

cc = pytest.fixture(center_of_kind, name="cc")  # the center of the test's kind (Asterisk unmarked)


def metric(cc: Center, name: str) -> float | None:
    for line in cc.engine.raw("/metrics").decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def offer_events(cc: Center, call_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows = cc.rows(
        "SELECT event, agent_id, data FROM queue_events WHERE call_id = :c ORDER BY id", c=call_id
    )
    return [(r.event, r.agent_id, json.loads(r.data)) for r in rows if r.event.startswith("RING")]


def wallboard(cc: Center) -> dict[str, Any]:
    """The first snapshot the supervisor's wallboard feed pushes."""

    async def read() -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{cc.engine.http_port}/api/live") as ws,
        ):
            while True:
                message = await ws.receive_json(timeout=30)
                if message.get("type") == "snapshot":
                    return dict(message)

    return asyncio.run(read())


def engine_with(cc: Center, **settings: float) -> contextlib.AbstractContextManager[None]:
    """The engine restarted with these [queue] settings; the session's queue.toml after."""
    return engine_with_queue(cc, settings)


def hang_up(cc: Center, phone: Softphone, number: str, call_id: str) -> None:
    phone.hangup(number)
    wait_until(
        lambda: (row := cc.call_row(call_id)) is not None and row.ended_at, 30, "the call ended"
    )


@on_both_kinds
def test_a_killed_agent_phone_costs_callers_no_offer_timeout(cc: Center) -> None:
    dead = cc.phones["1001"]
    users = [u for u, p in cc.phones.items() if p is dead]  # 1001 and 1002 share a process
    assert users == ["1001", "1002"]
    # the shipped offer timeout (15 s): longer than the PBX needs to find a dead phone
    with engine_with(cc, offer_timeout=15):
        wait_until(lambda: metric(cc, "callcenter_agents_unreachable") == 0.0, 30, "all reachable")
        dead.proc.send_signal(signal.SIGKILL)
        dead.proc.wait()
        try:
            # at once: the PBX may still hold the dead contact as reachable, so the offer
            # can ring it; it must end when the PBX finds it gone, not at the offer timeout
            before = known_calls(cc)
            first = cc.caller("13900000021")
            first.call("13900000021", "12345")
            first_id = joined_call_id(cc, "12345", before)
            assert connected(cc, first_id) in ("1003", "1004")
            tried = offer_events(cc, first_id)
            assert not [e for e in tried if e[0] == "RINGNOANSWER"], tried
            assert all(e[0] == "RINGFAILED" and e[1] in users for e in tried), tried
            hang_up(cc, first, "13900000021", first_id)

            # once the PBX found both contacts unreachable they are offered nothing
            wait_until(
                lambda: metric(cc, "callcenter_agents_unreachable") == 2.0,
                60,
                "both contacts of the killed phone unreachable",
            )
            board = wallboard(cc)
            desk = {a.id for a in cc.config.agents if not a.browser_phone}
            assert {
                a["agent_id"]: a["reachable"] for a in board["agents"] if a["agent_id"] in desk
            } == {
                "1001": False,
                "1002": False,
                "1003": True,
                "1004": True,
            }
            before = known_calls(cc)
            second = cc.caller("13900000022")
            second.call("13900000022", "12345")
            second_id = joined_call_id(cc, "12345", before)
            assert connected(cc, second_id) in ("1003", "1004")
            assert offer_events(cc, second_id) == []  # the dead phone was not even tried
            agents = cc.engine.agents()
            assert [agents[u]["no_answer_count"] for u in users] == [0, 0]
            assert [agents[u]["status"] for u in users] == ["available", "available"]
            hang_up(cc, second, "13900000022", second_id)
        finally:
            # a new softphone process for the two agents: they register and come back
            phone = Softphone(
                cc.sip,
                port=cc.agent_sip_port,
                accounts=[(u, cc.phone_password(u)) for u in users],
                play=str(cc.agent_tone),
                record_dir=str(cc.recordings),
                rtp_port=cc.agent_rtp_port,
                answer_delay=0.3,
            )
            for u in users:
                cc.phones[u] = phone
            phone.wait_registered(30)
            wait_until(
                lambda: metric(cc, "callcenter_agents_unreachable") == 0.0,
                60,
                "the new phone's contacts reachable",
            )


@pytest.mark.parametrize("code", [486, 488, 603])
def test_a_refusing_phone_is_recorded_as_refused_and_the_caller_moves_on(
    cc: Center, code: int
) -> None:
    cc.phones["1001"].answer_mode("1001", "reject", code=code)
    before = known_calls(cc)
    number = f"1390000003{code % 10}"
    caller = cc.caller(number)
    caller.call(number, "12345")
    call_id = joined_call_id(cc, "12345", before)
    assert connected(cc, call_id) == "1002"  # the next general seat after 1001
    tried = offer_events(cc, call_id)
    assert [(e[0], e[1], e[2]["reason"], e[2]["cause"]) for e in tried] == [
        ("RINGREFUSED", "1001", "refused", code)
    ]
    assert cc.engine.agents()["1001"]["no_answer_count"] == 0
    hang_up(cc, caller, number, call_id)


def test_auto_pause_share_alert_and_expiry(cc: Center) -> None:
    """Three of four agents auto-paused (more than half): the supervisor is alerted on
    /metrics and the wallboard; each auto-pause ends by itself and the alert clears."""
    with engine_with(
        cc,
        offer_timeout=5,
        max_no_answer=1,
        no_answer_backoff=0,
        auto_pause_share_alert=0.5,
        auto_pause_expires=45,
    ):
        paused = ("1001", "1002", "1004")  # general 5, 4, 3 ring on; 1003 (general 2) answers
        for user in paused:
            cc.phones[user].answer_mode(user, "ignore")
        before = known_calls(cc)
        caller = cc.caller("13900000041")
        caller.call("13900000041", "12345")
        call_id = joined_call_id(cc, "12345", before)
        assert connected(cc, call_id) == "1003"
        tried = offer_events(cc, call_id)
        assert [(e[0], e[1]) for e in tried] == [("RINGNOANSWER", u) for u in paused]
        wait_until(lambda: metric(cc, "callcenter_auto_pause_alert") == 1.0, 30, "the alert")
        assert metric(cc, "callcenter_agents_auto_paused") == 3.0
        board = wallboard(cc)
        assert board["auto_pause"] == {"alert": True, "paused": 3, "logged_in": 4}
        hang_up(cc, caller, "13900000041", call_id)
        # nobody resumes them: the auto-pause ends by itself
        wait_until(
            lambda: all(cc.engine.agents()[u]["status"] == "available" for u in paused),
            120,
            "the auto-paused agents back by themselves",
        )
        assert metric(cc, "callcenter_auto_pause_alert") == 0.0
        assert wallboard(cc)["auto_pause"]["alert"] is False
