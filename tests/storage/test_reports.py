"""Hotline reports on SQLite and PostgreSQL over a small synthetic year: a monthly report whose
figures match an independent Python computation over the same rows, its comparisons, the
report_runs row, the XLSX, HTML and PDF files (pages rendered to PNG under
test-artifacts/reports/), a department's scope; and the API with its roles."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from matplotlib.image import imread
from openpyxl import load_workbook
from sqlalchemy import select

from callcenter.api import reports as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import CONFIG_DIR, TICKET_DB
from callcenter.data.crypto import FILE_ENV, write_key_file
from callcenter.reports.build import ALL_DIMENSIONS, build_report, period_for, topic_names
from callcenter.reports.run import generate_report
from callcenter.storage.database import Database
from callcenter.storage.schema import CallRecord, DataAccess, ReportRun, Ticket, TicketHistory
from callcenter.synthetic.command import main_synth

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
ARTIFACTS = REPO / "test-artifacts" / "reports"
MONTH = date(2026, 6, 1)


@pytest.fixture
def year(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert (
        main_synth(database.url, 1000, 11, date(2026, 1, 1), tmp_path / "truth", CONFIG, 0.0) == 0
    )
    return database


def independent(db: Database, start: float, end: float) -> dict[str, float]:
    """The same figures, computed in Python over plain rows."""
    with db.session() as s:
        tickets = s.execute(
            select(Ticket.id, Ticket.created_at, Ticket.closed_at, Ticket.deadline, Ticket.state)
        ).all()
        history = s.execute(select(TicketHistory.ticket_id, TicketHistory.action)).all()
        calls = s.execute(select(CallRecord.joined_at, CallRecord.connected_at)).all()
    received = {t.id for t in tickets if start <= t.created_at < end}
    closed = [t for t in tickets if t.closed_at is not None and start <= t.closed_at < end]
    on_time = [t for t in closed if t.deadline is None or t.closed_at <= t.deadline]
    ratings = [json.loads(t.state)["rating"] for t in closed]
    rated = [r for r in ratings if r is not None]
    offered = [c for c in calls if start <= c.joined_at < end]
    answered = [c for c in offered if c.connected_at is not None]
    dispatched = {
        h.ticket_id for h in history if h.action == "dispatch" and h.ticket_id in received
    }
    returned = {h.ticket_id for h in history if h.action == "return" and h.ticket_id in received}
    return {
        "received": len(received),
        "closed": len(closed),
        "connection_rate": len(answered) / len(offered),
        "on_time_completion_rate": len(on_time) / len(closed),
        "satisfaction_rate": sum(1 for r in rated if r in ("满意", "基本满意")) / len(rated),
        "returns": sum(1 for h in history if h.action == "return" and h.ticket_id in received),
        "return_rate": len(returned) / len(dispatched),
    }


def test_monthly_report_matches_python_and_renders(year: Database) -> None:
    db = year
    start, end = period_for("monthly", MONTH)
    out = ARTIFACTS / db.engine.dialect.name
    report = generate_report(
        db, "monthly", start, end, ALL_DIMENSIONS, "班长", out, topics=topic_names(CONFIG)
    )
    expected = independent(db, start.timestamp(), end.timestamp())
    assert expected["received"] > 40 and expected["returns"] > 0
    for key, value in expected.items():
        assert report.kpi(key).value == pytest.approx(value), key
    # comparisons: the 30 days before have data, last year none (the year starts in January)
    length = end.timestamp() - start.timestamp()
    before = independent(db, start.timestamp() - length, start.timestamp())
    line = report.kpi("on_time_completion_rate")
    assert line.previous == pytest.approx(before["on_time_completion_rate"])
    assert line.change_previous == pytest.approx(line.value - line.previous)  # type: ignore[operator]
    received = report.kpi("received")
    assert received.change_previous == pytest.approx(expected["received"] / before["received"] - 1)
    assert received.last_year == 0 and received.change_last_year is None
    assert report.kpi("satisfaction_rate").last_year is None
    # breakdowns add up
    for dim in ALL_DIMENSIONS:
        assert sum(r.received for r in report.breakdowns[dim]) == expected["received"], dim
    # stored
    with db.session() as s:
        row = s.get(ReportRun, report.id)
        assert row is not None and row.state == "done"
        assert json.loads(row.figures)["kpis"]["closed"]["value"] == expected["closed"]
        assert len(json.loads(row.files)) == 3
    files = {name.rsplit(".", 1)[1]: out / name for name in report.files}
    # XLSX
    wb = load_workbook(files["xlsx"])
    summary = wb["指标汇总"]
    assert str(summary["A1"].value).startswith("导出人 班长，时间 ")
    rows = {r[0].value: r for r in summary.iter_rows(min_row=4)}
    assert rows["受理量"][1].value == expected["received"]
    on_time = rows["按时办结率"][1]  # a number shown as a percentage, not text
    assert on_time.value == pytest.approx(expected["on_time_completion_rate"])
    assert on_time.number_format == "0.0%"
    assert isinstance(rows["接通率"][3].value, float)
    assert "个百分点" in rows["接通率"][3].number_format
    assert {"诉求类型", "问题分类", "受理渠道", "热线号码", "承办单位", "区域"} <= set(
        wb.sheetnames
    )
    # HTML
    html = files["html"].read_text(encoding="utf-8")
    for heading in ("核心指标", "按承办单位统计", "按区域统计", "满意率", 'lang="zh-CN"'):
        assert heading in html
    assert "data:image/png;base64," in html
    # PDF -> PNG pages
    pages = out / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    for old in pages.glob("*.png"):
        old.unlink()
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(files["pdf"]), str(pages / "page")], check=True
    )
    pngs = sorted(pages.glob("page-*.png"))
    assert len(pngs) >= 2
    for png in pngs[:2]:
        pixels = np.asarray(imread(png))
        assert pixels.std() > 0.01 and (pixels[..., :3] < 0.5).mean() > 0.001  # ink on the page


def test_department_sees_its_own_tickets(year: Database) -> None:
    start, end = period_for("monthly", MONTH)
    everything = build_report(year, "monthly", start, end, ["department"], "班长", store=False)
    top = everything.breakdowns["department"][0]
    mine = build_report(
        year, "monthly", start, end, ["department"], "承办人", department=top.value, store=False
    )
    assert mine.kpi("received").value == top.received
    assert [r.value for r in mine.breakdowns["department"]] == [top.value]
    assert mine.kpi("connection_rate").value is None  # calls are not a department's


# --- API -------------------------------------------------------------------------------------

Client = TestClient[Any, Any]


@pytest.fixture
async def client(
    year: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    path = tmp_path / "tokens.toml"
    tokens = {
        role: add_token(path, name, role, department)
        for role, name, department in (
            ("agent", "1001", ""),
            ("supervisor", "班长", ""),
            ("auditor", "审计员", ""),
            ("admin", "数据办", ""),
            ("department", "教育局", "education"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = year
    app[api.REPORTS_DIR] = tmp_path / "reports"
    app[CONFIG_DIR] = CONFIG
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def call(c: Client, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await c.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    if resp.content_type == "application/json":
        return resp.status, await resp.json()
    return resp.status, await resp.read()


async def test_api_figures_roles_and_exports(
    client: tuple[Client, dict[str, str]], year: Database
) -> None:
    c, t = client
    query = "/api/reports/kpi?from=2026-06-01&to=2026-06-30&dim=department,request_type"
    status, body = await call(c, t["agent"], "GET", query)
    assert (status, body["error_id"]) == (403, "api.forbidden")
    start, end = period_for("monthly", MONTH)
    expected = independent(year, start.timestamp(), end.timestamp())
    for role in ("supervisor", "auditor", "admin"):
        status, body = await call(c, t[role], "GET", query)
        assert status == 200, body
        assert body["kpis"]["received"]["value"] == expected["received"]
        assert set(body["breakdowns"]) == {"department", "request_type"}
    status, body = await call(c, t["department"], "GET", query)
    assert status == 200
    assert [r["value"] for r in body["breakdowns"]["department"]] == ["education"]
    assert body["kpis"]["connection_rate"]["value"] is None
    status, body = await call(c, t["supervisor"], "GET", query + ",nonsense")
    assert status == 400
    # generate, read back, download (on record)
    status, run = await call(
        c, t["supervisor"], "POST", "/api/reports",
        {"kind": "monthly", "from": "2026-06-01", "to": "2026-06-30", "formats": ["xlsx", "html"]},
    )  # fmt: skip
    assert status == 201, run
    assert run["state"] == "done" and len(run["files"]) == 2
    assert run["figures"]["kpis"]["closed"]["value"] == expected["closed"]
    status, again = await call(c, t["auditor"], "GET", f"/api/reports/{run['id']}")
    assert status == 200 and again["figures"] == run["figures"]
    status, _ = await call(c, t["department"], "GET", f"/api/reports/{run['id']}")
    assert status == 403
    status, data = await call(c, t["auditor"], "GET", f"/api/reports/{run['id']}/file/xlsx")
    assert status == 200 and data[:2] == b"PK"
    status, _ = await call(c, t["auditor"], "GET", f"/api/reports/{run['id']}/file/pdf")
    assert status == 404
    with year.session() as s:
        logged = s.scalars(select(DataAccess).where(DataAccess.action == "export")).all()
    assert [(e.actor, e.dataset, e.record_id) for e in logged] == [
        ("审计员", "report_runs", str(run["id"]))
    ]
    # a department generates its own report and may read it
    status, own = await call(
        c, t["department"], "POST", "/api/reports",
        {"from": "2026-06-01", "to": "2026-06-07", "formats": ["html"]},
    )  # fmt: skip
    assert status == 201 and own["params"]["department"] == "education"
    status, _ = await call(c, t["department"], "GET", f"/api/reports/{own['id']}/file/html")
    assert status == 200
