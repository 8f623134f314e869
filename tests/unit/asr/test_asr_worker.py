"""TranscriptionPool (worker processes) and BacklogRunner (ordered drain with retries)."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from callcenter.asr.errors import AsrError
from callcenter.asr.transcriber import Transcriber, Transcript
from callcenter.asr.worker import BacklogRunner, Job, TranscriptionPool

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.unit.asr.conftest import Speech

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pool(model_dir: Path) -> Iterator[TranscriptionPool]:
    with TranscriptionPool(model_dir, workers=2) as p:
        yield p


@dataclass
class MemoryJobSource:
    """The storage boundary, in memory: jobs without a transcript, oldest first."""

    jobs: list[Job]
    transcripts: dict[str, Transcript] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str]] = field(default_factory=list)

    def pending(self) -> list[Job]:
        open_jobs = [
            j
            for j in self.jobs
            if j.call_id not in self.transcripts and j.call_id not in self.failures
        ]
        return sorted(open_jobs, key=lambda j: j.created_at)

    def done(self, job: Job, transcript: Transcript) -> None:
        self.transcripts[job.call_id] = transcript
        self.events.append(("done", job.call_id))

    def failed(self, job: Job, error: str) -> None:
        self.failures[job.call_id] = error
        self.events.append(("failed", job.call_id))


@dataclass
class FlakyFirstAttempt:
    """Wraps the real pool: the first submission of the listed calls fails (a worker crash,
    a file still being written); later attempts go to the real pool."""

    pool: TranscriptionPool
    flaky: set[str]
    submissions: dict[str, int] = field(default_factory=dict)

    def submit_future(self, job: Job) -> concurrent.futures.Future[Transcript]:
        self.submissions[job.call_id] = self.submissions.get(job.call_id, 0) + 1
        if job.call_id in self.flaky and self.submissions[job.call_id] == 1:
            future: concurrent.futures.Future[Transcript] = concurrent.futures.Future()
            future.set_exception(OSError("recording still being written"))
            return future
        return self.pool.submit_future(job)


def test_pool_matches_in_process(
    pool: TranscriptionPool, transcriber: Transcriber, speech: Speech
) -> None:
    legs = {"caller": speech.caller8, "agent": speech.agent8}
    job = Job("c-1", legs, T0)
    in_process = transcriber.transcribe_call(legs)
    assert pool.transcribe(job) == in_process
    futures = [pool.submit_future(Job(f"c-{i}", legs, T0)) for i in range(2)]
    assert all(f.result() == in_process for f in futures)


async def test_pool_from_asyncio(pool: TranscriptionPool, speech: Speech) -> None:
    transcript = await pool.submit(Job("c-async", {"caller": speech.caller8}, T0))
    assert transcript.segments and transcript.speakers == ("caller",)


def test_pool_reports_errors_with_their_id(pool: TranscriptionPool, tmp_path: Path) -> None:
    missing = tmp_path / "gone.wav"
    with pytest.raises(AsrError) as info:
        pool.transcribe(Job("c-x", {"caller": missing}, T0))
    assert info.value.error_id == "asr.audio_unreadable"
    assert str(missing) in str(info.value)


def test_pool_with_missing_model_names_the_dir(tmp_path: Path) -> None:
    with pytest.raises(AsrError) as info:
        TranscriptionPool(tmp_path / "absent-model", workers=1)
    assert info.value.error_id == "asr.model_missing"
    assert str(tmp_path / "absent-model") in str(info.value)


def test_backlog_in_order_with_retry_and_failure(
    pool: TranscriptionPool, speech: Speech, tmp_path: Path
) -> None:
    legs = {"caller": speech.caller8, "agent": speech.agent8}
    broken = tmp_path / "truncated.wav"
    broken.write_bytes(b"RIFF\x00\x00")
    jobs = [
        Job("call-3", legs, T0 + timedelta(minutes=3)),
        Job("call-1", {"caller": speech.caller8}, T0 + timedelta(minutes=1)),
        Job("call-2", {"caller": broken}, T0 + timedelta(minutes=2)),  # never decodable
        Job("call-4", {"agent": speech.agent8}, T0 + timedelta(minutes=4)),
        Job("call-5", {"caller": speech.silence}, T0 + timedelta(minutes=5)),
    ]
    source = MemoryJobSource(jobs)
    executor = FlakyFirstAttempt(pool, flaky={"call-3"})
    report = BacklogRunner(source, executor, max_attempts=3, lookahead=2).run()

    # Every job reported, strictly in created_at order; nothing skipped.
    assert [c for _, c in source.events] == ["call-1", "call-2", "call-3", "call-4", "call-5"]
    assert source.events[1] == ("failed", "call-2")
    assert report.done == ["call-1", "call-3", "call-4", "call-5"]
    assert report.failed == ["call-2"]
    # The flaky job was retried once and succeeded; the broken one tried max_attempts times.
    assert executor.submissions["call-3"] == 2 and report.attempts["call-3"] == 2
    assert executor.submissions["call-2"] == 3 and report.attempts["call-2"] == 3
    assert "asr.audio_unreadable" in source.failures["call-2"]
    assert str(broken) in source.failures["call-2"]
    assert "after 3 attempts" in source.failures["call-2"]
    assert source.transcripts["call-3"] == pool.transcribe(Job("again", legs, T0))
    assert source.transcripts["call-5"].segments == ()
    assert source.pending() == []
    # A second run (e.g. after a restart) finds nothing left to do.
    assert BacklogRunner(source, executor).run().done == []


def test_backlog_resumes_after_restart(pool: TranscriptionPool, speech: Speech) -> None:
    """Jobs left pending by a previous run are all processed by the next one."""
    jobs = [Job(f"r-{i}", {"caller": speech.caller8}, T0 + timedelta(seconds=i)) for i in range(3)]
    source = MemoryJobSource(jobs)
    source.done(jobs[0], Transcript(segments=(), duration=0.0))  # finished before the "crash"
    report = BacklogRunner(source, pool).run()
    assert report.done == ["r-1", "r-2"]
    assert source.pending() == []


async def test_backlog_run_async(pool: TranscriptionPool, speech: Speech) -> None:
    source = MemoryJobSource([Job("a-1", {"agent": speech.agent8}, T0)])
    report = await BacklogRunner(source, pool).run_async()
    assert report.done == ["a-1"]


def test_workers_end_when_the_process_that_started_them_is_killed(model_dir: Path) -> None:
    """An engine killed with SIGKILL leaves no transcription workers behind."""
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from callcenter.asr.worker import TranscriptionPool\n"
        f"pool = TranscriptionPool(Path({str(model_dir)!r}), workers=2)\n"
        "pool.warm_up()\n"
        "print(' '.join(str(p) for p in pool._executor._processes), flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == -9, done.stderr
    workers = [int(p) for p in done.stdout.split()]
    assert len(workers) == 2
    for _ in range(300):  # each worker checks its parent every second
        if not any(running(p) for p in workers):
            break
        time.sleep(0.1)
    assert [p for p in workers if running(p)] == [], "transcription workers outlived the engine"


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its new parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
