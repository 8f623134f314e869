"""Citizens' phone numbers of calls and callbacks at rest (GB/T 44192 8.2): ciphertext and a
keyed blind index in the database, never the number; look-ups by number through the index;
the migration encrypts what was stored before and decrypts it back; key rotation and a new
index key cover them; shown masked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text

from callcenter import domain
from callcenter.api.http import build_app
from callcenter.bus import Bus
from callcenter.data import rotation
from callcenter.data.crypto import FieldCipher, generate_key
from callcenter.outbound import callback_store
from callcenter.storage.database import MIGRATIONS, Database
from callcenter.storage.recorder import CallRecorder
from callcenter.storage.schema import CallbackRecord, CallRecord, DataAccess
from callcenter.tickets.settings import load_ticket_settings
from tests.storage.test_restore_records import reconciled
from tests.unit.fakes import running_runtime

REPO = Path(__file__).resolve().parents[2]
OLD, INDEX = generate_key(), generate_key()
CIPHER = FieldCipher([OLD.encode()], INDEX.encode())
NUMBERS = ("13812345678", "13900001111", "02087654321")
TOKEN = "phone-test-token"


def joined(call_id: str, number: str, at: float) -> domain.CallerJoined:
    return domain.CallerJoined(
        call_id, "a", "12345", "12345热线", "市本级", number, "general", 0, at
    )


def callback(call_id: str, number: str, at: float) -> domain.CallbackRequested:
    return domain.CallbackRequested(call_id, "a", number, "general", 0, at - 30, at)


async def record(database: Database, events: list[domain.DomainEvent]) -> None:
    database.upgrade()
    bus = Bus()
    recorder = CallRecorder(database, bus.subscribe("storage"), cipher=CIPHER)
    task = asyncio.create_task(recorder.run())
    for e in events:
        bus.publish(e)
    bus.close()
    await asyncio.wait_for(task, 60)


def calls_and_callbacks() -> list[domain.DomainEvent]:
    events: list[domain.DomainEvent] = []
    for i, number in enumerate(NUMBERS):
        events += [joined(f"c{i}", number, 100.0 + i), callback(f"c{i}", number, 110.0 + i)]
    return events


def raw_rows(database: Database) -> str:
    """Every row of calls and callbacks as the database holds it (PostgreSQL: the rows as
    text, a dump of the tables; SQLite: the file's bytes, WAL checkpointed first)."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT c::text FROM calls c UNION ALL SELECT b::text FROM callbacks b")
            ).scalars()
            return "\n".join(rows)
    with database.engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    path = database.engine.url.database
    assert path
    data = Path(path).read_bytes()
    wal = Path(f"{path}-wal")
    if wal.exists():
        data += wal.read_bytes()
    return data.decode("latin-1")


async def test_no_clear_number_in_the_database(database: Database) -> None:
    """Ciphertext and blind index only; each decrypts to the number recorded (also a call
    only the PBX's record of ended calls brought). Fails on the old recorder, which wrote the
    numbers as they came."""
    late = reconciled("late", caller_number="13512349876", ended_at=160.0)
    await record(database, [*calls_and_callbacks(), late])
    dump = raw_rows(database)
    assert "c0" in dump and "c2" in dump and "late" in dump  # the rows are in what was read
    assert "13512349876" not in dump
    with database.session() as s:
        row = s.get(CallRecord, "late")
        assert row is not None and CIPHER.decrypt(row.caller_number) == "13512349876"
        assert row.caller_number_hash == CIPHER.phone_index("13512349876")
    for number in NUMBERS:
        assert number not in dump
        assert number[-8:] not in dump  # nor its local part
    with database.session() as s:
        for i, number in enumerate(NUMBERS):
            call = s.get(CallRecord, f"c{i}")
            back = s.get(CallbackRecord, f"c{i}")
            assert call is not None and back is not None
            assert call.caller_number.startswith(f"{CIPHER.current}:")
            assert CIPHER.decrypt(call.caller_number) == number
            assert CIPHER.decrypt(back.number) == number
            assert call.caller_number_hash == back.number_hash == CIPHER.phone_index(number)


async def test_look_ups_by_number_go_through_the_blind_index(database: Database) -> None:
    """Repeat callers (however the number is written), and the callbacks to dial after a
    restart decrypted with their decrypt on record."""
    await record(database, calls_and_callbacks() + [joined("again", "13812345678", 200.0)])
    assert database.recent_call_count(CIPHER, "+86 138 1234 5678", 0.0) == 2
    assert database.recent_call_count(CIPHER, "13812345678", 150.0) == 1
    index = CIPHER.phone_index("13812345678")
    assert [at for key, at in database.recent_callers(0.0) if key == index] == [100.0, 200.0]
    pending = callback_store.pending(database, CIPHER)
    assert [(p.call_id, p.number) for p in pending] == [(f"c{i}", n) for i, n in enumerate(NUMBERS)]
    with database.session() as s:
        (logged,) = s.scalars(select(DataAccess)).all()
        assert (logged.actor, logged.role, logged.action) == ("engine", "system", "decrypt")
        assert (logged.dataset, logged.fields) == ("callbacks", "number")
        assert "3 numbers, 0 undecryptable" in logged.purpose


async def test_a_callback_no_key_can_open_is_not_dialled(database: Database) -> None:
    await record(database, calls_and_callbacks())
    stranger = FieldCipher([generate_key().encode()], INDEX.encode())
    assert stranger.seal_phone("13812345678")[1] == CIPHER.phone_index("13812345678")
    assert callback_store.pending(database, stranger) == []
    with database.session() as s:
        (logged,) = s.scalars(select(DataAccess)).all()
        assert "0 numbers, 3 undecryptable" in logged.purpose


def _alembic(database: Database, cipher: FieldCipher | None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    if cipher is not None:
        cfg.attributes["cipher"] = cipher
    return cfg


def _migrate(database: Database, cipher: FieldCipher | None, up: bool, to: str) -> None:
    cfg = _alembic(database, cipher)
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.upgrade if up else command.downgrade)(cfg, to)


def test_the_migration_encrypts_stored_numbers_and_back(database: Database) -> None:
    """Rows written before 0013 (numbers in clear) are encrypted in batches with their blind
    index; a downgrade decrypts them back; no key, no upgrade (nothing changed)."""
    _migrate(database, None, True, "0012")
    with database.engine.begin() as conn:
        for i in range(1203):  # more than one batch
            number = f"139{i:08d}"
            conn.execute(
                text(
                    "INSERT INTO calls (call_id, node, did, hotline, region, caller_number,"
                    " skill, priority, joined_at) VALUES (:c, 'a', '12345', 'h', 'r', :n,"
                    " 'general', 0, :at)"
                ),
                {"c": f"c{i:05d}", "n": number, "at": float(i)},
            )
        conn.execute(
            text(
                "INSERT INTO callbacks (call_id, node, number, skill, priority, arrived_at,"
                " requested_at, state, attempts, due_at, agent_id, updated_at) VALUES"
                " ('c00001', 'a', '13900000001', 'general', 0, 1, 2, 'waiting', 0, 0, '', 2)"
            )
        )
    try:
        _migrate(database, None, True, "head")
    except Exception as exc:  # noqa: BLE001 - the reason is checked
        assert "migration 0013" in str(exc)
    else:
        raise AssertionError("0013 ran without a key over clear numbers")
    _migrate(database, CIPHER, True, "head")
    dump = raw_rows(database)
    assert "13900000001" not in dump and "13900001202" not in dump
    with database.session() as s:
        rows = s.execute(select(CallRecord.caller_number, CallRecord.caller_number_hash)).all()
        assert len(rows) == 1203
        for stored, index in rows:
            assert index == CIPHER.phone_index(CIPHER.decrypt(stored))
        back = s.get(CallbackRecord, "c00001")
        assert back is not None and CIPHER.decrypt(back.number) == "13900000001"
    assert database.recent_call_count(CIPHER, "13900000005", 0.0) == 1
    _migrate(database, CIPHER, False, "0012")
    with database.engine.connect() as conn:
        clear = conn.execute(text("SELECT caller_number FROM calls ORDER BY call_id")).scalars()
        assert list(clear) == [f"139{i:08d}" for i in range(1203)]
        dialled = conn.execute(text("SELECT number FROM callbacks")).scalar()
        assert dialled == "13900000001"


async def test_key_rotation_and_a_new_index_key_cover_phone_numbers(database: Database) -> None:
    await record(database, calls_and_callbacks())
    new = generate_key()
    rotated = FieldCipher([new.encode(), OLD.encode()], INDEX.encode())
    report = rotation.rotate_keys(database, rotated, batch=2)
    assert report.by_column == {"calls.caller_number": 3, "callbacks.number": 3}
    only_new = FieldCipher([new.encode()], INDEX.encode())
    with database.session() as s:
        for i, number in enumerate(NUMBERS):
            call = s.get(CallRecord, f"c{i}")
            back = s.get(CallbackRecord, f"c{i}")
            assert call is not None and back is not None
            assert only_new.decrypt(call.caller_number) == only_new.decrypt(back.number) == number
        assert sorted(s.scalars(select(DataAccess.dataset))) == ["callbacks", "calls"]
    moved = FieldCipher([new.encode()], generate_key().encode())
    reindexed = rotation.reindex(database, moved, batch=2)
    assert reindexed.reindexed == 6
    assert database.recent_call_count(moved, "13812345678", 0.0) == 1
    assert database.recent_call_count(CIPHER, "13812345678", 0.0) == 0  # the old index: gone


async def test_callbacks_are_listed_masked(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor's list decrypts each number and shows it masked (no access log row,
    as a masked ID number)."""
    await record(database, calls_and_callbacks())
    monkeypatch.setenv("CALLCENTER_API_TOKEN", TOKEN)
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    async with running_runtime() as harness:
        app = build_app(
            harness.runtime,
            harness.stats,
            database,
            tmp_path / "recordings",
            load_ticket_settings(REPO / "config"),
            tmp_path / "attachments",
            cipher=CIPHER,
        )
        async with TestClient(TestServer(app)) as c:
            resp = await c.get("/api/callbacks", headers={"Authorization": f"Bearer {TOKEN}"})
            assert resp.status == 200
            listed = {r["call_id"]: r["number"] for r in (await resp.json())["callbacks"]}
    assert listed == {"c0": "138****5678", "c1": "139****1111", "c2": "020****4321"}
    with database.session() as s:
        assert s.scalars(select(DataAccess)).all() == []
