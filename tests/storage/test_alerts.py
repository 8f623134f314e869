"""Early warnings on SQLite and PostgreSQL over a small synthetic year: every injected surge
and cluster is detected, surge/cluster warnings outside the injected events stay under the
stated rate, warnings are stored once per event; the API lists them, shows the evidence
masked by role (reads in clear on record), and a supervisor acknowledges, supervises (督办 on
a ticket, through the ticket lifecycle) and requests a special report (report_runs row)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from callcenter.alerts import store
from callcenter.alerts.evaluate import (
    Replay,
    engine_for,
    names_of,
    replay,
    score,
    tickets_in_order,
)
from callcenter.alerts.settings import load_alerts
from callcenter.api import alerts as api
from callcenter.api.auth import add_token, auth_middleware
from callcenter.api.errors import errors_middleware
from callcenter.api.keys import CIPHER, CONFIG_DIR, SETTINGS, TICKET_DB
from callcenter.data.crypto import FILE_ENV, load_cipher, write_key_file
from callcenter.storage.database import Database
from callcenter.storage.schema import DataAccess, ReportRun, Ticket, TicketHistory, WarningTicket
from callcenter.storage.schema import Warning as WarningRow
from callcenter.synthetic.truth import read_events
from callcenter.tickets.model import Status
from callcenter.tickets.settings import load_ticket_settings

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
OPEN = {s.value for s in Status if s.is_open}
FALSE_PER_DAY = 0.1  # the stated ceiling of surge/cluster warnings outside injected events

Client = TestClient[Any, Any]


def year(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Replay:
    from callcenter.synthetic.command import main_synth

    keys = tmp_path / "keys.toml"
    write_key_file(keys)
    monkeypatch.setenv(FILE_ENV, str(keys))
    assert (
        main_synth(database.url, 3000, 5, date(2026, 1, 1), tmp_path / "truth", CONFIG, 0.02) == 0
    )
    settings = load_ticket_settings(CONFIG)
    engine = engine_for(load_alerts(CONFIG), settings, names_of(database, settings))
    result = replay(engine, tickets_in_order(database))
    now = time.time()
    database.transaction(lambda s: [store.save(s, f, now) for f in result.warnings.values()])
    return result


def test_injected_events_are_detected_and_quiet_periods_stay_quiet(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = year(database, tmp_path, monkeypatch)
    events = read_events(tmp_path / "truth")
    assert {e["kind"] for e in events} == {"surge", "cluster"}
    found = score(result.warnings, events, 365)
    assert found.missed == []
    assert found.detected == len(events)
    assert all(0 <= d < 24 * 3600 for d in found.delays)
    assert found.false_per_day <= FALSE_PER_DAY
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(WarningRow)) == len(result.warnings)
        linked = set(s.scalars(select(WarningTicket.ticket_id)))
    for e in events:  # the evidence holds the event's own tickets
        assert linked & set(e["ticket_ids"])


def test_saving_a_finding_again_updates_one_warning(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = year(database, tmp_path, monkeypatch)
    finding = next(f for f in result.warnings.values() if f.kind == "cluster")
    saved = database.transaction(lambda s: store.save(s, finding, time.time()))
    assert (saved.new, saved.raised) == (False, False)
    with database.session() as s:
        rows = s.scalars(select(WarningRow).where(WarningRow.key == finding.key)).all()
        assert len(rows) == 1
        ids = store.ticket_ids(s, rows[0].id)
    assert ids == sorted(set(finding.ticket_ids))


@pytest.fixture
async def client(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    year(database, tmp_path, monkeypatch)
    path = tmp_path / "tokens.toml"
    tokens = {
        role: add_token(path, name, role)
        for role, name in (
            ("agent", "1001"),
            ("supervisor", "班长"),
            ("auditor", "审计员"),
            ("department", "水务局"),
        )
    }
    monkeypatch.setenv("CALLCENTER_TOKENS_FILE", str(path))
    monkeypatch.delenv("CALLCENTER_API_TOKEN", raising=False)
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[TICKET_DB] = database
    app[CONFIG_DIR] = CONFIG
    app[SETTINGS] = load_ticket_settings(CONFIG)
    app[CIPHER] = load_cipher()  # the synthetic year's keys: numbers are encrypted
    app.add_routes(api.routes())
    async with TestClient(TestServer(app)) as c:
        yield c, tokens


async def call(c: Client, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    resp = await c.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    return resp.status, await resp.json()


async def test_api_roles_evidence_ack_supervise_report(
    client: tuple[Client, dict[str, str]], database: Database
) -> None:
    c, t = client
    status, body = await call(c, t["agent"], "GET", "/api/alerts")
    assert (status, body["error_id"]) == (403, "api.forbidden")
    status, body = await call(c, t["supervisor"], "GET", "/api/alerts?state=open&limit=500")
    assert status == 200 and body["warnings"]
    cluster = next(w for w in body["warnings"] if w["kind"] == "cluster")
    status, body = await call(c, t["supervisor"], "GET", "/api/alerts?state=bogus")
    assert (status, body["error_id"]) == (400, "api.bad_parameter")

    wid = cluster["id"]
    status, clear = await call(c, t["supervisor"], "GET", f"/api/alerts/{wid}")
    assert status == 200
    assert clear["evidence"]["callers"] >= 5 and len(clear["tickets"]) == clear["ticket_count"]
    assert all("*" not in x["caller_number"] for x in clear["tickets"])
    status, masked = await call(c, t["department"], "GET", f"/api/alerts/{wid}")
    assert status == 200
    assert all("*" in x["caller_number"] for x in masked["tickets"])
    with database.session() as s:
        reads = s.scalars(select(DataAccess).where(DataAccess.dataset == "warnings")).all()
        assert {(r.actor, r.record_id) for r in reads} >= {("班长", str(wid))}

    status, body = await call(c, t["auditor"], "POST", f"/api/alerts/{wid}/ack")
    assert (status, body["error_id"]) == (403, "api.forbidden")
    status, body = await call(c, t["supervisor"], "POST", f"/api/alerts/{wid}/ack")
    assert (status, body["state"], body["acked_by"]) == (200, "acknowledged", "班长")

    with database.session() as s:
        ids = store.ticket_ids(s, wid)
        closed = s.scalars(select(Ticket.status).where(Ticket.id.in_(ids))).all()
    if all(status not in OPEN for status in closed):  # a year ago: nothing left to supervise
        status, body = await call(c, t["supervisor"], "POST", f"/api/alerts/{wid}/supervise", {})
        assert (status, body["error_id"]) == (409, "alerts.conflict")
    latest = max(ids)
    with database.session() as s:  # the latest request is still being handled
        s.execute(update(Ticket).where(Ticket.id == latest).values(status="handling"))
        s.commit()
    status, body = await call(
        c, t["supervisor"], "POST", f"/api/alerts/{wid}/supervise", {"note": "集中反映，请加快"}
    )
    assert (status, body["state"], body["ticket_id"]) == (200, "escalated", latest)
    supervised = body["ticket_id"]
    with database.session() as s:
        last = s.scalars(
            select(TicketHistory)
            .where(TicketHistory.ticket_id == supervised)
            .order_by(TicketHistory.seq.desc())
        ).first()
        assert last is not None and (last.action, last.note) == ("supervise", "集中反映，请加快")
    status, body = await call(c, t["supervisor"], "POST", f"/api/alerts/{wid}/supervise", {})
    assert (status, body["error_id"]) == (409, "alerts.conflict")

    status, body = await call(c, t["supervisor"], "POST", f"/api/alerts/{wid}/report")
    assert status == 201 and body["report_id"]
    status, again = await call(c, t["supervisor"], "POST", f"/api/alerts/{wid}/report")
    assert again["report_id"] == body["report_id"]
    with database.session() as s:
        run = s.get(ReportRun, body["report_id"])
        assert run is not None and (run.kind, run.state) == ("special", "requested")
    status, body = await call(c, t["supervisor"], "GET", "/api/alerts/999999")
    assert (status, body["error_id"]) == (404, "alerts.not_found")
