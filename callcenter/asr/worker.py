"""Recognition in worker processes, and the backlog of recordings waiting for it.

`TranscriptionPool` runs `Transcriber.transcribe_call` in a `ProcessPoolExecutor`; every worker
process loads the model once (pool initializer) and then decodes job after job. It is usable
from asyncio (``await pool.submit(job)``: the decode never runs on the event loop) and from
plain code (``pool.transcribe(job)``, ``pool.submit_future(job)``).

`BacklogRunner` drains a `JobSource` (the storage boundary: calls whose recordings have no
transcript yet). After a restart it takes every pending job, oldest first, keeps the pool busy
with a few jobs ahead, and reports results strictly in the source's order: `done(job,
transcript)` or, after `max_attempts` failures, `failed(job, reason)`. Nothing is skipped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from callcenter.asr.errors import AsrError
from callcenter.asr.transcriber import Transcriber, Transcript, check_model_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=True)
class Job:
    """One call to transcribe: speaker label -> recording (e.g. caller -> rx.wav)."""

    call_id: str
    legs: Mapping[str, Path]
    created_at: datetime
    channels: Mapping[str, int] = field(default_factory=dict)  # optional channel per leg

    def __post_init__(self) -> None:
        # Plain dicts: picklable for the worker processes, and a private copy.
        object.__setattr__(self, "legs", {k: Path(v) for k, v in self.legs.items()})
        object.__setattr__(self, "channels", dict(self.channels))


class JobSource(Protocol):
    """Where jobs come from and where their outcome goes (implemented by storage)."""

    def pending(self) -> list[Job]:
        """Jobs without a transcript and not failed, oldest first."""
        ...

    def done(self, job: Job, transcript: Transcript) -> None: ...

    def failed(self, job: Job, error: str) -> None: ...


@runtime_checkable
class JobExecutor(Protocol):
    """What `BacklogRunner` needs from a pool (`TranscriptionPool` implements it)."""

    def submit_future(self, job: Job) -> concurrent.futures.Future[Transcript]: ...


# --- worker-process side ---------------------------------------------------------------------

_TRANSCRIBER: Transcriber | None = None


def _init_worker(model_dir: str, sample_rate: int, parent: int) -> None:
    global _TRANSCRIBER
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    _TRANSCRIBER = Transcriber(Path(model_dir), sample_rate)


def _exit_with(parent: int, every: float = 1.0) -> None:
    """A worker ends when the process that started it is gone (killed, crashed): otherwise
    each engine restart would leave its workers behind, holding a model in memory."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def _run_job(job: Job) -> Transcript:
    if _TRANSCRIBER is None:  # pragma: no cover - the initializer always runs first
        raise AsrError("worker process has no model loaded", "asr.model_missing")
    parts = [
        _TRANSCRIBER.transcribe(path, speaker, job.channels.get(speaker))
        for speaker, path in job.legs.items()
    ]
    return Transcript.merge(parts)


def _ping(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()


# --- parent side -----------------------------------------------------------------------------


class TranscriptionPool:
    """`workers` processes, each with the model loaded once. Close it (or use `with`)."""

    def __init__(
        self,
        model_dir: Path,
        workers: int = 1,
        sample_rate: int = 16000,
        start_method: str = "spawn",
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.model_dir = Path(model_dir)
        check_model_dir(self.model_dir)  # fail here, naming the directory, not in a child
        self.workers = workers
        self.sample_rate = sample_rate
        self._context = multiprocessing.get_context(start_method)
        self._lock = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(str(self.model_dir), self.sample_rate, os.getpid()),
        )

    def submit_future(self, job: Job) -> concurrent.futures.Future[Transcript]:
        """Queue a job; a pool broken by a dead worker is replaced transparently."""
        with self._lock:
            try:
                return self._executor.submit(_run_job, job)
            except BrokenProcessPool:
                log.warning("ASR worker pool broken; starting a new one")
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
                return self._executor.submit(_run_job, job)

    async def submit(self, job: Job) -> Transcript:
        """Decode in a worker process; awaitable from the event loop."""
        return await asyncio.wrap_future(self.submit_future(job))

    def transcribe(self, job: Job) -> Transcript:
        """Blocking: decode in a worker process and return the transcript."""
        return self.submit_future(job).result()

    def warm_up(self) -> None:
        """Start every worker process and load the model in each (blocks until done)."""
        futures = [self._executor.submit(_ping, 0.3) for _ in range(self.workers * 2)]
        for future in futures:
            future.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> TranscriptionPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class BacklogReport:
    done: list[str] = field(default_factory=list)  # call ids, in the order reported
    failed: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AsrError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class BacklogRunner:
    """Processes every pending job of a `JobSource`, in order, retrying failures.

    `max_attempts` counts the first try. `lookahead` jobs are submitted ahead of the one
    being reported so all workers stay busy; reports still happen in order. Each `pending()`
    list is re-read after it is drained, so jobs added meanwhile are taken too; a job seen
    once in a run is not retried again in the same run even if the source still lists it.
    """

    def __init__(
        self,
        source: JobSource,
        executor: JobExecutor,
        max_attempts: int = 3,
        lookahead: int = 4,
        retry_delay: float = 0.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.source = source
        self.executor = executor
        self.max_attempts = max_attempts
        self.lookahead = max(1, lookahead)
        self.retry_delay = retry_delay

    def _settle(
        self, job: Job, first: concurrent.futures.Future[Transcript], report: BacklogReport
    ) -> None:
        future = first
        attempt = 1
        while True:
            try:
                transcript = future.result()
            except Exception as exc:  # any failure of one job is that job's
                log.warning(
                    "ASR job %s attempt %d/%d failed: %s",
                    job.call_id,
                    attempt,
                    self.max_attempts,
                    _reason(exc),
                )
                if attempt >= self.max_attempts:
                    report.attempts[job.call_id] = attempt
                    report.failed.append(job.call_id)
                    self.source.failed(job, f"{_reason(exc)} (after {attempt} attempts)")
                    return
                attempt += 1
                if self.retry_delay:
                    time.sleep(self.retry_delay)
                future = self._submit(job)
                continue
            report.attempts[job.call_id] = attempt
            report.done.append(job.call_id)
            self.source.done(job, transcript)
            return

    def _submit(self, job: Job) -> concurrent.futures.Future[Transcript]:
        try:
            return self.executor.submit_future(job)
        except Exception as exc:  # becomes a failed attempt of this job
            future: concurrent.futures.Future[Transcript] = concurrent.futures.Future()
            future.set_exception(exc)
            return future

    def run(self) -> BacklogReport:
        """Blocking: drain the source. Returns what was done (for logs and tests)."""
        report = BacklogReport()
        seen: set[str] = set()
        while True:
            jobs = [j for j in self.source.pending() if j.call_id not in seen]
            if not jobs:
                return report
            seen.update(j.call_id for j in jobs)
            queue: deque[tuple[Job, concurrent.futures.Future[Transcript]]] = deque()
            upcoming = iter(jobs)
            for job in upcoming:
                queue.append((job, self._submit(job)))
                if len(queue) >= self.lookahead:
                    break
            while queue:
                job, future = queue.popleft()
                next_job = next(upcoming, None)
                if next_job is not None:
                    queue.append((next_job, self._submit(next_job)))
                self._settle(job, future, report)

    async def run_async(self) -> BacklogReport:
        """`run` in a thread: the event loop stays free while the backlog drains."""
        return await asyncio.to_thread(self.run)
