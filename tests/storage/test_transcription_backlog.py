"""The transcription backlog in the database (SQLite and PostgreSQL): jobs in order, a
restart skips nothing, transcripts stored as timed segments and put on the call's ticket, a
failing job retried then marked failed. The recognizer is replaced at its process boundary
(`JobExecutor`) by one that reads the leg files it is given: Vosk itself is tested in
tests/unit/asr and on real calls in tests/integration."""

from __future__ import annotations

import concurrent.futures
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from callcenter.asr.transcriber import Segment, Transcript, Word
from callcenter.asr.worker import BacklogRunner, Job
from callcenter.bus import Bus
from callcenter.data.crypto import ephemeral_cipher as _phone_keys
from callcenter.recordings.indexer import RecordingIndexer
from callcenter.storage.database import Database
from callcenter.storage.schema import AsrJob, Ticket, TranscriptSegment
from callcenter.tickets import service as store
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import load_ticket_settings
from callcenter.transcription import DatabaseJobs
from tests.storage.test_recordings import legs

PHONE_KEYS = _phone_keys()  # citizens' numbers are stored encrypted

REPO = Path(__file__).resolve().parents[2]


class LegReader:
    """Stands in for the worker pool: 'recognizes' each leg as the file's name and size, and
    fails for legs whose file is missing."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def submit_future(self, job: Job) -> concurrent.futures.Future[Transcript]:
        future: concurrent.futures.Future[Transcript] = concurrent.futures.Future()
        self.seen.append(job.call_id)
        try:
            segments = tuple(
                Segment(
                    0.1 * i,
                    0.1 * i + 1.0,
                    f"{speaker} 停水 {path.stat().st_size}",
                    speaker,
                    0.9,
                    (Word(0.1 * i, 0.1 * i + 1.0, speaker, 0.9),),
                )
                for i, (speaker, path) in enumerate(sorted(job.legs.items()))
            )
            future.set_result(Transcript(segments, 1.0, tuple(sorted(job.legs))))
        except OSError as exc:
            future.set_exception(exc)
        return future


def test_backlog_in_order_across_a_restart_onto_tickets(database: Database, tmp_path: Path) -> None:
    database.upgrade()
    settings = load_ticket_settings(REPO / "config")
    root = tmp_path / "rec"
    for n in (1, 2, 3):
        legs(root, f"2026/11/25/call.{n}", 1.0)
    RecordingIndexer(database, root, Bus().subscribe("x")).sweep("a")
    draft = store.Intake("phone", "", caller_number="13800000000", call_id="call.2")
    database.transaction(
        lambda s: store.create(
            s, settings, draft, Actor("system", Role.AGENT), datetime.now(UTC), cipher=PHONE_KEYS
        )
    )
    (root / "2026/11/25/call.3-caller.wav").unlink()  # this job's caller leg has gone
    (root / "2026/11/25/call.3-agent.wav").unlink()
    (root / "2026/11/25/call.3.wav").unlink()
    first = LegReader()
    report = BacklogRunner(DatabaseJobs(database, root, settings), first, max_attempts=2).run()
    assert first.seen == ["call.1", "call.2", "call.3", "call.3"]  # in order, one retry
    assert (report.done, report.failed) == (["call.1", "call.2"], ["call.3"])
    again = LegReader()  # "after a restart": nothing left, nothing done twice
    BacklogRunner(DatabaseJobs(database, root, settings), again).run()
    assert again.seen == []
    with database.session() as s:
        states = {j.call_id: (j.state, j.attempts) for j in s.scalars(select(AsrJob))}
        assert states == {"call.1": ("done", 1), "call.2": ("done", 1), "call.3": ("failed", 1)}
        rows = s.scalars(
            select(TranscriptSegment)
            .where(TranscriptSegment.call_id == "call.2")
            .order_by(TranscriptSegment.seq)
        ).all()
        assert [r.speaker for r in rows] == ["agent", "caller"]
        assert json.loads(rows[0].words)[0][2] == "agent"
        ticket = s.scalars(select(Ticket).where(Ticket.call_id == "call.2")).one()
        assert ticket.content.startswith("caller 停水") and "停水" in ticket.search_text
        assert ticket.request_type and json.loads(ticket.proposal)["department"]
