"""ID-card numbers on tickets, on SQLite and PostgreSQL: only ciphertext and the blind index
are written (the raw rows of every table and the SQLite file hold no trace of the number),
no key means no row, the API shows the number masked and logs each decryption, and only an
auditor or admin stating a purpose gets the full number (logged as `decrypt`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from callcenter.data.crypto import FieldCipher, ephemeral_cipher
from callcenter.storage.database import Database
from callcenter.storage.schema import ChangeLog, DataAccess, Ticket, TicketHistory
from callcenter.tickets import service as store
from callcenter.tickets.errors import NoDataKey
from callcenter.tickets.model import Actor, Role
from callcenter.tickets.settings import TicketSettings, load_ticket_settings
from tests.storage.data_api import call, data_client

REPO = Path(__file__).resolve().parents[2]
AGENT = Actor("1001", Role.AGENT)
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ID = "11010519491231002X"
TRACES = (ID, ID.lower(), ID[-8:], ID[-8:].lower())
CONTENT = "小区门口的路灯坏了一个星期，晚上很黑"


@pytest.fixture(scope="module")
def settings() -> TicketSettings:
    return load_ticket_settings(REPO / "config")


def intake(
    content: str = CONTENT, id_card: str = "", code: str = "", grid: str = ""
) -> store.Intake:
    return store.Intake(
        channel="phone",
        content=content,
        caller_number="13812345678",
        id_card=id_card,
        enterprise_code=code,
        grid=grid,
    )


def every_row_as_text(database: Database) -> str:
    """Every row of every table, as the database returns it."""
    with database.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return "\n".join(
            repr(tuple(row))
            for name in names
            for row in conn.execute(text(f'SELECT * FROM "{name}"'))
        )


def test_only_ciphertext_and_blind_index_are_written(
    database: Database, settings: TicketSettings, tmp_path: Path
) -> None:
    database.upgrade()
    cipher = ephemeral_cipher()
    made = database.transaction(
        lambda s: store.create(
            s,
            settings,
            intake(id_card=f" {ID.lower()} ", code="91350100m000100y43", grid="g1"),
            AGENT,
            T0,
            cipher=cipher,
        )
    )
    with database.session() as s:
        row = store.get(s, made.ticket.id)
        assert row.id_card.startswith(f"{cipher.current}:")
        assert cipher.decrypt(row.id_card) == ID  # normalised: trimmed, X upper-case
        assert row.id_card_hash == cipher.blind_index(ID)
        assert (row.enterprise_code, row.grid) == ("91350100M000100Y43", "g1")
    dump = every_row_as_text(database)
    assert row.id_card in dump  # the dump does see the ticket's columns
    assert [t for t in TRACES if t in dump] == []
    if database.engine.dialect.name == "sqlite":
        # the database file and its write-ahead log, where fresh pages live until a checkpoint
        files = [tmp_path / "cc.db", tmp_path / "cc.db-wal"]
        raw = b"".join(f.read_bytes() for f in files if f.exists())
        assert row.id_card.encode() in raw
        assert [t for t in TRACES if t.encode() in raw] == []


def test_without_a_cipher_an_id_card_is_refused_and_nothing_written(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    with pytest.raises(NoDataKey) as refused:
        database.transaction(
            lambda s: store.create(s, settings, intake(id_card=ID), AGENT, T0, cipher=None)
        )
    assert refused.value.error_id == "data.no_key"
    with database.session() as s:
        for table in (Ticket, TicketHistory, ChangeLog):
            assert s.scalar(select(func.count()).select_from(table)) == 0
    # without an ID number (nor a phone number, also stored encrypted) no key is needed
    bare = replace(intake(), caller_number="")
    made = database.transaction(lambda s: store.create(s, settings, bare, AGENT, T0))
    assert made.ticket.id_card == "" and made.ticket.id_card_hash == ""


def test_same_number_same_blind_index_different_ciphertext(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    cipher = ephemeral_cipher()
    first = database.transaction(
        lambda s: store.create(s, settings, intake(id_card=ID), AGENT, T0, cipher=cipher).ticket.id
    )
    second = database.transaction(
        lambda s: (
            store.create(
                s,
                settings,
                store.Intake(
                    channel="web", content="噪音扰民", caller_number="", id_card=ID.lower()
                ),
                AGENT,
                T0,
                cipher=cipher,
            ).ticket.id
        )
    )
    with database.session() as s:
        a, b = store.get(s, first), store.get(s, second)
        assert a.id_card != b.id_card and a.id_card_hash == b.id_card_hash != ""
        found = s.scalars(select(Ticket.id).where(Ticket.id_card_hash == cipher.blind_index(ID)))
        assert sorted(found) == sorted([first, second])


def test_a_repeat_call_brings_the_number_to_the_ticket_it_repeats(
    database: Database, settings: TicketSettings
) -> None:
    database.upgrade()
    cipher = ephemeral_cipher()
    first = database.transaction(
        lambda s: store.create(s, settings, intake(), AGENT, T0, cipher=cipher)
    )
    again = database.transaction(
        lambda s: store.create(s, settings, intake(id_card=ID), AGENT, T0, cipher=cipher)
    )
    assert again.linked and again.ticket.id == first.ticket.id
    with database.session() as s:
        assert cipher.decrypt(store.get(s, first.ticket.id).id_card) == ID
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1


# --- over HTTP ---------------------------------------------------------------------------


def access_rows(database: Database) -> list[DataAccess]:
    with database.session() as s:
        return list(s.scalars(select(DataAccess).order_by(DataAccess.id)))


async def test_the_view_masks_the_number_and_logs_each_decryption(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cipher = ephemeral_cipher()
    async with data_client(database, tmp_path, monkeypatch, cipher) as (c, t):
        body = {"content": CONTENT, "caller_number": "13812345678", "id_card": ID}
        body |= {"enterprise_code": "91350100M000100Y43", "enterprise_name": "某公司"}
        status, made = await call(c, t["agent"], "POST", "/api/tickets", body | {"grid": "g7"})
        assert status == 201, made
        assert (made["id_card"], made["id_card_status"]) == ("110105********002X", "ok")
        assert (made["enterprise_code"], made["grid"]) == ("91350100M000100Y43", "g7")
        assert access_rows(database) == []  # what the agent typed is masked, not decrypted
        tid = made["id"]
        status, listed = await call(c, t["supervisor"], "GET", "/api/tickets")
        assert status == 200 and "id_card" not in listed["tickets"][0]
        [listed_row] = access_rows(database)  # a list decrypts nothing, shows numbers in clear
        assert (listed_row.actor, listed_row.fields) == ("班长", "caller_number,title")
        assert listed_row.purpose == f"ticket list: {made['id']}"
        resp = await c.get(
            f"/api/tickets/{tid}", headers={"Authorization": f"Bearer {t['supervisor']}"}
        )
        raw = await resp.text()
        assert resp.status == 200 and ID not in raw and ID[-8:] not in raw
        assert '"id_card": "110105********002X"' in raw
        status, _ = await call(
            c, t["agent"], "POST", f"/api/tickets/{tid}/assign", {"department": "water"}
        )
        assert status == 200
        status, seen = await call(c, t["water"], "GET", f"/api/tickets/{tid}")
        assert status == 200 and seen["id_card"] == "110105********002X"
    rows = access_rows(database)[1:]
    assert [(r.actor, r.role, r.action) for r in rows] == [
        ("班长", "supervisor", "read"),
        ("1001", "agent", "read"),  # the transition's answer shows the ticket too
        ("水务局", "department", "read"),
    ]
    # agents and supervisors: policy "clear" for every sensitive field shown (the detail view
    # has the history too, a transition's answer only the ticket)
    in_clear = "id_card,caller_number,title,content,proposal,state"
    history = "ticket_history.note,ticket_history.details"
    assert [(r.dataset, r.record_id, r.fields) for r in rows] == [
        ("tickets", str(tid), f"{in_clear},{history}"),
        ("tickets", str(tid), in_clear),
        ("tickets", str(tid), "id_card"),  # a department sees it masked: only the ID decrypted
    ]
    assert all(r.remote for r in rows)


async def test_the_full_number_only_for_an_auditor_with_a_purpose(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cipher = ephemeral_cipher()
    async with data_client(database, tmp_path, monkeypatch, cipher) as (c, t):
        _, made = await call(
            c, t["agent"], "POST", "/api/tickets", {"content": CONTENT, "id_card": ID}
        )
        _, plain = await call(c, t["agent"], "POST", "/api/tickets", {"content": "噪音扰民"})
        path = f"/api/tickets/{made['id']}/id_card"
        for role in ("agent", "supervisor", "water"):
            status, err = await call(c, t[role], "GET", f"{path}?purpose=看看")
            assert (status, err["error_id"]) == (403, "api.forbidden"), role
        for query in ("", "?purpose=", "?purpose=%20%20"):
            status, err = await call(c, t["auditor"], "GET", path + query)
            assert (status, err["error_id"]) == (400, "data.purpose_required"), query
        assert access_rows(database) == []  # refusals reveal nothing and log nothing
        resp = await c.get(
            f"{path}?purpose=信访复核：核对身份",
            headers={"Authorization": f"Bearer {t['auditor']}"},
        )
        assert resp.status == 200 and (await resp.json())["id_card"] == ID
        assert resp.headers["Cache-Control"] == "no-store"
        status, got = await call(c, t["admin"], "GET", f"{path}?purpose=数据核查")
        assert (status, got["id_card"]) == (200, ID)
        status, err = await call(
            c, t["auditor"], "GET", f"/api/tickets/{plain['id']}/id_card?purpose=x"
        )
        assert (status, err["error_id"]) == (404, "data.no_id_card")
        status, err = await call(c, t["auditor"], "GET", "/api/tickets/999999/id_card?purpose=x")
        assert (status, err["error_id"]) == (404, "ticket.not_found")
    rows = access_rows(database)
    assert [(r.actor, r.role, r.action, r.record_id, r.fields, r.purpose) for r in rows] == [
        ("审计员", "auditor", "decrypt", str(made["id"]), "id_card", "信访复核：核对身份"),
        ("管理员", "admin", "decrypt", str(made["id"]), "id_card", "数据核查"),
    ]


async def test_no_key_configured_refuses_an_id_card_with_a_json_error(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with data_client(database, tmp_path, monkeypatch, None) as (c, t):
        for path in ("/api/tickets", "/api/intake/web"):
            status, err = await call(
                c, t["agent"], "POST", path, {"content": CONTENT, "id_card": ID}
            )
            assert (status, err["error_id"]) == (503, "data.no_key"), path
        with database.session() as s:
            assert s.scalar(select(func.count()).select_from(Ticket)) == 0
        status, made = await call(c, t["agent"], "POST", "/api/tickets", {"content": CONTENT})
        assert status == 201 and made["id_card_status"] == "none"


async def test_a_number_under_an_unknown_key_is_reported_not_shown(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: TicketSettings
) -> None:
    database.upgrade()
    other = ephemeral_cipher()
    made = database.transaction(
        lambda s: store.create(s, settings, intake(id_card=ID), AGENT, T0, cipher=other)
    )
    configured: FieldCipher = ephemeral_cipher()
    async with data_client(database, tmp_path, monkeypatch, configured) as (c, t):
        status, seen = await call(c, t["supervisor"], "GET", f"/api/tickets/{made.ticket.id}")
        assert status == 200 and (seen["id_card"], seen["id_card_status"]) == ("", "undecryptable")
        status, err = await call(
            c, t["auditor"], "GET", f"/api/tickets/{made.ticket.id}/id_card?purpose=核查"
        )
        assert (status, err["error_id"]) == (422, "data.undecryptable")
    # nothing was decrypted (nor the phone number, under the same unknown key: not shown):
    # the one read on record is the supervisor's view in clear
    assert seen["caller_number"] == ""
    assert [(r.actor, r.fields) for r in access_rows(database)] == [
        ("班长", "title,content,proposal,state,ticket_history.note,ticket_history.details")
    ]
    with database.session() as s:
        assert store.get(s, made.ticket.id).id_card == made.ticket.id_card
