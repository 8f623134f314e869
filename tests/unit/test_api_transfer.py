"""POST /api/calls/{id}/transfer: 202 for a connected call, 4xx with an error_id otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acd import events as ev
from callcenter.api.http import build_app
from callcenter.pbx import base as pbx
from tests.unit.fakes import caller, eventually, running_runtime

Client = TestClient[web.Request, web.Application]


async def post(client: Client, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with client.post(path, json=body) as response:
        data: dict[str, Any] = await response.json()
        return response.status, data


@pytest.fixture
async def client_and_driver() -> AsyncIterator[tuple[Client, Any, Any]]:
    async with running_runtime() as h:
        app = build_app(h.runtime, h.stats, open_loopback=True)
        async with TestClient(TestServer(app)) as c:
            yield c, h, app


async def test_transfer_api(client_and_driver: tuple[Client, Any, Any]) -> None:
    client, h, _ = client_and_driver
    status, body = await post(client, "/api/calls/c1/transfer", {"skill": "labor"})
    assert (status, body["error_id"]) == (404, "call.not_connected")
    h.driver.emit(caller("c1", did="12345"))
    await eventually(lambda: len(h.driver.offers) == 1)
    h.driver.emit(pbx.AgentAnswered("a", "c1", "1001"))
    await eventually(lambda: h.runtime.acd.agent("1001").state == "on_call")
    status, body = await post(client, "/api/calls/c1/transfer", {"skill": "nosuch"})
    assert (status, body["error_id"]) == (400, "call.unknown_skill")
    status, body = await post(client, "/api/calls/c1/transfer", {"skill": "labor", "agent": "x"})
    assert (status, body["error_id"]) == (404, "acd.unknown_agent")
    await h.runtime.request(ev.AgentPaused("1002", "meeting"))
    status, body = await post(client, "/api/calls/c1/transfer", {"skill": "labor", "agent": "1002"})
    assert (status, body["error_id"]) == (409, "acd.agent_unavailable")
    await h.runtime.request(ev.AgentResumed("1002"))
    status, body = await post(client, "/api/calls/c1/transfer", {"skill": "labor", "agent": "1002"})
    assert status == 202 and body == {"call_id": "c1", "skill": "labor", "agent": "1002"}
    await eventually(lambda: h.driver.transfers == [("c1", "labor")])
    await eventually(lambda: len(h.driver.offers) == 2)
    assert h.driver.offers[1][:2] == ("c1", ("1002",))
    async with client.get("/api/center") as response:
        center = await response.json()
    assert {"id": "labor", "name": "人社专席"} in center["skills"]
