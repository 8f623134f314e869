"""The in-process domain-event bus.

`publish` never blocks and never fails: each subscriber has its own unbounded queue and
reads it in its own task, so a slow subscriber (storage, ASR) cannot stall the engine's owner
task. Subscribers are named so their backlog can be measured.

`held()` lets the owner task finish a step before any subscriber hears of it: the events
published inside go out together, in order, when the step ends. A subscriber woken by an
event runs in the event loop's next pass, before whatever was woken after it; holding the
step's events puts the node's sender (woken by the step's PBX command) ahead of storage,
statistics and the console, so a caller's ring is written to the PBX before the bookkeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from callcenter.domain import DomainEvent


class Subscription:
    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: asyncio.Queue[DomainEvent | None] = asyncio.Queue()

    def backlog(self) -> int:
        return self._queue.qsize()

    def _put(self, event: DomainEvent | None) -> None:
        self._queue.put_nowait(event)

    async def get(self) -> DomainEvent | None:
        """The next event, or None once the bus is closed."""
        return await self._queue.get()

    def get_nowait(self) -> DomainEvent | None:
        """The next event if one is queued (raises asyncio.QueueEmpty otherwise)."""
        return self._queue.get_nowait()

    async def __aiter__(self) -> AsyncIterator[DomainEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event


class Bus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._closed = False
        self._held: list[DomainEvent] | None = None

    def subscribe_warnings(self) -> asyncio.Queue[WarningRaised]:
        """A queue of every early warning raised or raised in level from now on (a side
        channel beside the domain events: the call-handling subscribers never see them)."""
        queue: asyncio.Queue[WarningRaised] = asyncio.Queue()
        self.__dict__.setdefault("_warning_queues", []).append(queue)
        return queue

    def publish_warning(self, event: WarningRaised) -> None:
        if self._closed:
            return
        for queue in self.__dict__.get("_warning_queues", []):
            queue.put_nowait(event)

    def subscribe(self, name: str) -> Subscription:
        subscription = Subscription(name)
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, event: DomainEvent) -> None:
        if self._closed:
            return
        if self._held is not None:
            self._held.append(event)
            return
        for subscription in self._subscriptions:
            subscription._put(event)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Events published inside reach the subscribers when the outermost `held()` ends,
        in the order they were published (also when the block raises)."""
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            events, self._held = self._held, None
            for event in events:
                self.publish(event)

    def close(self) -> None:
        """Tell every subscriber there is nothing more: their iteration ends."""
        if self._closed:
            return
        self._closed = True
        for subscription in self._subscriptions:
            subscription._put(None)

    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)


@dataclass(frozen=True)
class WarningRaised:
    """An early warning (预警) was raised, or its level went up (callcenter.alerts)."""

    warning_id: int
    kind: str
    level: str
    title: str
    new: bool
    at: float
