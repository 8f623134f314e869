"""An active and a standby engine on a real Asterisk and a real PostgreSQL (issue 17).

Two `callcenter serve` processes with `[ha]` on share one PostgreSQL database: exactly one holds
the lock and drives the PBX (one AMI session), the other waits without touching it. When the
active one is killed (SIGKILL) with callers waiting, the standby takes over as a restarted engine
does: the queue comes back from the PBX in its original order and priority, agents' statuses from
storage (paused agents stay paused, with their reason), and every waiting caller is offered to
exactly one agent once and served; none is lost or offered twice.
"""

from __future__ import annotations

import socket
import time
from functools import partial

import pytest

from callcenter.ha import EXIT_FENCED
from callcenter.simulation import Softphone
from tests.integration.harness import Center, wait_until
from tests.integration.pair import (
    HIGH,
    LOW,
    Pair,
    ami_logins,
    engine_pair,
    hang_up,
    incoming_since,
    pause_all_but_1001,
    role,
    start_standby,
)

pytestmark = pytest.mark.pbx


def test_two_engines_started_at_once_exactly_one_becomes_active(cc: Center) -> None:
    with engine_pair(cc) as pair:
        for engine in pair.engines:
            engine.start(linked=False)  # both at once, neither waited for
        active = pair.active()
        standby = pair.other(active)
        wait_until(lambda: role(standby) == "standby", 90, "the other engine as the standby")
        # for a while: still exactly one active, one AMI session (the standby has none)
        until = time.monotonic() + 3
        while time.monotonic() < until:
            assert sorted(r or "" for r in pair.roles()) == ["active", "standby"]
            assert ami_logins(cc) == 1
            time.sleep(0.3)
        ready = standby.get("/health/ready")
        assert ready["ok"] is False and ready["role"] == "standby"
        assert f"pid {active.proc.pid}" in ready["active"]  # type: ignore[union-attr]
        assert active.get("/health/ready")["role"] == "active"
        # exactly one session holds the advisory lock
        held = pair.rows(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        assert held[0][0] == 1


def served_in_order(pair: Pair, placed: dict[str, tuple[Softphone, str]]) -> list[str]:
    """1001 takes the callers one by one (each hangs up once connected): the order."""
    order: list[str] = []
    left = dict(placed)  # call id -> (phone, number)
    while left:
        now_connected = wait_until(
            lambda: next(
                (c for c in left if (r := pair.call_row(c)) is not None and r.connected_at),
                None,
            ),
            60,
            "the next caller connected",
        )
        assert pair.call_row(now_connected).agent_id == "1001"
        order.append(now_connected)
        phone, number = left.pop(now_connected)
        hang_up(phone, number)
        wait_until(partial(pair.ended, now_connected), 30, "the call's record to end")
    return order


def test_active_engine_killed_standby_serves_waiting_callers_in_order(cc: Center) -> None:
    with engine_pair(cc) as pair:
        first, second = pair.engines
        first.start()
        assert role(first) == "active"
        start_standby(second)
        pause_all_but_1001(first)
        talking = cc.caller("13300000201")
        talking.call("13300000201", LOW)
        talk_id = pair.new_call_id("13300000201")
        assert pair.connected_agent(talk_id) == "1001"
        talking.wait_for(lambda e: e.get("event") == "confirmed")
        numbers = [
            ("13300000211", LOW),
            ("13300000212", LOW),
            ("13300000213", LOW),
            ("13300000214", HIGH),
            ("13300000215", HIGH),
        ]
        placed: dict[str, tuple[Softphone, str]] = {}
        for number, did in numbers:
            phone = cc.caller(number)
            phone.call(number, did)
            placed[pair.new_call_id(number)] = (phone, number)
        ids = list(placed)
        wait_until(lambda: len(first.queue()) == 5, 30, "five callers waiting on the active")
        agents_phone = cc.phones["1001"]
        killed = time.time()
        first.kill()
        hang_up(talking, "13300000201")  # ends while no engine is active: 1001 is free
        active = pair.active()
        assert active is second
        order = served_in_order(pair, placed)
        # the priority-5 callers first (in arrival order), then the others: the original order
        assert order == ids[3:] + ids[:3]
        # every waiting caller was offered once, to 1001 only; the paused agents not at all
        offered = incoming_since(agents_phone, "1001", killed)
        assert len(offered) == 5
        for agent in ("1002", "1003", "1004"):
            assert incoming_since(cc.phones[agent], agent, killed) == []
        # agents' statuses came from storage: still paused, with the reason they gave
        agents = second.agents()
        for agent in ("1002", "1003", "1004"):
            assert (agents[agent]["status"], agents[agent]["reason"]) == ("on_break", "meeting")
        # one ENTERQUEUE per caller, none lost: each call connected once and complete
        for call_id in ids:
            joins = pair.rows(
                "SELECT count(*) FROM queue_events WHERE call_id = :c AND event = 'ENTERQUEUE'",
                c=call_id,
            )
            connects = pair.rows(
                "SELECT count(*) FROM queue_events WHERE call_id = :c AND event = 'CONNECT'",
                c=call_id,
            )
            assert (joins[0][0], connects[0][0]) == (1, 1), call_id
        takeover = offered[0]["at"] - killed
        print(f"takeover: kill -> first offer {takeover:.2f} s")
        assert ami_logins(cc) == 1


def test_active_engine_that_loses_its_database_exits_and_the_standby_serves(cc: Center) -> None:
    """The active engine's lock session is terminated (as a database failover or a DBA would):
    the engine fences itself (exit 75) and the standby takes the next callers."""
    with engine_pair(cc) as pair:
        first, second = pair.engines
        first.start()
        start_standby(second)
        assert first.proc is not None
        ended = pair.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :n",
            n=f"callcenter engine {socket.gethostname()} pid {first.proc.pid}",
        )
        assert len(ended) == 1
        assert first.proc.wait(30) == EXIT_FENCED
        assert pair.active() is second
        assert ami_logins(cc) == 1
        phone = cc.caller("13300000301")
        phone.call("13300000301", LOW)
        call_id = pair.new_call_id("13300000301")
        assert pair.connected_agent(call_id) in {"1001", "1002", "1003", "1004"}
        hang_up(phone, "13300000301")
        wait_until(partial(pair.ended, call_id), 30, "the call's record to end")
