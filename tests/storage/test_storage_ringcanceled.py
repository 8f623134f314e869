"""A ring the engine stopped (the agent paused or logged out, the caller left) is recorded as
RINGCANCELED with its ring time and cause, in the table and in queue_log (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from callcenter import domain
from callcenter.storage.database import Database
from callcenter.storage.schema import QueueEvent
from tests.storage.test_storage import joined, record


async def test_a_cancelled_ring_is_recorded_as_ringcanceled(
    database: Database, tmp_path: Path
) -> None:
    await record(
        database,
        [
            joined("c7", 100.0),
            domain.OfferCancelled("c7", "1001", "paused", 2.5, 102.6),
            domain.CallConnected("c7", "1002", 3.1, 103.1, 0.5),
        ],
        tmp_path / "queue_log",
    )
    with database.session() as s:
        rows = s.scalars(select(QueueEvent).order_by(QueueEvent.id)).all()
        events = [(e.event, e.agent_id, json.loads(e.data)) for e in rows]
    assert events[1] == ("RINGCANCELED", "1001", {"ring_ms": 2500, "reason": "paused"})
    assert [e[0] for e in events] == ["ENTERQUEUE", "RINGCANCELED", "CONNECT"]
    lines = (tmp_path / "queue_log").read_text().splitlines()
    assert lines[1] == "102|c7|12345|张敏|RINGCANCELED|2500"  # the member name, as app_queue
