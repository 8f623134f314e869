"""Restart, reconnect and the fallback route on a real Asterisk: nothing lost, order kept.

After the engine is killed (SIGKILL) and started again, or its AMI link is cut and restored,
the whole waiting queue is restored before any agent is offered a call, so the first offer
goes to the highest-priority, longest-waiting caller; every caller has one ENTERQUEUE; a call
that ended while the engine could not see it, and a caller the fallback route (app_queue)
served, get complete records from what Asterisk kept (the cc-done hangup handler's AstDB
entry, read over AMI).
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from callcenter.paths import REPO
from callcenter.simulation import Softphone
from tests.integration.harness import Center, wait_until

pytestmark = pytest.mark.pbx

LOW, HIGH = "12345", "12349"  # 12349 (敬老服务专线) joins with priority 5


def new_call_id(cc: Center, number: str) -> str:
    """This test's call from `number`. Only a call that joined since the test began counts:
    the session's database also holds earlier calls from the same number (the standby
    tests' callers, 13300000201 and 13300000211-215, end up in it too: the session's engine,
    started again after the pair, records the ended calls Asterisk still keeps in AstDB)."""
    index = cc.engine.cipher().phone_index(number)  # numbers are stored encrypted

    def found() -> str | None:
        rows = cc.rows(
            "SELECT call_id FROM calls WHERE caller_number_hash = :h AND joined_at >= :since"
            " ORDER BY joined_at DESC",
            h=index,
            since=cc.test_began,
        )
        return rows[0][0] if rows else None

    call_id: str = wait_until(found, 20, f"the caller {number} in the call records")
    return call_id


def connected_agent(cc: Center, call_id: str, timeout: float = 45) -> str:
    def agent() -> str | None:
        row = cc.call_row(call_id)
        return row.agent_id if row is not None and row.connected_at else None

    found: str = wait_until(agent, timeout, f"call {call_id} connected")
    return found


def enterqueues(cc: Center, call_ids: list[str]) -> dict[str, tuple[int, int]]:
    """ENTERQUEUE count per call: (queue_events rows, engine queue_log lines)."""
    path = Path(cc.config.storage.queue_log)
    lines = (path if path.is_absolute() else REPO / path).read_text().splitlines()
    out = {}
    for call_id in call_ids:
        rows = cc.rows(
            "SELECT count(*) FROM queue_events WHERE call_id = :c AND event = 'ENTERQUEUE'",
            c=call_id,
        )
        in_file = sum(f"|{call_id}|12345|NONE|ENTERQUEUE|" in x for x in lines)
        out[call_id] = (rows[0][0], in_file)
    return out


def place(cc: Center, number: str, did: str) -> tuple[Softphone, str]:
    phone = cc.caller(number)
    phone.call(number, did)
    return phone, number


def busy_agent_1001(cc: Center, number: str) -> tuple[Softphone, str]:
    """Only 1001 ready, and on a call with `number`."""
    for agent in ("1002", "1003", "1004"):
        cc.engine.post(f"/api/agents/{agent}/pause", {"reason": "meeting"})
    phone = cc.caller(number)
    phone.call(number, LOW)
    call_id = new_call_id(cc, number)
    assert connected_agent(cc, call_id) == "1001"
    phone.wait_for(lambda e: e.get("event") == "confirmed")
    return phone, call_id


def queue_up(cc: Center, callers: list[tuple[str, str]]) -> list[tuple[Softphone, str, str]]:
    placed = []
    for number, did in callers:
        phone, _ = place(cc, number, did)
        call_id = new_call_id(cc, number)
        placed.append((phone, number, call_id))
    return placed


def hang_up(phone: Softphone, number: str) -> None:
    phone.hangup(number)
    phone.wait_for(lambda e: e.get("event") == "disconnected")


def serve_in_order(cc: Center, placed: list[tuple[Softphone, str, str]]) -> list[str]:
    """1001 takes the callers one by one; the order in which they were connected."""
    order: list[str] = []
    left = {call_id: (phone, number) for phone, number, call_id in placed}
    while left:
        now_connected = wait_until(
            lambda: next(
                (c for c in left if (r := cc.call_row(c)) is not None and r.connected_at), None
            ),
            45,
            "the next caller connected",
        )
        assert cc.call_row(now_connected).agent_id == "1001"
        order.append(now_connected)
        phone, number = left.pop(now_connected)
        hang_up(phone, number)
        wait_until(partial(_ended, cc, now_connected), 20, "the call's record to end")
    return order


def kept(cc: Center, call_id: str) -> None:
    """Wait until Asterisk's hangup handler has kept the ended call in AstDB."""
    wait_until(
        lambda: call_id in cc.instance.cli("database show cc-done"), 15, f"{call_id} in AstDB"
    )


def _ended(cc: Center, call_id: str) -> Any:
    row = cc.call_row(call_id)
    return row if row is not None and row.ended_at is not None else None


def test_engine_killed_first_offer_goes_to_highest_priority_and_records_complete(
    cc: Center,
) -> None:
    talking, talk_id = busy_agent_1001(cc, "13300000101")
    placed = queue_up(
        cc,
        [
            ("13300000111", LOW),
            ("13300000112", LOW),
            ("13300000113", LOW),
            ("13300000114", HIGH),
            ("13300000115", HIGH),
        ],
    )
    ids = [call_id for _, _, call_id in placed]
    cc.engine.kill()
    hang_up(talking, "13300000101")  # the call ends while the engine is down: 1001 is free
    kept(cc, talk_id)
    restarted = time.time()
    cc.engine.start()
    order = serve_in_order(cc, placed)
    # the first offers go to the priority-5 callers (in arrival order), then the others
    assert order == ids[3:] + ids[:3]
    assert enterqueues(cc, ids) == {c: (1, 1) for c in ids}
    # the call that ended while the engine was down is complete, from what Asterisk kept
    row = wait_until(lambda: _ended(cc, talk_id), 20, "the call that ended while down")
    assert row.leave_reason == "answered" and row.agent_id == "1001"
    assert row.connected_at < row.ended_at < restarted  # when it ended, not when found out
    assert row.talk_seconds == pytest.approx(row.ended_at - row.connected_at)


def test_ami_cut_first_offer_goes_to_highest_priority_and_records_complete(cc: Center) -> None:
    talking, talk_id = busy_agent_1001(cc, "13300000201")
    placed = queue_up(cc, [("13300000211", LOW), ("13300000212", LOW)])
    cc.proxy.cut()
    wait_until(lambda: not cc.engine.get("/health")["ok"], 15, "the engine to see the cut")
    # two priority-5 callers join while the engine cannot see the PBX, and 1001's call ends
    high = []
    for number in ("13300000213", "13300000214"):
        phone, _ = place(cc, number, HIGH)
        phone.wait_for(lambda e: e.get("event") == "confirmed")
        high.append((phone, number))
    hang_up(talking, "13300000201")
    kept(cc, talk_id)
    reopened = time.time()
    cc.proxy.open()
    wait_until(lambda: cc.engine.get("/health")["ok"], 20, "the engine to reconnect")
    placed += [(phone, number, new_call_id(cc, number)) for phone, number in high]
    ids = [call_id for _, _, call_id in placed]
    order = serve_in_order(cc, placed)
    assert order == ids[2:] + ids[:2]
    assert enterqueues(cc, ids) == {c: (1, 1) for c in ids}
    row = wait_until(lambda: _ended(cc, talk_id), 20, "the call that ended during the cut")
    assert row.leave_reason == "answered" and row.agent_id == "1001"
    assert row.ended_at < reopened  # when it ended, not when the engine found out


def test_callers_served_by_the_fallback_route_get_complete_records(cc: Center) -> None:
    answered_before = len(cc.fallback_answers())  # earlier tests' fallback answers
    cc.engine.kill()
    gave_up = cc.caller("13100000301")
    gave_up.call("13100000301", LOW)
    gave_up.wait_for(lambda e: e.get("event") == "confirmed")
    served = cc.caller("13100000302")
    served.call("13100000302", HIGH)
    served.wait_for(lambda e: e.get("event") == "confirmed")
    hang_up(gave_up, "13100000301")  # hangs up before the fallback route takes it

    # after fallback_after seconds without the engine, app_queue rings every agent
    def fallback_agent() -> str | None:
        answers = cc.fallback_answers()
        return answers[answered_before] if len(answers) > answered_before else None

    agent: str = wait_until(fallback_agent, 60, "an agent to answer through cc-fallback")
    talk_from = time.time()
    wait_until(lambda: time.time() - talk_from > 2, 10, "two seconds of talk")
    hang_up(served, "13100000302")
    cc.engine.start()
    served_id = new_call_id(cc, "13100000302")
    row = wait_until(lambda: _ended(cc, served_id), 30, "the fallback caller's record")
    assert (row.did, row.priority, row.leave_reason, row.agent_id) == (HIGH, 5, "fallback", agent)
    assert row.joined_at < row.left_at < row.connected_at < row.ended_at
    assert row.left_at - row.joined_at >= cc.config.engine.fallback_after - 1
    assert row.waited == pytest.approx(row.connected_at - row.joined_at)
    assert row.talk_seconds == pytest.approx(row.ended_at - row.connected_at)
    assert row.talk_seconds > 1.5
    events = cc.rows(
        "SELECT event, agent_id FROM queue_events WHERE call_id = :c ORDER BY id", c=served_id
    )
    assert [(e.event, e.agent_id) for e in events] == [
        ("ENTERQUEUE", "NONE"),
        ("EXITWITHTIMEOUT", "NONE"),
        ("ENTERQUEUE", "NONE"),
        ("CONNECT", agent),
        ("COMPLETEAGENT", agent),
    ]
    gave_up_id = new_call_id(cc, "13100000301")
    row = wait_until(lambda: _left(cc, gave_up_id), 10, "the abandoned caller's record")
    assert (row.leave_reason, row.agent_id, row.ended_at) == ("abandoned", None, None)
    # reconciling again (the next start) changes nothing
    before = cc.rows("SELECT * FROM calls WHERE call_id IN (:a, :b)", a=served_id, b=gave_up_id)
    count = cc.rows("SELECT count(*) FROM queue_events")[0][0]
    cc.engine.kill()
    cc.engine.start()
    wait_until(lambda: cc.engine.get("/health")["ok"], 20, "the engine up again")
    after = cc.rows("SELECT * FROM calls WHERE call_id IN (:a, :b)", a=served_id, b=gave_up_id)
    assert sorted(map(tuple, after)) == sorted(map(tuple, before))
    assert cc.rows("SELECT count(*) FROM queue_events")[0][0] == count


def _left(cc: Center, call_id: str) -> Any:
    row = cc.call_row(call_id)
    return row if row is not None and row.left_at is not None else None
