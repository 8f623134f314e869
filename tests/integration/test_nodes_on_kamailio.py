"""Two Asterisk nodes behind Kamailio, one engine, one queue (issue 17), on the real sandbox.

The agents' phones register on Kamailio; callers dial 12345 at Kamailio, whose dispatcher
spreads them over both nodes; each node rings agents through Kamailio. The engine holds one
queue and one agent pool over both nodes: callers are served in one order (priority, then
arrival) whichever node holds them, and an agent is offered one call at a time. A node
killed mid-load: Kamailio stops sending it calls, the engine ends that node's calls with a
clear reason and frees their agent, and the other node's callers are served. A drained node
takes no new call; its calls finish; none is lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from callcenter.pbx.kamailio.proxy import calls_on
from callcenter.pbx.proxy import drain_node, undrain_node
from callcenter.simulation import Softphone
from tests.integration.harness import wait_until
from tests.integration.nodes import HIGH, LOW, NODE_DEAD_AFTER, NODE_NAMES, Nodes, nodes

pytestmark = pytest.mark.pbx


@pytest.fixture(autouse=True)
def agents_ready() -> None:
    """Replaces the directory's fixture: these tests have their own nodes and engine."""


@pytest.fixture(scope="module")
def kn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    with nodes(tmp_path_factory.mktemp("nodes")) as n:
        n.engine.start()
        yield n


@pytest.fixture(autouse=True)
def ready(kn: Nodes) -> Iterator[None]:
    """Both nodes up at the proxy, the engine linked to both, both agents ready and idle."""
    kn.make_ready()
    yield
    kn.release_callers()


def hang_up(phone: Softphone, number: str) -> None:
    phone.hangup(number)
    phone.wait_for(lambda e: e.get("event") == "disconnected")


def ended(kn: Nodes, call_id: str) -> bool:
    row = kn.call_row(call_id)
    return row is not None and row.ended_at is not None


def incoming_since(phone: Softphone, user: str, since: float) -> list[dict[str, object]]:
    return phone.seen(
        lambda e: e.get("event") == "incoming" and e.get("user") == user and e["at"] >= since
    )


def test_callers_on_both_nodes_are_served_in_one_order(kn: Nodes) -> None:
    kn.engine.post("/api/agents/1002/pause", {"reason": "meeting"})
    kn.engine.post("/api/agents/1001/pause", {"reason": "meeting"})
    since = time.time()
    numbers = [
        ("13300000411", LOW),
        ("13300000412", LOW),
        ("13300000413", LOW),
        ("13300000414", HIGH),
    ]
    placed: dict[str, tuple[Softphone, str]] = {}
    for number, did in numbers:
        phone = kn.caller(number)
        at = time.time()
        phone.call(number, did)
        call_id = kn.new_call_id(number, at)
        placed[call_id] = (phone, number)
        wait_until(lambda: len(kn.engine.queue()) == len(placed), 30, "the caller waiting")
    ids = list(placed)
    held_on = {kn.call_row(c).node for c in ids}
    assert held_on == set(NODE_NAMES), f"the proxy spread the callers over {held_on}"
    kn.engine.post("/api/agents/1001/resume")
    order: list[str] = []
    left = dict(placed)
    while left:
        now_connected = wait_until(
            lambda: next(
                (c for c in left if (r := kn.call_row(c)) is not None and r.connected_at), None
            ),
            60,
            "the next caller connected",
        )
        assert kn.call_row(now_connected).agent_id == "1001"
        order.append(now_connected)
        phone, number = left.pop(now_connected)
        hang_up(phone, number)
        wait_until(partial(ended, kn, now_connected), 30, "the call's record to end")
    # the priority-5 caller first, then the others in arrival order, across both nodes
    assert order == ids[3:] + ids[:3]
    # one offer per caller to 1001, never two at once from the two nodes; 1002 none
    assert len(incoming_since(kn.phones["1001"], "1001", since)) == 4
    assert incoming_since(kn.phones["1002"], "1002", since) == []
    # each node's own record of the call (cc-done, for a restarted or standby engine) names
    # the agent who answered through the proxy by what was dialled
    kept = "".join(kn.asterisk(i).cli("database show cc-done") for i in range(2))
    for call_id in ids:
        line = next(x for x in kept.splitlines() if f"/cc-done/{call_id} " in x)
        assert "|PJSIP/1001@kamailio-" in line, line


def row_if(kn: Nodes, call_id: str, column: str) -> Any:
    """The call's record once `column` is set (None before)."""
    row = kn.call_row(call_id)
    return row if row is not None and getattr(row, column) else None


def place(kn: Nodes, number: str, did: str = LOW) -> tuple[Softphone, str]:
    phone = kn.caller(number)
    at = time.time()
    phone.call(number, did)
    return phone, kn.new_call_id(number, at)


def test_a_node_killed_mid_load(kn: Nodes) -> None:
    kn.engine.post("/api/agents/1002/pause", {"reason": "meeting"})
    talking, talk_id = place(kn, "13300000421")
    wait_until(lambda: kn.call_row(talk_id).connected_at, 45, "the first caller connected")
    talking.wait_for(lambda e: e.get("event") == "confirmed")
    dying = kn.call_row(talk_id).node
    other = next(n for n in NODE_NAMES if n != dying)
    # callers until one waits on each node (the proxy takes turns)
    waiting: dict[str, str] = {}
    for k in range(6):
        _, call_id = place(kn, f"133000004{30 + k}")
        waiting.setdefault(kn.call_row(call_id).node, call_id)
        if len(waiting) == 2:
            break
    assert set(waiting) == set(NODE_NAMES)
    killed = time.monotonic()
    kn.kill_node(NODE_NAMES.index(dying))
    # the proxy stops sending it calls
    wait_until(lambda: kn.states()[dying] == "down", 30, f"the proxy to take {dying} down")
    print(f"node {dying} killed -> down at the proxy: {time.monotonic() - killed:.1f} s")
    # the engine ends the dead node's calls (after node_dead_after), records complete
    wait_until(partial(ended, kn, talk_id), NODE_DEAD_AFTER + 30, "the dead node's talk to end")
    lost = wait_until(
        lambda: row_if(kn, waiting[dying], "leave_reason"),
        NODE_DEAD_AFTER + 30,
        "the dead node's waiting caller to leave",
    )
    assert lost.leave_reason == "node_lost" and lost.left_at is not None
    print(f"node {dying} killed -> its calls ended: {time.monotonic() - killed:.1f} s")
    # 1001 is freed and serves the other node's caller
    served = wait_until(
        lambda: row_if(kn, waiting[other], "connected_at"),
        60,
        "the other node's caller connected",
    )
    assert served.agent_id == "1001"
    # new callers all land on the living node
    for k in range(2):
        _, call_id = place(kn, f"133000004{40 + k}")
        assert kn.call_row(call_id).node == other


def test_a_drained_node_takes_no_new_call_and_loses_none(kn: Nodes) -> None:
    first, first_id = place(kn, "13300000451")
    wait_until(lambda: kn.call_row(first_id).connected_at, 45, "the first caller connected")
    first.wait_for(lambda e: e.get("event") == "confirmed")
    drained = kn.node(NODE_NAMES.index(kn.call_row(first_id).node))
    proxy = kn.config.proxy
    assert proxy is not None
    assert drain_node(kn.config, drained, wait=0, say=False) == 1  # its call goes on
    assert kn.states()[drained.name] == "drained"
    later = []
    for k in range(3):
        phone, call_id = place(kn, f"133000004{60 + k}")
        assert kn.call_row(call_id).node != drained.name
        later.append((phone, f"133000004{60 + k}", call_id))
    # the drained node's call is still up and ends normally; then the node is empty
    assert kn.call_row(first_id).ended_at is None
    hang_up(first, "13300000451")
    wait_until(lambda: calls_on(proxy, drained) == 0, 30, "the drained node empty")
    assert drain_node(kn.config, drained, wait=0, say=False) == 0
    for phone, number, call_id in later:
        wait_until(partial(row_if, kn, call_id, "connected_at"), 60, "a later caller connected")
        hang_up(phone, number)
    # zero calls lost: every call connected and its record complete
    for call_id in [first_id] + [c for _, _, c in later]:
        wait_until(partial(ended, kn, call_id), 30, "the record to end")
        row = kn.call_row(call_id)
        assert row.connected_at is not None and row.leave_reason == "answered", call_id
    undrain_node(kn.config, drained)
    wait_until(lambda: kn.states()[drained.name] == "up", 30, "the node back in the round")
