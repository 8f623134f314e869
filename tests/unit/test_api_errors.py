"""The REST API's error mapping: every error is JSON with a stable `error_id`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api.http import build_app
from callcenter.pbx import base as pbx
from tests.unit.fakes import Harness, caller, eventually, running_runtime

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running_runtime() as h:
        yield h


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[Client]:
    app = build_app(harness.runtime, harness.stats, open_loopback=True)
    async with TestClient(TestServer(app)) as c:
        yield c


async def call(client: Client, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with client.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json"
        body: dict[str, Any] = await response.json()
        return response.status, body


ERRORS = [
    # (method, path, request kwargs, status, error_id)
    ("GET", "/api/nothing", {}, 404, "api.not_found"),
    ("GET", "/", {}, 404, "api.not_found"),
    ("DELETE", "/api/queue", {}, 405, "api.method_not_allowed"),
    ("GET", "/api/agents/1001/login", {}, 405, "api.method_not_allowed"),
    ("POST", "/api/agents/1001/pause", {"data": "{not json"}, 400, "api.bad_json"),
    ("POST", "/api/agents/1001/pause", {"data": b"\xff\xfe"}, 400, "api.bad_json"),
    ("POST", "/api/agents/1001/pause", {"json": [1, 2]}, 400, "api.bad_json"),
    # a lone surrogate or a NUL: no column stores it (PostgreSQL refuses both)
    ("POST", "/api/agents/1001/pause", {"data": b'{"reason": "\\ud800"}'}, 400, "api.bad_json"),
    ("POST", "/api/agents/1001/pause", {"data": b'{"reason": "a\\u0000"}'}, 400, "api.bad_json"),
    ("POST", "/api/agents/1001/pause", {"data": b'{"\\udfff": 1}'}, 400, "api.bad_json"),
    ("POST", "/api/agents/10%0001/pause", {"json": {}}, 400, "api.bad_parameter"),
    ("POST", "/api/agents/1001/pause", {"json": {"reason": 5}}, 400, "api.invalid"),
    ("POST", "/api/agents/1001/login", {"json": {"ready": "yes"}}, 400, "api.invalid"),
    ("POST", "/api/agents/1001/dance", {"json": {}}, 404, "api.unknown_action"),
    ("POST", "/api/agents/nobody/pause", {"json": {}}, 404, "acd.unknown_agent"),
    ("POST", "/api/agents/nobody/login", {}, 404, "acd.unknown_agent"),
    ("POST", "/api/calls/c1/priority", {"json": {"priority": True}}, 400, "api.invalid"),
    ("POST", "/api/calls/c1/priority", {"json": {"priority": 101}}, 400, "api.invalid"),
    ("POST", "/api/calls/c1/priority", {"json": {"priority": "5"}}, 400, "api.invalid"),
    ("POST", "/api/calls/c1/priority", {"json": {}}, 400, "api.invalid"),
    ("POST", "/api/calls/nobody/priority", {"json": {"priority": 5}}, 404, "acd.unknown_caller"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "error_id"), ERRORS)
async def test_error_is_json_with_error_id(
    client: Client, method: str, path: str, kwargs: dict[str, Any], status: int, error_id: str
) -> None:
    got_status, body = await call(client, method, path, **kwargs)
    assert (got_status, body["error_id"]) == (status, error_id)
    assert isinstance(body["message"], str) and body["message"]


async def test_unknown_agent_message_names_the_agent(client: Client) -> None:
    _, body = await call(client, "POST", "/api/agents/nobody/pause", json={})
    assert body == {"error_id": "acd.unknown_agent", "message": "unknown agent 'nobody'"}


async def test_a_bad_body_names_every_bad_field(client: Client, harness: Harness) -> None:
    status, body = await call(
        client, "POST", "/api/agents/1001/login", json={"reason": 5, "ready": "yes"}
    )
    assert (status, body["error_id"]) == (400, "api.invalid")
    assert [(d["field"], d["type"]) for d in body["details"]] == [
        ("reason", "string_type"),
        ("ready", "bool_type"),
    ]
    assert "'reason'" in body["message"] and "'ready'" in body["message"]
    assert harness.runtime.acd.agent("1001").status == "available"  # nothing happened


async def test_a_domain_error_keeps_the_shape_without_details(client: Client) -> None:
    status, body = await call(client, "POST", "/api/calls/nobody/priority", json={"priority": 5})
    assert (status, body) == (
        404,
        {"error_id": "acd.unknown_caller", "message": "no waiting caller 'nobody'"},
    )


async def test_a_feature_error_is_answered_with_its_own_status(client: Client) -> None:
    """A CallcenterError raised anywhere below a handler reaches the client once, mapped at
    the edge, with its status, error_id and details."""
    from callcenter.errors import CallcenterError

    class Refused(CallcenterError):
        status = 418
        error_id = "test.refused"

    async def refuse(request: web.Request) -> web.Response:
        raise Refused("no tea", details={"why": "a teapot"})

    from callcenter.api.errors import errors_middleware

    app = web.Application(middlewares=[errors_middleware])
    app.add_routes([web.get("/tea", refuse)])
    async with TestClient(TestServer(app)) as c:
        status, body = await call(c, "GET", "/tea")
    assert (status, body) == (
        418,
        {"error_id": "test.refused", "message": "no tea", "details": {"why": "a teapot"}},
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "s3cret-token"}, 200),  # the "Bearer " prefix is optional
        ({"Authorization": "Bearer s3cret-token"}, 200),
    ],
)
async def test_api_token(
    client: Client, monkeypatch: pytest.MonkeyPatch, headers: dict[str, str], status: int
) -> None:
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "s3cret-token")
    got_status, body = await call(client, "GET", "/api/agents", headers=headers)
    assert got_status == status
    if status == 401:
        assert body["error_id"] == "api.unauthorized"
    else:
        assert len(body["agents"]) == 4


async def test_token_guards_actions_before_they_run(
    client: Client, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "s3cret-token")
    status, body = await call(client, "POST", "/api/agents/1001/pause", json={})
    assert (status, body["error_id"]) == (401, "api.unauthorized")
    assert harness.runtime.acd.agent("1001").status == "available"


async def test_without_tokens_an_app_not_opened_lets_no_one_in(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    monkeypatch.delenv("CALLCENTER_TOKENS_FILE", raising=False)
    async with TestClient(TestServer(build_app(harness.runtime, harness.stats))) as c:
        status, body = await call(c, "GET", "/api/agents")  # from 127.0.0.1
        assert (status, body["error_id"]) == (401, "api.unauthorized")
        assert (await call(c, "GET", "/health"))[0] == 200


async def test_health_needs_no_token(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "s3cret-token")
    status, body = await call(client, "GET", "/health")
    assert (status, body) == (200, {"ok": True, "pbx": {"a": True}})


async def test_non_ascii_token_is_unauthorized(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "s3cret-token")
    status, body = await call(
        client, "GET", "/api/agents", headers={"Authorization": "Bearer caf\u00e9"}
    )
    assert (status, body["error_id"]) == (401, "api.unauthorized")


# --- the successful answers, for contrast -----------------------------------------------------


async def test_health_reports_link_down(client: Client, harness: Harness) -> None:
    harness.driver.emit(pbx.LinkDown("a", "reset"))
    await eventually(lambda: not harness.runtime.link_up["a"])
    status, body = await call(client, "GET", "/health")
    assert (status, body) == (503, {"ok": False, "pbx": {"a": False}})


async def test_pause_and_resume(client: Client) -> None:
    status, body = await call(client, "POST", "/api/agents/1001/pause", json={"reason": "lunch"})
    assert (status, body) == (
        200,
        {"agent_id": "1001", "status": "on_break", "state": "idle", "reason": "lunch"},
    )
    status, body = await call(client, "POST", "/api/agents/1001/resume")
    assert (status, body["status"], body["reason"]) == (200, "available", "")


async def test_queue_shows_masked_caller_and_priority_change(
    client: Client, harness: Harness
) -> None:
    harness.driver.emit(caller("c1", did="12345", number="13812345678", skill="dialect"))
    await eventually(lambda: harness.stats.joined == 1)
    status, body = await call(client, "GET", "/api/queue")
    assert status == 200
    (row,) = body["callers"]
    assert (row["call_id"], row["caller"], row["skill"], row["did"]) == (
        "c1",
        "138****5678",
        "dialect",
        "12345",
    )
    status, body = await call(client, "POST", "/api/calls/c1/priority", json={"priority": 7})
    assert (status, body) == (200, {"call_id": "c1", "priority": 7})
    assert harness.runtime.acd.queued()[0].priority == 7
    await eventually(lambda: ("c1", 7) in harness.driver.priorities)


async def test_stats_summary(client: Client, harness: Harness) -> None:
    harness.driver.emit(caller("c1", skill="dialect"))
    harness.driver.emit(pbx.CallerGone("a", "c1"))
    await eventually(lambda: harness.stats.abandoned == 1)
    status, body = await call(client, "GET", "/api/stats")
    assert status == 200
    assert (body["joined"], body["abandoned"], body["waiting"]) == (1, 1, 0)
    assert body["wait_p50"] == 0.0
