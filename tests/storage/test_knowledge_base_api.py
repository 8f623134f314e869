"""The knowledge base's HTTP API on SQLite and PostgreSQL: roles (agents read and search,
supervisors and admins edit and review), the review rule, JSON errors with stable ids, search
and suggestions from a text and from a live call's transcript."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api import knowledge_base as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import TICKET_DB
from callcenter.api.live_key import LIVE
from callcenter.asr.transcriber import Transcriber
from callcenter.bus import Bus
from callcenter.live import CallView, LiveTranscription
from callcenter.pbx.asterisk.audiosocket import AudioSocketListener
from callcenter.storage.database import Database

Client = TestClient[Any, Any]
ENTRY = {
    "kind": "policy",
    "title": "住房公积金提取条件",
    "body": "购买自住住房、偿还住房贷款本息、租房的，可以申请提取住房公积金。",
    "department": "市住房公积金管理中心",
}


def _no_model() -> Transcriber:
    raise AssertionError("the suggestion API never loads a speech model")


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str], LiveTranscription]]:
    database.upgrade()
    path = tmp_path / "tokens.toml"
    tokens = {
        who: add_token(path, who, role)
        for who, role in (
            ("agent", "agent"),
            ("editor", "supervisor"),
            ("reviewer", "supervisor"),
            ("admin", "admin"),
            ("auditor", "auditor"),
            ("department", "department"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    bus = Bus()
    live = LiveTranscription(
        bus, bus.subscribe("live"), lambda *_: None, _no_model, "127.0.0.1:0", AudioSocketListener()
    )
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[LIVE] = live
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens, live


async def call(c: Client, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await c.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_roles_review_and_search(
    client: tuple[Client, dict[str, str], LiveTranscription],
) -> None:
    c, t, _ = client
    status, body = await call(c, t["agent"], "POST", "/api/knowledge", ENTRY)
    assert (status, body["error_id"]) == (403, "api.forbidden")
    status, created = await call(c, t["editor"], "POST", "/api/knowledge", ENTRY)
    assert status == 201 and (created["status"], created["version"]) == ("draft", 1)
    eid = created["id"]
    url = f"/api/knowledge/{eid}"

    assert (await call(c, t["agent"], "GET", url))[0] == 404  # a draft is not for agents
    assert (await call(c, t["agent"], "GET", "/api/knowledge"))[1]["total"] == 0
    status, body = await call(
        c, t["editor"], "PUT", url, {"body": ENTRY["body"] + "离职的也可以。"}
    )
    assert status == 200 and body["version"] == 2
    status, body = await call(c, t["editor"], "PUT", url, {"title": "x", "version": 1})
    assert (status, body["error_id"]) == (409, "knowledge.conflict")
    assert (await call(c, t["editor"], "POST", url + "/submit", {}))[0] == 200
    status, body = await call(c, t["editor"], "POST", url + "/approve", {})
    assert (status, body["error_id"]) == (409, "knowledge.same_reviewer")
    status, body = await call(c, t["reviewer"], "POST", url + "/reject", {})
    assert (status, body["error_id"]) == (400, "knowledge.missing_field")
    status, body = await call(c, t["reviewer"], "POST", url + "/reject", {"note": "补充依据"})
    assert (status, body["status"]) == (200, "draft")
    status, body = await call(c, t["reviewer"], "POST", url + "/approve", {})
    assert (status, body["error_id"]) == (409, "knowledge.illegal_transition")
    assert (await call(c, t["editor"], "POST", url + "/submit", {}))[0] == 200
    assert (await call(c, t["agent"], "POST", url + "/approve", {}))[0] == 403
    status, body = await call(c, t["admin"], "POST", url + "/approve", {"note": "同意"})
    assert (status, body["status"]) == (200, "published")

    status, body = await call(c, t["agent"], "GET", url)
    assert status == 200 and "离职" in body["current"]["body"] and "versions" not in body
    status, body = await call(c, t["editor"], "GET", url)
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["versions"][1]["reviewer"] == "admin"

    status, body = await call(c, t["agent"], "GET", "/api/knowledge/search?q=公积金提取")
    assert status == 200 and [h["id"] for h in body["hits"]] == [eid]
    assert (
        "【公积金】" in body["hits"][0]["snippet"] or "【住房公积金】" in body["hits"][0]["snippet"]
    )
    assert (await call(c, t["department"], "GET", "/api/knowledge/search?q=公积金"))[0] == 403
    status, body = await call(c, t["agent"], "GET", "/api/knowledge/search?q=")
    assert (status, body["error_id"]) == (400, "knowledge.missing_query")
    status, body = await call(c, t["agent"], "GET", "/api/knowledge/999999")
    assert (status, body["error_id"]) == (404, "knowledge.not_found")

    assert (await call(c, t["reviewer"], "POST", url + "/retire", {"note": "政策调整"}))[0] == 200
    status, body = await call(c, t["agent"], "GET", "/api/knowledge/search?q=公积金")
    assert body["hits"] == []
    status, body = await call(c, t["editor"], "POST", url + "/submit", {})
    assert (status, body["error_id"]) == (409, "knowledge.illegal_transition")


async def test_bad_input_has_error_ids(
    client: tuple[Client, dict[str, str], LiveTranscription],
) -> None:
    c, t, _ = client
    for body, error_id in (
        ({**ENTRY, "kind": "faq"}, "knowledge.invalid_field"),
        ({**ENTRY, "title": ""}, "knowledge.missing_field"),
        ({**ENTRY, "expires_at": "soon"}, "api.bad_parameter"),
        ({**ENTRY, "effective_from": 100, "expires_at": 50}, "knowledge.invalid_field"),
        ({**ENTRY, "title": 5}, "api.invalid"),
    ):
        status, answer = await call(c, t["editor"], "POST", "/api/knowledge", body)
        assert (status, answer["error_id"]) == (400, error_id), body


async def test_suggestions_from_text_and_from_a_live_call(
    client: tuple[Client, dict[str, str], LiveTranscription],
) -> None:
    c, t, live = client
    _, created = await call(c, t["editor"], "POST", "/api/knowledge", ENTRY)
    url = f"/api/knowledge/{created['id']}"
    await call(c, t["editor"], "POST", url + "/submit", {})
    await call(c, t["reviewer"], "POST", url + "/approve", {})

    said = {"text": "你好，我想问一下租房能不能提取公积金"}
    status, body = await call(c, t["agent"], "POST", "/api/knowledge/suggest", said)
    assert status == 200 and [h["title"] for h in body["hits"]] == [ENTRY["title"]]
    assert "租房" in body["hits"][0]["matched"]
    status, body = await call(c, t["agent"], "POST", "/api/knowledge/suggest", {"text": ""})
    assert (status, body["error_id"]) == (400, "knowledge.missing_text")

    live.calls["c-1"] = CallView(
        segments=[
            {"speaker": "agent", "text": "您好，请讲，公积金", "start": 0.0, "end": 1.0},
            {"speaker": "caller", "text": "我想问一下", "start": 1.0, "end": 2.0},
        ],
        last_partial={"caller": "租房可以提取吗"},
    )
    status, body = await call(c, t["agent"], "GET", "/api/knowledge/suggest?call_id=c-1")
    assert status == 200 and body["call_id"] == "c-1"
    assert [h["title"] for h in body["hits"]] == [ENTRY["title"]]
    assert set(body["hits"][0]["matched"]) == {"租房", "提取"}  # the agent's words not used
    status, body = await call(c, t["agent"], "GET", "/api/knowledge/suggest?call_id=nope")
    assert (status, body["error_id"]) == (404, "live.unknown_call")
    status, body = await call(c, t["auditor"], "GET", "/api/knowledge/suggest?call_id=c-1")
    assert status == 403


async def test_gap_report_roles(client: tuple[Client, dict[str, str], LiveTranscription]) -> None:
    c, t, _ = client
    assert (await call(c, t["agent"], "GET", "/api/knowledge/gaps"))[0] == 403
    status, body = await call(c, t["auditor"], "GET", "/api/knowledge/gaps?min_count=1")
    assert status == 200 and body["gaps"] == []
    status, body = await call(c, t["editor"], "GET", "/api/knowledge/gaps?since=10&until=5")
    assert (status, body["error_id"]) == (400, "api.bad_parameter")


async def test_agents_keep_the_published_version_while_a_draft_is_reviewed(
    client: tuple[Client, dict[str, str], LiveTranscription],
) -> None:
    c, t, _ = client
    _, created = await call(c, t["editor"], "POST", "/api/knowledge", ENTRY)
    url = f"/api/knowledge/{created['id']}"
    await call(c, t["editor"], "POST", url + "/submit", {})
    await call(c, t["reviewer"], "POST", url + "/approve", {})
    draft = {"title": "住房公积金销户提取", "body": "离职的职工可以申请销户提取住房公积金。"}
    status, body = await call(c, t["editor"], "PUT", url, {**draft, "version": 1})
    assert status == 200 and (body["status"], body["version"], body["published_version"]) == (
        "draft",
        2,
        1,
    )
    await call(c, t["editor"], "POST", url + "/submit", {})

    status, body = await call(c, t["agent"], "GET", url)
    assert status == 200 and "versions" not in body
    assert (body["status"], body["version"], body["title"]) == ("published", 1, ENTRY["title"])
    assert body["current"]["body"] == ENTRY["body"]
    status, body = await call(c, t["agent"], "GET", "/api/knowledge")
    assert [(e["title"], e["version"]) for e in body["entries"]] == [(ENTRY["title"], 1)]
    status, body = await call(c, t["editor"], "GET", url)
    assert (body["status"], body["version"], body["published_version"]) == ("review", 2, 1)
    assert body["current"]["body"] == draft["body"] and len(body["versions"]) == 2
    status, body = await call(c, t["editor"], "GET", "/api/knowledge?status=review")
    assert [e["title"] for e in body["entries"]] == [draft["title"]]

    async def found(word: str) -> list[tuple[str, int]]:
        _, body = await call(c, t["agent"], "GET", f"/api/knowledge/search?q={word}")
        return [(h["title"], h["version"]) for h in body["hits"]]

    assert await found("租房") == [(ENTRY["title"], 1)]
    assert await found("销户") == []
    _, body = await call(c, t["agent"], "POST", "/api/knowledge/suggest", {"text": "离职销户"})
    assert body["hits"] == []

    await call(c, t["reviewer"], "POST", url + "/reject", {"note": "请写明办理材料"})
    assert await found("租房") == [(ENTRY["title"], 1)]
    await call(c, t["editor"], "POST", url + "/submit", {})
    status, body = await call(c, t["reviewer"], "POST", url + "/approve", {})
    assert (body["status"], body["version"], body["published_version"]) == ("published", 2, 2)
    assert await found("租房") == []
    assert await found("销户") == [(draft["title"], 2)]
    status, body = await call(c, t["agent"], "GET", url)
    assert (body["version"], body["current"]["body"]) == (2, draft["body"])

    await call(c, t["reviewer"], "POST", url + "/retire", {"note": "政策调整"})
    assert (await call(c, t["agent"], "GET", url))[0] == 404
    assert (await call(c, t["agent"], "GET", "/api/knowledge"))[1]["entries"] == []
    assert await found("销户") == []
