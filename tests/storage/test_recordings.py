"""Recording index, sweep, retention and access audit on SQLite and PostgreSQL, with real WAV
files written the way Asterisk leaves them (header sizes final, or not yet)."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
import wave
from pathlib import Path

from sqlalchemy import select

from callcenter import domain
from callcenter.bus import Bus
from callcenter.recordings.indexer import RecordingIndexer
from callcenter.recordings.retention import purge
from callcenter.recordings.wavfile import inspect
from callcenter.storage.database import Database
from callcenter.storage.schema import AsrJob, Recording, RecordingAccess, RecordingFile

DAY = 86400.0


def write_wav(path: Path, seconds: float, final: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 1000) * int(8000 * seconds))
    if not final:  # a file still being written: the data size in the header is not yet set
        data = bytearray(path.read_bytes())
        data[40:44] = struct.pack("<I", 0)
        path.write_bytes(bytes(data))


def legs(root: Path, rel: str, seconds: float, final: bool = True) -> None:
    for suffix in ("", "-caller", "-agent"):
        write_wav(root / f"{rel}{suffix}.wav", seconds, final)


def test_wav_inspect_knows_a_finished_header(tmp_path: Path) -> None:
    write_wav(tmp_path / "done.wav", 2.0)
    write_wav(tmp_path / "open.wav", 2.0, final=False)
    done, still_open = inspect(tmp_path / "done.wav"), inspect(tmp_path / "open.wav")
    assert done.complete and abs(done.duration - 2.0) < 0.01
    assert done.sha256 == hashlib.sha256((tmp_path / "done.wav").read_bytes()).hexdigest()
    assert not still_open.complete


def test_events_index_a_recording_with_its_legs_and_a_job(
    database: Database, tmp_path: Path
) -> None:
    database.upgrade()
    root = tmp_path / "rec"
    legs(root, "2026/11/25/1764050000.7", 3.0)
    bus = Bus()
    indexer = RecordingIndexer(database, root, bus.subscribe("recordings"), settle_timeout=2)
    now = time.time()
    for e in (
        domain.CallerJoined("1764050000.7", "a", "12333", "12333", "", "138", "labor", 0, now),
        domain.RecordingStarted("1764050000.7", "a", "2026/11/25/1764050000.7", now),
        domain.CallConnected("1764050000.7", "1002", 1.0, now),
        domain.CallClosed("1764050000.7", "a", now + 3),
    ):
        bus.publish(e)
    bus.close()
    asyncio.run(indexer.run())
    with database.session() as s:
        rec = s.get(Recording, "1764050000.7")
        assert rec is not None and (rec.agent_id, rec.did) == ("1002", "12333")
        assert abs(rec.duration - 3.0) < 0.01
        files = s.scalars(select(RecordingFile).order_by(RecordingFile.leg)).all()
        assert [f.leg for f in files] == ["agent", "caller", "mixed"]
        assert rec.size == sum(f.size for f in files)
        job = s.scalars(select(AsrJob)).one()
        assert (job.call_id, job.state) == ("1764050000.7", "pending")


def test_no_transcription_job_is_queued_when_no_speech_model_is_configured(
    database: Database, tmp_path: Path
) -> None:
    database.upgrade()
    root = tmp_path / "rec"
    legs(root, "2026/11/24/1764000000.3", 2.0)
    indexer = RecordingIndexer(database, root, Bus().subscribe("x"), transcribe=False)
    assert indexer.sweep("a") == 1
    with database.session() as s:
        assert [r.call_id for r in s.scalars(select(Recording))] == ["1764000000.3"]
        assert s.scalars(select(AsrJob)).all() == []


def test_sweep_indexes_finished_files_nobody_announced_and_leaves_open_ones(
    database: Database, tmp_path: Path
) -> None:
    database.upgrade()
    root = tmp_path / "rec"
    legs(root, "2026/11/24/1764000000.1", 2.0)
    legs(root, "2026/11/24/1764000000.2", 2.0, final=False)
    indexer = RecordingIndexer(database, root, Bus().subscribe("x"))
    assert indexer.sweep("a") == 1
    assert indexer.sweep("a") == 0  # idempotent
    with database.session() as s:
        assert [r.call_id for r in s.scalars(select(Recording))] == ["1764000000.1"]


def test_retention_deletes_old_files_says_so_and_audits(database: Database, tmp_path: Path) -> None:
    database.upgrade()
    root = tmp_path / "rec"
    legs(root, "2026/01/01/old.1", 1.0)
    legs(root, "2026/11/25/new.1", 1.0)
    RecordingIndexer(database, root, Bus().subscribe("x")).sweep("a")
    with database.session() as s:
        for rec in s.scalars(select(Recording)):
            rec.started_at = 1_000 * DAY if rec.call_id == "old.1" else 1_200 * DAY
        s.commit()
    now = 1_200 * DAY + 1
    dry = database.transaction(lambda s: purge(s, root, now, 180, dry_run=True))
    assert [p.call_id for p in dry] == ["old.1"] and (root / "2026/01/01/old.1.wav").exists()
    done = database.transaction(lambda s: purge(s, root, now, 180))
    assert [p.call_id for p in done] == ["old.1"] and len(done[0].files) == 3
    assert not (root / "2026/01/01/old.1.wav").exists()
    assert (root / "2026/11/25/new.1.wav").exists()
    with database.session() as s:
        old = s.get(Recording, "old.1")
        assert old is not None and old.deleted_at == now
        audit = s.scalars(select(RecordingAccess)).one()
        assert (audit.call_id, audit.action, audit.actor) == ("old.1", "delete", "retention")
    assert database.transaction(lambda s: purge(s, root, now, 180)) == []


def test_sweep_indexes_the_emergency_operators_leg_on_both_databases(
    database: Database, tmp_path: Path
) -> None:
    """A call transferred to 110 has a fourth file, <call>-emergency.wav: its leg name is nine
    characters, which PostgreSQL refused in a column of eight (the whole batch failed)."""
    database.upgrade()
    root = tmp_path / "rec"
    legs(root, "2026/12/07/1796634141.66", 2.0)
    write_wav(root / "2026/12/07/1796634141.66-emergency.wav", 1.5)
    indexer = RecordingIndexer(database, root, Bus().subscribe("x"))
    assert indexer.sweep("a") == 1
    with database.session() as s:
        found = {f.leg for f in s.scalars(select(RecordingFile))}
    assert found == {"mixed", "caller", "agent", "emergency"}


def test_a_recording_the_database_refuses_does_not_stop_the_sweep(
    database: Database, tmp_path: Path
) -> None:
    """At start the engine sweeps the recordings folder: a file the database refuses (here a
    call id longer than the column, which PostgreSQL enforces) is logged and left for the next
    sweep, and the other recordings are still indexed."""
    database.upgrade()
    root = tmp_path / "rec"
    legs(root, "2026/12/07/" + "x" * 80, 2.0)
    legs(root, "2026/12/07/1796634141.67", 2.0)
    indexer = RecordingIndexer(database, root, Bus().subscribe("x"))
    indexer.sweep("a")  # does not raise
    with database.session() as s:
        assert "1796634141.67" in {r.call_id for r in s.scalars(select(Recording))}
