"""Per-call timestamps along the join -> ring path, for `tools/bench_e2e.py --trace`.

Off unless the logger `callcenter.trace` is at DEBUG (`callcenter --trace serve`); off, a mark
costs one cached level check. On, each mark is one line `STAGE CALL_ID EPOCH_SECONDS`, which
the benchmark pairs with Asterisk's own event timestamps to say where a caller's milliseconds
went. Stages, in order:

  read      the driver parsed the caller's join event
  owner     the owner task took the join from its inbox
  decided   the routing core's offer was handed to the node's sender
  sending   the driver was asked to send the offer (or kept it for the hold, "held")
  written   the offer's actions were written to the PBX link
"""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import sys
import threading
import time
from pathlib import Path
from types import FrameType

log = logging.getLogger("callcenter.trace")


def enable() -> None:
    log.setLevel(logging.DEBUG)


def mark(stage: str, call_id: str) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s %.6f", stage, call_id, time.time())


def parse(line: str) -> tuple[str, str, float] | None:
    """(stage, call id, time) from one log line a mark wrote, else None."""
    _, found, rest = line.partition("callcenter.trace: ")
    if not found:
        return None
    parts = rest.split()
    if len(parts) != 3:
        return None
    try:
        return parts[0], parts[1], float(parts[2])
    except ValueError:
        return None


class LoopWatch:
    """With tracing on: report each stall of the event loop and what it was running.

    A thread asks the loop to run a no-op every few milliseconds and, while the loop does not,
    samples the loop thread's stack; a stall longer than `threshold` is logged as one line
    `stall MS gc=MS FRAME <- FRAME ...` with the stack seen most often during it, and the
    time the garbage collector ran inside it. Off the benchmark's path when tracing is off.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float = 0.008) -> None:
        self.loop = loop
        self.threshold = threshold
        self.loop_thread = threading.get_ident()
        self.stop = threading.Event()
        self.gc_total = 0.0
        self._gc_start = 0.0
        self.thread = threading.Thread(target=self._run, name="trace-loopwatch", daemon=True)

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc_total += time.perf_counter() - self._gc_start

    def _run(self) -> None:
        while not self.stop.wait(0.005):
            ran = threading.Event()
            start = time.perf_counter()
            gc_before = self.gc_total
            try:
                self.loop.call_soon_threadsafe(ran.set)
            except RuntimeError:  # the loop closed
                return
            stacks: collections.Counter[str] = collections.Counter()
            while not ran.wait(0.002):
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    stacks[_stack(frame)] += 1
                if self.stop.is_set():
                    return
            took = time.perf_counter() - start
            if took >= self.threshold:
                top = stacks.most_common(1)[0][0] if stacks else "?"
                others = "" if stacks else self._busy_threads()
                log.debug(
                    "stall %.1f gc=%.1f %s%s",
                    took * 1000,
                    (self.gc_total - gc_before) * 1000,
                    top,
                    others,
                )

    def _busy_threads(self) -> str:
        """The other threads' stacks, when the loop thread was never seen stalled: the
        watcher itself could not run (another thread held the interpreter)."""
        names = {t.ident: t.name for t in threading.enumerate()}
        found = []
        for ident, frame in sys._current_frames().items():
            if ident in (self.loop_thread, threading.get_ident()):
                continue
            found.append(f" | {names.get(ident, ident)}: {_stack(frame, 5)}")
        return "".join(found)


def _stack(frame: FrameType | None, depth: int = 24) -> str:
    parts: list[str] = []
    while frame is not None and len(parts) < depth:
        code = frame.f_code
        parts.append(f"{Path(code.co_filename).name}:{frame.f_lineno}:{code.co_name}")
        frame = frame.f_back
    return " <- ".join(parts)


def watch_loop() -> LoopWatch | None:
    """Start a LoopWatch on the running loop when tracing is on."""
    if not log.isEnabledFor(logging.DEBUG):
        return None
    watch = LoopWatch(asyncio.get_running_loop())
    watch.start()
    return watch
