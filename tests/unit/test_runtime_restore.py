"""Restoring the queue after a start, an engine restart or a reconnect is a barrier: no agent
is offered a call until the snapshot of every node that came up is applied, so the first
offers go to the best callers of the whole queue; a node that does not come back within
`engine.restore_wait` stalls routing no longer than that."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from acd import events as ev
from callcenter import domain
from callcenter.bus import Bus
from callcenter.config import Config, load_config
from callcenter.pbx import base as pbx
from callcenter.runtime import Runtime
from tests.unit.fakes import SHIPPED_CONFIG, FakeDriver, caller, eventually, running_runtime, settle


def restored(call_id: str, priority: int, arrived: float, node: str = "a") -> pbx.CallerEntered:
    c = caller(call_id, did="12345", skill="general", priority=priority, node=node)
    return dataclasses.replace(c, restored=True, arrived_at=arrived)


def first_offered(drivers: list[FakeDriver]) -> list[str]:
    return [call_id for d in drivers for call_id, _, _ in d.offers]


class SilentDriver(FakeDriver):
    """A node whose link comes up only when the test says so."""

    async def connect(self) -> None:
        self.connects += 1


def with_restore_wait(seconds: float) -> Config:
    cfg = load_config(SHIPPED_CONFIG)
    return dataclasses.replace(cfg, engine=dataclasses.replace(cfg.engine, restore_wait=seconds))


# two free general agents (1001, 1002); 1003 and 1004 on a break
STATUSES = {"1003": ("on_break", "meeting"), "1004": ("on_break", "meeting")}


async def test_after_a_restart_the_first_offers_go_to_the_highest_priority_callers() -> None:
    now = time.time()
    driver = FakeDriver("a")
    # the snapshot lists callers oldest first: three ordinary ones, then two priority 5
    driver.snapshot_result = [
        restored("old1", 0, now - 50),
        restored("old2", 0, now - 40),
        restored("old3", 0, now - 30),
        restored("vip1", 5, now - 20),
        restored("vip2", 5, now - 10),
    ]
    runtime = Runtime(load_config(SHIPPED_CONFIG), {"a": driver}, Bus(), agent_statuses=STATUSES)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: len(driver.offers) == 2)
        await settle()
        assert first_offered([driver]) == ["vip1", "vip2"]
        assert [v.call_id for v in runtime.acd.queued() if v.state == "waiting"] == [
            "old1",
            "old2",
            "old3",
        ]
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)


async def test_no_offer_until_every_node_that_comes_up_is_restored() -> None:
    now = time.time()
    a, b = FakeDriver("a"), SilentDriver("b")
    a.snapshot_result = [restored("old1", 0, now - 50), restored("old2", 0, now - 40)]
    b.snapshot_result = [restored("vip1", 5, now - 20, "b"), restored("vip2", 5, now - 10, "b")]
    runtime = Runtime(with_restore_wait(30), {"a": a, "b": b}, Bus(), agent_statuses=STATUSES)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: a.snapshots == 1 and len(runtime.acd.queued()) == 2)
        await settle()
        assert first_offered([a, b]) == []  # node b is not restored yet: nobody is offered
        b.emit(pbx.LinkUp("b"))
        await eventually(lambda: len(first_offered([a, b])) == 2)
        assert first_offered([a, b]) == ["vip1", "vip2"]
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)


async def test_a_node_that_does_not_come_back_stalls_routing_only_restore_wait() -> None:
    a, b = FakeDriver("a"), SilentDriver("b")
    runtime = Runtime(with_restore_wait(0.3), {"a": a, "b": b}, Bus(), agent_statuses=STATUSES)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: a.snapshots == 1)
        a.emit(caller("c1", did="12345"))
        # node b never answers: after restore_wait the callers of node a are routed anyway
        await eventually(lambda: first_offered([a]) == ["c1"], timeout=3.0)
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)


async def test_after_a_reconnect_callers_joined_meanwhile_rank_before_the_offer() -> None:
    async with running_runtime(agent_statuses=STATUSES) as h:
        await h.runtime.request(ev.AgentPaused("1001", "meeting"))
        await h.runtime.request(ev.AgentPaused("1002", "meeting"))
        old = caller("old", did="12345")
        h.driver.emit(old)
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.LinkDown("a", "connection reset"))
        await eventually(lambda: h.runtime.link_up["a"] is False)
        # an agent comes back while the link is down: the queue is not whole, no offer yet
        await h.runtime.request(ev.AgentResumed("1001"))
        await settle()
        assert h.driver.offers == []
        h.driver.snapshot_result = [
            dataclasses.replace(old, restored=True),
            restored("vip", 5, time.time()),  # joined while the link was down
        ]
        h.driver.emit(pbx.LinkUp("a"))
        await eventually(lambda: len(h.driver.offers) == 1)
        assert first_offered([h.driver]) == ["vip"]
        assert [e.call_id for e in h.of(domain.OfferMade)] == ["vip"]


def finished(call_id: str, route: str, ended_at: float, **kw: object) -> pbx.FinishedCall:
    fields: dict[str, object] = {
        "node": "a",
        "call_id": call_id,
        "did": "12345",
        "skill": "general",
        "priority": 0,
        "caller_number": "13812345678",
        "arrived_at": ended_at - 100,
        "ended_at": ended_at,
        "route": route,
    }
    fields.update(kw)
    return pbx.FinishedCall(**fields)  # type: ignore[arg-type]


async def test_at_start_calls_the_pbx_finished_meanwhile_are_reconciled() -> None:
    now = time.time()
    driver = FakeDriver("a")
    driver.finished = [
        finished("down", "engine", now - 30, agent_id="1001", connected_at=now - 90),
        finished(
            "fb", "fallback", now - 20, fellback_at=now - 80, agent_id="1002", connected_at=now - 70
        ),
        finished("cb", "callback", now - 10),  # callbacks keep their own records
        finished("old", "engine", now - 7200),  # reconciled, and over an hour old: forgotten
    ]
    bus = Bus()
    seen = bus.subscribe("test")
    runtime = Runtime(load_config(SHIPPED_CONFIG), {"a": driver}, bus)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: driver.forgotten == ["old"])
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)
    bus.close()
    done = [e async for e in seen if isinstance(e, domain.CallReconciled)]
    assert [(e.call_id, e.route, e.agent_id) for e in done] == [
        ("down", "engine", "1001"),
        ("fb", "fallback", "1002"),
        ("old", "engine", ""),
    ]
    fb = done[1]
    assert (fb.hotline, fb.joined_at, fb.fellback_at, fb.ended_at) == (
        "12345政务服务便民热线",
        now - 120,
        now - 80,
        now - 20,
    )


async def test_after_a_cut_a_known_call_ends_when_the_pbx_says_and_a_fallback_is_no_abandon() -> (
    None
):
    async with running_runtime() as h:
        h.driver.emit(caller("talk", did="12345"))
        await eventually(lambda: len(h.driver.offers) == 1)
        h.driver.emit(pbx.AgentAnswered("a", "talk", "1001"))
        await eventually(lambda: h.runtime.acd.agent("1001").state == "on_call")
        connected = h.of(domain.CallConnected)[0].at
        h.driver.emit(caller("wait", did="12345", skill="dialect"))  # nobody has it: waits
        await eventually(lambda: len(h.runtime.acd.queued()) == 1)
        h.driver.emit(pbx.LinkDown("a", "connection reset"))
        await eventually(lambda: h.runtime.link_up["a"] is False)
        ended = time.time()  # before the link is up again
        fellback = ended - 0.1
        h.driver.finished = [
            finished("talk", "engine", ended, agent_id="1001", connected_at=connected),
            finished("wait", "fallback", fellback + 0.05, fellback_at=fellback),
        ]
        h.driver.snapshot_result = []
        h.driver.emit(pbx.LinkUp("a"))
        await eventually(
            lambda: len(h.of(domain.CallerLeft)) == 2 and bool(h.of(domain.CallFinished))
        )
        done = h.of(domain.CallFinished)[0]
        assert (done.call_id, done.at) == ("talk", ended)
        assert done.talk_seconds == pytest.approx(ended - connected)
        left = {e.call_id: (e.reason, e.at) for e in h.of(domain.CallerLeft)}
        assert left["wait"] == ("fallback", fellback)


async def test_while_linked_finished_calls_are_reconciled_once_when_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("callcenter.runtime._RECONCILE_EVERY", 0.05)
    async with running_runtime() as h:
        now = time.time()
        h.driver.finished = [
            # served by the fallback route two minutes ago (e.g. the heartbeat went stale)
            finished("fb", "fallback", now - 120, fellback_at=now - 200, agent_id="1003",
                     connected_at=now - 180),
            # ended a moment ago: its own events may still be on the way, so not yet
            finished("fresh", "engine", now - 1, agent_id="1001", connected_at=now - 30),
        ]  # fmt: skip
        reads = h.driver.finished_reads
        await eventually(lambda: h.driver.finished_reads >= reads + 3)
        await settle()
        assert [e.call_id for e in h.of(domain.CallReconciled)] == ["fb"]
