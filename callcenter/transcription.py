"""Transcription of recordings after hangup: the database is the backlog.

`DatabaseJobs` is the `JobSource` of the ASR backlog runner: pending jobs in order, their
caller and agent legs from the recording index; a finished transcript is stored as timed
segments in one transaction with the job's state and the call's ticket (content, proposal,
search words). `TranscriptionService` drains the backlog at start (a restart skips nothing)
and whenever a new recording is indexed; recognition runs in worker processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callcenter.asr.transcriber import Transcript
from callcenter.asr.worker import BacklogRunner, Job, JobExecutor
from callcenter.storage.database import Database
from callcenter.storage.schema import AsrJob, RecordingFile, TranscriptSegment
from callcenter.tickets.calls import apply_transcript
from callcenter.tickets.settings import TicketSettings

log = logging.getLogger(__name__)
SPEAKER_LEGS = ("caller", "agent")


@dataclass
class DatabaseJobs:
    database: Database
    root: Path
    settings: TicketSettings
    started: dict[str, float] = field(default_factory=dict)

    def pending(self) -> list[Job]:
        def work(s: Session) -> list[Job]:
            jobs = s.scalars(select(AsrJob).where(AsrJob.state == "pending").order_by(AsrJob.id))
            found: list[Job] = []
            for job in jobs:
                files = s.scalars(
                    select(RecordingFile).where(
                        RecordingFile.call_id == job.call_id,
                        RecordingFile.leg.in_(SPEAKER_LEGS),
                    )
                ).all()
                legs = {f.leg: self.root / f.file for f in files}
                if not legs:
                    mixed = s.get(RecordingFile, (job.call_id, "mixed"))
                    legs = {"caller": self.root / mixed.file} if mixed else {}
                if not legs:
                    job.state, job.error = "failed", "no recording files indexed"
                    continue
                created = datetime.fromtimestamp(job.created_at, UTC)
                found.append(Job(job.call_id, legs, created))
            return found

        jobs = self.database.transaction(work)
        now = time.monotonic()
        for job in jobs:
            self.started.setdefault(job.call_id, now)
        return jobs

    def done(self, job: Job, transcript: Transcript) -> None:
        wall = time.monotonic() - self.started.pop(job.call_id, time.monotonic())
        self.database.transaction(
            lambda s: store_transcript(s, self.settings, job, transcript, wall)
        )

    def failed(self, job: Job, error: str) -> None:
        self.started.pop(job.call_id, None)

        def work(s: Session) -> None:
            row = s.scalars(select(AsrJob).where(AsrJob.call_id == job.call_id)).one()
            row.state, row.error, row.finished_at = "failed", error[:2000], time.time()
            row.attempts += 1

        self.database.transaction(work)


def store_transcript(
    session: Session, settings: TicketSettings, job: Job, transcript: Transcript, wall: float
) -> None:
    session.execute(delete(TranscriptSegment).where(TranscriptSegment.call_id == job.call_id))
    for seq, seg in enumerate(transcript.segments):
        session.add(
            TranscriptSegment(
                call_id=job.call_id,
                seq=seq,
                speaker=seg.speaker,
                start=seg.start,
                end=seg.end,
                text=seg.text,
                confidence=seg.confidence,
                words=json.dumps(
                    [[w.start, w.end, w.word, w.conf] for w in seg.words], ensure_ascii=False
                ),
            )
        )
    row = session.scalars(select(AsrJob).where(AsrJob.call_id == job.call_id)).one()
    row.state, row.error, row.finished_at = "done", "", time.time()
    row.attempts += 1
    row.audio_seconds = transcript.duration
    row.wall_seconds = wall
    apply_transcript(session, settings, job.call_id, transcript.text_of("caller"), transcript.text)


@dataclass
class TranscriptionService:
    jobs: DatabaseJobs
    executor: JobExecutor
    max_attempts: int = 3
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self, call_id: str = "") -> None:
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        runner = BacklogRunner(self.jobs, self.executor, self.max_attempts)
        while not stopping.is_set():
            self._wake.clear()
            report = await runner.run_async()
            if report.done or report.failed:
                log.info("transcribed %d calls, %d failed", len(report.done), len(report.failed))
            waiter = asyncio.ensure_future(self._wake.wait())
            stop = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({waiter, stop}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stop.cancel()
