"""A mixed center (issue 16): one Asterisk node and one FreeSWITCH node behind Kamailio, one
engine, one queue and one agent pool, on the real sandboxes (tests/integration/nodes.py,
layout MIXED: its ports and instance names are in that module's docstring).

The agents' phones register on Kamailio; callers dial 12345 (or 12349, priority 5) at
Kamailio, whose dispatcher takes the two nodes in turn; each node rings the agents through
Kamailio, each in its own kind's way (the Asterisk node's `kamailio` endpoint, the FreeSWITCH
node's `kamailio` gateway, both rendered from [pbx.proxy]). Callers on both nodes are served
in one order (priority, then arrival) by one agent, with audio both ways on every call, and
every call's records are complete: the call row, its queue events and the decision log's
offer. A node killed mid-load, of either kind: the engine ends that node's calls with a clear
reason, frees their agent, and the other node's callers (the other kind) are served.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from callcenter.decisions.log import log_files, read_records
from callcenter.simulation import Softphone
from tests.integration.harness import closed_wav, tone_levels, wait_until
from tests.integration.nodes import HIGH, LOW, MIXED, NODE_DEAD_AFTER, Nodes, nodes

pytestmark = pytest.mark.pbx

ASTERISK, FREESWITCH = MIXED.names  # the node of each kind, in center.toml's order


@pytest.fixture(autouse=True)
def agents_ready() -> None:
    """Replaces the directory's fixture: these tests have their own nodes and engine."""


@pytest.fixture(scope="module")
def mc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    with nodes(tmp_path_factory.mktemp("mixed"), MIXED) as n:
        assert [node.kind for node in n.config.nodes] == ["asterisk", "freeswitch"]
        n.engine.start()
        yield n


@pytest.fixture(autouse=True)
def ready(mc: Nodes) -> Iterator[None]:
    """Both nodes up at the proxy, the engine linked to both, both agents ready and idle."""
    mc.make_ready()
    yield
    mc.release_callers()


def row_if(mc: Nodes, call_id: str, column: str) -> Any:
    """The call's record once `column` is set (None before)."""
    row = mc.call_row(call_id)
    return row if row is not None and getattr(row, column) else None


def place(mc: Nodes, number: str, did: str = LOW) -> tuple[Softphone, str]:
    phone = mc.caller(number)
    at = time.time()
    phone.call(number, did)
    return phone, mc.new_call_id(number, at)


def talked(mc: Nodes, call_id: str, seconds: float) -> bool:
    return bool(time.time() - mc.call_row(call_id).connected_at > seconds)


def ended_calls(phone: Softphone, user: str, since: float) -> list[dict[str, Any]]:
    return phone.seen(
        lambda e: e.get("event") == "disconnected" and e.get("user") == user and e["at"] >= since
    )


def offers(mc: Nodes, call_id: str) -> list[list[str]]:
    """The agents of each offer the decision log holds for the call."""
    directory = mc.workdir / "decisions"
    records = read_records([path for _, path in log_files(directory)])
    return [r["agents"] for r in records if r.get("call") == call_id and r["kind"] == "offer"]


def test_callers_on_both_kinds_are_served_in_one_order_with_audio(mc: Nodes) -> None:
    mc.engine.post("/api/agents/1002/pause", {"reason": "meeting"})
    mc.engine.post("/api/agents/1001/pause", {"reason": "meeting"})
    since = time.time()
    numbers = [
        ("13300000711", LOW),
        ("13300000712", LOW),
        ("13300000713", LOW),
        ("13300000714", HIGH),
    ]
    placed: dict[str, tuple[Softphone, str]] = {}
    for number, did in numbers:
        phone, call_id = place(mc, number, did)
        placed[call_id] = (phone, number)
        wait_until(lambda: len(mc.engine.queue()) == len(placed), 30, "the caller waiting")
    ids = list(placed)
    held_on = {c: mc.call_row(c).node for c in ids}
    assert set(held_on.values()) == {ASTERISK, FREESWITCH}, f"the proxy spread them {held_on}"
    mc.engine.post("/api/agents/1001/resume")
    agent = mc.phones["1001"]
    order: list[str] = []
    left = dict(placed)
    while left:
        now_connected = wait_until(
            lambda: next((c for c in left if row_if(mc, c, "connected_at")), None),
            60,
            "the next caller connected",
        )
        assert mc.call_row(now_connected).agent_id == "1001"
        order.append(now_connected)
        phone, number = left.pop(now_connected)
        # three seconds of talk: the caller sends 440 Hz, the agent 700 Hz
        wait_until(partial(talked, mc, now_connected, 3.0), 30, "three seconds of talk")
        phone.hangup(number)
        heard_by_caller = phone.wait_for(lambda e: e.get("event") == "disconnected")
        heard_by_agent = wait_until(
            lambda: ended_calls(agent, "1001", since)[len(order) - 1 :],
            30,
            "the agent's phone to end the call",
        )[0]
        wait_until(partial(row_if, mc, now_connected, "ended_at"), 30, "the record to end")
        # the last seconds of each side: the other side's voice (not the hold music)
        (agent_700,) = tone_levels(closed_wav(heard_by_caller["recording"]), (700.0,), -2.0, 0)
        (caller_440,) = tone_levels(closed_wav(heard_by_agent["recording"]), (440.0,), -2.0, 0)
        node = held_on[now_connected]
        print(f"call on {node}: caller heard 700 Hz {agent_700:.2f}, agent 440 Hz {caller_440:.2f}")
        assert agent_700 > 0.5, f"the caller on {node} did not hear the agent ({agent_700:.2f})"
        assert caller_440 > 0.5, f"the agent did not hear the caller on {node} ({caller_440:.2f})"
    # the priority-5 caller first, then the others in arrival order, across both kinds
    assert order == ids[3:] + ids[:3], (order, ids, held_on)
    # one ring of 1001 per caller, never two at once from the two nodes; 1002 none
    incoming = agent.seen(
        lambda e: e.get("event") == "incoming" and e.get("user") == "1001" and e["at"] >= since
    )
    assert len(incoming) == 4
    assert not mc.phones["1002"].seen(
        lambda e: e.get("event") == "incoming" and e.get("user") == "1002" and e["at"] >= since
    )
    # the records: each call answered by 1001 on its node, its queue events in order, and
    # one offer (to 1001) in the decision log
    for call_id in ids:
        row = mc.call_row(call_id)
        assert row.node == held_on[call_id]
        assert row.leave_reason == "answered" and row.agent_id == "1001"
        assert row.joined_at <= row.left_at <= row.ended_at
        assert row.talk_seconds > 2.5 and row.waited > 0
        events = [
            (r.event, r.agent_id, json.loads(r.data or "{}"))
            for r in mc.rows(
                "SELECT event, agent_id, data FROM queue_events WHERE call_id = :c ORDER BY id",
                c=call_id,
            )
        ]
        assert [(e, a) for e, a, _ in events] == [
            ("ENTERQUEUE", "NONE"),
            ("CONNECT", "1001"),
            ("COMPLETECALLER", "1001"),
        ], events
        assert events[1][2]["agent_leg"], events  # the agent's leg on that node
        wait_until(partial(offers, mc, call_id), 10, "the offer in the decision log")
        assert offers(mc, call_id) == [["1001"]]


@pytest.mark.parametrize("dying", [FREESWITCH, ASTERISK])
def test_a_node_killed_mid_load_keeps_the_other_kinds_callers(mc: Nodes, dying: str) -> None:
    mc.engine.post("/api/agents/1002/pause", {"reason": "meeting"})
    other = FREESWITCH if dying == ASTERISK else ASTERISK
    # 1001 talking to a caller on the node that will die (the proxy takes turns: a caller
    # that lands on the other node hangs up, and the next one lands on this one)
    for k in range(3):
        talking, talk_id = place(mc, f"133000072{k}{MIXED.names.index(dying)}")
        wait_until(partial(row_if, mc, talk_id, "connected_at"), 45, "a caller connected")
        talking.wait_for(lambda e: e.get("event") == "confirmed")
        if mc.call_row(talk_id).node == dying:
            break
        talking.hangup(talking.accounts[0][0])
        wait_until(partial(row_if, mc, talk_id, "ended_at"), 30, "that call's record to end")
        wait_until(lambda: mc.engine.agents()["1001"]["state"] == "idle", 30, "1001 idle")
    assert mc.call_row(talk_id).node == dying
    # callers until one waits on each node (the proxy takes turns)
    waiting: dict[str, str] = {}
    for k in range(6):
        _, call_id = place(mc, f"1330000{MIXED.names.index(dying)}7{30 + k}")
        waiting.setdefault(mc.call_row(call_id).node, call_id)
        if len(waiting) == 2:
            break
    assert set(waiting) == {ASTERISK, FREESWITCH}
    killed = time.monotonic()
    mc.kill_node(MIXED.names.index(dying))
    wait_until(lambda: mc.states()[dying] == "down", 30, f"the proxy to take {dying} down")
    print(f"node {dying} killed -> down at the proxy: {time.monotonic() - killed:.1f} s")
    # the engine ends the dead node's calls (after node_dead_after), records complete
    wait_until(
        partial(row_if, mc, talk_id, "ended_at"), NODE_DEAD_AFTER + 30, "the dead node's talk"
    )
    lost = wait_until(
        partial(row_if, mc, waiting[dying], "leave_reason"),
        NODE_DEAD_AFTER + 30,
        "the dead node's waiting caller to leave",
    )
    assert lost.leave_reason == "node_lost" and lost.left_at is not None
    print(f"node {dying} killed -> its calls ended: {time.monotonic() - killed:.1f} s")
    # 1001 is freed and serves the other node's caller
    served = wait_until(
        partial(row_if, mc, waiting[other], "connected_at"),
        60,
        "the other node's caller connected",
    )
    assert served.agent_id == "1001" and served.node == other
    # new callers all land on the living node
    for k in range(2):
        _, call_id = place(mc, f"1330000{MIXED.names.index(dying)}7{40 + k}")
        assert mc.call_row(call_id).node == other
