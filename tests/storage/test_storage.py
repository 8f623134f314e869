"""Call records, queue events and agent status on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import select

from callcenter import domain
from callcenter.bus import Bus
from callcenter.data.crypto import FieldCipher, ephemeral_cipher
from callcenter.queue_log import Member, QueueLogWriter
from callcenter.storage.database import Database
from callcenter.storage.recorder import CallRecorder
from callcenter.storage.schema import CallRecord, QueueEvent


def joined(call_id: str, at: float, number: str = "13812345678") -> domain.CallerJoined:
    return domain.CallerJoined(
        call_id, "a", "12345", "12345热线", "市本级", number, "general", 0, at
    )


CIPHER = ephemeral_cipher()
# as queues.conf names the members: the dial string, and the agent's name (else the dial)
MEMBERS = {
    a: Member(f"PJSIP/{a}", name)
    for a, name in (("1001", "张敏"), ("1002", "李强"), ("1004", "PJSIP/1004"))
}


async def record(
    database: Database,
    events: list[domain.DomainEvent],
    log: Path | None = None,
    cipher: FieldCipher = CIPHER,
) -> None:
    database.upgrade()
    bus = Bus()
    writer = QueueLogWriter(log, MEMBERS) if log else None
    recorder = CallRecorder(database, bus.subscribe("storage"), writer, cipher=cipher)
    task = asyncio.create_task(recorder.run())
    for e in events:
        bus.publish(e)
    bus.close()
    await task
    if writer:
        writer.close()


def test_migrations_apply_from_empty_and_rerun(database: Database) -> None:
    database.upgrade()
    database.upgrade()
    with database.session() as s:
        assert s.scalars(select(CallRecord)).all() == []


async def test_answered_call_lifecycle_is_recorded(database: Database, tmp_path: Path) -> None:
    await record(
        database,
        [
            joined("c1", 100.0),
            domain.OfferMade("c1", ("1001",), 100.1),
            domain.OfferRejected("c1", "1001", "no_answer", 15.0, 115.1),
            domain.CallConnected("c1", "1002", 17.0, 117.0, 1.9, "117.42"),
            domain.CallerLeft("c1", "answered", 17.0, 0, 117.0, 1),
            domain.CallFinished("c1", "1002", 60.0, 177.0, 17.0, 1, "caller"),
        ],
        tmp_path / "queue_log",
    )
    row = database.call("c1")
    assert row is not None
    assert (row.agent_id, row.leave_reason, row.waited, row.talk_seconds) == (
        "1002",
        "answered",
        17.0,
        60.0,
    )
    assert (row.connected_at, row.ended_at) == (117.0, 177.0)
    with database.session() as s:
        events = [
            (e.event, e.agent_id) for e in s.scalars(select(QueueEvent).order_by(QueueEvent.id))
        ]
    assert events == [
        ("ENTERQUEUE", "NONE"),
        ("RINGNOANSWER", "1001"),
        ("CONNECT", "1002"),
        ("COMPLETECALLER", "1002"),
    ]
    lines = (tmp_path / "queue_log").read_text().splitlines()
    assert lines[0] == "100|c1|12345|NONE|ENTERQUEUE||138****5678|1"
    assert lines[1] == "115|c1|12345|张敏|RINGNOANSWER|15000"
    # app_queue's CONNECT: holdtime|the agent channel's uniqueid|ringtime
    assert lines[2] == "117|c1|12345|李强|CONNECT|17|117.42|1"
    # the caller hung up first: COMPLETECALLER holdtime|calltime|origposition
    assert lines[3] == "177|c1|12345|李强|COMPLETECALLER|17|60|1"
    assert "13812345678" not in (tmp_path / "queue_log").read_text()


async def test_refusals_and_failures_are_recorded_apart_from_no_answers(
    database: Database, tmp_path: Path
) -> None:
    """A phone that refused (488) or an offer that failed at once is not a no-answer: its
    own queue event with the outcome and the SIP response in the table; the queue_log says
    what app_queue says of a busy or congested member (RINGNOANSWER), and nothing of a
    phone it could not ring at all (no reachable contact)."""
    await record(
        database,
        [
            joined("c9", 100.0),
            domain.OfferRejected("c9", "1001", "refused", 0.04, 100.2, 488),
            domain.OfferRejected("c9", "1002", "unreachable", 6.1, 106.3),
            domain.OfferRejected("c9", "1004", "no_answer", 15.0, 121.3),
        ],
        tmp_path / "queue_log",
    )
    with database.session() as s:
        rows = s.scalars(select(QueueEvent).order_by(QueueEvent.id)).all()
        events = [(e.event, e.agent_id, json.loads(e.data)) for e in rows]
    assert events[1:] == [
        ("RINGREFUSED", "1001", {"ring_ms": 40, "reason": "refused", "cause": 488}),
        ("RINGFAILED", "1002", {"ring_ms": 6100, "reason": "unreachable", "cause": 0}),
        ("RINGNOANSWER", "1004", {"ring_ms": 15000, "reason": "no_answer", "cause": 0}),
    ]
    lines = (tmp_path / "queue_log").read_text().splitlines()
    assert lines[1:] == [
        "100|c9|12345|张敏|RINGNOANSWER|40",
        "121|c9|12345|PJSIP/1004|RINGNOANSWER|15000",
    ]


async def test_abandoned_call_is_recorded(database: Database) -> None:
    await record(database, [joined("c2", 10.0), domain.CallerLeft("c2", "abandoned", 8.5, 3, 18.5)])
    row = database.call("c2")
    assert row is not None
    assert (row.leave_reason, row.position, row.agent_id) == ("abandoned", 3, None)


async def test_replayed_join_after_restart_is_idempotent(database: Database) -> None:
    await record(database, [joined("c3", 10.0), joined("c3", 10.0)])
    with database.session() as s:
        assert len(s.scalars(select(CallRecord)).all()) == 1


async def test_agent_status_persists_for_a_restarted_engine(database: Database) -> None:
    await record(
        database,
        [
            domain.AgentStateChanged("1001", "available", "idle", "", 1.0),
            domain.AgentStateChanged("1001", "on_break", "idle", "lunch", 2.0),
            domain.AgentStateChanged("1002", "available", "idle", "", 3.0),
        ],
    )
    assert database.load_agent_statuses() == {
        "1001": ("on_break", "lunch"),
        "1002": ("available", ""),
    }
    with database.session() as s:
        names = [
            e.event for e in s.scalars(select(QueueEvent).where(QueueEvent.agent_id == "1001"))
        ]
    assert names == ["ADDMEMBER", "PAUSE"]


async def test_recent_callers_feed_the_repeat_caller_rule(database: Database) -> None:
    await record(
        database,
        [
            joined("r1", 100.0, "13900000001"),
            joined("r2", 200.0, "13900000001"),
            joined("r3", 300.0, "13700000002"),
        ],
    )
    assert database.recent_call_count(CIPHER, "13900000001", 150.0) == 1
    assert database.recent_call_count(CIPHER, "+86 139 0000 0001", 0.0) == 2
    assert database.recent_callers(250.0) == [(CIPHER.phone_index("13700000002"), 300.0)]


async def test_events_that_follow_within_the_linger_share_one_transaction(
    database: Database,
) -> None:
    """The recorder waits `linger` after an event before writing: a call's join and the
    offer that follows within milliseconds go in one transaction, written after the offer
    went out instead of while the owner task routes the call."""
    database.upgrade()
    bus = Bus()
    recorder = CallRecorder(database, bus.subscribe("storage"), cipher=CIPHER, linger=0.2)
    task = asyncio.create_task(recorder.run())
    bus.publish(joined("first", 1.0))
    await asyncio.sleep(0.05)  # the recorder has the first event and lingers
    assert recorder.written == 0
    bus.publish(joined("second", 2.0))
    bus.close()
    await asyncio.wait_for(task, 30)
    assert (recorder.batches, recorder.written) == (1, 2)
    assert database.call("first") is not None and database.call("second") is not None


async def test_failed_write_is_retried_and_nothing_is_lost(database: Database) -> None:
    bus = Bus()
    recorder = CallRecorder(database, bus.subscribe("storage"), cipher=CIPHER)
    task = asyncio.create_task(recorder.run())
    bus.publish(joined("late", 1.0))  # the tables do not exist yet: the write fails
    await asyncio.sleep(0.4)
    assert recorder.written == 0
    await asyncio.to_thread(database.upgrade)
    bus.close()
    await asyncio.wait_for(task, 30)
    assert database.call("late") is not None
