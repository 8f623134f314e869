"""The join -> ring trace marks (callcenter/trace.py): silent unless enabled, parseable."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from callcenter import trace


def test_marks_are_silent_until_enabled(caplog: pytest.LogCaptureFixture) -> None:
    trace.log.setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)  # the engine's root level
    caplog.handler.setLevel(logging.DEBUG)  # a DEBUG line would be caught
    trace.mark("read", "bench-1.1")
    assert not [r for r in caplog.records if r.name == "callcenter.trace"]


def test_an_enabled_mark_is_one_line_the_benchmark_reads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.handler.setLevel(logging.DEBUG)
    trace.enable()
    try:
        trace.mark("written", "bench-1765091234.12")
        lines = [
            f"2026-12-07 07:00:00,000 DEBUG {r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.name == "callcenter.trace"
        ]
    finally:
        trace.log.setLevel(logging.NOTSET)
    assert len(lines) == 1
    parsed = trace.parse(lines[0])
    assert parsed is not None
    stage, call, at = parsed
    assert (stage, call) == ("written", "bench-1765091234.12")
    assert at > 1.7e9


@pytest.mark.parametrize(
    "line",
    [
        "2026-12-07 07:00:00,000 INFO callcenter.runtime: PBX node bench: link up",
        "x callcenter.trace: written bench-1.1",
        "x callcenter.trace: written bench-1.1 soon",
    ],
)
def test_other_lines_are_not_marks(line: str) -> None:
    assert trace.parse(line) is None


def blocking_handler(seconds: float) -> None:
    time.sleep(seconds)  # what a blocking call on the event loop does to every event


async def test_a_loop_stall_is_logged_with_what_the_loop_was_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.handler.setLevel(logging.DEBUG)
    trace.enable()
    try:
        watch = trace.watch_loop()
        assert watch is not None
        try:
            await asyncio.sleep(0.05)  # the watcher's first rounds, the loop free
            blocking_handler(0.2)
            await asyncio.sleep(0.05)  # its report, once the loop answers
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _stalls(caplog):
                await asyncio.sleep(0.02)
        finally:
            watch.close()
    finally:
        trace.log.setLevel(logging.NOTSET)
    stalls = _stalls(caplog)
    assert stalls, "no stall reported"
    took = float(stalls[-1].split()[1])
    assert took >= 150  # the 200 ms the loop was blocked, give or take the watcher's round
    assert "blocking_handler" in stalls[-1]
    assert trace.parse(f"x callcenter.trace: {stalls[-1]}") is None  # not read as a mark


async def test_no_watcher_unless_tracing() -> None:
    trace.log.setLevel(logging.NOTSET)
    assert trace.watch_loop() is None


def _stalls(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "callcenter.trace" and r.getMessage().startswith("stall ")
    ]
