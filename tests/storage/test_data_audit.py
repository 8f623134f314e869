"""The data access log on SQLite and PostgreSQL: rows written in the caller's transaction,
UPDATE, DELETE and TRUNCATE refused by the database's own triggers, filters and paging, the
HTTP view (roles, filters, JSON errors), and recording access written there alongside
recording_access."""

from __future__ import annotations

import struct
import wave
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from callcenter.bus import Bus
from callcenter.data import audit
from callcenter.data.crypto import ephemeral_cipher
from callcenter.recordings.indexer import RecordingIndexer
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, RecordingAccess
from tests.storage.data_api import call, data_client


def seed(database: Database) -> list[int]:
    """Five rows at fixed times 1000, 2000, ... 5000 (inserted directly: INSERT is allowed)."""
    rows = [
        ("审计员", "auditor", "decrypt", "tickets", "7", "id_card", "信访复核"),
        ("班长", "supervisor", "read", "tickets", "7", "id_card", ""),
        ("1001", "agent", "recording", "recordings", "c1", "mixed", "download"),
        ("exporter", "system", "export", "tickets", "", "", "省平台"),
        ("班长", "supervisor", "read", "tickets", "8", "id_card", ""),
    ]

    def work(s: Session) -> list[int]:
        for n, (actor, role, action, dataset, rid, fields, purpose) in enumerate(rows):
            s.add(
                DataAccess(
                    at=1000.0 * (n + 1),
                    actor=actor,
                    role=role,
                    action=action,
                    dataset=dataset,
                    record_id=rid,
                    fields=fields,
                    purpose=purpose,
                    remote="127.0.0.1",
                )
            )
        s.flush()
        return list(s.scalars(select(DataAccess.id).order_by(DataAccess.id)))

    return database.transaction(work)


def test_rows_are_written_and_the_database_refuses_update_and_delete(
    database: Database,
) -> None:
    database.upgrade()
    database.transaction(
        lambda s: audit.record_access(
            s, "审计员", "auditor", "decrypt", "tickets", "42", ("id_card",), "核查", "10.0.0.5"
        )
    )
    for statement in (
        update(DataAccess).values(purpose="nothing to see"),
        update(DataAccess).values(actor="someone else"),
        delete(DataAccess),
    ):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(statement)
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text("DELETE FROM data_access_log WHERE id > 0"))
    rows = database.transaction(lambda s: audit.query_access(s))
    assert len(rows) == 1
    row = rows[0]
    assert (row["actor"], row["action"], row["record_id"]) == ("审计员", "decrypt", "42")
    assert (row["fields"], row["purpose"], row["remote"]) == (["id_card"], "核查", "10.0.0.5")


def test_the_database_refuses_to_empty_the_log_in_one_statement(database: Database) -> None:
    """TRUNCATE on PostgreSQL (row triggers never see it: migration 0012's statement trigger
    does); SQLite has no TRUNCATE, its one-statement emptying is the unqualified DELETE."""
    database.upgrade()
    database.transaction(
        lambda s: audit.record_access(
            s, "审计员", "auditor", "decrypt", "tickets", "42", ("id_card",)
        )
    )
    if database.engine.dialect.name == "postgresql":
        statement = "TRUNCATE data_access_log"
    else:
        statement = "DELETE FROM data_access_log"
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement))
    assert len(database.transaction(lambda s: audit.query_access(s))) == 1


def test_a_rolled_back_access_leaves_no_row(database: Database) -> None:
    database.upgrade()

    def work(s: Session) -> None:
        audit.record_access(s, "班长", "supervisor", "read", "tickets", "1", ("id_card",))
        raise RuntimeError("the read failed")

    with pytest.raises(RuntimeError):
        database.transaction(work)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(DataAccess)) == 0


def test_query_filters_and_pages_newest_first(database: Database) -> None:
    database.upgrade()
    ids = seed(database)

    def q(**kw: Any) -> list[int]:
        query = asdict(audit.AccessQuery(**kw))  # the same filters the API parses
        return [r["id"] for r in database.transaction(lambda s: audit.query_access(s, **query))]

    assert q() == ids[::-1]
    assert q(actor="班长") == [ids[4], ids[1]]
    assert q(action="read") == [ids[4], ids[1]]
    assert q(dataset="recordings") == [ids[2]]
    assert q(since=2000.0, until=4000.0) == [ids[2], ids[1]]  # since inclusive, until not
    assert q(actor="班长", since=3000.0) == [ids[4]]
    assert q(limit=2) == [ids[4], ids[3]]
    assert q(limit=2, offset=2) == [ids[2], ids[1]]
    assert q(actor="nobody") == []


async def test_the_access_log_api_roles_filters_and_errors(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with data_client(database, tmp_path, monkeypatch, ephemeral_cipher()) as (c, t):
        ids = seed(database)
        for role in ("agent", "water"):
            status, err = await call(c, t[role], "GET", "/api/data/access-log")
            assert (status, err["error_id"]) == (403, "api.forbidden"), role
        for role in ("supervisor", "auditor", "admin"):
            status, body = await call(c, t[role], "GET", "/api/data/access-log")
            assert status == 200 and [e["id"] for e in body["entries"]] == ids[::-1], role
        status, body = await call(
            c, t["auditor"], "GET", "/api/data/access-log?actor=班长&since=3000&until=6000"
        )
        assert status == 200 and [e["id"] for e in body["entries"]] == [ids[4]]
        entry = body["entries"][0]
        assert (entry["action"], entry["dataset"], entry["fields"]) == (
            "read",
            "tickets",
            ["id_card"],
        )
        status, body = await call(
            c, t["auditor"], "GET", "/api/data/access-log?action=decrypt&dataset=tickets"
        )
        assert [e["purpose"] for e in body["entries"]] == ["信访复核"]
        status, body = await call(c, t["auditor"], "GET", "/api/data/access-log?limit=1&offset=1")
        assert (body["limit"], body["offset"]) == (1, 1)
        assert [e["id"] for e in body["entries"]] == [ids[3]]
        for query, parameter in (
            ("since=yesterday", "since"),
            ("until=1e400", "until"),
            ("since=5&until=5", "until"),
            ("limit=0", "limit"),
            ("limit=5000", "limit"),
            ("offset=-1", "offset"),
            ("limit=ten", "limit"),
            ("action=peek", "action"),
        ):
            status, err = await call(c, t["auditor"], "GET", f"/api/data/access-log?{query}")
            assert (status, err["error_id"]) == (400, "data.audit_query"), query
            assert err["message"].startswith(parameter), query


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 1000) * int(8000 * seconds))


async def test_recording_access_is_in_the_data_access_log_too(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with data_client(database, tmp_path, monkeypatch, None) as (c, t):
        for suffix in ("", "-caller", "-agent"):
            write_wav(tmp_path / "rec" / f"2026/11/25/1764050000.9{suffix}.wav", 1.0)
        RecordingIndexer(database, tmp_path / "rec", Bus().subscribe("x")).sweep("a")
        status, meta = await call(c, t["supervisor"], "GET", "/api/recordings/1764050000.9")
        assert status == 200 and set(meta["legs"]) == {"mixed", "caller", "agent"}
        resp = await c.get(
            "/api/recordings/1764050000.9/audio?leg=caller",
            headers={"Authorization": f"Bearer {t['supervisor']}"},
        )
        assert resp.status == 200 and (await resp.read())[:4] == b"RIFF"
        status, _ = await call(c, t["supervisor"], "GET", "/api/recordings/unknown.1")
        assert status == 404  # nothing was accessed: no row
        status, body = await call(c, t["auditor"], "GET", "/api/data/access-log?action=recording")
    assert status == 200
    got = [
        (e["actor"], e["role"], e["dataset"], e["record_id"], e["fields"], e["purpose"])
        for e in body["entries"]
    ]
    assert got == [
        ("班长", "supervisor", "recordings", "1764050000.9", ["caller"], "download"),
        ("班长", "supervisor", "recordings", "1764050000.9", ["all"], "metadata"),
    ]
    with database.session() as s:
        old = [
            (a.action, a.leg)
            for a in s.scalars(select(RecordingAccess).order_by(RecordingAccess.id))
        ]
    assert old == [("metadata", "all"), ("download", "caller")]
