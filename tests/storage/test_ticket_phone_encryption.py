"""Citizens' phone numbers on tickets, surveys and fused profiles at rest (GB/T 44192 8.2), on
SQLite and PostgreSQL: ciphertext and a keyed blind index in the database, never the number,
after new writes and after migration 0014 converted rows written before it; search by number,
repeat linking, the agent's view of a caller's earlier tickets and profiles by phone find them
through the index; key rotation and a new index key re-seal them; without the keys nothing is
written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text

from callcenter.api.auth import add_token
from callcenter.api.console import LiveFeed
from callcenter.api.http import build_app
from callcenter.data import rotation
from callcenter.data.crypto import FieldCipher, generate_key
from callcenter.data.fusion import browse
from callcenter.data.fusion.build import rebuild
from callcenter.live_figures.model import LiveFigures
from callcenter.outbound import survey_store as surveys
from callcenter.outbound.settings import OutboundSettings, SurveySettings
from callcenter.pbx import base as pbx
from callcenter.storage.database import MIGRATIONS, Database
from callcenter.storage.schema import DataAccess, Profile, Survey, Ticket
from callcenter.tickets import service as store
from callcenter.tickets.actions import AcceptHandling, Action, Approve, Close, Dispatch, Reply
from callcenter.tickets.errors import NoDataKey
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings
from tests.unit.fakes import caller, eventually, running_runtime

REPO = Path(__file__).resolve().parents[2]
OLD, INDEX = generate_key(), generate_key()
CIPHER = FieldCipher([OLD.encode()], INDEX.encode())
AGENT = Actor("1001", Role.AGENT)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
NUMBERS = ("13812345678", "13900001111", "02087654321")
OUTBOUND = OutboundSettings(survey=SurveySettings(delay=0.0))


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def new_ticket(
    database: Database,
    settings: TicketSettings,
    number: str,
    content: str,
    at: datetime = T0,
    cipher: FieldCipher | None = CIPHER,
) -> store.Created:
    intake = store.Intake(channel="phone", content=content, caller_number=number, caller_name="张")
    return database.transaction(
        lambda s: store.create(s, settings, intake, AGENT, at, cipher=cipher)
    )


def close(database: Database, settings: TicketSettings, tid: int) -> None:
    """Through the lifecycle to 办结, and its survey scheduled as the API does."""
    steps: list[Action] = [Dispatch("water"), AcceptHandling(), Reply("已修复"), Approve(), Close()]
    for i, action in enumerate(steps, 1):
        database.transaction(
            partial(
                store.transition,
                settings=settings,
                ticket_id=tid,
                action=action,
                actor=Actor("admin", Role.ADMIN),
                at=T0 + timedelta(minutes=i),
            )
        )
    database.transaction(
        lambda s: surveys.schedule(s, store.get(s, tid), OUTBOUND, T0.timestamp(), CIPHER)
    )


def raw_rows(database: Database) -> str:
    """Every row of tickets, surveys and profiles as the database holds it (PostgreSQL: the
    rows as text; SQLite: the file's bytes, WAL checkpointed first)."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT t::text FROM tickets t UNION ALL SELECT s::text FROM surveys s"
                    " UNION ALL SELECT p::text FROM profiles p"
                )
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


def assert_no_clear_number(dump: str, numbers: Iterator[str] | tuple[str, ...]) -> None:
    for number in numbers:
        assert number not in dump, number
        assert number[-8:] not in dump, number  # nor its local part


def test_new_tickets_surveys_and_profiles_hold_no_clear_number(
    database: Database, settings: TicketSettings
) -> None:
    """Fails on the old store, which wrote the number as it came into all three tables."""
    database.upgrade()
    ids = [
        new_ticket(database, settings, n, f"第{i}号楼停水，电话见来电号码").ticket.id
        for i, n in enumerate(NUMBERS)
    ]
    close(database, settings, ids[0])
    stats = rebuild(database.engine, settings, now=T0.timestamp() + 3600, cipher=CIPHER)
    assert stats.profiles.get("person", 0) >= len(NUMBERS)
    dump = raw_rows(database)
    with database.session() as s:
        assert all(store.get(s, tid).number in dump for tid in ids)  # the rows were read
    assert_no_clear_number(dump, NUMBERS)
    with database.session() as s:
        for tid, number in zip(ids, NUMBERS, strict=True):
            row = s.get(Ticket, tid)
            assert row is not None and row.caller_number.startswith(f"{CIPHER.current}:")
            assert CIPHER.decrypt(row.caller_number) == number
            assert row.caller_number_hash == CIPHER.phone_index(number)
        (survey,) = s.scalars(select(Survey)).all()
        assert survey.state == "scheduled"  # the number was decrypted to check it is dialable
        assert CIPHER.decrypt(survey.number) == NUMBERS[0]
        assert survey.number_hash == CIPHER.phone_index(NUMBERS[0])
        phones = {
            CIPHER.decrypt(p.phone): p.phone_hash for p in s.scalars(select(Profile)) if p.phone
        }
    assert set(phones) == set(NUMBERS)
    assert all(index == CIPHER.phone_index(n) for n, index in phones.items())
    # the survey is decrypted to dial it, and that decrypt is on record
    (placed,) = database.transaction(
        lambda s: surveys.place_due(s, OUTBOUND, T0.timestamp() + 60, 5, CIPHER)
    )
    assert placed.number == NUMBERS[0]
    with database.session() as s:
        logged = s.scalars(select(DataAccess).where(DataAccess.dataset == "surveys")).all()
        assert [(a.action, a.fields) for a in logged] == [("decrypt", "number")]


def test_no_key_no_ticket_with_a_number(database: Database, settings: TicketSettings) -> None:
    database.upgrade()
    with pytest.raises(NoDataKey):
        new_ticket(database, settings, "13812345678", "路灯不亮", cipher=None)
    with pytest.raises(NoDataKey), database.session() as s:
        store.search(s, store.Filters(caller_number="13812345678"))
    new_ticket(database, settings, "", "路灯不亮", cipher=None)  # no number: nothing to protect
    with database.session() as s:
        assert [r.caller_number for r in s.scalars(select(Ticket))] == [""]


def test_search_and_repeat_linking_find_by_number_however_written(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    first = new_ticket(database, settings, "138 1234 5678", "幸福小区3号楼停水两天了")
    other = new_ticket(database, settings, "13900001111", "幸福小区3号楼停水两天了")
    again = new_ticket(
        database, settings, "+86 13812345678", "幸福小区3号楼还是停水", T0 + timedelta(hours=2)
    )
    assert not first.linked and not other.linked
    assert again.linked and again.ticket.id == first.ticket.id  # not the other caller's
    with database.session() as s:
        total, rows = store.search(s, store.Filters(caller_number="13812345678"), cipher=CIPHER)
        assert (total, [r.id for r in rows]) == (1, [first.ticket.id])
        assert store.get(s, first.ticket.id).repeats == 1
        total, _ = store.search(s, store.Filters(caller_number="13700000000"), cipher=CIPHER)
        assert total == 0


@pytest.fixture
def tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    path = tmp_path / "tokens.toml"
    made = {
        "agent": add_token(path, "1002", "agent"),
        "water": add_token(path, "水务局", "department", "water"),
        "office": add_token(path, "数据办", "admin"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    return made


async def get(c: TestClient[Any, Any], token: str, path: str) -> tuple[int, Any]:
    resp = await c.get(path, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_views_decrypt_then_show_as_the_policy_says(
    database: Database, settings: TicketSettings, tmp_path: Path, tokens: dict[str, str]
) -> None:
    """The agent's view of a caller's earlier tickets (found by the blind index of the live
    call's number), the ticket list and detail (agents in clear with an access-log row,
    departments masked) and profiles by phone."""
    database.upgrade()
    earlier = new_ticket(database, settings, "13912345678", "小区停水").ticket.id
    close(database, settings, earlier)
    rebuild(database.engine, settings, now=T0.timestamp() + 3600, cipher=CIPHER)
    async with running_runtime() as h:
        app = build_app(
            h.runtime,
            h.stats,
            database,
            tmp_path / "recordings",
            settings,
            tmp_path / "attachments",
            feed=LiveFeed(LiveFigures(), h.runtime),
            cipher=CIPHER,
        )
        async with TestClient(TestServer(app)) as c:
            h.driver.emit(caller("c1", did="12333", number="+86 139 1234 5678"))
            await eventually(lambda: len(h.driver.offers) == 1)
            h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
            await eventually(lambda: h.runtime.acd.agent("1002").state == "on_call")
            status, details = await get(c, tokens["agent"], "/api/calls/c1")
            assert status == 200, details
            assert [t["id"] for t in details["history"]] == [earlier]
            status, listed = await get(c, tokens["agent"], "/api/tickets?caller_number=13912345678")
            assert status == 200 and [t["id"] for t in listed["tickets"]] == [earlier]
            assert listed["tickets"][0]["caller_number"] == "13912345678"  # agents: clear
            status, seen = await get(c, tokens["water"], f"/api/tickets/{earlier}")
            assert status == 200 and seen["caller_number"] == "139****5678"
            status, found = await get(c, tokens["office"], "/api/data/profiles?phone=13912345678")
            assert status == 200 and len(found["profiles"]) == 1
            (profile,) = found["profiles"]
            assert profile["phone"] == "13912345678"  # admin: sensitive in clear, on record
            status, history = await get(c, tokens["office"], f"/api/data/profiles/{profile['id']}")
            assert status == 200
            numbers = {
                r["table"]: r["fields"].get("caller_number") or r["fields"].get("number")
                for r in history["records"]
            }
            assert numbers == {"tickets": "13912345678", "surveys": "13912345678"}
    with database.session() as s:
        reads = s.scalars(select(DataAccess.fields).where(DataAccess.dataset == "tickets"))
        assert any("caller_number" in f for f in reads)


def test_rotation_and_a_new_index_key_reseal_them(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    ids = [
        new_ticket(database, settings, n, f"第{i}号楼停水").ticket.id for i, n in enumerate(NUMBERS)
    ]
    close(database, settings, ids[0])
    rebuild(database.engine, settings, now=T0.timestamp() + 3600, cipher=CIPHER)
    new = generate_key()
    report = rotation.rotate_keys(
        database, FieldCipher([new.encode(), OLD.encode()], INDEX.encode())
    )
    assert report.undecryptable == 0
    assert report.by_column["tickets.caller_number"] == 3
    assert report.by_column["surveys.number"] == 1
    assert report.by_column["profiles.phone"] >= 3
    only_new = FieldCipher([new.encode()], generate_key().encode())  # and a new index key
    with database.session() as s:
        for tid, number in zip(ids, NUMBERS, strict=True):
            row = s.get(Ticket, tid)
            assert row is not None and only_new.decrypt(row.caller_number) == number
        (survey,) = s.scalars(select(Survey)).all()
        assert only_new.decrypt(survey.number) == NUMBERS[0]
        assert all(only_new.can_decrypt(p.phone) for p in s.scalars(select(Profile)) if p.phone)
        logged = set(s.scalars(select(DataAccess.dataset).where(DataAccess.action == "decrypt")))
    assert {"tickets", "surveys", "profiles"} <= logged
    rotation.reindex(database, only_new)
    with database.session() as s:
        total, _ = store.search(s, store.Filters(caller_number=NUMBERS[1]), cipher=only_new)
        assert total == 1
        assert browse.find_profiles(
            s, phone=NUMBERS[2], phone_index=only_new.phone_index(NUMBERS[2])
        )
        total, _ = store.search(s, store.Filters(caller_number=NUMBERS[1]), cipher=CIPHER)
        assert total == 0  # the old index: gone


# --- migration 0014 ------------------------------------------------------------------------


def _migrate(database: Database, cipher: FieldCipher | None, up: bool, to: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    if cipher is not None:
        cfg.attributes["cipher"] = cipher
    with database.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        (command.upgrade if up else command.downgrade)(cfg, to)


TICKET = {
    "number": "", "channel": "phone", "call_id": None, "caller_name": "张", "did": "12345",
    "hotline": "12345", "region": "", "skill": "", "agent_id": "", "ivr_path": "",
    "request_type": "投诉", "topic": "", "department": None, "title": "停水",
    "content": "停水", "address": "", "status": "accepted", "version": 0, "state": "{}",
    "proposal": "{}", "confirmed": 0, "updated_at": 0.0, "deadline": None,
    "closed_at": None, "repeat_of": None, "repeats": 0, "id_card": "",
    "id_card_hash": "", "enterprise_code": "", "enterprise_name": "", "grid": "",
    "received_at": None,
}  # fmt: skip


def _insert(conn: Any, table: str, row: dict[str, object]) -> None:
    columns = ", ".join(row)
    values = ", ".join(f":{c}" for c in row)
    conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def test_the_migration_encrypts_stored_numbers_and_back(
    database: Database, settings: TicketSettings
) -> None:
    """Rows written before 0014 (numbers in clear) are encrypted in batches with their blind
    index; the SQLite table rebuild keeps the tickets' full-text index and change log; a
    downgrade decrypts them back; no key, no upgrade."""
    _migrate(database, CIPHER, True, "0013")
    count = 1203  # more than one batch
    with database.engine.begin() as conn:
        for i in range(1, count + 1):
            number = f"139{i:08d}"
            search = "停水 小区" if i == 7 else "停电"
            _insert(
                conn,
                "tickets",
                {**TICKET, "id": i, "number": f"T{i}", "caller_number": number,
                 "created_at": float(i), "search_text": search},
            )  # fmt: skip
        _insert(
            conn,
            "surveys",
            {"id": 1, "ticket_id": 7, "number": "13900000007", "state": "scheduled",
             "attempts": 0, "due_at": 1.0, "rating": "", "created_at": 1.0, "updated_at": 1.0},
        )  # fmt: skip
        _insert(
            conn,
            "profiles",
            {"id": 1, "kind": "person", "name": "张", "phone": "13900000007",
             "id_card_hash": "", "enterprise_code": "", "records": 1, "first_seen": 1.0,
             "last_seen": 1.0, "run_at": 1.0},
        )  # fmt: skip
    with pytest.raises(Exception, match="migration 0014"):
        _migrate(database, None, True, "head")
    _migrate(database, CIPHER, True, "head")
    dump = raw_rows(database)
    assert "13900000007" not in dump and f"139{count:08d}" not in dump
    with database.session() as s:
        rows = s.execute(select(Ticket.caller_number, Ticket.caller_number_hash)).all()
        assert len(rows) == count
        assert all(index == CIPHER.phone_index(CIPHER.decrypt(stored)) for stored, index in rows)
        survey = s.get(Survey, 1)
        assert survey is not None and CIPHER.decrypt(survey.number) == "13900000007"
        assert survey.number_hash == CIPHER.phone_index("13900000007")
        profile = s.get(Profile, 1)
        assert profile is not None and CIPHER.decrypt(profile.phone) == "13900000007"
        total, found = store.search(s, store.Filters(caller_number="13900000007"), cipher=CIPHER)
        assert (total, [r.id for r in found]) == (1, [7])
        total, found = store.search(s, store.Filters(q="停水"))  # full-text index kept
        assert (total, [r.id for r in found]) == (1, [7])
        assert browse.find_profiles(
            s, phone="13900000007", phone_index=CIPHER.phone_index("13900000007")
        )
    # the change log still records ticket changes (its trigger survived the rebuild)
    with database.engine.begin() as conn:
        before = conn.execute(text("SELECT count(*) FROM change_log")).scalar()
        conn.execute(text("UPDATE tickets SET title = 'x' WHERE id = 7"))
        conn.execute(text("UPDATE tickets SET search_text = '燃气 泄漏' WHERE id = 8"))
        assert conn.execute(text("SELECT count(*) FROM change_log")).scalar() == (before or 0) + 2
    with database.session() as s:
        total, found = store.search(s, store.Filters(q="燃气"))
        assert [r.id for r in found] == [8]
    _migrate(database, CIPHER, False, "0013")
    with database.engine.connect() as conn:
        clear = conn.execute(text("SELECT caller_number FROM tickets ORDER BY id")).scalars()
        assert list(clear) == [f"139{i:08d}" for i in range(1, count + 1)]
        assert conn.execute(text("SELECT number FROM surveys")).scalar() == "13900000007"
        assert conn.execute(text("SELECT phone FROM profiles")).scalar() == "13900000007"
    _migrate(database, CIPHER, True, "head")  # and up again: the same state
    with database.session() as s:
        total, _ = store.search(s, store.Filters(caller_number="13900000007"), cipher=CIPHER)
        assert total == 1
