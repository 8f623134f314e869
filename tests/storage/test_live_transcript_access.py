"""Live transcripts (SQLite and PostgreSQL): an agent reads only the transcript of a call they
are or were on, supervisors any call; every read is a row of the data access log, over HTTP
(each request) and over the console's websocket (once per console and call)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from callcenter import domain
from callcenter.api.auth import add_token
from callcenter.api.console import LiveFeed
from callcenter.api.http import build_app
from callcenter.asr.live import LiveTranscriptionServer
from callcenter.asr.transcriber import Partial, Segment, Transcriber
from callcenter.live import CallView, LiveTranscription
from callcenter.live_figures.model import LiveFigures
from callcenter.pbx import base as pbx
from callcenter.pbx.asterisk.audiosocket import AudioSocketListener
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess
from tests.unit.fakes import Harness, caller, eventually, running_runtime

Client = TestClient[Any, Any]
SAID = "我家住在建国路，电话13912345678"


class FakeServer:
    """The AudioSocket server's bookkeeping only: no audio, no model."""

    def expect(self, uuid: str, call_id: str, speaker: str) -> None:
        pass

    def forget(self, call_id: str) -> None:
        pass


def _no_model() -> Transcriber:
    raise AssertionError("no speech model in these tests")


@dataclass
class Center:
    client: Client
    harness: Harness
    live: LiveTranscription
    tokens: dict[str, str]


@pytest.fixture
async def center(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Center]:
    database.upgrade()
    path = tmp_path / "tokens.toml"
    tokens = {
        who: add_token(path, name, role)
        for who, name, role in (
            ("1001", "1001", "agent"),
            ("1002", "1002", "agent"),
            ("supervisor", "班长", "supervisor"),
            ("auditor", "审计员", "auditor"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    async with running_runtime() as h:
        live = LiveTranscription(
            h.bus,
            h.bus.subscribe("live"),
            lambda *_: None,
            _no_model,
            "127.0.0.1:0",
            AudioSocketListener(),
        )
        live.server = cast(LiveTranscriptionServer, FakeServer())
        feed = LiveFeed(figures := LiveFigures(), h.runtime)
        tasks = [
            asyncio.create_task(live.run()),
            asyncio.create_task(feed.run(h.bus.subscribe("console"))),
        ]
        app = build_app(h.runtime, figures, database, live=live, feed=feed)
        async with TestClient(TestServer(app)) as c:
            yield Center(c, h, live, tokens)
        for task in tasks:
            task.cancel()


async def connected(cc: Center, call_id: str, agent_id: str) -> None:
    """A caller answered by `agent_id`, the live transcription told of it."""
    offers = len(cc.harness.driver.offers)
    cc.harness.driver.emit(caller(call_id, did="12333", number="13912345678"))
    await eventually(lambda: len(cc.harness.driver.offers) > offers)
    cc.harness.driver.emit(pbx.AgentAnswered("a", call_id, agent_id))
    await eventually(lambda: agent_id in cc.live.agents(call_id))


async def get(cc: Center, who: str, call_id: str) -> tuple[int, Any]:
    resp = await cc.client.get(
        f"/api/calls/{call_id}/live-transcript",
        headers={"Authorization": f"Bearer {cc.tokens[who]}"},
    )
    return resp.status, await resp.json()


def reads(database: Database) -> list[tuple[str, str, str, str, str]]:
    with database.session() as s:
        rows = s.scalars(
            select(DataAccess)
            .where(DataAccess.dataset == "transcript_segments")
            .order_by(DataAccess.id)
        )
        return [(r.actor, r.role, r.action, r.record_id, r.purpose) for r in rows]


async def test_agents_read_their_own_calls_supervisors_any_every_read_on_record(
    center: Center, database: Database
) -> None:
    cc = center
    await connected(cc, "c1", "1002")
    cc.live._result("c1", "caller", Segment(0.0, 2.0, SAID, "caller", 0.9))
    status, body = await get(cc, "1002", "c1")  # the agent on the call
    assert status == 200 and [s["text"] for s in body["segments"]] == [SAID]
    status, body = await get(cc, "1001", "c1")  # another agent
    assert (status, body["error_id"]) == (403, "api.forbidden")
    status, body = await get(cc, "supervisor", "c1")
    assert status == 200 and body["segments"][0]["text"] == SAID
    status, _ = await get(cc, "auditor", "c1")
    assert status == 403
    status, body = await get(cc, "1001", "nope")
    assert (status, body["error_id"]) == (404, "live.unknown_call")
    # a call 1001 was on, over now (gone from the queue), its transcript still kept
    cc.live.calls["c0"] = CallView(
        segments=[{"speaker": "caller", "text": SAID, "start": 0.0, "end": 1.0}],
        closed_at=time.time(),
        agents={"1001"},
    )
    assert cc.harness.runtime.acd.caller("c0") is None
    assert (await get(cc, "1001", "c0"))[0] == 200
    assert (await get(cc, "1002", "c0"))[0] == 403
    assert reads(database) == [
        ("1002", "agent", "read", "c1", "live transcript"),
        ("班长", "supervisor", "read", "c1", "live transcript"),
        ("1001", "agent", "read", "c0", "live transcript"),
    ]


async def test_the_console_feed_sends_lines_to_who_may_see_them_on_record(
    center: Center, database: Database
) -> None:
    cc = center
    await connected(cc, "c1", "1002")
    async with (
        cc.client.ws_connect(f"/api/live?access_token={cc.tokens['1002']}") as mine,
        cc.client.ws_connect(f"/api/live?access_token={cc.tokens['1001']}") as other,
        cc.client.ws_connect(f"/api/live?access_token={cc.tokens['supervisor']}") as boss,
    ):
        for ws in (mine, other, boss):
            assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
        cc.live._result("c1", "caller", Partial("我家住在", "caller"))
        cc.live._result("c1", "caller", Segment(0.0, 2.0, SAID, "caller", 0.9))

        async def lines(ws: Any, seconds: float) -> list[str]:
            got: list[str] = []
            end = time.monotonic() + seconds
            while len(got) < 2 and (left := end - time.monotonic()) > 0:
                try:
                    message = await ws.receive_json(timeout=left)
                except TimeoutError:
                    break
                if message["type"] == "transcript":
                    assert message["call_id"] == "c1"
                    got.append(message["text"])
            return got

        assert await lines(mine, 5) == ["我家住在", SAID]
        assert await lines(boss, 5) == ["我家住在", SAID]
        assert await lines(other, 0.5) == []
    assert sorted(reads(database)) == [
        ("1002", "agent", "read", "c1", "live transcript (console)"),
        ("班长", "supervisor", "read", "c1", "live transcript (console)"),
    ]


async def test_a_call_handed_on_keeps_its_earlier_agents(center: Center) -> None:
    cc = center
    await connected(cc, "c1", "1002")
    cc.harness.bus.publish(domain.CallConnected("c1", "1001", 0.0, time.time()))
    await eventually(lambda: cc.live.agents("c1") == frozenset({"1001", "1002"}))
