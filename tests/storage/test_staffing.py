"""Seat planning on SQLite and PostgreSQL over a synthetic year: the forecast holds out the
last week (MAPE of daily totals, against a naive flat forecast), the history read from the
calls table, `main_staffing` with its CSV and XLSX, and the API's roles and parameters."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from sqlalchemy import func, select

from callcenter.api import staffing as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import CONFIG_DIR, TICKET_DB
from callcenter.data.crypto import FILE_ENV, write_key_file
from callcenter.staffing.forecast import SLOTS, holdout
from callcenter.staffing.history import load_calendar, load_history
from callcenter.staffing.plan import main_staffing
from callcenter.storage.database import Database
from callcenter.storage.schema import CallRecord
from callcenter.synthetic.command import main_synth
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
START = date(2025, 3, 1)  # the year runs to 2026-02-28

Client = TestClient[Any, Any]


def synth(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert main_synth(database.url, n, 11, START, tmp_path / "truth", CONFIG, 0.0) == 0


def test_forecast_holds_out_the_last_week(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synth(database, tmp_path, monkeypatch, 10000)
    settings = load_ticket_settings(CONFIG).calendar
    cal = load_calendar(database.engine, settings.days)
    history = load_history(database.engine, settings.zone, date(2025, 1, 1), date(2026, 6, 1))
    with database.session() as s:
        total = s.scalar(select(func.count()).select_from(CallRecord))
    assert sum(sum(v) for v in history.calls.values()) == total
    assert len(history.calls) == 365 and min(history.calls) == START
    patience = history.patience()
    assert patience is not None and 30 < patience < 5000
    result = holdout(history.calls, cal, last_days=7, weeks=6)
    # Measured on this year (about 21 calls a day) with the published calendar, shipped:
    # daily MAPE 0.155 against 0.436 for the naive "recent mean day" (0.239 when the two
    # Spring Festival days held out were forecast from every past holiday alike); half-hour
    # slots (0.4 calls each) are mostly Poisson noise at this volume (slot WAPE 1.20), so
    # only the daily totals are held to a bound.
    assert result.daily_mape < 0.25
    assert result.daily_mape < result.naive_daily_mape / 2

    out = tmp_path / "plan.csv"
    code = main_staffing(CONFIG, database.url, date(2026, 3, 2), 7, (0.8, 15), out)
    assert code == 0
    with out.open(encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    assert len(lines) == 1 + 7 * SLOTS
    busy = [r for r in lines[1:] if float(r[2]) > 0]
    assert busy and all(int(r[4]) >= 1 and int(r[10]) >= int(r[7]) for r in busy)
    assert all(float(r[5]) >= 0.8 for r in busy)  # Erlang C service level meets the target
    xlsx = tmp_path / "plan.xlsx"
    assert main_staffing(CONFIG, database.url, date(2026, 3, 2), 7, None, xlsx) == 0
    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["坐席测算", "周计划"] and wb["周计划"].max_row == 8
    assert main_staffing(CONFIG, database.url, date(2026, 3, 2), 0, None, None) == 2
    assert main_staffing(CONFIG, database.url, date(2026, 3, 2), 1, (1.5, 15), None) == 2


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    synth(database, tmp_path, monkeypatch, 3000)
    path = tmp_path / "tokens.toml"
    tokens = {
        role: add_token(path, name, role)
        for role, name in (
            ("agent", "1001"),
            ("supervisor", "班长"),
            ("department", "住建局"),
            ("auditor", "审计员"),
            ("admin", "管理员"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[CONFIG_DIR] = CONFIG
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def get(c: Client, token: str, query: str) -> tuple[int, Any]:
    resp = await c.get(f"/api/staffing?{query}", headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_staffing_api(client: tuple[Client, dict[str, str]]) -> None:
    c, tokens = client
    for role in ("agent", "department", "auditor"):
        status, _ = await get(c, tokens[role], "date=2026-03-02")
        assert status == 403, role
    for role in ("supervisor", "admin"):
        status, body = await get(c, tokens[role], "date=2026-03-02&days=2&sl=0.9&within=20")
        assert status == 200, body
        assert body["target"]["service_level"] == 0.9 and body["target"]["within"] == 20
        assert [d["date"] for d in body["days"]] == ["2026-03-02", "2026-03-03"]
        slots = body["days"][0]["slots"]
        assert len(slots) == SLOTS and slots[0]["start"] == "00:00"
        busy = [s for s in slots if s["calls"] > 0]
        assert busy and all(s["service_level_erlang_c"] >= 0.9 for s in busy)
    for query in ("date=2026-13-01", "", "date=2026-03-02&days=40", "date=2026-03-02&sl=x"):
        status, body = await get(c, tokens["supervisor"], query)
        assert status == 400, query
    resp = await c.get("/api/staffing?date=2026-03-02")
    assert resp.status == 401
