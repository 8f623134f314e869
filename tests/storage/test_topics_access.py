"""A topic term's tickets over the data API (SQLite and PostgreSQL): titles (personal text,
grade sensitive) go through the masking policy of the caller's role, and a page that shows
them in clear is a read on record in the data access log."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from callcenter.api import data as api
from callcenter.api import tickets
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.data.fusion.build import rebuild
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, Ticket, TicketTopic
from callcenter.synthetic.command import main_synth
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
TITLE = "反映小区停水，联系电话13912345678"

Client = TestClient[Any, Any]


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert main_synth(database.url, 120, 7, date(2026, 1, 1), tmp_path / "truth", CONFIG, 0.05) == 0
    rebuild(database.engine, load_ticket_settings(CONFIG))
    path = tmp_path / "tokens.toml"
    tokens = {
        role: add_token(path, name, role, department)
        for role, name, department in (
            ("supervisor", "班长", ""),
            ("auditor", "审计员", ""),
            ("department", "水务局", "water"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[tickets.TICKET_DB] = database
    app[tickets.CIPHER] = load_cipher()
    shutil.copytree(CONFIG, tmp_path / "config")
    app[api.CONFIG_DIR] = tmp_path / "config"
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def page(c: Client, token: str, path: str) -> dict[str, Any]:
    resp = await c.get(path, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def reads(database: Database) -> list[DataAccess]:
    with database.session() as s:
        query = select(DataAccess).where(DataAccess.dataset == "tickets")
        return list(s.scalars(query.order_by(DataAccess.id)))


async def test_term_titles_masked_by_role_and_clear_reads_on_record(
    client: tuple[Client, dict[str, str]], database: Database
) -> None:
    c, t = client
    with database.session() as s:
        term, ticket_id = s.execute(
            select(TicketTopic.term, TicketTopic.ticket_id)
            .where(TicketTopic.library == "category")
            .order_by(TicketTopic.ticket_id)
            .limit(1)
        ).one()
    with database.engine.begin() as conn:
        conn.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(title=TITLE, department="water")
        )
    path = f"/api/data/topics/category/{term}?limit=200"

    seen = await page(c, t["supervisor"], path)  # the center's policy: titles in clear
    titles = {row["id"]: row["title"] for row in seen["tickets"]}
    assert titles[ticket_id] == TITLE and len(titles) == seen["total"]
    [read] = reads(database)
    assert (read.actor, read.role, read.action) == ("班长", "supervisor", "read")
    assert read.fields == "title"
    assert read.purpose == f"topic category/{term}: tickets " + " ".join(map(str, titles))

    departments = {row["id"]: row["department"] for row in seen["tickets"]}
    assert set(departments.values()) != {"water"}  # the term holds other departments' too
    seen = await page(c, t["department"], path)  # departments: titles masked, nothing read
    masked = {row["id"]: row["title"] for row in seen["tickets"]}
    assert masked[ticket_id] == "反映小区停水，联系电话139****5678"
    own = [k for k, d in departments.items() if d == "water"]  # only their own tickets
    assert sorted(masked) == sorted(own) and seen["total"] == len(own)
    assert len(reads(database)) == 1

    seen = await page(c, t["auditor"], path)
    assert TITLE in {row["title"] for row in seen["tickets"]}
    assert [(r.actor, r.role) for r in reads(database)] == [
        ("班长", "supervisor"),
        ("审计员", "auditor"),
    ]

    empty = await page(c, t["supervisor"], path + "&offset=100000")  # no titles, no read
    assert empty["tickets"] == [] and len(reads(database)) == 2
