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


def reconciled(call_id: str, route: str = "engine", **kw: object) -> domain.CallReconciled:
    fields: dict[str, object] = {
        "call_id": call_id,
        "node": "a",
        "did": "12345",
        "hotline": "12345热线",
        "region": "市本级",
        "caller_number": "13812345678",
        "skill": "general",
        "priority": 0,
        "joined_at": 100.0,
        "ended_at": 0.0,
        "route": route,
        "agent_id": "",
        "connected_at": 0.0,
        "fellback_at": 0.0,
    }
    fields.update(kw)
    return domain.CallReconciled(**fields)  # type: ignore[arg-type]


def events_of(database: Database, call_id: str) -> list[tuple[str, str, float]]:
    with database.session() as s:
        rows = s.scalars(
            select(QueueEvent).where(QueueEvent.call_id == call_id).order_by(QueueEvent.id)
        )
        return [(e.event, e.agent_id, e.at) for e in rows]


async def test_a_call_that_ended_while_the_engine_was_down_is_completed_once(
    database: Database, tmp_path: Path
) -> None:
    log = tmp_path / "queue_log"
    await record(
        database,
        [
            joined("c1", 100.0),
            domain.CallConnected("c1", "1001", 5.0, 105.0),
            domain.CallerLeft("c1", "answered", 5.0, 0, 105.0),
        ],
        log,
    )
    done = reconciled("c1", agent_id="1001", connected_at=105.0, ended_at=165.5)
    await record(database, [done], log)
    await record(database, [done], log)  # reconciling twice changes nothing
    row = database.call("c1")
    assert row is not None
    assert (row.leave_reason, row.agent_id, row.ended_at, row.talk_seconds) == (
        "answered",
        "1001",
        165.5,
        60.5,
    )
    assert events_of(database, "c1") == [
        ("ENTERQUEUE", "NONE", 100.0),
        ("CONNECT", "1001", 105.0),
        ("COMPLETEAGENT", "1001", 165.5),
    ]
    assert log.read_text().splitlines()[-1] == "165|c1|12345|张敏|COMPLETEAGENT|5|60|1"
    assert sum("|COMPLETEAGENT|" in x for x in log.read_text().splitlines()) == 1


async def test_a_caller_the_fallback_route_served_gets_a_complete_record(
    database: Database, tmp_path: Path
) -> None:
    log = tmp_path / "queue_log"
    done = reconciled(
        "f1",
        route="fallback",
        fellback_at=121.0,
        agent_id="1002",
        connected_at=130.0,
        ended_at=190.0,
    )
    await record(database, [done], log)
    await record(database, [done], log)
    row = database.call("f1")
    assert row is not None
    assert (row.did, row.hotline, row.skill, row.joined_at) == (
        "12345",
        "12345热线",
        "general",
        100.0,
    )
    assert (row.left_at, row.leave_reason, row.waited) == (121.0, "fallback", 30.0)
    assert (row.agent_id, row.connected_at, row.ended_at, row.talk_seconds) == (
        "1002",
        130.0,
        190.0,
        60.0,
    )
    assert events_of(database, "f1") == [
        ("ENTERQUEUE", "NONE", 100.0),
        ("EXITWITHTIMEOUT", "NONE", 121.0),
        ("ENTERQUEUE", "NONE", 121.0),
        ("CONNECT", "1002", 130.0),
        ("COMPLETEAGENT", "1002", 190.0),
    ]
    assert log.read_text().splitlines() == [
        "100|f1|12345|NONE|ENTERQUEUE||138****5678|1",
        "121|f1|12345|NONE|EXITWITHTIMEOUT|1|1|21",
        "121|f1|cc-fallback|NONE|ENTERQUEUE||138****5678|1",
        "130|f1|cc-fallback|李强|CONNECT|9||0",
        "190|f1|cc-fallback|李强|COMPLETEAGENT|9|60|1",
    ]


async def test_fallback_seen_by_the_engine_gets_its_answer_and_a_hang_up_is_abandoned(
    database: Database,
) -> None:
    await record(
        database, [joined("f2", 100.0), domain.CallerLeft("f2", "fallback", 21.0, 1, 121.0)]
    )
    await record(
        database,
        [
            reconciled(
                "f2",
                route="fallback",
                fellback_at=121.0,
                agent_id="1003",
                connected_at=125.0,
                ended_at=140.0,
            ),
            reconciled("a1", joined_at=200.0, ended_at=230.0),
        ],
    )
    f2, a1 = database.call("f2"), database.call("a1")
    assert f2 is not None and a1 is not None
    assert (f2.leave_reason, f2.left_at, f2.agent_id, f2.waited, f2.talk_seconds) == (
        "fallback",
        121.0,
        "1003",
        25.0,
        15.0,
    )
    assert (a1.leave_reason, a1.left_at, a1.waited, a1.agent_id, a1.ended_at) == (
        "abandoned",
        230.0,
        30.0,
        None,
        None,
    )
    assert [x[0] for x in events_of(database, "a1")] == ["ENTERQUEUE", "ABANDON"]
