"""A node whose control link stays down for engine.node_dead_after is taken for dead: its
waiting callers leave the queue (reason node_lost), its connected calls end and free their
agents, and routing of the other nodes' callers goes on. A shorter cut keeps every call."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from acd import events as ev
from callcenter import domain
from callcenter.bus import Bus, Subscription
from callcenter.config import Config, load_config
from callcenter.pbx import base as pbx
from callcenter.runtime import NODE_LOST, Runtime
from tests.unit.fakes import SHIPPED_CONFIG, FakeDriver, caller, eventually, settle


def config(dead_after: float, restore_wait: float = 30.0) -> Config:
    cfg = load_config(SHIPPED_CONFIG)
    engine = dataclasses.replace(cfg.engine, node_dead_after=dead_after, restore_wait=restore_wait)
    return dataclasses.replace(cfg, engine=engine)


def drain(events: Subscription) -> list[object]:
    seen: list[object] = []
    with contextlib.suppress(asyncio.QueueEmpty):
        while True:
            seen.append(events.get_nowait())
    return seen


STATUSES = {"1003": ("on_break", "meeting"), "1004": ("on_break", "meeting")}


async def test_a_dead_node_s_calls_end_and_the_other_node_is_routed() -> None:
    a, b = FakeDriver("a"), FakeDriver("b")
    bus = Bus()
    events = bus.subscribe("test")
    runtime = Runtime(config(0.5), {"a": a, "b": b}, bus, agent_statuses=STATUSES)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: a.snapshots == 1 and b.snapshots == 1)
        await runtime.request(ev.AgentPaused("1002", "meeting"))
        b.emit(caller("talking", did="12345", node="b"))
        await eventually(lambda: len(b.offers) == 1)
        b.emit(pbx.AgentAnswered("b", "talking", "1001"))
        b.emit(caller("waiting", did="12345", node="b"))
        await eventually(lambda: "waiting" in runtime.calls)
        b.emit(pbx.LinkDown("b", "connection refused"))
        await eventually(lambda: "waiting" not in runtime.calls, timeout=5.0)
        await settle()
        seen = drain(events)
        left = [(e.call_id, e.reason) for e in seen if isinstance(e, domain.CallerLeft)]
        assert ("waiting", NODE_LOST) in left
        finished = [e.call_id for e in seen if isinstance(e, domain.CallFinished)]
        assert finished == ["talking"]
        assert runtime.calls == {}
        # routing goes on at once (restore_wait is 30 s): 1001 is freed after wrap-up, and
        # 1002 comes back: a caller on node a is offered
        await runtime.request(ev.AgentResumed("1002"))
        a.emit(caller("next", did="12345", node="a"))
        await eventually(lambda: [c for c, _, _ in a.offers] == ["next"], timeout=3.0)
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)


async def test_a_short_cut_keeps_the_node_s_calls() -> None:
    a, b = FakeDriver("a"), FakeDriver("b")
    runtime = Runtime(config(60.0), {"a": a, "b": b}, Bus(), agent_statuses=STATUSES)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: a.snapshots == 1 and b.snapshots == 1)
        await runtime.request(ev.AgentPaused("1001", "meeting"))
        await runtime.request(ev.AgentPaused("1002", "meeting"))
        a.emit(caller("waiting", did="12345"))
        await eventually(lambda: len(runtime.acd.queued()) == 1)
        a.emit(pbx.LinkDown("a", "connection reset"))
        await eventually(lambda: runtime.link_up["a"] is False)
        await settle()
        assert "waiting" in runtime.calls
        assert runtime.timers.due(("node-dead", "a", 0)) is not None
        a.snapshot_result = [dataclasses.replace(caller("waiting", did="12345"), restored=True)]
        a.emit(pbx.LinkUp("a"))
        await eventually(lambda: runtime.link_up["a"] is True)
        assert runtime.timers.due(("node-dead", "a", 0)) is None  # the link came back
        assert [v.call_id for v in runtime.acd.queued()] == ["waiting"]
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)


async def test_a_lone_node_is_never_taken_for_dead() -> None:
    """With one node there is nowhere else to route: however long its link is down, its calls
    stay (the link coming back restores them, or the dialplan's fallback serves them)."""
    a = FakeDriver("a")
    runtime = Runtime(config(0.2), {"a": a}, Bus(), agent_statuses=STATUSES)
    engine = asyncio.create_task(runtime.run())
    try:
        await eventually(lambda: a.snapshots == 1)
        await runtime.request(ev.AgentPaused("1001", "meeting"))
        await runtime.request(ev.AgentPaused("1002", "meeting"))
        a.emit(caller("waiting", did="12345"))
        await eventually(lambda: len(runtime.acd.queued()) == 1)
        a.emit(pbx.LinkDown("a", "connection reset"))
        await eventually(lambda: runtime.link_up["a"] is False)
        await settle()
        assert runtime.timers.due(("node-dead", "a", 0)) is None  # no death is armed
        assert "waiting" in runtime.calls
        assert [v.call_id for v in runtime.acd.queued()] == ["waiting"]
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)
