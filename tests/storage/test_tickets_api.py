"""The tickets REST API on SQLite and PostgreSQL: validation errors, tokens and roles,
department isolation, masking, the lifecycle over HTTP, repeat linking, search, attachments."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.http import build_app
from callcenter.api.keys import ATTACHMENTS, CIPHER, SETTINGS, TICKET_DB
from callcenter.data.crypto import ephemeral_cipher
from callcenter.storage.database import Database
from callcenter.storage.schema import Ticket
from callcenter.tickets import http as api
from callcenter.tickets import sms
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    database.upgrade()
    path = tmp_path / "tokens.toml"
    tokens = {
        "agent": add_token(path, "1001", "agent"),
        "supervisor": add_token(path, "班长", "supervisor"),
        "water": add_token(path, "水务局", "department", "water"),
        "gas": add_token(path, "燃气公司", "department", "gas"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[SETTINGS] = load_ticket_settings(REPO / "config")
    app[ATTACHMENTS] = tmp_path / "attachments"
    app[CIPHER] = ephemeral_cipher()  # citizens' numbers are stored encrypted
    app.add_routes(api.routes())
    app.add_routes(sms.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def call(
    c: TestClient[Any, Any], token: str, method: str, path: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = await c.request(method, path, json=body, headers=headers, **kw)
    return resp.status, await resp.json()


WATER_LEAK = {
    "content": "我家楼下自来水管爆裂，路面全是水，电话13812345678，身份证11010519491231002X",
    "caller_number": "13812345678",
    "caller_name": "张先生",
}


async def test_validation_errors_are_json_with_error_ids(
    client: tuple[TestClient[Any, Any], dict[str, str]],
) -> None:
    c, t = client
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/api/intake/web", {"content": ""}, 400, "api.invalid"),
        ("POST", "/api/intake/fax", {"content": "x"}, 404, "api.not_found"),
        ("POST", "/api/tickets", {"channel": "pigeon", "content": "x"}, 400, "api.invalid"),
        ("POST", "/api/tickets", {"content": 5}, 400, "api.invalid"),
        ("GET", "/api/tickets/999999", None, 404, "ticket.not_found"),
        ("GET", "/api/tickets?page=x", None, 400, "api.invalid"),
    ]
    for method, path, body, status, error_id in cases:
        got = await call(c, t["agent"], method, path, body)
        assert (got[0], got[1]["error_id"]) == (status, error_id), (path, got)
    status, made = await call(c, t["agent"], "POST", "/api/tickets", WATER_LEAK)
    assert status == 201
    tid = made["id"]
    for body, error_id in (
        ({"action": "fly"}, "api.invalid"),
        ({"action": "dispatch"}, "api.invalid"),
        ({"action": "evaluate", "rating": "很好"}, "api.invalid"),
        ({"action": "close"}, "ticket.illegal_transition"),
    ):
        status, err = await call(c, t["agent"], "POST", f"/api/tickets/{tid}/transition", body)
        assert err["error_id"] == error_id, (body, err)
        assert status in (400, 409)


async def test_tokens_roles_and_department_isolation_with_masking(
    client: tuple[TestClient[Any, Any], dict[str, str]],
) -> None:
    c, t = client
    assert (await call(c, "", "GET", "/api/tickets"))[0] == 401
    assert (await call(c, "wrong", "GET", "/api/tickets"))[0] == 401
    status, err = await call(c, t["water"], "POST", "/api/tickets", WATER_LEAK)
    assert (status, err["error_id"]) == (403, "api.forbidden")
    _, made = await call(c, t["agent"], "POST", "/api/tickets", WATER_LEAK)
    tid = made["id"]
    assert made["proposal"]["department"] == "water" and made["caller_number"] == "13812345678"
    assert (await call(c, t["water"], "GET", f"/api/tickets/{tid}"))[0] == 404  # not yet theirs
    status, _ = await call(
        c, t["agent"], "POST", f"/api/tickets/{tid}/assign", {"department": "water"}
    )
    assert status == 200
    status, seen = await call(c, t["water"], "GET", f"/api/tickets/{tid}")
    assert status == 200 and seen["caller_number"] == "138****5678"
    assert "13812345678" not in seen["content"] and "11010519491231002X" not in seen["content"]
    assert "accept_handling" in seen["allowed_actions"]
    assert (await call(c, t["gas"], "GET", f"/api/tickets/{tid}"))[0] == 404
    _, gas_list = await call(c, t["gas"], "GET", "/api/tickets")
    _, water_list = await call(c, t["water"], "GET", "/api/tickets?department=gas")
    assert gas_list["total"] == 0 and [x["id"] for x in water_list["tickets"]] == [tid]
    _, full = await call(c, t["supervisor"], "GET", f"/api/tickets/{tid}")
    assert "13812345678" in full["content"]
    assert full["due_status"] == "normal" and full["deadline"] > full["created_at"]


async def test_overdue_tickets_are_listed_for_supervision(
    client: tuple[TestClient[Any, Any], dict[str, str]], database: Database
) -> None:
    c, t = client
    _, late = await call(c, t["agent"], "POST", "/api/tickets", WATER_LEAK)
    _, fresh = await call(c, t["agent"], "POST", "/api/tickets", {"content": "路灯不亮了"})

    def backdate(s: Any) -> None:
        row = s.get(Ticket, late["id"])
        row.created_at -= 30 * 86400
        row.deadline = row.created_at + 86400

    database.transaction(backdate)
    _, listed = await call(c, t["supervisor"], "GET", "/api/tickets?due=overdue")
    assert [x["id"] for x in listed["tickets"]] == [late["id"]]
    assert listed["tickets"][0]["due_status"] == "overdue"
    _, other = await call(c, t["supervisor"], "GET", f"/api/tickets/{fresh['id']}")
    assert other["due_status"] == "normal"


async def test_lifecycle_over_http_with_history_and_conflicts(
    client: tuple[TestClient[Any, Any], dict[str, str]],
) -> None:
    c, t = client
    _, made = await call(c, t["agent"], "POST", "/api/tickets", WATER_LEAK)
    tid = made["id"]
    path = f"/api/tickets/{tid}/transition"
    await call(c, t["agent"], "POST", f"/api/tickets/{tid}/confirm", {"request_type": "求助"})
    steps = [
        ("agent", {"action": "dispatch", "department": "water"}),
        ("water", {"action": "return", "reason": "属于燃气管线"}),
        ("supervisor", {"action": "redispatch", "department": "gas"}),
        ("gas", {"action": "accept_handling"}),
        ("gas", {"action": "reply", "text": "已维修完毕"}),
        ("supervisor", {"action": "reject_reply", "note": "请附现场照片"}),
        ("gas", {"action": "reply", "text": "已维修完毕，照片见附件"}),
        ("supervisor", {"action": "approve"}),
        ("supervisor", {"action": "close"}),
        ("agent", {"action": "revisit", "outcome": "reached"}),
        ("agent", {"action": "evaluate", "rating": "满意"}),
    ]
    for who, body in steps:
        status, out = await call(c, t[who], "POST", path, body)
        assert status == 200, (body, out)
    assert out["status"] == "evaluated" and out["version"] == len(steps)
    status, err = await call(c, t["supervisor"], "POST", path, {"action": "close"})
    assert (status, err["error_id"]) == (409, "ticket.illegal_transition")
    stale: dict[str, object] = {"action": "supervise", "note": "督办", "expected_version": 3}
    status, err = await call(c, t["supervisor"], "POST", path, stale)
    assert (status, err["error_id"]) == (409, "ticket.conflict")
    _, detail = await call(c, t["supervisor"], "GET", f"/api/tickets/{tid}")
    assert [h["action"] for h in detail["history"]] == ["accept"] + [b["action"] for _, b in steps]
    assert detail["state"]["returned_by"] == ["water"] and detail["state"]["rating"] == "满意"


async def test_repeat_search_comment_and_attachment(
    client: tuple[TestClient[Any, Any], dict[str, str]],
) -> None:
    c, t = client
    _, first = await call(c, t["agent"], "POST", "/api/intake/web", WATER_LEAK)
    again = dict(WATER_LEAK, content="楼下自来水管爆裂了，路面全是水，还没人来修")
    status, linked = await call(c, t["agent"], "POST", "/api/intake/app", again)
    assert status == 200 and linked["linked"] and linked["id"] == first["id"]
    noise = {"content": "夜间施工噪音扰民", "caller_number": "13900000000"}
    await call(c, t["agent"], "POST", "/api/intake/miniprogram", noise)
    _, found = await call(c, t["agent"], "GET", "/api/tickets?q=噪音")
    assert [x["caller_number"] for x in found["tickets"]] == ["13900000000"]
    _, page = await call(c, t["agent"], "GET", "/api/tickets?per_page=1&page=2")
    assert page["total"] == 2 and len(page["tickets"]) == 1
    tid = first["id"]
    assert (await call(c, t["agent"], "POST", f"/api/tickets/{tid}/comments", {"text": "已联系"}))[
        0
    ] == 201
    photo = b"\x89PNG fake photo bytes"
    resp = await c.post(
        f"/api/tickets/{tid}/attachments?name=scene.png",
        data=photo,
        headers={"Authorization": f"Bearer {t['agent']}", "Content-Type": "image/png"},
    )
    assert resp.status == 201
    assert (await resp.json())["sha256"] == hashlib.sha256(photo).hexdigest()


# --- SMS webhook ------------------------------------------------------------------------------


def signed(body: dict[str, str], secret: str = "gateway-secret") -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, ensure_ascii=False).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Signature": signature, "Content-Type": "application/json"}


async def test_sms_webhook_signed_idempotent_and_in_the_same_flow(
    client: tuple[TestClient[Any, Any], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, t = client
    message = {"from": "13700000001", "text": "小区路灯坏了一个星期了", "id": "gw-1"}
    raw, headers = signed(message)
    resp = await c.post("/hooks/sms", data=raw, headers=headers)
    assert (resp.status, (await resp.json())["error_id"]) == (503, "sms.not_configured")
    monkeypatch.setenv("CALLCENTER_SMS_SECRET", "gateway-secret")
    bad = dict(headers, **{"X-Signature": "0" * 64})
    resp = await c.post("/hooks/sms", data=raw, headers=bad)
    assert (resp.status, (await resp.json())["error_id"]) == (401, "sms.bad_signature")
    resp = await c.post("/hooks/sms", data=raw, headers=headers)
    made = await resp.json()
    assert resp.status == 201 and made["channel"] == "sms"
    again = await c.post("/hooks/sms", data=raw, headers=headers)  # the gateway retried
    assert again.status == 200 and (await again.json())["duplicate"]
    _, listed = await call(c, t["agent"], "GET", "/api/tickets?channel=sms")
    assert listed["total"] == 1 and listed["tickets"][0]["id"] == made["id"]
    raw, headers = signed({"from": "not a number", "text": "x"})
    assert (await c.post("/hooks/sms", data=raw, headers=headers)).status == 400


async def test_openapi_describes_every_route(tmp_path: Path, database: Database) -> None:
    from callcenter.api.console import LiveFeed
    from callcenter.api.openapi import document
    from callcenter.live_figures.metrics import Metrics
    from callcenter.live_figures.model import LiveFigures
    from tests.unit.fakes import running_runtime

    async with running_runtime() as harness:
        app = build_app(
            harness.runtime,
            harness.stats,
            database,
            tmp_path,
            load_ticket_settings(REPO / "config"),
            tmp_path,
            metrics=Metrics(harness.stats),
            feed=LiveFeed(LiveFigures(), harness.runtime),
        )
        routes = {
            (r.resource.canonical, r.method.lower())
            for r in app.router.routes()
            if r.resource is not None
            and r.method != "HEAD"
            and not r.resource.canonical.startswith("/console")  # the pages, not the API
        }
        spec = document(app)
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert {(re.sub(r"\{(\w+):[^}]*\}", r"{\1}", p), m) for p, m in routes} == described
    # every reference resolves and every path parameter is declared
    refs = re.findall(r'"#/components/schemas/(\w+)"', json.dumps(spec))
    assert refs and set(refs) <= set(spec["components"]["schemas"])
    for path, ops in spec["paths"].items():
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), (path, declared)
            assert "4XX" in op["responses"] and op["summary"]


async def test_vocabulary_gives_every_form_word_its_display_name(
    client: tuple[TestClient[Any, Any], dict[str, str]],
) -> None:
    c, t = client
    status, words = await call(c, t["agent"], "GET", "/api/tickets/vocabulary")
    assert status == 200
    assert words["request_types"] == ["咨询", "求助", "投诉", "举报", "意见建议"]
    assert words["default_type"] in words["request_types"]
    departments = {d["id"]: d["name"] for d in words["departments"]}
    assert departments["center"] == "12345热线派单组" and departments["water"] == "市水务集团"
    topics = {x["id"]: x for x in words["topics"]}
    assert topics["living_noise"]["name"] == "社会生活噪音"
    assert topics["living_noise"]["department"] in departments
    status, _ = await call(c, "", "GET", "/api/tickets/vocabulary")
    assert status == 401
