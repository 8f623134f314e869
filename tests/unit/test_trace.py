"""The join -> ring trace marks (callcenter/trace.py): silent unless enabled, parseable."""

from __future__ import annotations

import logging

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
