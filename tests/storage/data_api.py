"""A tickets + data-audit + recordings API app for the data-protection tests, with a token
for every role (the auditor included) and, unless told otherwise, a field cipher and the
shipped config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api import data_audit, recordings
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import ATTACHMENTS, CIPHER, CONFIG_DIR, SETTINGS, TICKET_DB
from callcenter.data.crypto import FieldCipher
from callcenter.storage.database import Database
from callcenter.tickets import http as api
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
Client = TestClient[Any, Any]


@asynccontextmanager
async def data_client(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cipher: FieldCipher | None,
    config: Path | None = None,
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    database.upgrade()
    path = tmp_path / "tokens.toml"
    tokens = {
        "agent": add_token(path, "1001", "agent"),
        "supervisor": add_token(path, "班长", "supervisor"),
        "water": add_token(path, "水务局", "department", "water"),
        "admin": add_token(path, "管理员", "admin"),
        "auditor": add_token(path, "审计员", "auditor"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[SETTINGS] = load_ticket_settings(REPO / "config")
    app[ATTACHMENTS] = tmp_path / "attachments"
    if cipher is not None:
        app[CIPHER] = cipher
    if config is not None:  # the masking policy and catalogue (default: the shipped ones)
        app[CONFIG_DIR] = config
    app[recordings.DATABASE] = database
    app[recordings.RECORDINGS_ROOT] = tmp_path / "rec"
    app.add_routes(api.routes())
    app.add_routes(data_audit.routes())
    app.add_routes(recordings.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def call(
    c: Client, token: str, method: str, path: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await c.request(method, path, json=body, headers=headers, **kw)
    return resp.status, await resp.json()
