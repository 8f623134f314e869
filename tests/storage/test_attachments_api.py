"""Ticket attachments over HTTP on SQLite and PostgreSQL: stored whole up to
`[attachments] max_bytes` (size and SHA-256 of what was sent), refused with 413 beyond it and
beyond a user's `quota_bytes_per_user`; a refused upload leaves no file and no row."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import ATTACHMENTS, CIPHER, SETTINGS, TICKET_DB
from callcenter.data.crypto import ephemeral_cipher
from callcenter.storage.database import Database
from callcenter.storage.schema import TicketAttachment
from callcenter.tickets import http as api
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
Client = TestClient[Any, Any]
Factory = Callable[[int, int], AbstractAsyncContextManager[tuple[Client, dict[str, str], Path]]]


@pytest.fixture
def attachments_client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Factory:
    """A tickets API with the shipped config but these attachment limits in tickets.toml."""

    @asynccontextmanager
    async def make(
        max_bytes: int, quota: int
    ) -> AsyncIterator[tuple[Client, dict[str, str], Path]]:
        database.upgrade()
        config = tmp_path / "config"
        shutil.copytree(REPO / "config", config)
        tickets_toml = config / "tickets.toml"
        text = tickets_toml.read_text(encoding="utf-8")
        assert "max_bytes = 20971520" in text and "quota_bytes_per_user = 2147483648" in text
        text = text.replace("max_bytes = 20971520", f"max_bytes = {max_bytes}")
        text = text.replace("quota_bytes_per_user = 2147483648", f"quota_bytes_per_user = {quota}")
        tickets_toml.write_text(text, encoding="utf-8")
        path = tmp_path / "tokens.toml"
        tokens = {
            "agent": add_token(path, "1001", "agent"),
            "supervisor": add_token(path, "班长", "supervisor"),
            "water": add_token(path, "水务局", "department", "water"),
            "auditor": add_token(path, "审计员", "auditor"),
        }
        monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
        monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
        root = tmp_path / "attachments"
        app = web.Application(middlewares=[errors_middleware, auth_middleware])
        app[TICKET_DB] = database
        app[SETTINGS] = load_ticket_settings(config)
        app[ATTACHMENTS] = root
        app[CIPHER] = ephemeral_cipher()  # citizens' numbers are stored encrypted
        app.add_routes(api.routes())
        async with TestClient(TestServer(app)) as c:
            yield c, tokens, root

    return make


async def new_ticket(c: Client, token: str) -> int:
    resp = await c.post(
        "/api/tickets",
        json={"content": "小区路灯坏了", "caller_number": "13812345678"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def upload(
    c: Client, token: str, tid: int, data: bytes, chunked: bool = False
) -> tuple[int, dict[str, Any]]:
    body: Any = data
    if chunked:  # no Content-Length: the limit is found while reading

        async def pieces() -> AsyncIterator[bytes]:
            for at in range(0, len(data), 100_000):
                yield data[at : at + 100_000]

        body = pieces()
    resp = await c.post(
        f"/api/tickets/{tid}/attachments?name=photo.jpg",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    )
    return resp.status, await resp.json()


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows(database: Database) -> int:
    def count(s: Session) -> int:
        return s.scalar(select(func.count(TicketAttachment.id))) or 0

    return database.transaction(count)


async def test_uploads_are_stored_whole_up_to_the_maximum_and_refused_beyond_it(
    attachments_client: Factory, database: Database
) -> None:
    limit = 4 * MIB
    async with attachments_client(limit, 64 * MIB) as (c, t, root):
        tid = await new_ticket(c, t["agent"])
        stored = []
        for size, chunked in (
            (3_000_000, False),
            (limit - 1, False),
            (limit, False),
            (limit, True),
        ):
            data = os.urandom(size)
            status, body = await upload(c, t["agent"], tid, data, chunked)
            assert status == 201, body
            digest = hashlib.sha256(data).hexdigest()
            assert body["size"] == size and body["sha256"] == digest
            on_disk = root / digest[:2] / digest
            assert on_disk.read_bytes() == data
            stored.append(on_disk)
        assert files(root) == sorted(stored)
        assert rows(database) == 4
        for chunked in (False, True):
            status, body = await upload(c, t["agent"], tid, os.urandom(limit + 1), chunked)
            assert (status, body["error_id"]) == (413, "attachment.too_large")
        status, body = await upload(c, t["agent"], tid, os.urandom(3 * limit), True)
        assert (status, body["error_id"]) == (413, "attachment.too_large")
        assert files(root) == sorted(stored)  # nothing of a refused upload kept
        assert rows(database) == 4


async def test_refused_uploads_write_no_file_and_no_row(
    attachments_client: Factory, database: Database
) -> None:
    async with attachments_client(MIB, 8 * MIB) as (c, t, root):
        tid = await new_ticket(c, t["agent"])  # not dispatched: no department sees it
        data = os.urandom(1000)
        for chunked in (False, True):
            assert (await upload(c, t["auditor"], tid, data, chunked))[0] == 403  # no right
            assert (await upload(c, t["water"], tid, data, chunked))[0] == 404  # not its ticket
            status, body = await upload(c, t["agent"], tid + 1000, data, chunked)
            assert (status, body["error_id"]) == (404, "ticket.not_found")
            status, body = await upload(c, t["agent"], tid, b"", chunked)
            assert (status, body["error_id"]) == (400, "api.invalid")
        assert files(root) == []
        assert rows(database) == 0


async def test_each_user_has_an_attachment_quota(
    attachments_client: Factory, database: Database
) -> None:
    async with attachments_client(MIB, 2 * MIB) as (c, t, root):
        tid = await new_ticket(c, t["agent"])
        for _ in range(2):
            assert (await upload(c, t["agent"], tid, os.urandom(MIB)))[0] == 201
        kept = files(root)
        for chunked in (False, True):  # declared, or found once it arrived
            status, body = await upload(c, t["agent"], tid, b"x", chunked)
            assert (status, body["error_id"]) == (413, "attachment.quota_exceeded")
        assert files(root) == kept and rows(database) == 2
        # the quota is the user's: another user still stores
        assert (await upload(c, t["supervisor"], tid, os.urandom(MIB)))[0] == 201
        assert rows(database) == 3
