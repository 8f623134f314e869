"""Call records across an engine restart or a PBX reconnect, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from callcenter import domain
from callcenter.storage.database import Database
from callcenter.storage.schema import QueueEvent
from tests.storage.test_storage import joined, record


async def test_a_restored_caller_gets_one_enterqueue_in_the_table_and_the_file(
    database: Database, tmp_path: Path
) -> None:
    log = tmp_path / "queue_log"
    await record(database, [joined("c1", 100.0)], log)
    # the restarted engine finds the caller in the snapshot and announces it again
    await record(database, [joined("c1", 100.0), joined("c2", 120.0)], log)
    with database.session() as s:
        names = [
            (e.call_id, e.event) for e in s.scalars(select(QueueEvent).order_by(QueueEvent.id))
        ]
    assert names == [("c1", "ENTERQUEUE"), ("c2", "ENTERQUEUE")]
    lines = log.read_text().splitlines()
    assert [x.split("|")[1] for x in lines if "|ENTERQUEUE|" in x] == ["c1", "c2"]


async def test_a_restored_caller_whose_record_was_lost_gets_its_enterqueue(
    database: Database, tmp_path: Path
) -> None:
    # killed before the join was written: the restored caller's join is its first
    log = tmp_path / "queue_log"
    await record(database, [joined("c1", 100.0), domain.CallConnected("c1", "1001", 5, 105)], log)
    assert [x.split("|")[4] for x in log.read_text().splitlines()] == ["ENTERQUEUE", "CONNECT"]
