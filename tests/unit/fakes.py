"""A fake of the PBX boundary (callcenter.pbx.base.PbxDriver) and a harness that runs a real
Runtime against it. Only the PBX is faked: the runtime, ACD, bus and live figures are the real
ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from callcenter import domain
from callcenter.bus import Bus, Subscription
from callcenter.config import Config, load_config
from callcenter.decisions.log import DecisionLog
from callcenter.live_figures.model import LiveFigures
from callcenter.outbound.callbacks import PendingCallback
from callcenter.pbx import base as pbx
from callcenter.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "config"
E = TypeVar("E")


class FakeDriver:
    """Records every command; the test pushes PBX events with `emit`."""

    def __init__(self, node: str = "a") -> None:
        self.node = node
        self._events: asyncio.Queue[pbx.PbxEvent | None] = asyncio.Queue()
        self.snapshot_result: list[pbx.PbxEvent] = []
        self.contacts_result: list[pbx.PbxEvent] = []  # what agent_contacts() answers
        self.finished: list[pbx.FinishedCall] = []  # what finished_calls() returns
        self.forgotten: list[str] = []
        self.finished_reads = 0
        self.offers: list[tuple[str, tuple[str, ...], float]] = []
        self.cancelled: list[tuple[str, tuple[str, ...]]] = []
        self.gone: set[str] = set()  # callers whose hang-up the test emitted
        self.overflows: list[tuple[str, str, str]] = []
        self.heartbeats: list[float] = []
        self.priorities: list[tuple[str, int]] = []
        self.skills: list[tuple[str, str]] = []
        self.hangups: list[str] = []
        self.streams: list[tuple[str, str, str, str]] = []
        self.emergencies: list[tuple[str, str, str]] = []
        self.transfers: list[tuple[str, str]] = []
        self.announcements: list[tuple[str, tuple[str, ...], bool]] = []
        self.callbacks: list[tuple[pbx.OutboundCall, str, float]] = []
        self.surveys: list[pbx.OutboundCall] = []
        self.spies: list[tuple[str, str, str]] = []
        self.connects = 0
        self.snapshots = 0
        self.closed = False

    def emit(self, event: pbx.PbxEvent) -> None:
        if isinstance(event, pbx.CallerGone):
            self.gone.add(event.call_id)
        self._events.put_nowait(event)

    async def connect(self) -> None:
        self.connects += 1
        self.emit(pbx.LinkUp(self.node))

    async def events(self) -> AsyncIterator[pbx.PbxEvent]:
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    async def snapshot(self) -> list[pbx.PbxEvent]:
        self.snapshots += 1
        return list(self.snapshot_result)

    async def agent_contacts(self) -> list[pbx.PbxEvent]:
        return list(self.contacts_result)

    async def finished_calls(self) -> list[pbx.FinishedCall]:
        self.finished_reads += 1
        return list(self.finished)

    async def forget_finished(self, call_ids: list[str]) -> None:
        self.forgotten += call_ids

    async def offer(self, call_id: str, agent_ids: tuple[str, ...], timeout: float) -> None:
        self.offers.append((call_id, agent_ids, timeout))

    async def cancel_offer(self, call_id: str, agent_ids: tuple[str, ...]) -> None:
        self.cancelled.append((call_id, agent_ids))
        if call_id in self.gone:
            return  # the caller's hang-up ended its rings: no report, as on a real PBX
        for agent_id in agent_ids:  # each stopped ring's end, as the real drivers report it
            self.emit(pbx.AgentNotAnswered(self.node, call_id, agent_id, "cancelled"))

    async def overflow(self, call_id: str, target: str, reason: str) -> None:
        self.overflows.append((call_id, target, reason))

    async def heartbeat(self, now: float) -> None:
        self.heartbeats.append(now)

    async def set_priority(self, call_id: str, priority: int) -> None:
        self.priorities.append((call_id, priority))

    async def set_skill(self, call_id: str, skill: str) -> None:
        self.skills.append((call_id, skill))

    async def stream_audio(self, call_id: str, leg: str, address: str, stream_id: str) -> None:
        self.streams.append((call_id, leg, address, stream_id))

    async def emergency_transfer(self, call_id: str, line: str, mode: str) -> None:
        self.emergencies.append((call_id, line, mode))

    async def transfer(self, call_id: str, skill: str) -> None:
        self.transfers.append((call_id, skill))

    async def spy(self, call_id: str, extension: str, mode: str) -> None:
        self.spies.append((call_id, extension, mode))

    async def announce(self, call_id: str, prompts: tuple[str, ...], callback_offer: bool) -> None:
        self.announcements.append((call_id, prompts, callback_offer))

    async def callback(self, call: pbx.OutboundCall, agent_id: str, ring_timeout: float) -> None:
        self.callbacks.append((call, agent_id, ring_timeout))

    async def survey_call(self, call: pbx.OutboundCall, input_timeout: float, retries: int) -> None:
        self.surveys.append(call)

    async def hangup(self, call_id: str) -> None:
        self.hangups.append(call_id)

    async def close(self) -> None:
        self.closed = True
        self._events.put_nowait(None)


def caller(
    call_id: str,
    did: str = "12345",
    number: str = "13812345678",
    skill: str = "",
    priority: int = 0,
    restored: bool = False,
    node: str = "a",
) -> pbx.CallerEntered:
    """A CallerEntered as the driver reports it (skill "" = the DID's skill)."""
    return pbx.CallerEntered(
        node=node,
        call_id=call_id,
        channel=f"PJSIP/carrier-{call_id}",
        did=did,
        skill=skill,
        priority=priority,
        arrived_at=time.time(),
        caller_number=number,
        restored=restored,
    )


@dataclass
class Harness:
    runtime: Runtime
    driver: FakeDriver
    bus: Bus
    stats: LiveFigures
    events: list[domain.DomainEvent] = field(default_factory=list)

    def of(self, kind: type[E]) -> list[E]:
        """The published domain events of one kind, in order."""
        return [e for e in self.events if isinstance(e, kind)]


async def eventually(check: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait until `check()` holds (the owner task runs between our awaits)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.005)


async def settle() -> None:
    """Let the owner and sender tasks drain what is queued (for asserting that nothing happens)."""
    for _ in range(20):
        await asyncio.sleep(0)
    await asyncio.sleep(0.02)


@asynccontextmanager
async def running_runtime(
    config: Config | None = None,
    agent_statuses: Mapping[str, tuple[str, str]] | None = None,
    recent_callers: Iterable[tuple[str, float]] = (),
    pending_callbacks: Iterable[PendingCallback] = (),
    caller_key: Callable[[str], str] | None = None,
    decisions: DecisionLog | None = None,
    missed_since: Iterable[tuple[str, float]] = (),
) -> AsyncIterator[Harness]:
    """A real Runtime on the shipped config with one FakeDriver (node "a"), link up."""
    cfg = config if config is not None else load_config(SHIPPED_CONFIG)
    bus = Bus()
    driver = FakeDriver("a")
    stats = LiveFigures()
    runtime = Runtime(
        cfg,
        {"a": driver},
        bus,
        agent_statuses=agent_statuses,
        recent_callers=recent_callers,
        pending_callbacks=pending_callbacks,
        caller_key=caller_key,
        decisions=decisions,
        missed_since=missed_since,
    )
    harness = Harness(runtime, driver, bus, stats)

    async def record(subscription: Subscription) -> None:
        async for e in subscription:
            harness.events.append(e)

    stats_task = asyncio.create_task(stats.run(bus.subscribe("stats")))
    record_task = asyncio.create_task(record(bus.subscribe("record")))
    engine = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.started.wait(), 2.0)
        await eventually(lambda: runtime.link_up.get("a", False))
        yield harness
    finally:
        runtime.stop()
        await asyncio.wait_for(engine, 2.0)
        bus.close()
        await asyncio.wait_for(asyncio.gather(stats_task, record_task), 2.0)
