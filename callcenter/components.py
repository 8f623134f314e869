"""Named components and the small supervisor that starts and stops them (the service's
wiring, service.py).

A component has a name and starts and stops itself. The supervisor starts components in the
order given (in stages, as the service builds what the next ones need), stops the started
ones in reverse order, and logs by name the one that failed: to start (the ones started
before it are stopped again, and the error goes on), or while running or stopping (the
others are stopped all the same)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

log = logging.getLogger(__name__)


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Step:
    """A component that is two callables: what starting does and what stopping does."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[None]] | None = None,
        stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self._start, self._stop = start, stop

    async def start(self) -> None:
        if self._start is not None:
            await self._start()

    async def stop(self) -> None:
        if self._stop is not None:
            await self._stop()


class Task:
    """A component that is one asyncio task running `run`. Stopping calls `signal` (when given;
    without it the task ends by itself: its bus subscription closes or the service's stop
    event is set) or cancels it (`cancel`), waits for it, then `after`; a task that failed
    raises its error there."""

    def __init__(
        self,
        name: str,
        run: Callable[[], Coroutine[Any, Any, Any]],
        *,
        signal: Callable[[], None] | None = None,
        cancel: bool = False,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = name
        self._run, self._signal, self._cancel, self._after = run, signal, cancel, after
        self._task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def wait(self) -> None:
        """Until the task has ended (its error raised); cancelling the wait leaves the task be."""
        assert self._task is not None
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        assert self._task is not None
        if self._signal is not None:
            self._signal()
        if self._cancel:
            self._task.cancel()
        result = (await asyncio.gather(self._task, return_exceptions=True))[0]
        if self._after is not None:
            await self._after()
        if isinstance(result, Exception):
            raise result


class HttpServer:
    """A component that serves an aiohttp application on host:port."""

    def __init__(self, name: str, app: web.Application, host: str, port: int) -> None:
        self.name = name
        self._runner = web.AppRunner(app)
        self._host, self._port = host, port

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()


class Supervisor:
    """`stopping`, when given, is set first whenever the supervisor stops (the event the
    components' loops watch), also when a start failed."""

    def __init__(self, stopping: asyncio.Event | None = None) -> None:
        self.stopping = stopping
        self.started: list[Component] = []

    async def start(self, *components: Component) -> None:
        """Start each in order; when one fails, stop the ones started and raise its error."""
        for component in components:
            try:
                await component.start()
            except BaseException:
                log.error("component %s failed to start", component.name)
                await self.stop()
                raise
            self.started.append(component)

    async def stop(self) -> None:
        """Stop the started components, the last started first."""
        if self.stopping is not None:
            self.stopping.set()
        while self.started:
            component = self.started.pop()
            try:
                await component.stop()
            except Exception:
                log.exception("component %s failed", component.name)
