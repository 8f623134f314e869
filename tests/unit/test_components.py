"""The service's supervisor: named components started in order, stopped in reverse, and the
one that failed named in the log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcenter.components import Step, Supervisor, Task


def step(name: str, seen: list[str], fail: bool = False) -> Step:
    async def start() -> None:
        if fail:
            raise RuntimeError(f"{name} cannot start")
        seen.append(f"start {name}")

    async def stop() -> None:
        seen.append(f"stop {name}")

    return Step(name, start, stop)


async def test_started_in_order_and_stopped_in_reverse() -> None:
    seen: list[str] = []
    supervisor = Supervisor()
    await supervisor.start(step("database", seen), step("queue-log", seen))
    await supervisor.start(step("runtime", seen))
    await supervisor.stop()
    assert seen == [
        "start database",
        "start queue-log",
        "start runtime",
        "stop runtime",
        "stop queue-log",
        "stop database",
    ]
    await supervisor.stop()  # nothing left to stop
    assert len(seen) == 6


async def test_a_failed_start_stops_what_started_and_names_the_component(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    supervisor = Supervisor()
    with pytest.raises(RuntimeError, match="http cannot start"):
        await supervisor.start(step("database", seen), step("http", seen, fail=True))
    assert seen == ["start database", "stop database"]
    assert "component http failed to start" in caplog.text


async def test_a_task_is_signalled_awaited_and_its_failure_logged_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    seen: list[str] = []

    async def worker() -> None:
        await stop.wait()
        seen.append("worker ended")

    async def broken() -> None:
        raise ValueError("bad row")

    async def after() -> None:
        seen.append("after")

    waiter = Task("waiter", lambda: asyncio.sleep(3600), cancel=True)
    supervisor = Supervisor()
    await supervisor.start(
        Task("worker", worker, signal=stop.set, after=after), Task("broken", broken), waiter
    )
    assert not waiter.done()
    with caplog.at_level(logging.ERROR):
        await supervisor.stop()
    assert seen == ["worker ended", "after"]
    assert waiter.done()
    failed = [r for r in caplog.records if r.getMessage() == "component broken failed"]
    assert len(failed) == 1 and failed[0].exc_info is not None


async def test_cancelling_a_wait_leaves_the_task_running() -> None:
    release = asyncio.Event()
    task = Task("engine", release.wait)
    await task.start()
    waiting = asyncio.ensure_future(task.wait())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert not task.done()
    release.set()
    await task.stop()
    assert task.done()
