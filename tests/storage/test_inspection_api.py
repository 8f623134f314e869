"""The inspection API on SQLite and PostgreSQL: agents see only their own calls, evidence is
masked by the role's policy and every read of it is on record, the review steps follow their
roles and states (append-only), the per-agent summary is for supervisors and auditors."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from callcenter.api import inspection as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import CONFIG_DIR, TICKET_DB
from callcenter.inspection.config import load_inspection
from callcenter.inspection.score import ACTIONS
from callcenter.inspection.worker import score_pending
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, InspectionScore
from tests.storage.inspection_data import BASE, FIRE, GOOD, add_call

REPO = Path(__file__).resolve().parents[2]
Client = TestClient[Any, Any]


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str], dict[str, int]]]:
    database.upgrade()

    def seed(s: Any) -> None:
        add_call(s, "fire-transferred", "1001", FIRE, BASE + 10, transfers=[("119", "requested")])
        add_call(s, "fire-missed", "1002", FIRE, BASE + 20)
        add_call(s, "clean", "1001", GOOD, BASE + 86400, ticket=True)

    database.transaction(seed)
    score_pending(database, load_inspection(REPO / "config"), BASE + 90000)
    with database.session() as s:
        ids = {r.call_id: r.id for r in s.scalars(select(InspectionScore))}
    path = tmp_path / "tokens.toml"
    tokens = {
        "1001": add_token(path, "1001", "agent"),
        "1002": add_token(path, "1002", "agent"),
        "supervisor": add_token(path, "班长", "supervisor"),
        "auditor": add_token(path, "审计员", "auditor"),
        "department": add_token(path, "水务局", "department", "water"),
        "admin": add_token(path, "管理员", "admin"),
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    shutil.copytree(REPO / "config", tmp_path / "config")  # a test may change the policy
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[CONFIG_DIR] = tmp_path / "config"
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens, ids


async def call(c: Client, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await c.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


def reads(database: Database) -> list[tuple[str, str, str, str]]:
    with database.session() as s:
        rows = s.scalars(select(DataAccess).order_by(DataAccess.id))
        return [(r.actor, r.dataset, r.record_id, r.fields) for r in rows]


async def test_listing_by_role(
    client: tuple[Client, dict[str, str], dict[str, int]],
) -> None:
    c, t, _ = client
    status, mine = await call(c, t["1001"], "GET", "/api/inspection")
    assert status == 200
    assert [r["call_id"] for r in mine["scores"]] == ["clean", "fire-transferred"]
    assert (await call(c, t["1001"], "GET", "/api/inspection?agent=1002"))[0] == 403
    status, everyone = await call(c, t["supervisor"], "GET", "/api/inspection")
    assert status == 200 and everyone["total"] == 3
    status, one = await call(c, t["auditor"], "GET", "/api/inspection?agent=1002&state=scored")
    assert [(r["call_id"], r["score"]) for r in one["scores"]] == [("fire-missed", 0.0)]
    status, day = await call(
        c, t["supervisor"], "GET", f"/api/inspection?from={BASE}&to={BASE + 3600}"
    )
    assert [r["call_id"] for r in day["scores"]] == ["fire-missed", "fire-transferred"]
    assert (await call(c, t["supervisor"], "GET", "/api/inspection?from=yesterday"))[0] == 400
    assert (await call(c, t["supervisor"], "GET", "/api/inspection?state=lost"))[0] == 400
    assert (await call(c, t["department"], "GET", "/api/inspection"))[0] == 403
    assert (await call(c, t["department"], "GET", "/api/inspection/agents"))[0] == 403
    assert (await call(c, t["1001"], "GET", "/api/inspection/agents"))[0] == 403
    status, summary = await call(c, t["supervisor"], "GET", "/api/inspection/agents")
    assert status == 200
    assert [(a["agent_id"], a["calls"], a["failed"]) for a in summary["agents"]] == [
        ("1001", 2, {}),
        ("1002", 1, {"emergency_transfer": 1}),
    ]


async def test_detail_masks_and_records(
    client: tuple[Client, dict[str, str], dict[str, int]], database: Database, tmp_path: Path
) -> None:
    c, t, ids = client
    assert (await call(c, t["1001"], "GET", f"/api/inspection/{ids['fire-missed']}"))[0] == 404
    assert reads(database) == []  # a refused read leaves no record
    status, found = await call(c, t["1002"], "GET", f"/api/inspection/{ids['fire-missed']}")
    assert status == 200 and found["score"] == 0.0
    [failed] = [f for f in found["findings"] if not f["passed"]]
    assert failed == {
        "rule": "emergency_transfer",
        "passed": False,
        "points": -100.0,
        "speaker": "caller",
        "start": 3.0,
        "end": 8.0,
        "evidence": "我家楼下着火了，救命！",
        "severity": "fatal",
    }
    assert reads(database) == [("1002", "inspection_findings", str(ids["fire-missed"]), "evidence")]
    status, clean = await call(c, t["supervisor"], "GET", f"/api/inspection/{ids['clean']}")
    phone = {f["rule"]: f for f in clean["findings"]}["confirm_phone"]
    assert phone["evidence"] == "您的电话是13812345678对吗"  # supervisors see it in clear
    policy = tmp_path / "config" / "protection.toml"
    text = policy.read_text(encoding="utf-8")
    marker = '[masking.supervisor]\npublic = "clear"\ninternal = "clear"\nsensitive = "clear"'
    assert marker in text
    policy.write_text(text.replace(marker, marker[:-7] + '"mask"'), encoding="utf-8")
    status, masked = await call(c, t["supervisor"], "GET", f"/api/inspection/{ids['clean']}")
    phone = {f["rule"]: f for f in masked["findings"]}["confirm_phone"]
    assert phone["evidence"] == "您的电话是138****5678对吗"
    assert len(reads(database)) == 3
    assert (await call(c, t["department"], "GET", f"/api/inspection/{ids['clean']}"))[0] == 403
    assert (await call(c, t["supervisor"], "GET", "/api/inspection/999999"))[0] == 404


async def test_review_steps(client: tuple[Client, dict[str, str], dict[str, int]]) -> None:
    c, t, ids = client
    missed = f"/api/inspection/{ids['fire-missed']}"
    assert (await call(c, t["1001"], "POST", f"{missed}/dispute", {"note": "x"}))[0] == 404
    status, body = await call(c, t["1002"], "POST", f"{missed}/dispute", {})
    assert (status, body["error_id"]) == (400, "inspection.note")
    status, body = await call(c, t["1002"], "POST", f"{missed}/dispute", {"note": "电视里的着火"})
    assert (status, body["state"]) == (200, "disputed")
    status, body = await call(
        c, t["1002"], "POST", f"{missed}/override", {"score": 100, "note": "x"}
    )
    assert (status, body["error_id"]) == (403, "inspection.forbidden")
    status, body = await call(c, t["supervisor"], "POST", f"{missed}/review", {})
    assert (status, body["error_id"]) == (409, "inspection.state")
    status, body = await call(c, t["auditor"], "POST", f"{missed}/resolve", {})
    assert status == 403
    status, body = await call(c, t["supervisor"], "POST", f"{missed}/resolve", {"score": "high"})
    assert status == 400
    status, body = await call(
        c, t["supervisor"], "POST", f"{missed}/resolve", {"score": 90, "note": "情有可原"}
    )
    assert (status, body["state"], body["final_score"], body["score"]) == (
        200,
        "reviewed",
        90.0,
        0.0,
    )
    status, body = await call(
        c, t["admin"], "POST", f"{missed}/override", {"score": 60, "note": "改判"}
    )
    assert (status, body["state"], body["final_score"]) == (200, "overridden", 60.0)
    assert [(r["action"], r["actor"], r["score"]) for r in body["reviews"]] == [
        ("dispute", "1002", None),
        ("resolve", "班长", 90.0),
        ("override", "管理员", 60.0),
    ]
    status, listing = await call(c, t["1002"], "GET", "/api/inspection?state=overridden")
    assert [(r["call_id"], r["final_score"]) for r in listing["scores"]] == [("fire-missed", 60.0)]


def test_openapi_describes_every_route_with_its_own_summary() -> None:
    from callcenter.api.openapi import document

    app = web.Application()
    app.add_routes(api.routes())
    paths = document(app)["paths"]
    registered = {
        (r.resource.canonical.replace(r"{id:\d+}", "{id}"), r.method.lower())
        for r in app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    assert registered == {(path, method) for path, ops in paths.items() for method in ops}
    steps = [paths[f"/api/inspection/{{id}}/{a}"]["post"]["summary"] for a in ACTIONS]
    assert len(set(steps)) == len(ACTIONS)  # each review step says what it does
    review = paths["/api/inspection/{id}/override"]["post"]["requestBody"]["content"]
    assert review["application/json"]["schema"] == {"$ref": "#/components/schemas/Review"}
