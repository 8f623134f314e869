"""The data office's API on SQLite and PostgreSQL, over a small synthetic year: the catalogue
(JSON and a watermarked XLSX export, on record), quality runs and reports, corrections,
imports (a bad file imports nothing: 422 naming row, column and rule), fused profiles masked
by role with every read on record, topic libraries, retention runs, feed positions, roles."""

from __future__ import annotations

import io
import shutil
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from callcenter.api import data as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import CIPHER, CONFIG_DIR, TICKET_DB
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.data.fusion.build import rebuild
from callcenter.masking import mask_phone
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, Ticket, TicketTopic
from callcenter.synthetic.command import main_synth
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
SAMPLES = REPO / "tests" / "data" / "imports"

Client = TestClient[Any, Any]


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert main_synth(database.url, 400, 7, date(2026, 1, 1), tmp_path / "truth", CONFIG, 0.05) == 0
    rebuild(database.engine, load_ticket_settings(CONFIG), cipher=load_cipher())
    path = tmp_path / "tokens.toml"
    tokens = {
        role: add_token(path, name, role, department)
        for role, name, department in (
            ("agent", "1001", ""),
            ("supervisor", "班长", ""),
            ("auditor", "审计员", ""),
            ("admin", "数据办", ""),
            ("department", "水务局", "water"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[CIPHER] = load_cipher()
    shutil.copytree(CONFIG, tmp_path / "config")  # a test may change the masking policy
    app[CONFIG_DIR] = tmp_path / "config"
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def call(
    c: Client, token: str, method: str, path: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    resp = await c.request(
        method, path, json=body, headers={"Authorization": f"Bearer {token}"}, **kw
    )
    return resp.status, await resp.json()


def access(database: Database, action: str, dataset: str) -> list[DataAccess]:
    with database.session() as s:
        query = select(DataAccess).where(DataAccess.action == action)
        return list(s.scalars(query.where(DataAccess.dataset == dataset)))


async def test_catalogue_json_and_a_watermarked_export_on_record(
    client: tuple[Client, dict[str, str]], database: Database
) -> None:
    c, t = client
    status, body = await call(c, t["agent"], "GET", "/api/data/catalog")
    assert (status, body["error_id"]) == (403, "api.forbidden")
    status, body = await call(c, t["supervisor"], "GET", "/api/data/catalog")
    assert status == 200
    names = {d["name"] for d in body["datasets"]}
    assert {"tickets", "ticket_history", "calls", "profiles", "ref_departments"} <= names
    tickets_set = next(d for d in body["datasets"] if d["name"] == "tickets")
    assert tickets_set["rows"] == 400
    # the JSON is an export too: stamped with who and when, and on record
    assert body["exported_by"] == "班长" and body["watermark"].startswith("导出人 班长，时间 ")
    [row] = access(database, "export", "catalog")
    assert (row.actor, row.role, row.purpose) == ("班长", "supervisor", "catalogue json")
    resp = await c.get(
        "/api/data/catalog?format=xlsx", headers={"Authorization": f"Bearer {t['auditor']}"}
    )
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(await resp.read()))
    first = book.worksheets[0]
    assert "审计员" in str(first["A1"].value)  # watermarked with who
    _, row = access(database, "export", "catalog")
    assert (row.actor, row.role, row.purpose) == ("审计员", "auditor", "catalogue xlsx")


async def test_quality_run_report_and_a_correction(
    client: tuple[Client, dict[str, str]], database: Database
) -> None:
    c, t = client
    status, body = await call(c, t["auditor"], "POST", "/api/data/quality/runs", {"mode": "full"})
    assert (status, body["error_id"]) == (403, "api.forbidden")
    status, body = await call(c, t["supervisor"], "POST", "/api/data/quality/runs", {"mode": "x"})
    assert (status, body["error_id"]) == (400, "data.quality.mode")
    with database.engine.begin() as conn:  # a number typed wrong on ticket 5
        stored, index = load_cipher().seal_phone("1381234567a")  # stored encrypted, as always
        conn.execute(
            update(Ticket)
            .where(Ticket.id == 5)
            .values(caller_number=stored, caller_number_hash=index)
        )
    status, run = await call(c, t["supervisor"], "POST", "/api/data/quality/runs", {"mode": "full"})
    assert status == 201 and run["records"] == 400 and run["problems"] > 0
    status, rep = await call(c, t["auditor"], "GET", f"/api/data/quality/runs/{run['run_id']}")
    assert status == 200 and set(rep["scores"]) >= {"规范性", "完整性", "可访问性"}
    assert rep["exported_by"] == "审计员" and rep["watermark"].startswith("导出人 审计员，时间 ")
    [export] = access(database, "export", "quality_issues")
    assert (export.actor, export.role, export.record_id) == (
        "审计员",
        "auditor",
        str(run["run_id"]),
    )
    assert export.purpose == "quality report json"
    [phone] = [i for i in rep["issues"] if i["record_id"] == "5" and i["rule"] == "phone.format"]
    assert phone["run_id"] == run["run_id"] and phone["field"] == "caller_number"
    status, body = await call(c, t["supervisor"], "GET", "/api/data/quality/runs/999")
    assert status == 404 and len(access(database, "export", "quality_issues")) == 1
    status, done = await call(
        c,
        t["supervisor"],
        "POST",
        "/api/data/corrections",
        {
            "ticket_id": phone["record_id"],
            "field": "caller_number",
            "value": "13912345678",
            "reason": "回拨核实号码",
            "issue_id": phone["id"],
        },
    )
    assert status == 201 and done["after"] == "139****5678" and done["actor"] == "班长"
    with database.session() as s:
        row = s.get(Ticket, int(phone["record_id"]))
        assert row is not None and load_cipher().decrypt(row.caller_number) == "13912345678"
        assert row.caller_number_hash == load_cipher().phone_index("13912345678")
    status, body = await call(
        c,
        t["supervisor"],
        "POST",
        "/api/data/corrections",
        {"ticket_id": phone["record_id"], "field": "caller_number", "value": "1", "reason": "x"},
    )
    assert (status, body["error_id"]) == (400, "data.correction")
    status, body = await call(
        c, t["supervisor"], "POST", "/api/data/corrections", {"ticket_id": 1, "field": "title"}
    )
    assert (status, body["error_id"]) == (400, "data.correction.reason")


async def test_imports_all_or_nothing_over_http(
    client: tuple[Client, dict[str, str]], database: Database
) -> None:
    c, t = client
    headers = {"Authorization": f"Bearer {t['admin']}"}
    bad = (SAMPLES / "enterprises_bad.csv").read_bytes()
    resp = await c.post("/api/data/imports/enterprises?name=bad.csv", data=bad, headers=headers)
    body = await resp.json()
    assert resp.status == 422 and body["error_id"] == "data.import.rejected"
    problems = body["report"]["errors"]
    assert problems and all({"row", "column", "rule"} <= set(p) for p in problems)
    good = (SAMPLES / "grids_good.csv").read_bytes()
    resp = await c.post("/api/data/imports/grids?name=g.csv&dry_run=1", data=good, headers=headers)
    assert resp.status == 200 and (await resp.json())["state"] == "checked"
    resp = await c.post("/api/data/imports/grids?name=g.csv", data=good, headers=headers)
    assert resp.status == 201 and (await resp.json())["state"] == "imported"
    resp = await c.post("/api/data/imports/nonsense?name=g.csv", data=good, headers=headers)
    assert resp.status == 400
    status, body = await call(c, t["supervisor"], "GET", "/api/data/imports")
    assert [i["state"] for i in body["imports"]][:3] == ["imported", "checked", "rejected"]


async def test_profiles_masked_by_role_and_every_read_on_record(
    client: tuple[Client, dict[str, str]], database: Database, tmp_path: Path
) -> None:
    c, t = client
    with database.session() as s:
        busiest = s.scalars(
            select(Ticket.caller_number_hash)
            .group_by(Ticket.caller_number_hash)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        stored = s.scalars(
            select(Ticket.caller_number).where(Ticket.caller_number_hash == busiest).limit(1)
        ).one()
        number = load_cipher().decrypt(stored)
    status, body = await call(c, t["supervisor"], "GET", "/api/data/profiles")
    assert (status, body["error_id"]) == (400, "data.profiles.key")
    status, body = await call(c, t["supervisor"], "GET", f"/api/data/profiles?phone={number}")
    assert status == 200 and body["profiles"]
    seen = body["profiles"][0]
    assert number in str(body) and "id_card_hash" not in seen  # in clear; secrets hidden
    policy = tmp_path / "config" / "protection.toml"  # the center masks numbers for 班长
    text = policy.read_text(encoding="utf-8")
    start = text.index("[masking.supervisor]")
    policy.write_text(
        text[:start] + text[start:].replace('sensitive = "clear"', 'sensitive = "mask"', 1),
        encoding="utf-8",
    )
    status, page = await call(c, t["supervisor"], "GET", f"/api/data/profiles/{seen['id']}")
    assert status == 200 and page["records"]
    assert number not in str(page) and mask_phone(number) in str(page)  # mobile or landline
    status, page = await call(c, t["auditor"], "GET", f"/api/data/profiles/{seen['id']}")
    assert status == 200 and number in str(page)  # an auditor reads in clear, on record
    reads = access(database, "read", "profiles")
    assert {(r.actor, r.record_id) for r in reads} >= {
        ("班长", str(seen["id"])),
        ("审计员", str(seen["id"])),
    }
    assert any("tickets.caller_number" in r.fields for r in reads)
    status, body = await call(c, t["supervisor"], "GET", "/api/data/profiles/99999999")
    assert (status, body["error_id"]) == (404, "data.profile.not_found")


async def test_topics_retention_feeds(client: tuple[Client, dict[str, str]]) -> None:
    c, t = client
    status, body = await call(c, t["supervisor"], "GET", "/api/data/topics/category")
    assert status == 200 and sum(x["tickets"] for x in body["terms"]) == 400
    term = body["terms"][0]["term"]
    status, page = await call(c, t["supervisor"], "GET", f"/api/data/topics/category/{term}")
    assert status == 200 and page["total"] == body["terms"][0]["tickets"]
    status, body = await call(c, t["supervisor"], "GET", "/api/data/topics/nonsense")
    assert (status, body["error_id"]) == (404, "data.topics.library")
    for path in ("/api/data/retention/runs", "/api/data/feeds", "/api/data/quality/runs"):
        status, _ = await call(c, t["auditor"], "GET", path)
        assert status == 200
        status, _ = await call(c, t["agent"], "GET", path)
        assert status == 403


TITLE = "反映小区停水，联系电话13912345678"


async def _page(c: Client, token: str, path: str) -> dict[str, Any]:
    status, body = await call(c, token, "GET", path)
    assert status == 200, body
    return dict(body)


def _title_reads(database: Database) -> list[DataAccess]:
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

    seen = await _page(c, t["supervisor"], path)  # the center's policy: titles in clear
    titles = {row["id"]: row["title"] for row in seen["tickets"]}
    assert titles[ticket_id] == TITLE and len(titles) == seen["total"]
    [read] = _title_reads(database)
    assert (read.actor, read.role, read.action) == ("班长", "supervisor", "read")
    assert read.fields == "title"
    assert read.purpose == f"topic category/{term}: tickets " + " ".join(map(str, titles))

    departments = {row["id"]: row["department"] for row in seen["tickets"]}
    assert set(departments.values()) != {"water"}  # the term holds other departments' too
    seen = await _page(c, t["department"], path)  # departments: titles masked, nothing read
    masked = {row["id"]: row["title"] for row in seen["tickets"]}
    assert masked[ticket_id] == "反映小区停水，联系电话139****5678"
    own = [k for k, d in departments.items() if d == "water"]  # only their own tickets
    assert sorted(masked) == sorted(own) and seen["total"] == len(own)
    assert len(_title_reads(database)) == 1

    seen = await _page(c, t["auditor"], path)
    assert TITLE in {row["title"] for row in seen["tickets"]}
    assert [(r.actor, r.role) for r in _title_reads(database)] == [
        ("班长", "supervisor"),
        ("审计员", "auditor"),
    ]

    empty = await _page(c, t["supervisor"], path + "&offset=100000")  # no titles, no read
    assert empty["tickets"] == [] and len(_title_reads(database)) == 2
