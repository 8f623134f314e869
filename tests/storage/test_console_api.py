"""The console's server side over HTTP and a websocket (SQLite and PostgreSQL): the pushed
wallboard, a call's details with the caller's history, listen-in, audited actions, roles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api.auth import add_token
from callcenter.api.console import LiveFeed
from callcenter.api.http import build_app
from callcenter.live_figures.model import LiveFigures
from callcenter.pbx import base as pbx
from callcenter.storage.database import Database
from tests.unit.fakes import Harness, caller, eventually, running_runtime

NOBODY = "dialect"


@pytest.fixture
async def console(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient[Any, Any], Harness, dict[str, str]]]:
    database.upgrade()
    path = tmp_path / "tokens.toml"
    tokens = {
        "1001": add_token(path, "1001", "agent"),
        "1002": add_token(path, "1002", "agent"),
        "supervisor": add_token(path, "班长", "supervisor"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    async with running_runtime() as h:
        feed = LiveFeed(figures := LiveFigures(), h.runtime)
        task = asyncio.create_task(feed.run(h.bus.subscribe("console")))
        app = build_app(h.runtime, figures, database, feed=feed)
        async with TestClient(TestServer(app)) as c:
            yield c, h, tokens
        task.cancel()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_wallboard_is_pushed_when_a_caller_arrives(
    console: tuple[TestClient[Any, Any], Harness, dict[str, str]],
) -> None:
    c, h, t = console
    async with c.ws_connect(f"/api/live?access_token={t['supervisor']}") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot" and first["waiting"] == []
        h.driver.emit(caller("w1", skill=NOBODY, number="13812345678"))
        while True:
            message = await ws.receive_json(timeout=5)
            if message["waiting"]:
                break
    assert message["waiting"][0]["caller"] == "138****5678"  # masked
    assert message["skills"]["*"]["joined"] == 1
    assert {a["agent_id"] for a in message["agents"]} >= {"1001", "1002"}
    assert message["supervisors"] == [{"id": "9001", "name": "赵班长", "extension": "9001"}]


async def test_the_live_feed_needs_a_token(
    console: tuple[TestClient[Any, Any], Harness, dict[str, str]],
) -> None:
    c, _, _ = console
    response = await c.get("/api/live")
    assert response.status == 401
    assert (await response.json())["error_id"] == "api.unauthorized"


async def test_call_details_for_the_agent_on_the_call_only(
    console: tuple[TestClient[Any, Any], Harness, dict[str, str]],
) -> None:
    c, h, t = console
    h.driver.emit(caller("c1", did="12333", number="13912345678"))
    await eventually(lambda: len(h.driver.offers) == 1)
    h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
    await eventually(lambda: h.runtime.acd.agent("1002").state == "on_call")
    mine = await c.get("/api/calls/c1", headers=auth(t["1002"]))
    body = await mine.json()
    assert mine.status == 200, body
    assert (body["caller"], body["skill"], body["agents"]) == ("139****5678", "labor", ["1002"])
    other = await c.get("/api/calls/c1", headers=auth(t["1001"]))
    assert other.status == 403


async def test_listen_in_rings_the_supervisors_phone_and_is_audited(
    console: tuple[TestClient[Any, Any], Harness, dict[str, str]],
) -> None:
    c, h, t = console
    h.driver.emit(caller("c1", did="12333", number="13912345678"))
    await eventually(lambda: len(h.driver.offers) == 1)
    refused = await c.post(
        "/api/calls/c1/spy",
        json={"mode": "listen", "extension": "9001"},
        headers=auth(t["supervisor"]),
    )
    assert refused.status == 409  # still ringing: nothing to listen to
    h.driver.emit(pbx.AgentAnswered("a", "c1", "1002"))
    await eventually(lambda: h.runtime.acd.agent("1002").state == "on_call")
    for body, status in (
        ({"mode": "shout", "extension": "9001"}, 400),
        ({"mode": "listen", "extension": "1001"}, 400),  # an agent's phone is not a supervisor's
    ):
        bad = await c.post("/api/calls/c1/spy", json=body, headers=auth(t["supervisor"]))
        assert bad.status == status
    agent = await c.post(
        "/api/calls/c1/spy", json={"mode": "listen", "extension": "9001"}, headers=auth(t["1001"])
    )
    assert agent.status == 403
    ok = await c.post(
        "/api/calls/c1/spy",
        json={"mode": "whisper", "extension": "9001"},
        headers=auth(t["supervisor"]),
    )
    assert ok.status == 202
    await eventually(lambda: h.driver.spies == [("c1", "9001", "whisper")])
    await c.post("/api/agents/1001/pause", json={"reason": "培训"}, headers=auth(t["supervisor"]))
    log = await (await c.get("/api/audit", headers=auth(t["supervisor"]))).json()
    assert [(e["actor"], e["action"], e["target"]) for e in log["entries"]] == [
        ("班长", "agent.pause", "1001"),
        ("班长", "spy.whisper", "c1"),
    ]


async def test_wallboard_series_per_skill_and_the_center_time_zone(
    console: tuple[TestClient[Any, Any], Harness, dict[str, str]],
) -> None:
    c, h, t = console
    h.driver.emit(caller("s1", skill=NOBODY, number="13812345678"))
    await eventually(lambda: h.runtime.acd.caller("s1") is not None)

    async def series(skill: str, token: str) -> tuple[int, Any]:
        resp = await c.get(f"/api/wallboard/series?skill={skill}", headers=auth(token))
        return resp.status, await resp.json()

    async def joined_today(skill: str) -> float:
        status, body = await series(skill, t["supervisor"])
        assert status == 200 and len(body["series"]) == 96 and body["slot_seconds"] == 900
        return float(sum(s["joined"] for s in body["series"]))

    await eventually_async(lambda: joined_today("*"), 1)
    assert await joined_today(NOBODY) == 1
    other = next(sk.id for sk in h.runtime.config.skills if sk.id != NOBODY)
    assert await joined_today(other) == 0
    status, body = await series("nosuchskill", t["supervisor"])
    assert (status, body["error_id"]) == (404, "skill.unknown")
    status, _ = await series("*", t["1001"])
    assert status == 403  # the charts are the supervisor's
    resp = await c.get("/api/center", headers=auth(t["1001"]))
    center = await resp.json()
    assert resp.status == 200 and center["timezone"] == h.runtime.config.center.timezone


async def eventually_async(read: Any, want: float, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await read() != want:
        assert asyncio.get_running_loop().time() < deadline, "the wallboard never counted it"
        await asyncio.sleep(0.05)
